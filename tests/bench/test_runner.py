"""The local runner survives crashes, kills and Ctrl-C, never runs a run twice, and leaves finished runs untouched.

Every run here is the real `python -m hieros.train` with the random agent on real environments."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.progress import eta_seconds
from hieros import checkpoint, metrics_file, run_file, rundir, runlock, state_file

ROOT = Path(__file__).resolve().parents[2]
SUITES = """
[suites.quick]
tasks = ["atari_pong", "dmc_cartpole_balance"]
seeds = 2
methods = ["random"]
presets = { atari = ["atari100k", "debug"], dmc = ["dmc_proprio", "debug"] }
budget_frames = 800
set = { save_every = 400 }

[suites.long]
tasks = ["dmc_cartpole_balance", "dmc_cartpole_swingup", "dmc_pendulum_swingup"]
seeds = 1
methods = ["random"]
presets = ["dmc_proprio", "debug"]
budget_frames = 16000
set = { save_every = 2000, log_every = 2000 }

[methods.random]
model_name = "random"
"""


@pytest.fixture
def suites(tmp_path):
    file = tmp_path / "benchmark.toml"
    file.write_text(SUITES)
    return file


def bench(suites, results, *args):
    return main(["--suites", str(suites), *args, "--results", str(results)])


def cli(suites, results, *args):
    cmd = [sys.executable, "-m", "bench.cli", "--suites", str(suites), *args, "--results", str(results)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def snapshot(results):
    return {
        p: p.read_bytes()
        for p in Path(results).rglob("*")
        if p.is_file()
        and ".old-" not in str(p)
        and p.name in ("run.json", "metrics.jsonl", "latest.safetensors", "runner.log")
    }


def wait_for(condition, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def started(run):
    """run.json says running: the training loop is past its start-up and handles SIGINT/SIGTERM."""
    try:
        return run_file.read_run(run).progress.env_steps > 0
    except rundir.RunFileError:
        return False


def records(results):
    return {p.parent.name + "/" + p.name: run_file.read_run(p) for p in rundir.find_runs(results)}


def attempts_logged(run):
    return (run / "runner.log").read_text().count("=== attempt ")


def worker_pid(run):
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if f"--logdir={run}" in cmdline and "hieros.train" in cmdline:
            return pid
    return None


def test_shipped_smoke_sweep_with_two_jobs_completes_and_is_idempotent(tmp_path, capsys):
    results = tmp_path / "results"
    args = ["run", "smoke", "--method", "random", "--set", "steps=800", "--jobs", "2", "--results", str(results)]
    assert main(args) == 0
    runs = records(results)
    assert len(runs) == 6 and all(r.status == "done" and r.attempts == 1 for r in runs.values())
    assert {(r.suite, r.method) for r in runs.values()} == {("smoke", "random")}
    out = capsys.readouterr().out
    assert "2 at a time" in out and "6 done" in out
    before = snapshot(results)
    assert main(args) == 0
    assert "6 already done, 0 running elsewhere, 0 to run" in capsys.readouterr().out
    assert snapshot(results) == before  # done runs are not touched, not even their runner.log
    assert main(["status", "smoke", "--method", "random", "--results", str(results)]) == 0
    assert main(["status", "--results", str(results)]) == 0
    assert "6 done (6 runs)" in capsys.readouterr().out


def test_a_handed_down_lock_is_adopted_and_outlives_the_runner(tmp_path):
    run = tmp_path / "seed_1"
    fd = runlock.hold_lock(run)
    assert fd is not None and runlock.hold_lock(run) is None and runlock.is_locked(run)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from hieros import runlock; "
            f"print(runlock.lock_run({str(run)!r}), flush=True); time.sleep(30)",
        ],
        env={**os.environ, runlock.LOCK_FD_ENV: str(fd)},
        pass_fds=(fd,),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "True"  # train's own lock_run takes the runner's lock over
    runlock.let_go(fd)
    assert runlock.is_locked(run)  # the child still holds it
    child.kill()
    child.wait()
    assert not runlock.is_locked(run)  # and it vanished with the last holder


def test_dry_run_prints_and_runs_nothing(suites, tmp_path, capsys):
    results = tmp_path / "results"
    assert bench(suites, results, "run", "quick", "--dry-run", "--seed-list", "3", "--threads", "2") == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2 and not results.exists()
    for line in lines:
        assert line.startswith("OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 ") and " -m hieros.train --configs " in line
        assert "--seed=3" in line and f"--logdir={results}/quick/random/" in line and "--steps=800" in line
    assert "# 2 to run" in captured.err


def test_a_killed_worker_is_interrupted_then_resumes_and_finished_runs_stay_identical(suites, tmp_path, capsys):
    results = tmp_path / "results"
    assert bench(suites, results, "run", "quick", "--tasks", "atari_pong") == 0
    finished = snapshot(results)
    run = rundir.run_path(results, "long", "random", "dmc_cartpole_balance", 1)
    runner = cli(suites, results, "run", "long", "--tasks", "dmc_cartpole_balance", "--retries", "0")
    wait_for(lambda: checkpoint.checkpoint_file(run).exists() and started(run))
    os.kill(worker_pid(run), signal.SIGKILL)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 1 and "killed by SIGKILL" in out, out
    assert run_file.read_run(run).status == "running" and not runlock.is_locked(run)
    capsys.readouterr()
    assert bench(suites, results, "status", "long") == 0
    assert "interrupted" in capsys.readouterr().out
    assert bench(suites, results, "run", "long", "--tasks", "dmc_cartpole_balance") == 0
    record = run_file.read_run(run)
    assert record.status == "done" and record.attempts == 2 and attempts_logged(run) == 2
    assert record.progress.env_steps == record.protocol.budget_steps
    steps = [m["env_step"] for m in metrics_file.read_metrics(run) if m["type"] in ("train", "episode")]
    assert steps == sorted(steps)  # resumed from the checkpoint: metrics rolled back, no duplicates
    assert {p: b for p, b in snapshot(results).items() if p in finished} == finished


def test_crashes_are_retried_and_bad_configs_are_one_line(suites, tmp_path, capsys):
    results = tmp_path / "results"
    args = ("run", "quick", "--tasks", "dmc_cartpole_balance", "--seeds", "1")
    assert bench(suites, results, *args, "--set", "stop_after=400") == 130  # stops at a checkpoint, resumable
    run = rundir.run_path(results, "quick", "random", "dmc_cartpole_balance", 1)
    checkpoint.checkpoint_file(run).write_bytes(state_file.dumps({"counters": {}}))  # every resume now crashes
    capsys.readouterr()
    assert bench(suites, results, *args, "--retries", "1") == 1
    out = capsys.readouterr().out
    assert "retry" in out and "failed" in out and "KeyError" in out  # the traceback's last line
    log = (run / "runner.log").read_text()
    assert attempts_logged(run) == 3 and log.count("Traceback") == 2  # the stopped attempt, the crash, its retry
    bad = ("run", "quick", "--tasks", "atari_pong", "--seeds", "1", "--set", "env.atari.actions=bogus")
    assert bench(suites, results, *bad) == 2  # refused while planning: no run starts, nothing is made
    err = capsys.readouterr().err
    assert err == "error: random on atari_pong: --env.atari.actions=bogus is not valid: use one of all | needed\n"
    assert not rundir.run_path(results, "quick", "random", "atari_pong", 1).exists()


def test_sigint_stops_cleanly_and_a_rerun_finishes(suites, tmp_path):
    results = tmp_path / "results"
    runner = cli(suites, results, "run", "long", "--jobs", "2")
    runs = [rundir.run_path(results, "long", "random", t, 1) for t in ("dmc_cartpole_balance", "dmc_cartpole_swingup")]
    wait_for(lambda: all(started(run) for run in runs))
    runner.send_signal(signal.SIGINT)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 130, out
    assert "stopping" in out and "2 interrupted" in out and "1 pending" in out and "Traceback" not in out
    for run in runs:
        record = run_file.read_run(run)
        assert record.status == "running" and 0 < record.progress.env_steps < 8000
        assert checkpoint.checkpoint_file(run).exists() and not runlock.is_locked(run)
    assert bench(suites, results, "run", "long", "--jobs", "2") == 0
    assert all(r.status == "done" for r in records(results).values()) and len(records(results)) == 3


def test_two_runners_never_run_the_same_run(suites, tmp_path):
    results = tmp_path / "results"
    first = cli(suites, results, "run", "long", "--jobs", "2")
    second = cli(suites, results, "run", "long", "--jobs", "2")
    outs = [runner.communicate(timeout=120)[0] for runner in (first, second)]
    assert first.returncode == second.returncode == 0, outs
    assert "elsewhere" in "".join(outs)
    runs = rundir.find_runs(results)
    assert len(runs) == 3 and all(run_file.read_run(p).status == "done" for p in runs)
    assert all(run_file.read_run(p).attempts == 1 and attempts_logged(p) == 1 for p in runs)


def test_a_killed_runner_leaves_its_workers_locked_until_they_finish(suites, tmp_path, capsys):
    results = tmp_path / "results"
    runner = cli(suites, results, "run", "long", "--jobs", "2")
    runs = [rundir.run_path(results, "long", "random", t, 1) for t in ("dmc_cartpole_balance", "dmc_cartpole_swingup")]
    wait_for(lambda: all(started(run) for run in runs))
    runner.kill()
    runner.wait()
    assert all(runlock.is_locked(run) for run in runs)  # the workers hold the lock they inherited
    assert bench(suites, results, "run", "long", "--jobs", "2") == 0
    assert "2 running elsewhere, 1 to run" in capsys.readouterr().out
    wait_for(lambda: not any(runlock.is_locked(run) for run in runs))
    assert all(r.status == "done" and r.attempts == 1 for r in records(results).values())


def test_corrupt_run_json_is_a_one_line_error(suites, tmp_path, capsys):
    results = tmp_path / "results"
    args = ("run", "quick", "--tasks", "dmc_cartpole_balance", "--seeds", "1")
    assert bench(suites, results, *args) == 0
    run = rundir.run_path(results, "quick", "random", "dmc_cartpole_balance", 1)
    (run / "run.json").write_text('{"schema": "hieros-bench/run/1", "task": ')
    capsys.readouterr()
    for command in (("status",), args):
        assert bench(suites, results, *command) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "run.json" in err and "corrupt" in err and "\n" not in err, err
    assert bench(suites, results, *args, "--force") == 0
    assert run_file.read_run(run).status == "done"


def test_changed_config_is_refused_unless_forced(suites, tmp_path, capsys):
    results = tmp_path / "results"
    args = ("run", "quick", "--tasks", "dmc_cartpole_balance", "--seeds", "1")
    assert bench(suites, results, *args) == 0
    capsys.readouterr()
    assert bench(suites, results, *args, "--set", "eval_eps=3") == 2
    err = capsys.readouterr().err.strip()
    assert "was made with config" in err and "--force" in err and "\n" not in err
    assert bench(suites, results, *args, "--set", "eval_eps=3", "--force", "--dry-run") == 0
    assert not list(Path(results, "quick", "random", "dmc_cartpole_balance").glob("seed_1.old-*"))
    assert bench(suites, results, *args, "--set", "eval_eps=3", "--force") == 0
    assert len(list(Path(results, "quick", "random", "dmc_cartpole_balance").glob("seed_1.old-*"))) == 1
    assert (
        run_file.read_run(rundir.run_path(results, "quick", "random", "dmc_cartpole_balance", 1)).config["eval_eps"]
        == 3
    )


def test_eta_schedules_the_remaining_runs_by_method():
    # 2 slots. A hieros run half done after 600 s ends in 600 s more; the next hieros run (1200 s) takes the idle
    # slot at once, the dreamer run (300 s, from its finished runs) follows the first: done at 1200 s, not 900.
    assert eta_seconds([("hieros", 0.5, 600.0)], {"dreamer": [300.0, 300.0]}, ["hieros", "dreamer"], 2) == 1200
    # one slot runs everything in turn; an unknown method (random) counts as the mean of the known ones (750 s)
    assert eta_seconds([("hieros", 0.5, 600.0)], {"dreamer": [300.0]}, ["dreamer", "random"], 1) == 600 + 300 + 750
    # nothing measured yet (a run under 2% done is not projected): no estimate
    assert eta_seconds([("hieros", 0.01, 30.0)], {}, ["hieros"], 2) is None
