"""The Slurm backend through submitit: valid parameters, and a job array on submitit's LocalExecutor that completes
and survives a preemption (USR2: checkpoint, requeue, resume), with one run per array task and with several
(runs_per_task). There is no Slurm here; the array code is the same."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import submitit

from bench import slurm
from bench.cli import main
from bench.slurm import PackedTask, Submitted, executor_parameters
from bench.suites import SuiteError, load
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
seeds = 2
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


def _quick_array(tmp_path: Path, per_task: int, capsys: pytest.CaptureFixture) -> tuple[Path, Path]:
    """The quick suite (2 random runs) as a submitit array on the LocalExecutor, `per_task` runs a task."""
    suites = tmp_path / "benchmark.toml"
    suites.write_text(SUITES)
    results = tmp_path / "results"
    quick = ["--suites", str(suites), "run", "quick", "--backend", "local-submitit", "--results", str(results)]
    assert main([*quick, "--runs-per-task", str(per_task)]) == 0
    assert f"({3 - per_task} task{'s' if per_task == 1 else ''}, {per_task} run" in capsys.readouterr().out
    assert [run_file.read_run(p).status for p in rundir.find_runs(results)] == ["done", "done"]
    return suites, results


def test_submitit_array_completes(tmp_path, capsys):
    _quick_array(tmp_path, 2, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("per_task", [1, 2])
def test_submitit_array_completes_and_resumes_after_preemption(tmp_path, capsys, per_task):
    suites, results = _quick_array(tmp_path, per_task, capsys)
    seeds = [1] if per_task == 1 else [1, 2]  # packed: both runs of the one array task are stopped and resume
    runs = [rundir.run_path(results, "long", "random", "dmc_cartpole_balance", seed) for seed in seeds]
    runner = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "--suites", str(suites), "run", "long", "--backend", "local-submitit",
         "--results", str(results), "--seed-list", ",".join(map(str, seeds)), "--runs-per-task", str(per_task)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not all(_steps(run) for run in runs) and time.monotonic() < deadline:
        time.sleep(0.05)
    trainers = [_process([f"--logdir={run}"]) for run in runs]
    for process in (_process(["submitit.core._submit", str(results)]), *trainers):
        os.kill(process, signal.SIGUSR2)  # what Slurm sends every process of the job before a preemption
    out, _ = runner.communicate(timeout=120)
    assert runner.returncode == 0, out
    for run in runs:
        record = run_file.read_run(run)
        assert record.status == "done" and record.attempts == 2  # stopped at a checkpoint, then resumed
        log = (run / "runner.log").read_text()
        assert log.count("=== attempt ") == 2 and "=== exit code 130" in log and "(requeue 1)" in log
        steps = [m["env_step"] for m in metrics_file.read_metrics(run) if m["type"] in ("train", "episode")]
        assert steps == sorted(steps)


def test_runs_per_task_is_checked_in_one_line(tmp_path, capsys):
    suites = tmp_path / "benchmark.toml"
    suites.write_text(SUITES.replace("timeout_min = 60", "timeout_min = 60\nruns_per_task = 0"))
    with pytest.raises(SuiteError, match=r"\[slurm\]: 'runs_per_task' must be at least 1, not 0$"):
        load(suites)
    assert main(["run", "smoke", "--backend", "slurm", "--runs-per-task", "0", "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == "error: --runs-per-task must be at least 1, not 0"
    assert load().slurm["runs_per_task"] == 1  # no GPU has measured a better number yet


def test_the_dry_run_says_tasks_and_runs_per_task_and_prices_shared_gpus_as_taking_turns(capsys):
    run = ["run", "atari100k", "--seeds", "5", "--dry-run", "--backend", "slurm", "--results", "/x"]
    assert main(run) == 0
    alone = capsys.readouterr().err
    assert main([*run, "--runs-per-task", "2"]) == 0
    out, packed = capsys.readouterr()
    assert "of 130 tasks, 1 run per task, 8 threads a run;" in alone and "share each GPU" not in alone
    assert "of 65 tasks, 2 runs per task, 4 threads a run;" in packed and "OMP_NUM_THREADS=4 " in out
    gpu_hours = next(line for line in alone.splitlines() if line.startswith("# cost:")).split(" GPU-hours")[0]
    assert gpu_hours in packed  # the same GPU-hours: an upper bound until gpu_check.sh measures the gain
    assert "3 waves, the longest run" in alone and "2 waves, the longest GPU's 2 runs" in packed
    assert "# 2 runs share each GPU, priced as if they took turns on it: an upper bound" in packed


def test_a_packed_task_splits_its_cpus_and_one_runs_failure_leaves_its_sibling_done(tmp_path):
    done, failed = _run_dir(tmp_path, 1), _run_dir(tmp_path, 2)
    task = PackedTask(threads=5, retries=1)
    results = task([("true",), ("false",)], [done, failed])
    assert results[done] == ("done", "")
    assert results[failed][0] == "failed" and results[failed][1].startswith(f"{failed}: ")
    assert (Path(failed) / "runner.log").read_text().count("=== attempt ") == 2  # retried, then given up
    assert [run.threads for run in task._runs.values()] == [2, 2]  # 5 CPUs shared by 2 runs


def test_a_packed_checkpoint_stops_the_unfinished_runs_and_requeues_only_them(tmp_path):
    done, stopped = _run_dir(tmp_path, 1), _run_dir(tmp_path, 2)
    ready = tmp_path / "ready"  # the training stand-in's SIGTERM handler is in place
    saves = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(130)); "
        f"open({str(ready)!r}, 'w'); time.sleep(60)"
    )
    commands = [("true",), (sys.executable, "-c", saves)]
    task = PackedTask(threads=2, retries=2)
    threading.Thread(target=task, args=(commands, [done, stopped]), daemon=True).start()
    deadline = time.monotonic() + 30
    while not (done in task._results and ready.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    delayed = task.checkpoint(commands, [done, stopped])
    assert time.monotonic() - started < 10  # the runs saved and exited; no wait for STOP_SECONDS
    assert delayed.args == ([commands[1]], [stopped]) and delayed.function.finished == {done: ("done", "")}
    assert delayed.function.requeues == 1 and delayed.function.size == 2  # its run keeps 2 CPUs / 2 runs
    assert "=== exit code 130" in (Path(stopped) / "runner.log").read_text()
    assert delayed.function([("true",)], [stopped]) == {done: ("done", ""), stopped: ("done", "")}
    assert delayed.function._runs[stopped].threads == 1


def test_collect_gives_each_run_its_own_outcome_in_plan_order(tmp_path):
    specs = [SimpleNamespace(run_dir=Path(_run_dir(tmp_path, seed))) for seed in (1, 2, 3)]

    def job(result: object) -> SimpleNamespace:
        def answer() -> object:
            if isinstance(result, Exception):
                raise result
            return result

        return SimpleNamespace(job_id="7_0", result=answer)

    first = {str(specs[1].run_dir): ("failed", "seed_2: crashed"), str(specs[0].run_dir): ("done", "")}
    tasks = [Submitted(specs[:2], job(first)), Submitted(specs[2:], job(RuntimeError("trace\nOSError: disk full")))]
    outcomes = slurm.collect(tasks, time.monotonic())
    assert [(o.spec, o.state, o.error) for o in outcomes] == [
        (specs[0], "done", ""),
        (specs[1], "failed", "seed_2: crashed"),
        (specs[2], "failed", "OSError: disk full"),
    ]
    assert slurm.packs(list(range(5)), 2) == [[0, 1], [2, 3], [4]] and slurm.packing(5, 2) == "3 tasks, 2 runs per task"
    assert slurm.packing(1, 4) == "1 task, 1 run per task"


def _run_dir(tmp_path: Path, seed: int) -> str:
    """A run directory at the store's depth (RESULTS/suite/method/task/seed_n), as the tasks expect."""
    run = rundir.run_path(tmp_path / "results", "s", "m", "t", seed)
    run.mkdir(parents=True)
    return str(run)


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
