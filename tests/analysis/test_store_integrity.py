"""A store whose numbers would be wrong without a word is refused: a run that failed before it wrote its run.json
(only its runner.log shows it), and a run whose config ran another seed than its folder's."""

import dataclasses
from pathlib import Path

from analysis.summary_file import read_summary
from bench.cli import main
from hieros import run_file, rundir

SUITES = """
[suites.broken]
tasks = ["dmc_cartpole_balance"]
seeds = 1
methods = ["random", "bad"]
presets = ["dmc_proprio", "debug"]
budget_frames = 2000
score = { name = "final_train_window", window_frames = 2000 }

[methods.random]
model_name = "random"

[methods.bad]  # passes planning; hieros.train refuses it (an actor for discrete actions) before run.json exists
model_name = "hieros"
set = { actor_dist = "onehot" }
"""
REPORT = ["report", "--baselines", "none", "--no-sampler", "--reps", "100"]


def test_a_run_that_failed_before_its_record_is_failed_in_status_and_stops_the_report(tmp_path, capsys):
    (tmp_path / "benchmark.toml").write_text(SUITES)
    results = tmp_path / "results"
    bench = ["--suites", str(tmp_path / "benchmark.toml")]
    assert main([*bench, "run", "broken", "--retries", "0", "--results", str(results)]) == 1
    bad = rundir.run_path(results, "broken", "bad", "dmc_cartpole_balance", 1)
    assert not (bad / rundir.RUN_FILE).exists() and rundir.failed_before_record(results) == [bad]
    capsys.readouterr()
    assert main(["status", "--results", str(results)]) == 0
    assert "1 done, 1 failed (2 runs)" in capsys.readouterr().out
    out = tmp_path / "report"
    assert main([*REPORT, "--results", str(results), "--out", str(out)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "the store fails 1 check(s); fix them or report anyway with --allow-failed:",
        "  failed: bad: 1 run(s) failed before writing run.json (their runner.log says why): "
        "dmc_cartpole_balance seed 1",
    ]
    assert not out.exists()
    assert main([*REPORT, "--results", str(results), "--out", str(out), "--methods", "random"]) == 0  # not asked for
    assert main([*REPORT, "--results", str(results), "--out", str(out), "--allow-failed"]) == 0
    report = (out / "report.md").read_text()
    assert "- **failed**: bad: 1 run(s) failed before writing run.json" in report
    assert "Reported anyway (--allow-failed)" in report and "all runs present" not in report
    assert read_summary(out).checks[0].kind == "failed"


def test_a_suite_whose_every_run_failed_before_its_record_is_reported_and_refused_not_passed_over(tmp_path, capsys):
    (tmp_path / "benchmark.toml").write_text(SUITES)
    results = tmp_path / "results"
    bench = ["--suites", str(tmp_path / "benchmark.toml")]
    assert main([*bench, "run", "broken", "--method", "bad", "--retries", "0", "--results", str(results)]) == 1
    assert not rundir.find_runs(results)  # no run.json anywhere: only a runner.log says the run was tried
    capsys.readouterr()
    out = tmp_path / "report"
    assert main([*REPORT, "--results", str(results), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "failed: bad: 1 run(s) failed before writing run.json" in err and not out.exists()


def _seed_run_elsewhere(results: Path, stores) -> Path:
    """seed_2 holding a copy of seed_1's run, as a store written with `--set seed=1` ran it: the same config,
    seed 1 in run.json and its config, under another seed's folder."""
    one = stores.write_run(results, "alpha", "atari_pong", 1, [1.0, 2.0])
    record = run_file.read_run(one)
    run_file.write_run(one, dataclasses.replace(record, config={"seed": 1}))
    two = rundir.run_path(results, "atari100k", "alpha", "atari_pong", 2)
    two.mkdir(parents=True)
    for name in (rundir.RUN_FILE, rundir.METRICS_FILE):
        (two / name).write_bytes((one / name).read_bytes())
    return two


def test_a_run_of_another_seed_than_its_folder_is_refused_by_report_and_status(tmp_path, capsys, stores):
    results = tmp_path / "results"
    two = _seed_run_elsewhere(results, stores)
    for command in (["report", "--baselines", "none"], ["status"], ["export", "--out", str(tmp_path / "o.json.gz")]):
        assert main([*command, "--results", str(results)]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"error: {two}: it ran seed 1 (run.json), not its folder's 2, so it repeats any other run of seed 1 "
            "(a store written with --set seed=, or copied by hand); move it aside or delete it\n"
        )


def test_a_config_seed_that_differs_from_the_recorded_one_is_refused(tmp_path, capsys, stores):
    run = stores.write_run(tmp_path, "alpha", "atari_pong", 1, [1.0, 2.0])
    run_file.write_run(run, dataclasses.replace(run_file.read_run(run), config={"seed": 7}))
    assert main(["report", "--baselines", "none", "--results", str(tmp_path)]) == 2
    assert "it ran seed 7 (run.json), not its folder's 1" in capsys.readouterr().err
