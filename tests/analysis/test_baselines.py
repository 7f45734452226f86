"""The shipped per-run baselines: the table is what the authors' files give, their aggregates are what their
papers printed (where the file reproduces it), and the report shows them with intervals beside our runs."""

import json

import numpy as np
import pytest

from analysis import baselines, score_files, stats, transfer
from analysis.report import Options, compute
from analysis.store import find_game, load_store, random_human
from analysis.summary_file import read_summary
from bench.cli import main
from hieros.run_file import ScoreProtocol


@pytest.mark.published
def test_the_shipped_tables_are_what_the_script_makes_from_the_published_files(published):
    scores, sources, curves = baselines.build(published)
    assert scores == baselines.TABLE.read_text() and sources == baselines.SOURCES_TABLE.read_text()
    assert curves == baselines.CURVES_TABLE.read_text()


def _aggregates(name: str) -> dict[str, float]:
    method = baselines.load([name])[name]
    scores = method.scores(method.scored_tasks())
    return {k: float(v) for k, v in stats.aggregates(scores, with_superhuman=True).items()}


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("DIAMOND", {"Mean": 1.46, "Median": 0.37, "IQM": 0.64}),  # DIAMOND (NeurIPS 2024), Table 1
        ("DreamerV3", {"Mean": 1.25, "Median": 0.49}),  # DreamerV3 (2024), Table 9
        ("TWM", {"Mean": 0.96, "Median": 0.51}),  # TWM (ICLR 2023), Table 1
        ("IRIS", {"Mean": 1.046, "Median": 0.289, "IQM": 0.501, "Optimality Gap": 0.512}),  # IRIS (ICLR 2023)
    ],
)
def test_aggregates_equal_what_each_paper_printed(name, printed):
    ours = _aggregates(name)
    for key, value in printed.items():
        digits = len(str(value).partition(".")[2])
        assert round(ours[key], digits) == value, key


def test_storm_file_does_not_reproduce_its_paper_and_the_table_says_so():
    assert round(_aggregates("STORM")["Mean"], 3) != 1.266  # STORM (NeurIPS 2023) printed mean 1.266, median 0.584
    assert "does not reproduce" in baselines.sources()["STORM"]["note"]


def test_table_rows_by_hand():
    table = baselines.load(["CURL", "DreamerV3", "SPR"])
    low, high = random_human()["atari_alien"]
    # CURL's Alien seed 1 has HNS 0.0538268671 in its file; the table holds the raw score
    assert table["CURL"].runs["atari_alien"][1].final == pytest.approx(0.0538268671 * (high - low) + low, abs=1e-6)
    assert len(table["SPR"].runs["atari_alien"]) == 100
    unscored = [(t, s) for t, runs in table["DreamerV3"].runs.items() for s, r in runs.items() if r.final is None]
    assert len(unscored) == 8  # no training episode in (390k, 400k]


def test_names_default_all_none_and_unknown():
    assert baselines.resolve(None) == list(baselines.DEFAULT)
    assert baselines.resolve(["none"]) == [] and baselines.resolve(["all"]) == baselines.names()
    assert len(baselines.names()) == 13
    with pytest.raises(ValueError, match="unknown baseline 'Dreamer'; shipped: DreamerV3"):
        baselines.resolve(["Dreamer"])


