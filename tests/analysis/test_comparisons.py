"""The report's verdicts (#34): the family it tests, the planned seeds it tests on, what report.md says, and the seed
planner, on arrays whose answers can be checked by hand."""

import argparse

import numpy as np
import pytest

from analysis import comparisons
from analysis.summary_file import Interval, Rung, read_summary
from bench.cli import main as bench_main

SCORE = Interval(0.5, 0.4, 0.6)
RUNGS = [
    Rung("dreamer", None, 3, SCORE, None, None),
    Rung("hieros_1level", "dreamer", 3, SCORE, None, None),
    Rung("hieros", "hieros_1level", 3, SCORE, None, None),
]


def test_the_ladder_family_is_each_rung_against_its_reference_and_random_each_pair_once():
    chosen, how = comparisons.family([("a", "b")], RUNGS, [("random", "hieros"), ("dreamer", "x")], "random")
    assert chosen == [
        ("hieros_1level", "dreamer"),
        ("hieros", "hieros_1level"),
        ("dreamer", "random"),
        ("hieros_1level", "random"),
        ("hieros", "random"),
        ("dreamer", "x"),  # --compare; (random, hieros) is (hieros, random) already
    ]
    assert how.startswith("each ladder rung") and how.endswith("--compare pairs")
    assert comparisons.family([("a", "b"), ("a", "c")], None, [], None) == (
        [("a", "b"), ("a", "c")],
        "each of our methods against every other method of the report",
    )


def test_the_report_tests_on_the_seeds_bench_reads_from_the_suite_file():
    """analysis does not read benchmark.toml (it never imports bench): bench hands the report its planned seeds."""
    from analysis.cli import register
    from bench.cli import build_parser
    from bench.suites import load

    benchmark = load()
    suite = next(iter(benchmark.suites))
    planned = build_parser().parse_args(["report"]).planned_seeds
    assert planned(suite).default == benchmark.suites[suite].seeds and planned("no_such_suite") is None
    alone = argparse.ArgumentParser().add_subparsers()
    register(alone)
    assert alone.choices["report"].parse_args([]).planned_seeds(suite) is None  # analysis alone plans nothing


def test_planned_seeds_are_tested_and_the_extra_ones_named():
    seeds = {"a": [1, 2, 3, 4, 5, 6], "b": [1, 2, 3, 4, 5, 6]}
    scores = {"a": np.arange(6.0)[:, None] + 10, "b": np.arange(6.0)[:, None]}  # a beats b in every pair
    tasks = {"a": ["t"], "b": ["t"]}
    args = (scores, tasks, seeds, {"a", "b"}, [("a", "b")], "the pair")
    planned = comparisons.verdicts(*args, plan=comparisons.SeedPlan(3))
    assert planned.pairs["a vs b"].runs == [3, 3] and planned.beyond_plan == {"a": [4, 5, 6], "b": [4, 5, 6]}
    assert planned.pairs["a vs b"].p == pytest.approx(0.1)  # 2 / C(6, 3): 3 vs 3 cannot go lower
    assert planned.pairs["a vs b"].verdict == "inconclusive"
    every = comparisons.verdicts(*args, plan=comparisons.SeedPlan(3), all_seeds=True)
    assert every.pairs["a vs b"].runs == [6, 6]
    assert every.pairs["a vs b"].p == pytest.approx(2 / 924)  # exact: 2 / C(12, 6)
    assert every.pairs["a vs b"].verdict == "better" and every.pairs["a vs b"].improvement == 1.0


def test_level_needs_an_equivalence_shown_and_imported_methods_keep_every_run():
    rng = np.random.default_rng(1)
    same = rng.normal(0.5, 0.01, size=(10, 1))
    scores = {"ours": same, "theirs": same[::-1] + 0.001}
    tasks = {"ours": ["t"], "theirs": ["t"]}
    seeds = {"ours": list(range(1, 11)), "theirs": list(range(1, 11))}
    pair, ten = [("ours", "theirs")], comparisons.SeedPlan(10)
    found = comparisons.verdicts(scores, tasks, seeds, {"ours"}, pair, "x", plan=ten)
    assert found.pairs["ours vs theirs"].verdict == "level"  # within 0.1, far inside the margin
    tight = comparisons.verdicts(scores, tasks, seeds, {"ours"}, pair, "x", ten, margin=0.001)
    assert tight.pairs["ours vs theirs"].verdict == "inconclusive"
    few = comparisons.verdicts(scores, tasks, seeds, {"ours"}, [("ours", "theirs")], "x", plan=comparisons.SeedPlan(4))
    assert few.pairs["ours vs theirs"].runs == [4, 10] and few.beyond_plan == {"ours": [5, 6, 7, 8, 9, 10]}


