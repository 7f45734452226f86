"""`report --out`, `plot sampler --out` and `export --out` never delete or overwrite what they did not write (#35).

An output folder is taken only when it is new, empty, or a report's own (it carries .hieros-report.json); an output
that is, holds or lies inside an input (the results store, a run directory) is refused. A refusal comes before any
computation, in one line with exit 2, and creates or changes nothing.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from analysis import export, outdir
from bench.cli import main
from hieros import rundir

FAST = ("--baselines", "none", "--reps", "100", "--no-sampler", "--jobs", "1")


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under `root`: a file's bytes, None for a folder."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


@pytest.fixture
def store(tmp_path, stores, monkeypatch) -> Path:
    monkeypatch.delenv("HIEROS_DEBUG", raising=False)
    stores.small_store(tmp_path / "results")
    return tmp_path / "results"


@pytest.fixture
def no_computing(monkeypatch) -> None:
    """A report that gets as far as computing fails the test."""
    from analysis import report

    monkeypatch.setattr(report, "compute", lambda options: pytest.fail("computed before refusing the output"))


def _refused(argv: list[str], message: str, root: Path, capsys) -> None:
    before = _tree(root)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert _tree(root) == before


def _report(store: Path, out: Path, *flags: str) -> int:
    return main(["report", "--results", str(store), "--out", str(out), *FAST, *flags])


def test_a_folder_of_someone_elses_files_is_refused_and_left_byte_for_byte(
    tmp_path, store, no_computing, monkeypatch, capsys
):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "README.md").write_text("# mine\n")
    (checkout / "pyproject.toml").write_text("[project]\n")
    argv = ["report", "--results", str(store), "--out", str(checkout), *FAST]
    _refused(argv, "it holds README.md, pyproject.toml, which no report wrote", tmp_path, capsys)
    monkeypatch.chdir(checkout)
    _refused(["report", "--results", "../results", "--out", ".", *FAST], "choose another --out", tmp_path, capsys)
    _refused(["plot", "sampler", "--out", "."], "which no report wrote", tmp_path, capsys)


def test_the_store_a_folder_holding_it_and_a_run_directory_are_refused(tmp_path, store, no_computing, capsys):
    run = rundir.find_runs(store)[0]
    for out, message in (
        (store, "it is the results store"),
        (tmp_path, "it holds the results store"),
        (run, f"it is inside the run directory {run}"),
        (run / "report", "it is inside the run directory"),
        (store / "atari100k", "which no report wrote"),
    ):
        _refused(["report", "--results", str(store), "--out", str(out), *FAST], message, tmp_path, capsys)
    _refused(["plot", "sampler", "--out", str(run)], "inside the run directory", tmp_path, capsys)


def test_every_suites_folder_is_checked_before_the_first_suite_is_computed(
    tmp_path, store, stores, no_computing, capsys
):
    stores.write_run(store, "alpha", "atari_pong", 1, [1.0, 2.0], suite="other")
    (tmp_path / "out" / "other").mkdir(parents=True)
    (tmp_path / "out" / "other" / "notes.txt").write_text("mine")
    (tmp_path / "out" / outdir.MANIFEST).write_text(json.dumps({"schema": outdir.SCHEMA, "files": []}))
    _refused(["report", "--results", str(store), "--out", str(tmp_path / "out"), *FAST], "notes.txt", tmp_path, capsys)


def test_a_report_goes_into_an_empty_folder_and_keeps_the_folder(tmp_path, store):
    out = tmp_path / "empty"
    out.mkdir()
    inode = out.stat().st_ino
    assert _report(store, out) == 0
    listed = json.loads((out / outdir.MANIFEST).read_text())
    assert listed["schema"] == outdir.SCHEMA and "report.md" in listed["files"] and "summary.json" in listed["files"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*listed["files"], outdir.MANIFEST])
    assert out.stat().st_ino == inode


def test_a_rerun_replaces_only_its_own_files_and_keeps_what_a_user_added(tmp_path, store, capsys):
    out = tmp_path / "report"
    assert _report(store, out, "--metric", "model_loss") == 0
    (out / "notes.txt").write_text("my notes")
    (out / "other_suite").mkdir()
    (out / "other_suite" / "report.md").write_text("another report")
    assert _report(store, out) == 0  # without --metric: its figure is no longer the report's
    names = {p.name for p in out.iterdir()}
    assert {"notes.txt", "other_suite", "report.md"} <= names and "metric_model_loss.png" not in names
    assert (out / "notes.txt").read_text() == "my notes"
    assert (out / "other_suite" / "report.md").read_text() == "another report"
    assert "notes.txt" not in json.loads((out / outdir.MANIFEST).read_text())["files"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "results"]  # no staging folder left

    (out / "metric_model_loss.png").write_text("a user's picture, by chance of a name the report writes")
    capsys.readouterr()
    _refused(
        ["report", "--results", str(store), "--out", str(out), *FAST, "--metric", "model_loss"],
        "metric_model_loss.png: no report wrote it",
        tmp_path,
        capsys,
    )


def test_plot_sampler_adds_its_files_to_a_report_folder(tmp_path, store):
    out = tmp_path / "report"
    assert _report(store, out) == 0
    report_files = set(json.loads((out / outdir.MANIFEST).read_text())["files"])
    assert main(["plot", "sampler", "--out", str(out), "--items", "200"]) == 0
    listed = set(json.loads((out / outdir.MANIFEST).read_text())["files"])
    assert listed == report_files | {"sampler.png", "sampler.pdf", "sampler.csv"}
    assert (out / "sampler.png").stat().st_size > 0


def test_export_replaces_only_an_earlier_export_unless_forced(tmp_path, store, capsys):
    out = tmp_path / "ours.json.gz"
    out.write_bytes(gzip.compress(b"[]"))  # a score file from elsewhere
    argv = ["export", "--results", str(store), "--out", str(out)]
    _refused(argv, "it exists and is not an export of hieros-bench", tmp_path, capsys)
    assert main([*argv, "--force"]) == 0
    assert main(argv) == 0  # our own export: replaced without --force
    assert len(json.loads(gzip.decompress(out.read_bytes()))) == 18
    assert out.read_bytes().startswith(export.EXPORT_HEADER)
    run = rundir.find_runs(store)[0]
    for inside in (run / "o.json.gz", run / rundir.RUN_FILE):
        _refused(
            ["export", "--results", str(store), "--out", str(inside), "--force"], "run directory", tmp_path, capsys
        )
