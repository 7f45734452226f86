"""The ablation ladder: rungs and references parsed, probabilities read from the report's pairs in either order."""

import pytest

from analysis import ladder
from analysis.store import StoreError
from analysis.summary_file import Comparison, Comparisons, Interval, MethodSummary, read_summary


def methods() -> dict[str, MethodSummary]:
    """Four methods of 3 runs on one task, each with a Mean of v [v - 0.1, v + 0.1]."""
    return {
        name: MethodSummary(
            imported=False,
            baseline=None,
            sources=[],
            protocols=[],
            config_hashes=[],
            seeds=[1, 2, 3],
            runs_per_task=3,
            runs_per_task_max=3,
            missing_cells=0,
            unscored=[],
            tasks=["dmc_cartpole_balance"],
            aggregates={"Mean": Interval(v, v - 0.1, v + 0.1)},
            games={},
        )
        for name, v in (("dreamer", 0.8), ("hieros", 0.4), ("random", 0.3), ("hieros_rssm", 0.5))
    }


def comparison(x: str, y: str, verdict: str, improvement: float, runs: list[int]) -> Comparison:
    return Comparison(x, y, verdict, improvement, 0.1, 0.2, 0.5, 0.5, True, runs, 1, None, None)


def test_each_rung_is_compared_with_the_one_before_or_the_one_named():
    assert ladder.parse(["dreamer", "hieros", "hieros_rssm:dreamer", "random"]) == [
        ("dreamer", None),
        ("hieros", "dreamer"),
        ("hieros_rssm", "dreamer"),
        ("random", "hieros_rssm"),
    ]
    with pytest.raises(StoreError, match="empty rung"):
        ladder.parse(["dreamer", ":hieros"])


def test_probabilities_come_from_the_pair_in_either_order_with_the_interval_mirrored():
    pairs = {
        "dreamer vs hieros": Interval(0.9, 0.7, 1.0),
        "hieros vs random": Interval(0.6, 0.4, 0.8),
        "dreamer vs random": Interval(1.0, 1.0, 1.0),
        "hieros_rssm vs hieros": Interval(0.2, 0.0, 0.45),
    }
    rows = ladder.rows(methods(), pairs, "Mean", ladder.parse(["dreamer", "hieros", "hieros_rssm:hieros"]))
    assert [r.method for r in rows] == ["dreamer", "hieros", "hieros_rssm"]
    assert rows[0].vs_reference is None and rows[0].vs_floor == Interval(1.0, 1.0, 1.0)
    flipped = rows[1].vs_reference  # 1 - P(dreamer > hieros)
    assert (flipped.value, flipped.low, flipped.high) == pytest.approx((0.1, 0.0, 0.3))
    assert rows[1].score == Interval(0.4, 0.30000000000000004, 0.5)
    tests = Comparisons(
        alpha=0.05,
        margin=0.1,
        correction="Holm",
        family="x",
        size=2,
        test="x",
        equivalence="x",
        planned_seeds=None,
        planned_seeds_of={},
        all_seeds=False,
        beyond_plan={},
        pairs={
            "dreamer vs hieros": comparison("dreamer", "hieros", "better", 0.9, [5, 3]),
            "hieros vs random": comparison("hieros", "random", "inconclusive", 0.6, [3, 5]),
        },
    )
    with_tests = ladder.with_tests(rows, tests)
    assert [ladder.verdict(r.test_reference) for r in with_tests] == ["", "worse", ""]  # turned round; untested
    assert with_tests[1].test_reference.improvement == pytest.approx(0.1)
    assert with_tests[1].test_reference.runs == [3, 5]
    assert ladder.verdict(with_tests[1].test_floor) == "inconclusive"
    assert rows[2].vs_floor is None  # no hieros_rssm/random pair in this report
    with pytest.raises(StoreError, match="'nosuch' is not a method of this report"):
        ladder.rows(methods(), pairs, "Mean", ladder.parse(["dreamer", "nosuch"]))


def test_the_report_writes_the_ladder_table_and_figure(tmp_path, stores):
    stores.small_store(tmp_path, methods=("alpha", "beta", "random"))
    out = tmp_path / "report"
    assert (
        stores.run_report(tmp_path, "--out", str(out), "--reps", "300", "--no-sampler", "--ladder", "alpha,beta") == 0
    )
    rungs = read_summary(out).ladder.rungs
    assert [(r.method, r.reference) for r in rungs] == [("alpha", None), ("beta", "alpha")]
    assert rungs[1].test_reference.verdict in ("better", "worse", "level", "inconclusive")
    tests = read_summary(out).tests
    assert tests.size == 3 and tests.family.startswith("each ladder rung")  # beta vs alpha, each vs random
    assert "## Ablation ladder" in (out / "report.md").read_text()
    assert (out / "ladder.png").stat().st_size > 0 and (out / "ladder.csv").read_text().startswith("method,reference")
