"""The runner survives crashes, kills and Ctrl-C, never runs a run twice, and leaves finished runs untouched."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cli import main
from hieros import checkpoint, rundir

ROOT = Path(__file__).resolve().parents[1]
SUITES = """
[suites.quick]
tasks = ["atari_pong", "dmc_cartpole_balance"]
seeds = 2
methods = ["random"]
presets = { atari = ["atari100k", "debug"], dmc = ["dmc_proprio", "debug"] }
set = { steps = 800, save_every = 400 }

[suites.long]
tasks = ["dmc_cartpole_balance", "dmc_cartpole_swingup", "dmc_pendulum_swingup"]
seeds = 1
methods = ["random"]
presets = { dmc = ["dmc_proprio", "debug"] }
set = { steps = 40000, save_every = 2000, log_every = 2000 }

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
    return {p: p.read_bytes() for p in Path(results).rglob("*") if p.is_file() and p.name in
            ("run.json", "metrics.jsonl")}


def wait_for(condition, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def states(results):
    return sorted(rundir.read_run(p)["status"] for p in rundir.find_runs(results))


def test_sweep_with_two_jobs_completes_and_is_idempotent(suites, tmp_path, capsys):
    results = tmp_path / "results"
    assert bench(suites, results, "run", "quick", "--jobs", "2") == 0
    assert states(results) == ["done"] * 4
    before = snapshot(results)
    assert bench(suites, results, "run", "quick") == 0
    assert "4 already done, 0 to run" in capsys.readouterr().out
    assert snapshot(results) == before
    assert bench(suites, results, "status") == 0


def test_dry_run_prints_and_runs_nothing(suites, tmp_path, capsys):
    results = tmp_path / "results"
    assert bench(suites, results, "run", "quick", "--dry-run", "--seed-list", "3") == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and all("-m hieros.train" in line and "--seed=3" in line for line in out)
    assert not results.exists()


def test_sigkill_of_a_worker_resumes_and_keeps_finished_runs(suites, tmp_path):
    results = tmp_path / "results"
    assert bench(suites, results, "run", "quick", "--tasks", "atari_pong") == 0
    finished = snapshot(results)
    runner = cli(suites, results, "run", "long", "--jobs", "1", "--tasks", "dmc_cartpole_balance", "--retries", "0")
    run = rundir.run_path(results, "long", "random", "dmc_cartpole_balance", 1)
    wait_for(lambda: checkpoint.load(run) is not None if (run / "ckpt" / "latest.pkl").exists() else False)
    worker = next(int(p) for p in os.listdir("/proc") if p.isdigit() and _is_worker(int(p), run))
    os.kill(worker, signal.SIGKILL)
    runner.wait(timeout=60)
    assert rundir.read_run(run)["status"] == "running"  # killed mid-run: resumable, not done
    assert bench(suites, results, "status") == 0
    assert bench(suites, results, "run", "long", "--tasks", "dmc_cartpole_balance") == 0
    record = rundir.read_run(run)
    assert record["status"] == "done" and record["attempts"] == 2
    steps = [m["env_step"] for m in rundir.read_metrics(run) if m["type"] == "train" or m["type"] == "episode"]
    assert steps == sorted(steps)  # the resume rolled metrics back to the checkpoint: no duplicates
    assert {p: b for p, b in snapshot(results).items() if p in finished} == finished


def _is_worker(pid, run):
    try:
        return f"--logdir={run}" in Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ")
    except OSError:
        return False


def test_sigint_stops_cleanly_and_a_rerun_finishes(suites, tmp_path):
    results = tmp_path / "results"
    runner = cli(suites, results, "run", "long", "--jobs", "2")
    wait_for(lambda: len(list(Path(results).rglob("latest.pkl"))) >= 2)
    runner.send_signal(signal.SIGINT)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out
    assert bench(suites, results, "run", "long", "--jobs", "2") == 0
    assert states(results) == ["done"] * 3


def test_two_runners_never_run_the_same_run(suites, tmp_path):
    results = tmp_path / "results"
    first = cli(suites, results, "run", "long", "--jobs", "2")
    second = cli(suites, results, "run", "long", "--jobs", "2")
    for runner in (first, second):
        runner.communicate(timeout=120)
        assert runner.returncode == 0
    assert states(results) == ["done"] * 3
    assert all(rundir.read_run(p)["attempts"] == 1 for p in rundir.find_runs(results))


def test_corrupt_run_json_is_a_one_line_error(suites, tmp_path, capsys):
    results = tmp_path / "results"
    assert bench(suites, results, "run", "quick", "--tasks", "dmc_cartpole_balance", "--seeds", "1") == 0
    run = rundir.run_path(results, "quick", "random", "dmc_cartpole_balance", 1)
    (run / "run.json").write_text('{"schema": "hieros-bench/run/1", "task": ')
    capsys.readouterr()
    assert bench(suites, results, "status") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "run.json" in err and "corrupt" in err and "\n" not in err


def test_changed_config_is_refused_unless_forced(suites, tmp_path, capsys):
    results = tmp_path / "results"
    args = ("run", "quick", "--tasks", "dmc_cartpole_balance", "--seeds", "1")
    assert bench(suites, results, *args) == 0
    assert bench(suites, results, *args, "--set", "eval_eps=3") == 2
    assert "--force" in capsys.readouterr().err
    assert bench(suites, results, *args, "--set", "eval_eps=3", "--force") == 0
    assert len(list(Path(results, "quick", "random", "dmc_cartpole_balance").glob("seed_1.old-*"))) == 1


def test_submitit_local_executor_completes_a_sweep(suites, tmp_path):
    results = tmp_path / "results"
    assert bench(suites, results, "run", "quick", "--backend", "local-submitit", "--jobs", "2") == 0
    assert states(results) == ["done"] * 4
