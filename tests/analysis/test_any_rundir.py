"""status and report on any run directory: runs trained with `python -m hieros.train` into its default runs/...
folders (or any --logdir), folders of them, and run directories given by path, beside the store's layout; each
run's suite, method, task and seed read from its run.json, with the store's checks and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import analysis
from analysis.summary_file import read_summary
from bench.cli import main
from hieros import run_search, rundir

TRAIN = [
    "--configs",
    "dmc_proprio",
    "debug",
    "--task=dmc_cartpole_balance",
    "--model_name=random",
    "--steps=2000",
    "--eval_every=1000",
    "--eval_eps=1",
]
REPORT = ["report", "--baselines", "none", "--no-sampler", "--reps", "200", "--jobs", "1"]


def train(folder: Path, *flags: str) -> None:
    """One real run, in its own process as a user starts it (its lock goes with the process)."""
    subprocess.run([sys.executable, "-m", "hieros.train", *TRAIN, *flags], cwd=folder, check=True, capture_output=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Two seeds of the random agent trained into runs/ (hieros.train's default logdir), and three seeds of it as
    the method `other` into other/try_<n> (a --logdir of one's own)."""
    folder = tmp_path_factory.mktemp("trained")
    for seed in (1, 2):
        train(folder, f"--seed={seed}")
    for seed in (1, 2, 3):
        train(folder, f"--seed={seed}", "--method=other", f"--logdir=other/try_{seed}")
    return folder


@pytest.fixture
def runs(trained, tmp_path, monkeypatch) -> Path:
    """A working folder holding a copy of the trained runs."""
    shutil.copytree(trained, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HIEROS_DEBUG", raising=False)
    return tmp_path


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_runs_of_hieros_train_are_found_with_their_identity_from_run_json(runs):
    found = run_search.find(runs / "runs")
    assert len(found) == 2 and all(not f.stored for f in found)
    assert all(
        f.path.parent == runs / "runs" and f.path.name.startswith("dmc_cartpole_balance__random__") for f in found
    )
    identities = sorted(run_search.identity(f, run_search.read(f)) for f in found)
    assert identities == [("runs", "random", "dmc_cartpole_balance", 1), ("runs", "random", "dmc_cartpole_balance", 2)]
    assert len(run_search.find([runs / "runs", runs / "other", found[0].path])) == 5  # each run once


def test_status_lists_a_folder_of_runs_a_run_directory_and_results_of_any_layout(runs, capsys):
    assert main(["status", "runs"]) == 0
    out = capsys.readouterr().out
    assert "runs under runs" in out and "2 done (2 runs)" in out and "dmc_cartpole_balance__random__1__" in out
    assert main(["status", "runs", "other/try_3"]) == 0
    assert "3 done (3 runs)" in capsys.readouterr().out
    assert main(["status", "--results", "other"]) == 0
    out = capsys.readouterr().out
    assert "try_1" in out and "3 done (3 runs)" in out


def test_report_compares_runs_given_by_path(runs, capsys):
    assert main([*REPORT, "runs", "other", "--out", "cmp"]) == 1  # the store's checks: random lacks seed 3
    assert "partial: random: seed(s) 3 missing on 1 task(s): dmc_cartpole_balance" in capsys.readouterr().err
    assert main([*REPORT, "runs", "other", "--out", "cmp", "--allow-partial"]) == 0
    summary = read_summary(runs / "cmp")
    assert summary.suite == run_search.NO_SUITE
    assert {name: m.seeds for name, m in summary.methods.items()} == {"random": [1, 2], "other": [1, 2, 3]}
    assert "random vs other" in summary.improvement or "other vs random" in summary.improvement
    direct = sorted(str(p) for p in (runs / "other").iterdir())
    assert main([*REPORT, *direct, "--out", "direct"]) == 0  # run directories one by one
    assert read_summary(runs / "direct").methods["other"].seeds == [1, 2, 3]
    assert main([*REPORT, "--results", "runs", "--out", "byresults"]) == 0  # --results takes any folder of runs
    finals, _ = analysis.load(["runs", "other"], baselines="none")
    assert sorted(finals.method.unique()) == ["other", "random"] and len(finals) == 5


def test_the_default_output_of_a_report_of_run_directories_is_report_in_the_working_folder(runs, capsys):
    assert main([*REPORT, "other"]) == 0
    assert (runs / "report" / "report.md").exists()


def test_two_directories_of_one_run_are_refused_naming_both(runs, capsys):
    shutil.copytree(runs / "other" / "try_1", runs / "other" / "copy")
    assert main([*REPORT, "other", "--out", "o"]) == 2
    err = _err(capsys)
    assert "other/copy and other/try_1 are both runs of other on dmc_cartpole_balance seed 1" in err
    assert "give one of them" in err and not (runs / "o").exists()


def test_a_run_that_ran_another_seed_than_its_run_json_names_is_refused_by_status_and_report(runs, capsys):
    record = json.loads((runs / "other" / "try_2" / rundir.RUN_FILE).read_text())
    record["config"]["seed"] = 1
    (runs / "other" / "try_2" / rundir.RUN_FILE).write_text(json.dumps(record))
    assert main([*REPORT, "other", "--out", "o"]) == 2
    assert "other/try_2: it ran seed 1 (its config), not the seed 2 its run.json names" in _err(capsys)
    assert main(["status", "other"]) == 2
    assert "it ran seed 1 (its config)" in _err(capsys)


def test_a_corrupt_run_json_in_a_folder_of_runs_is_one_line(runs, capsys):
    (runs / "other" / "try_3" / rundir.RUN_FILE).write_text("{broken")
    assert main([*REPORT, "other", "--out", "o"]) == 2
    assert "other/try_3/run.json: corrupt JSON" in _err(capsys)
    assert main(["status", "other"]) == 2
    assert "corrupt JSON" in _err(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "nowhere"], "nowhere: no such run directory or folder of runs"),
        (["report", "runs", "--results", "runs"], "give run directories or --results, not both"),
        (["report", "empty"], "no runs under empty"),
        (["status", "empty"], "no runs under empty"),
        (["status", "runs", "nosuch"], "nosuch: no such run directory or folder"),
        (["status", "runs", "--seeds", "2"], "--seeds picks runs of a suite's plan"),
        (["report", "runs", "--out", "runs/dmc"], "choose another --out"),
    ],
)
def test_bad_run_directories_are_refused_in_one_line(runs, capsys, argv, message):
    (runs / "empty").mkdir()
    first = next((runs / "runs").iterdir()).name
    argv = [a.replace("runs/dmc", f"runs/{first}/report") for a in argv]
    assert main(argv) == 2
    assert message in _err(capsys)