def test_leaderboard_of_the_baselines_alone_from_an_empty_store(tmp_path, capsys):
    assert (
        main(
            [
                "report",
                "--results",
                str(tmp_path / "empty"),
                "--out",
                str(tmp_path / "out"),
                "--baselines",
                "all",
                "--reps",
                "200",
                "--no-sampler",
            ]
        )
        == 0
    )
    summary = read_summary(tmp_path / "out")
    assert set(summary.methods) == set(baselines.names()) and summary.improvement == {}
    assert summary.tasks == sorted(random_human())  # all 26 games, although DreamerV3-2023 has 25
    for name, method in summary.methods.items():  # each keeps the aggregates of its own games, as published
        lacking = {"atari_chopper_command"} if name == "DreamerV3-2023" else set()
        assert method.tasks == sorted(set(random_human()) - lacking)
        assert method.aggregates["Mean"].value == pytest.approx(_aggregates(name)["Mean"])
    assert round(summary.methods["DIAMOND"].aggregates["IQM"].value, 2) == 0.64  # not 0.697 on 25
    report = (tmp_path / "out" / "report.md").read_text()
    rows = [line.split(" |")[0] for line in report.split("## Aggregates")[1].splitlines() if line.startswith("| ")]
    iqm = [summary.methods[n].aggregates["IQM"].value for n in baselines.names()]
    best = baselines.names()[int(np.argmax(iqm))]
    assert rows[1] == f"| {best} (baseline)" + " [25/26 tasks]" * (best == "DreamerV3-2023")  # best IQM first
    assert "| DreamerV3-2023 (baseline) [25/26 tasks] |" in report  # marked in the table itself
    assert "scored on 25 of 26 tasks (without ChopperCommand)" in report
    assert "ChopperCommand | " in report.split("## Per game")[1]  # its row is there, DreamerV3-2023's cell '–'
    assert r"DreamerV3-2023$^\ddagger$" in (tmp_path / "out" / "table_atari100k.tex").read_text()
    profiles = (tmp_path / "out" / "profiles.csv").read_text()  # the figures' legends carry the mark too
    assert "DreamerV3-2023 [25/26 tasks]," in profiles and "DIAMOND," in profiles
    assert "weipu-zhang/STORM@1c50658:results/storm.json" in report and "does not reproduce" in report
    assert main(["report", "--results", str(tmp_path / "empty"), "--reps", "200"]) == 2  # no runs, no baselines asked
    assert "--baselines all" in capsys.readouterr().err


def test_default_baselines_only_beside_an_atari100k_store(tmp_path, stores):
    stores.small_store(tmp_path / "a")  # Atari games at 400k frames
    assert (
        main(
            [
                "report",
                "--results",
                str(tmp_path / "a"),
                "--reps",
                "100",
                "--no-sampler",
                "--tasks",
                ",".join(stores.TASKS),
            ]
        )
        == 0
    )
    summary = read_summary(tmp_path / "a" / "report")
    assert [n for n, m in summary.methods.items() if m.baseline] == list(baselines.DEFAULT)
    assert summary.tasks == sorted(stores.TASKS) and "alpha vs DIAMOND" in summary.improvement

    stores.write_run(tmp_path / "s", "alpha", "atari_pong", 1, [1.0], budget=4000, window=2000, suite="smoke")
    assert main(["report", "--results", str(tmp_path / "s"), "--reps", "100", "--no-sampler"]) == 0
    summary = read_summary(tmp_path / "s" / "report")
    assert list(summary.methods) == ["alpha"]  # a 4000-frame smoke run is no Atari100k run


def test_a_baseline_without_one_of_the_stores_games_is_marked_and_compared_on_the_common_ones(tmp_path, stores):
    games = ("atari_pong", "atari_breakout", "atari_chopper_command")  # DreamerV3-2023 has no ChopperCommand
    for t, task in enumerate(games):
        for seed in (1, 2, 3):
            stores.write_run(tmp_path, "alpha", task, seed, [0.0, 100.0 * seed + t])
    argv = ["report", "--results", str(tmp_path), "--reps", "100", "--no-sampler", "--baselines", "DreamerV3-2023"]
    assert main(argv) == 0
    summary = read_summary(tmp_path / "report")
    assert summary.tasks == sorted(games) and summary.methods["alpha"].tasks == sorted(games)
    common = sorted(games[:2])
    assert summary.methods["DreamerV3-2023"].tasks == common
    alpha, theirs = load_store(tmp_path)["alpha"], baselines.load(["DreamerV3-2023"])["DreamerV3-2023"]
    by_hand = stats.probability_of_improvement(alpha.scores(common), theirs.scores(common))
    assert summary.improvement["alpha vs DreamerV3-2023"].value == pytest.approx(by_hand)
    assert "| DreamerV3-2023 (baseline) [2/3 tasks] |" in (tmp_path / "report" / "report.md").read_text()