def test_a_method_with_its_own_planned_seeds_is_tested_on_them():
    """A rung added with as many seeds as its power calculation asked (benchmark.toml `seeds_of`): it and the
    methods it is tested against use their own counts; the others keep the suite's."""
    seeds = {n: [1, 2, 3, 4, 5, 6] for n in ("rung", "ref", "other")}
    scores = {"rung": np.arange(6.0)[:, None] + 10, "ref": np.arange(6.0)[:, None], "other": np.zeros((6, 1))}
    tasks = {n: ["t"] for n in scores}
    plan = comparisons.SeedPlan(3, {"rung": 6, "ref": 6})
    found = comparisons.verdicts(scores, tasks, seeds, set(scores), [("rung", "ref"), ("rung", "other")], "x", plan)
    assert found.pairs["rung vs ref"].runs == [6, 6] and found.pairs["rung vs other"].runs == [6, 3]
    assert found.beyond_plan == {"other": [4, 5, 6]} and found.planned_seeds_of == {"rung": 6, "ref": 6}
    assert plan.of("other") == 3 and plan.describe() == "3 per method (ref 6, rung 6)"


def test_the_report_says_which_family_which_correction_and_shows_only_tested_pairs(tmp_path, stores):
    stores.small_store(tmp_path, methods=("alpha", "beta", "random"))
    out = tmp_path / "report"
    code = stores.run_report(
        tmp_path, "--out", str(out), "--reps", "300", "--no-sampler", "--ladder", "alpha,beta", "--margin", "0.05"
    )
    assert code == 0
    text = (out / "report.md").read_text()
    assert "## Verdicts" in text and "Holm-corrected over a family of 3 comparison(s)" in text
    assert "within ±0.05 normalised score" in text
    tests = read_summary(out).tests
    assert set(tests.pairs) == {"beta vs alpha", "alpha vs random", "beta vs random"}
    assert all(t.verdict in ("better", "worse", "level", "inconclusive") for t in tests.pairs.values())
    rows = (out / "improvement.csv").read_text().splitlines()
    assert rows[0].endswith(",verdict") and len(rows) == 1 + 3
    assert "within noise" not in text


def test_the_seed_planner_finds_the_count_and_says_why_fewer_cannot(capsys):
    args = ["seeds", "--difference", "0.3", "--spread", "0.1", "--family", "8", "--max-seeds", "8"]
    assert bench_main([*args, "--experiments", "200"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as one line, however the terminal wraps it
    assert "6 seeds per method reach power 0.8" in out
    assert "5 vs 5 runs on 1 task(s): the smallest attainable two-sided p-value is 0.00794 > level 0.00625" in out
    assert bench_main(["seeds", "--difference", "0.1"]) == 2
    assert "--spread S, or --pilot" in capsys.readouterr().err


def test_many_tested_pairs_are_drawn_as_a_matrix_that_marks_each_verdict():
    from itertools import combinations

    from analysis import figures

    names = [f"m{i}" for i in range(15)]
    pairs = {f"{a} vs {b}": (Interval(0.5, 0.2, 0.8), "level") for a, b in combinations(names, 2)}
    fig, (header, rows) = figures.draw_improvement(pairs)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(rows) == 105 and header[-1] == "verdict" and texts.count("0.50=") == 105
    assert fig.get_figwidth() == figures.PAGE and fig.get_figheight() <= 9.0
    few = dict(list(pairs.items())[:3])
    fig, _ = figures.draw_improvement(few)
    assert [t.get_text() for t in fig.axes[0].texts] == ["level"] * 3


def test_the_seed_planner_plans_a_level_verdict_too(capsys):
    from analysis import power

    tight = power.seeds_needed(0.0, 0.02, margin=0.1, experiments=200, max_seeds=6)
    assert tight.seeds == 3  # 3 vs 3: each one-sided p can reach 1/20 = 0.05, and a small spread gets there
    assert "2 vs 2 runs on 1 task(s): the smallest attainable one-sided p-value is 0.167" in tight.notes[0]
    wide = power.seeds_needed(0.0, 0.11, margin=0.1, family_size=2, experiments=100, max_seeds=6)
    assert wide.seeds is None and max(wide.power.values()) < 0.2  # a spread as wide as the margin: far more seeds
    assert bench_main(["seeds", "--equivalence", "0.1", "--spread", "0.03", "--max-seeds", "6"]) == 0
    assert "show level within +-0.1" in " ".join(capsys.readouterr().out.split())
    assert bench_main(["seeds", "--difference", "0", "--spread", "0.1"]) == 2