def test_the_store_layout_is_read_as_before_and_a_store_kept_inside_it_is_its_own(tmp_path, capsys, stores):
    write_run = stores.write_run

    store = tmp_path / "results"
    write_run(store, "alpha", "atari_pong", 1, [1.0, 2.0])
    nested = store / "old_copy"
    write_run(nested, "alpha", "atari_pong", 1, [5.0, 6.0])  # results/old_copy/atari100k/alpha/atari_pong/seed_1
    found = run_search.find(store)
    assert [f.path for f in found] == [rundir.run_path(store, "atari100k", "alpha", "atari_pong", 1)]
    assert found[0].stored and found[0].layout_suite == "atari100k"
    assert [f.path for f in run_search.find(nested)] == [rundir.run_path(nested, "atari100k", "alpha", "atari_pong", 1)]
    both = run_search.find(tmp_path)  # a folder of both: no store at its top, so each run by its own layout
    assert [f.path for f in both] == [found[0].path, rundir.run_path(nested, "atari100k", "alpha", "atari_pong", 1)]
    assert all(f.stored and f.layout_suite == "atari100k" for f in both)
    moved = rundir.move_aside(rundir.run_path(nested, "atari100k", "alpha", "atari_pong", 1))
    assert moved.name.startswith("seed_1.old-") and not run_search.find(nested)  # moved aside: not a run


def test_a_stored_run_in_another_runs_folder_is_refused_as_the_store_refuses_it(tmp_path, capsys, stores):
    write_run = stores.write_run

    store = tmp_path / "results"
    run = write_run(store, "alpha", "atari_pong", 1, [1.0, 2.0])
    shutil.copytree(run, run.with_name("seed_2"))
    assert main([*REPORT, "--results", str(store), "--out", str(tmp_path / "o")]) == 2
    assert "it ran seed 1 (run.json), not its folder's 2" in _err(capsys)
    assert main([*REPORT, str(store / "atari100k" / "alpha"), "--out", str(tmp_path / "o")]) == 2
    assert "seed_1 and " in _err(capsys)  # outside the layout, by its run.json: the same run twice