def test_baselines_with_training_curves_have_a_sample_efficiency_curve_ending_at_their_final_iqm(tmp_path):
    report = compute(Options(tmp_path / "empty", tmp_path / "out", baselines=["all"], reps=200, sampler=False))
    curved = report.summary.efficiency
    assert set(curved) == {"DreamerV3", "DreamerV3-2023"}  # the danijar score lists; the others are finals only
    for name, curve in curved.items():
        assert curve.frames[-1] == baselines.BUDGET_FRAMES and len(curve.frames) >= 8
        final_iqm = report.summary.methods[name].aggregates["IQM"].value
        assert curve.value[-1] == pytest.approx(final_iqm)  # the last bin is the final window
        assert curve.value[0] < curve.value[-1]  # it learns


def test_a_store_method_named_like_a_baseline_is_refused(tmp_path, capsys, stores):
    stores.small_store(tmp_path, methods=("IRIS",))
    assert main(["report", "--results", str(tmp_path), "--reps", "100", "--no-sampler"]) == 2
    assert "method named IRIS" in capsys.readouterr().err


@pytest.mark.published
def test_import_reads_harmonydreams_evaluation_curves_at_the_budget(published, tmp_path):
    path = published / "harmonydream" / "harmony.json"
    assert score_files.import_file(path, "harmony", tmp_path).written == 130
    method = load_store(tmp_path)["harmony"]
    curves = json.loads(path.read_text())
    assert method.finals(find_game("james_bond")).tolist() == [curve[-1] for curve in curves["score"]["james_bond"]]
    assert method.runs["atari_pong"][1].record.protocol.score == ScoreProtocol("published_final")
    with pytest.raises(ValueError, match="no point at the budget, 100 frames"):
        score_files.import_file(path, "h2", tmp_path, given=transfer.Given(budget_frames=100))


@pytest.mark.slow
def test_cached_baseline_estimates_are_read_back_and_give_the_same_report(tmp_path, monkeypatch, stores):
    from analysis import cache

    monkeypatch.setenv("HIEROS_BENCH_CACHE", str(tmp_path / "cache"))
    stores.small_store(tmp_path / "runs")
    args = [
        "report",
        "--results",
        str(tmp_path / "runs"),
        "--reps",
        "200",
        "--no-sampler",
        "--tasks",
        ",".join(stores.TASKS),
    ]
    assert main([*args, "--out", str(tmp_path / "fresh"), "--no-cache"]) == 0
    assert not (tmp_path / "cache").exists()
    assert main([*args, "--out", str(tmp_path / "stored")]) == 0
    entries = sorted((tmp_path / "cache").glob("*.json"))
    assert len(entries) == len(baselines.DEFAULT)  # one per shipped baseline, none for our methods
    assert main([*args, "--out", str(tmp_path / "cached")]) == 0
    for file in ("summary.json", "report.md", "aggregates.csv", "profiles.csv", "improvement.csv"):
        fresh = (tmp_path / "fresh" / file).read_bytes()
        assert fresh == (tmp_path / "stored" / file).read_bytes() == (tmp_path / "cached" / file).read_bytes(), file
    entries[0].write_text("{not json")  # an unreadable entry is recomputed and rewritten
    assert main([*args, "--out", str(tmp_path / "repaired")]) == 0
    assert (tmp_path / "repaired" / "summary.json").read_bytes() == (tmp_path / "fresh" / "summary.json").read_bytes()
    assert cache.load(entries[0].stem) is not None
    altered = json.loads(entries[1].read_text())  # and a readable one is what the report shows
    altered["IQM"]["value"] = 123.0
    entries[1].write_text(json.dumps(altered))
    assert main([*args, "--out", str(tmp_path / "trusted")]) == 0
    summary = read_summary(tmp_path / "trusted")
    assert [n for n, m in summary.methods.items() if m.aggregates["IQM"].value == 123.0]
