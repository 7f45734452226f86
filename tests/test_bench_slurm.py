"""The Slurm backend through submitit: valid parameters, and a job array on submitit's LocalExecutor that completes
and survives a preemption (USR2: checkpoint, requeue, resume). There is no Slurm here; the array code is the same."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import submitit

from bench.cli import main
from bench.slurm import executor_parameters
from bench.suites import load
from hieros import metrics_file, run_file, rundir

SUITES = """
[suites.quick]
tasks = ["atari_pong", "dmc_cartpole_balance"]
seeds = 1
methods = ["random"]
presets = { atari = ["atari100k", "debug"], dmc = ["dmc_proprio", "debug"] }
budget_frames = 800

[suites.long]
tasks = ["dmc_cartpole_balance"]
seeds = 1
methods = ["random"]
presets = ["dmc_proprio", "debug"]
budget_frames = 16000
set = { save_every = 2000, log_every = 2000 }

[methods.random]
model_name = "random"

[slurm]
gpus_per_node = 0
timeout_min = 60
"""


def test_parameters_are_valid_submitit_parameters(tmp_path):
    settings = {**load().slurm, "partition": "gpu", "setup": ["source .venv/bin/activate"]}
    parameters = executor_parameters(settings, jobs=3, threads=None, name="hieros-bench-atari100k")
    assert parameters["slurm_array_parallelism"] == 3 and parameters["slurm_partition"] == "gpu"
    assert parameters["cpus_per_task"] == settings["cpus_per_task"] and "slurm_account" not in parameters
    assert executor_parameters(settings, None, 4, "x")["slurm_array_parallelism"] == settings["array_parallelism"]
    executor = submitit.AutoExecutor(folder=tmp_path, cluster="local")
    executor.update_parameters(**parameters)  # submitit checks every name, slurm_* ones against its Slurm executor


def test_submitit_array_completes_and_resumes_after_preemption(tmp_path):
    suites = tmp_path / "benchmark.toml"
    suites.write_text(SUITES)
    results = tmp_path / "results"
    assert (
        main(["--suites", str(suites), "run", "quick", "--backend", "local-submitit", "--results", str(results)]) == 0
    )
    assert [run_file.read_run(p).status for p in rundir.find_runs(results)] == ["done", "done"]

    run = rundir.run_path(results, "long", "random", "dmc_cartpole_balance", 1)
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "--suites",
            str(suites),
            "run",
            "long",
            "--backend",
            "local-submitit",
            "--results",
            str(results),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not _steps(run) and time.monotonic() < deadline:
        time.sleep(0.05)
    for process in (_process(["submitit.core._submit", str(results)]), _process([f"--logdir={run}"])):
        os.kill(process, signal.SIGUSR2)  # what Slurm sends every process of the job before a preemption
    out, _ = runner.communicate(timeout=120)
    assert runner.returncode == 0, out
    record = run_file.read_run(run)
    assert record.status == "done" and record.attempts == 2  # stopped at a checkpoint, then resumed
    log = (run / "runner.log").read_text()
    assert log.count("=== attempt ") == 2 and "=== exit code 130" in log and "(requeue 1)" in log
    steps = [m["env_step"] for m in metrics_file.read_metrics(run) if m["type"] in ("train", "episode")]
    assert steps == sorted(steps)


def _steps(run: Path) -> int:
    try:
        return run_file.read_run(run).progress.env_steps
    except rundir.RunFileError:
        return 0


def _process(words: list[str]) -> int:
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        except OSError:
            continue
        if all(w in cmdline for w in words):
            return pid
    raise AssertionError(f"no process with {words}")
