"""The report end to end on real stores: imported published runs and runs written through hieros.rundir."""

import gzip
import json
import shutil
from pathlib import Path

import pytest

from analysis import transfer
from analysis.checks import check
from analysis.report import Options, ReportError, compute, write
from analysis.store import StoreError, game_to_task, load_store, normalize
from bench.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "atari100k_raw"
DREAMER = SHARED / "dreamerv3" / "atari100k-dreamerv3.json.gz"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside this checkout")


def test_game_names_and_normalisation():
    assert game_to_task("MsPacman") == "atari_ms_pacman" and game_to_task("UpNDown") == "atari_up_n_down"
    assert normalize("atari_pong", -20.7) == pytest.approx(0.0)
    assert normalize("atari_pong", 14.6) == pytest.approx(1.0)
    assert normalize("dmc_walker_walk", 500.0) == 0.5


@needs_shared
def test_import_export_round_trips_a_danijar_file(tmp_path):
    for source in (DREAMER, SHARED / "dreamerv3" / "v1_2023" / "atari100k_dreamerv3.json.gz"):
        results = tmp_path / source.parent.name
        assert transfer.import_file(source, "dreamerv3", results) == 130
        out = tmp_path / "out.json.gz"
        assert transfer.export_runs(results, out) == 130
        key = lambda r: (r["task"], str(r["seed"]))  # noqa: E731
        original = sorted(json.loads(gzip.decompress(source.read_bytes())), key=key)
        assert sorted(json.loads(gzip.decompress(out.read_bytes())), key=key) == original


@needs_shared
@pytest.mark.parametrize("file, runs", [("iris/IRIS.json", 5), ("twm/scores.json", 5), ("storm/storm.json", 5),
                                        ("iris/SPR.json", 100)])
def test_import_per_game_lists(tmp_path, file, runs):
    assert transfer.import_file(SHARED / file, "baseline", tmp_path) == 26 * runs
    method = load_store(tmp_path)["baseline"]
    assert len(method.tasks) == 26 and method.scores(method.tasks).shape == (runs, 26)


@needs_shared
def test_report_over_imported_dreamerv3_recovers_its_published_aggregates(tmp_path):
    transfer.import_file(DREAMER, "dreamerv3", tmp_path)
    summary = compute(Options(tmp_path, tmp_path / "report", reps=200))
    aggregates = summary["methods"]["dreamerv3"]["aggregates"]
    assert aggregates["Mean"]["value"] == pytest.approx(1.25, abs=0.01)  # published: 1.25 (125%)
    assert aggregates["Median"]["value"] == pytest.approx(0.49, abs=0.015)  # published: 0.49 (49%)
    names = write(Options(tmp_path, tmp_path / "report", reps=200, sampler=False), summary)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "atari_alien" in report and "| dreamerv3 |" in report and "HIEROS" in report
    for name in names:
        for suffix in (".png", ".pdf", ".csv"):
            assert (tmp_path / "report" / f"{name}{suffix}").stat().st_size > 0
    tex = (tmp_path / "report" / "table_atari100k.tex").read_text()
    assert r"\toprule" in tex and r"\textbf" in tex and "Up N Down" in tex


@needs_shared
def test_missing_seed_fails_the_coverage_check_unless_allowed(tmp_path, capsys):
    transfer.import_file(DREAMER, "dreamerv3", tmp_path)
    shutil.rmtree(tmp_path / "atari100k" / "dreamerv3" / "atari_pong" / "seed_3")
    problems = check(load_store(tmp_path))
    assert [p.message for p in problems] == ["dreamerv3 atari_pong: missing seed(s) [3]"]
    with pytest.raises(ReportError, match="missing seed"):
        compute(Options(tmp_path, tmp_path / "report", reps=100))
    assert main(["report", "--results", str(tmp_path), "--reps", "100"]) == 1
    assert main(["report", "--results", str(tmp_path), "--reps", "100", "--allow-partial"]) == 0


@needs_shared
def test_report_is_deterministic(tmp_path):
    transfer.import_file(SHARED / "iris" / "IRIS.json", "iris", tmp_path)
    for out in ("a", "b"):
        assert main(["report", "--results", str(tmp_path), "--out", str(tmp_path / out), "--reps", "200"]) == 0
    for name in ("summary.json", "report.md", "table_atari100k.tex", "aggregates.csv", "sampler.csv",
                 "aggregates.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_figures_have_labelled_axes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.sampler import sampler_figure

    captured = []
    original = plt.close
    plt.close = lambda fig=None: captured.append(fig) or original(fig)
    try:
        sampler_figure(tmp_path, [0.3], items=300)
    finally:
        plt.close = original
    axes = captured[0].axes
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)


def test_empty_and_corrupt_stores_are_one_line_errors(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path)]) == 2
    assert "no runs under" in capsys.readouterr().err
    run = tmp_path / "s" / "m" / "atari_pong" / "seed_1"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{not json")
    assert main(["report", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "corrupt JSON" in err and "\n" not in err
    with pytest.raises(StoreError):
        transfer.import_file(run / "run.json", "x", tmp_path)
