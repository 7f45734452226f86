"""The report end to end on real stores: runs written through hieros.rundir (the real format) and published files
imported from ../shared/data/atari100k_raw."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from analysis import baselines, score_files, stats
from analysis.outputs import figure_makers, write
from analysis.report import Options, compute
from analysis.store import StoreError, load_store, normalize
from analysis.summary_file import read_summary
from bench.cli import main

NONE = ["none"]  # most tests here are about our runs: no shipped baselines beside them


def test_numbers_are_the_statistics_of_the_store(tmp_path, stores):
    stores.small_store(tmp_path)
    report = compute(Options(tmp_path, tmp_path / "out", baselines=NONE, reps=300, sampler=False))
    summary = report.summary
    assert summary.checks == [] and summary.tasks == sorted(stores.TASKS)
    raw = np.array([[10.0 * s + stores.TASKS.index(t) for t in summary.tasks] for s in (1, 2, 3)])
    alpha = np.column_stack([normalize(t, raw[:, i]) for i, t in enumerate(summary.tasks)])
    assert report.scores["alpha"] == pytest.approx(alpha)
    for name, metric in stats.AGGREGATES.items():
        assert summary.methods["alpha"].aggregates[name].value == pytest.approx(float(metric(alpha)))
    breakout = summary.methods["beta"].games["atari_breakout"]
    assert breakout.scores == [16.0, 26.0, 36.0] and breakout.mean == 26.0
    half = 4.302652729911275 * 10 / np.sqrt(3)  # t(0.975, 2) sd / sqrt(3)
    assert (breakout.low, breakout.high) == pytest.approx((26.0 - half, 26.0 + half))
    pong = summary.methods["beta"].games["atari_pong"]  # 15, 25, 35: the interval stops at Pong's 21
    assert pong.mean == 25.0 and pong.high == 21.0
    assert summary.improvement["alpha vs beta"].value == pytest.approx(
        stats.probability_of_improvement(alpha, report.scores["beta"])
    )
    assert summary.verdicts == {
        "alpha": {"HIEROS": {"atari_frostbite": "below"}},
        "beta": {"HIEROS": {"atari_frostbite": "below"}},
    }  # HIEROS: 2901 on Frostbite
    curve = report.curves["score"]["atari_pong"]["alpha"]
    assert curve["x"][-1] == stores.BUDGET and curve["mean"][-1] == pytest.approx(20.0)  # last bin = the final window


def _baseline_file(path: Path, finals: dict[str, list[float]]) -> Path:
    items = [
        {"task": task, "method": "base", "seed": i, "xs": [395_000], "ys": [score]}
        for task, scores in finals.items()
        for i, score in enumerate(scores)
    ]
    path.write_bytes(gzip.compress(json.dumps(items).encode()))
    return path


def test_verdicts_against_an_imported_baseline_by_hand(tmp_path, stores):
    stores.small_store(tmp_path, methods=("ours",))  # ours: pong 10/20/30, breakout 11/21/31, frostbite 12/22/32
    base = {"atari_pong": [19.0, 20.0, 21.0], "atari_breakout": [1.0, 2.0, 3.0], "atari_frostbite": [99.0, 100.0]}
    score_files.import_file(_baseline_file(tmp_path / "base.json.gz", base), "base", tmp_path)
    summary = compute(
        Options(tmp_path, tmp_path / "out", baselines=NONE, reps=200, sampler=False, allow_partial=True, published=[])
    ).summary
    # base intervals: pong 20 +- 2.48, breakout 2 +- 2.48, frostbite 99.5 +- 6.35; ours means 20, 21, 22
    assert summary.verdicts == {
        "ours": {"base": {"atari_pong": "inside", "atari_breakout": "above", "atari_frostbite": "below"}}
    }
    assert summary.methods["base"].imported and summary.methods["base"].runs_per_task == 2
    assert list(summary.improvement) == ["ours vs base"]


@pytest.mark.published
def test_full_report_with_our_runs_and_imported_dreamerv3(published, tmp_path, stores):
    """Every output written and non-empty; the published DreamerV3 aggregates recovered from its runs."""
    dreamer_file = published / "dreamerv3" / "atari100k-dreamerv3.json.gz"
    score_files.import_file(dreamer_file, "dreamerv3", tmp_path)
    rng = np.random.default_rng(0)
    for task in load_store(tmp_path)["dreamerv3"].tasks:
        for seed in (1, 2):
            stores.write_run(tmp_path, "ours", task, seed, rng.normal(100, 10, 4).round(1).tolist())
    assert main(["report", "--results", str(tmp_path), "--reps", "300", "--metric", "model_loss"]) == 0
    out = tmp_path / "report"
    names = ["aggregates", "profiles", "improvement", "efficiency", "games", "curves", "metric_model_loss", "sampler"]
    for file in [
        "summary.json",
        "report.md",
        "table_atari100k.tex",
        *(f"{n}.{e}" for n in names for e in ("png", "pdf", "csv")),
    ]:
        assert (out / file).stat().st_size > 0, file
    summary = read_summary(out)
    dreamer = summary.methods["dreamerv3"].aggregates
    # to the printed precision: 1.25 and 0.49 (DreamerV3 2024, Table 9), with danijar's protocol: 8 seeds without
    # an episode in (390k, 400k] have no score for that game (taking an earlier episode gives a median of 0.480)
    assert dreamer["Mean"].value == pytest.approx(1.25, abs=0.005)
    assert dreamer["Median"].value == pytest.approx(0.49, abs=0.005)
    imported = summary.methods["dreamerv3"]
    assert imported.missing_cells == 8 and len(imported.unscored) == 8
    assert (imported.runs_per_task, imported.runs_per_task_max) == (1, 5)
    assert set(summary.verdicts["ours"]) == {"dreamerv3", "HIEROS", *baselines.DEFAULT}  # the default field
    assert all(summary.methods[b].baseline for b in baselines.DEFAULT)
    assert set(summary.improvement) == {f"ours vs {b}" for b in ("dreamerv3", *baselines.DEFAULT)}
    report = (out / "report.md").read_text()
    for part in (
        "## Checks",
        "| ours | 2 |",
        "| MsPacman |",
        "HIEROS (as published, 25 games, 3 seeds; no CI)",
        "![curves](curves.png)",
        "![sampler](sampler.png)",
        "sha256 c839ef2f",
        "dreamerv3: 8 finished run(s) have no score by their protocol",
    ):
        assert part in report, part
    tex = (out / "table_atari100k.tex").read_text()
    tables = tex.count(r"\begin{tabular}")  # 10 methods and the references pass a page's width: split
    rows = [line for line in tex.splitlines() if line.endswith(r" \\")]
    assert tables == 2 and len(rows) == tables * (1 + 26 + 5) and r"\textbf" in tex and "UpNDown" in tex


def test_same_store_same_bytes(tmp_path, stores):
    stores.small_store(tmp_path)
    args = ["report", "--results", str(tmp_path), "--reps", "300", "--metric", "model_loss"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir()) and len(files) == 28  # .hieros-report.json too
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_task_selection(tmp_path, capsys, stores):
    stores.small_store(tmp_path)
    stores.write_run(tmp_path, "alpha", "atari_up_n_down", 1, [1.0])
    options = Options(tmp_path, tmp_path / "o", baselines=NONE, reps=50, sampler=False, allow_partial=True)
    summary = compute(options).summary
    assert "atari_up_n_down" not in summary.tasks  # only the tasks every method has
    summary = compute(
        Options(
            tmp_path,
            tmp_path / "o",
            baselines=NONE,
            reps=50,
            sampler=False,
            allow_partial=True,
            methods=["alpha"],
            paper_tasks=True,
            tasks=["atari_pong", "atari_up_n_down"],
        )
    ).summary
    assert summary.tasks == ["atari_pong"] and list(summary.methods) == ["alpha"]
    assert stores.run_report(tmp_path, "--tasks", "atari_zaxxon", "--allow-partial") == 2
    assert "no runs of atari_zaxxon" in capsys.readouterr().err
    assert stores.run_report(tmp_path, "--metric", "nope", "--allow-partial", "--no-sampler") == 2
    assert "logged train metrics: model_loss" in capsys.readouterr().err


def test_dmc_scores_are_return_over_1000(tmp_path, stores):
    for seed in (1, 2):
        stores.write_run(tmp_path, "m", "dmc_walker_walk", seed, [100.0 * seed], budget=500_000, suite="dmc_proprio")
    options = Options(tmp_path, tmp_path / "o", baselines=NONE, reps=50, sampler=False)
    report = compute(options)
    assert report.scores["m"].ravel().tolist() == [0.1, 0.2]
    assert "Superhuman" not in report.summary.methods["m"].aggregates and report.summary.published == {}
    assert report.profiles["taus"][-1] == 1.0
    write(report, options)
    sources = (tmp_path / "o" / "report.md").read_text().split("## Sources")[1]
    assert "return / 1000" in sources and "human" not in sources


def test_empty_and_corrupt_stores_are_one_line_errors(tmp_path, capsys, stores):
    assert stores.run_report(tmp_path) == 2
    assert "no runs under" in capsys.readouterr().err
    run = tmp_path / "s" / "m" / "atari_pong" / "seed_1"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{not json")
    assert stores.run_report(tmp_path) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "corrupt JSON" in err and err.count("\n") == 1
    assert stores.run_report(tmp_path / "nowhere") == 2


def test_a_store_with_several_suites_reports_each(tmp_path, stores):
    for suite in ("atari100k", "smoke"):
        for task in stores.TASKS[:2]:
            for seed in (1, 2):
                stores.write_run(tmp_path, "alpha", task, seed, [0.0, 1.0, 10.0 * seed], suite=suite)
    assert stores.run_report(tmp_path, "--reps", "200", "--no-sampler") == 0
    for suite in ("atari100k", "smoke"):
        summary = read_summary(tmp_path / "report" / suite)
        assert summary.suite == suite
    assert stores.run_report(tmp_path, "--suite", "smoke", "--reps", "200", "--no-sampler") == 0
    assert (tmp_path / "report" / "report.md").exists()


def test_compare_adds_p_of_improvement_between_any_two_methods(tmp_path, stores):
    stores.small_store(tmp_path)
    options = Options(tmp_path, tmp_path / "out", baselines=["DIAMOND", "IRIS"], reps=200, sampler=False)
    assert "DIAMOND vs IRIS" not in compute(options).summary.improvement  # baselines are not compared by default
    options.compare = [["DIAMOND", "IRIS"], ["beta", "alpha"], ["alpha", "beta"]]
    improvement = compute(options).summary.improvement
    assert 0.5 < improvement["DIAMOND vs IRIS"].value <= 1  # DIAMOND's games beat IRIS's in most pairs
    assert "beta vs alpha" not in improvement and "alpha vs beta" in improvement  # held already, in one order
    options.compare = [["alpha", "nosuch"]]
    with pytest.raises(StoreError, match="--compare: 'nosuch' is not a method of this report"):
        compute(options)


def test_average_profiles_count_games_by_their_mean_over_runs(tmp_path, stores):
    stores.small_store(tmp_path)
    options = Options(tmp_path, tmp_path / "out", baselines=["none"], reps=200, sampler=False, profile="average")
    report = compute(options)
    taus = report.profiles["taus"]
    for name, method in report.summary.methods.items():
        means = np.array([g.normalized.mean for g in method.games.values()])
        by_hand = [(means > tau).mean() for tau in taus]
        assert report.profiles["methods"][name]["value"].tolist() == pytest.approx(by_hand)
    assert report.summary.statistics.profile == "average"
    figure, _ = figure_makers(report, options)["profiles"]()
    assert figure.axes[0].get_ylabel() == r"fraction of tasks with mean $> \tau$"
    runs = compute(Options(tmp_path, tmp_path / "out", baselines=["none"], reps=200, sampler=False))
    assert runs.profiles["methods"]["alpha"]["value"].tolist() != report.profiles["methods"]["alpha"]["value"].tolist()


def test_a_train_metric_at_the_end_of_training_by_hand(tmp_path, stores):
    stores.small_store(tmp_path)  # model_loss = 10 / (1 + frames / 1e5) + seed; the last record at the budget
    options = Options(tmp_path, tmp_path / "out", baselines=["none"], reps=100, sampler=False, metrics=["model_loss"])
    report = compute(options)
    cell = report.summary.train_metrics["model_loss"]["atari_pong"]["alpha"]
    half = 4.302653 / np.sqrt(3)  # t(0.975, 2) * sd(3, 4, 5) / sqrt(3)
    assert cell.values == [3.0, 4.0, 5.0] and cell.runs == 3 and isinstance(cell.runs, int)
    assert (cell.mean, cell.low, cell.high) == pytest.approx((4.0, 4.0 - half, 4.0 + half))
    write(report, options)
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## Train metrics at the end of training" in text and "4.00 [1.52, 6.48], n=3 |" in text
    options.metrics = ["no_such_metric"]
    with pytest.raises(StoreError, match="--metric 'no_such_metric': no run logs it"):
        compute(options)
