"""`--backend slurm`: the pending runs as one Slurm job array through submitit; preempted or timed-out runs requeue.

Each array task is `TrainTask(command, run_dir)`: it locks the run directory like the local runner and runs the
same `python -m hieros.train` command. Before a preemption or the time limit, Slurm sends USR2 (submitit asks for
it 90 s ahead); submitit then calls `TrainTask.checkpoint`, which stops the training process with SIGTERM (it
saves its checkpoint and exits 130) and returns the same task, which submitit requeues: it resumes from the
checkpoint. No sbatch script is written by hand; submitit makes it from the [slurm] table of benchmark.toml.
`cluster="local"` (the hidden `--backend local-submitit`) runs the same path with submitit's LocalExecutor.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import state as states
from bench.local import LOCK_NOT_ADOPTED
from bench.plan import RunSpec, worker_env
from bench.resources import cpu_count
from bench.state import Outcome
from bench.suites import SuiteError
from hieros import runlock
from hieros.cli_errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_LOCKED

OUTCOMES = {0: "done", EXIT_INTERRUPTED: "interrupted"}
REQUEUE_LOCK_WAIT = 300  # seconds a requeued task waits for its run's lock (NFS lock leases run ~90 s)
STOP_SECONDS = 75  # how long checkpoint() waits for the run to save; submitit's signal comes 90 s before the kill


class RunFailed(RuntimeError):
    """The run failed for good (a user error, or a crash on every retry); one line."""


class TrainTask:
    """One array task: a training run with retries, checkpointable by submitit (preemption and timeouts)."""

    def __init__(self, threads: int | None, retries: int, requeues: int = 0, gpus: int = 0):
        self.threads, self.retries, self.requeues, self.gpus = threads, retries, requeues, gpus
        self._pid: int | None = None
        self._code: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pid": None, "_code": None}

    def __call__(self, command: tuple[str, ...], run_dir: str) -> str:
        """'done', 'interrupted' or 'elsewhere'; raises RunFailed with the error line."""
        folder = Path(run_dir)
        lock_fd = self._take_lock(folder)
        if lock_fd is None:
            return "elsewhere"
        try:
            attempt = 1
            while True:
                code, offset = self._attempt(command, folder, lock_fd, attempt)
                if code in OUTCOMES:
                    return OUTCOMES[code]
                error = LOCK_NOT_ADOPTED if code == EXIT_LOCKED else states.attempt_error(folder, offset, code)
                if code in (EXIT_INPUT, EXIT_LOCKED) or attempt > self.retries:
                    raise RunFailed(f"{folder}: {error}")
                attempt += 1
        finally:
            runlock.let_go(lock_fd)

    def _take_lock(self, folder: Path) -> int | None:
        """The run's lock, or None if another runner has it. A requeued task waits for it up to
        REQUEUE_LOCK_WAIT: the task it replaces may still be saving, or a dead node's lock not yet expired on a
        shared filesystem; after that it fails, naming the holder, rather than leave its run unfinished."""
        deadline = time.monotonic() + (REQUEUE_LOCK_WAIT if self.requeues else 0)
        while (lock_fd := runlock.hold_lock(folder)) is None:
            if time.monotonic() >= deadline:
                if self.requeues:
                    raise RunFailed(
                        f"{folder}: requeued, but its lock is still held after {REQUEUE_LOCK_WAIT} s by "
                        f"{runlock.holder(folder)}; if that process is gone, run it again (hieros-bench run resumes it)"
                    )
                return None
            time.sleep(max(0.0, min(5.0, deadline - time.monotonic())))
        return lock_fd

    def _attempt(self, command: tuple[str, ...], folder: Path, lock_fd: int, attempt: int) -> tuple[int, int]:
        # Slurm sets CUDA_VISIBLE_DEVICES itself; a task that asked for a GPU must get one torch can use
        env = worker_env(self.threads or cpu_count(), None, expect_gpu=self.gpus > 0, results=folder.parents[3])
        requeued = f" (requeue {self.requeues})" if self.requeues else ""
        log, offset = states.begin_attempt(folder, attempt, f"{shlex.join(command)}{requeued}")
        started = time.monotonic()
        preempt = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env, runlock.LOCK_FD_ENV: str(lock_fd)},
            pass_fds=(lock_fd,),
            preexec_fn=lambda: signal.signal(preempt, signal.SIG_IGN),
        )
        self._pid, self._code = process.pid, None
        try:
            while self._poll() is None:
                time.sleep(0.5)
            process.returncode = self._code  # reaped here; tell subprocess so it does not wait for it again
        finally:  # also when submitit requeues this task from checkpoint() and exits
            states.end_attempt(log, -1 if self._code is None else self._code, time.monotonic() - started)
        return self._code, offset

    def _poll(self) -> int | None:
        """Reap the training process without subprocess's lock (checkpoint() runs inside a signal handler)."""
        if self._code is None and self._pid is not None:
            pid, status = os.waitpid(self._pid, os.WNOHANG)
            if pid:
                self._code = os.waitstatus_to_exitcode(status)
        return self._code

    def checkpoint(self, command: tuple[str, ...], run_dir: str) -> Any:
        """Called by submitit on USR2: let the run save its checkpoint, then requeue the same task."""
        import submitit

        if self._pid is not None and self._poll() is None:
            os.kill(self._pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_SECONDS
            while self._poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        requeued = TrainTask(self.threads, self.retries, self.requeues + 1, self.gpus)
        return submitit.helpers.DelayedSubmission(requeued, command, run_dir)


def executor_parameters(settings: dict[str, Any], jobs: int | None, threads: int | None, name: str) -> dict[str, Any]:
    """submitit.AutoExecutor parameters from the [slurm] table; empty strings and zeros stay the cluster's."""
    parameters: dict[str, Any] = {
        "name": name,
        "timeout_min": settings["timeout_min"],
        "mem_gb": settings["mem_gb"],
        "cpus_per_task": threads or settings["cpus_per_task"],
        "gpus_per_node": settings["gpus_per_node"],
        "slurm_array_parallelism": jobs or settings["array_parallelism"],
    }
    for key in ("partition", "account", "qos", "constraint", "setup"):
        if settings[key]:
            parameters[f"slurm_{key}"] = settings[key]
    return {k: v for k, v in parameters.items() if v != 0}


def submit(
    specs: list[RunSpec],
    results: Path,
    settings: dict[str, Any],
    jobs: int | None,
    threads: int | None,
    retries: int,
    cluster: str = "slurm",
) -> list[Any]:
    """Submit the runs as one job array; the submitit jobs, in the order of `specs`."""
    import submitit

    try:
        # the task itself starts with the portable interpreter too (submitit's default: this machine's path)
        python = {"slurm_python": settings["python"] or "python"} if cluster == "slurm" else {}
        executor = submitit.AutoExecutor(folder=results / ".submitit" / "%j", cluster=cluster, **python)
    except RuntimeError as error:  # submitit: 'Could not detect "srun", are you indeed on a slurm cluster?'
        raise SuiteError(f"--backend slurm: no Slurm here ({error}); use --backend local") from None
    executor.update_parameters(**executor_parameters(settings, jobs, threads, f"hieros-bench-{specs[0].suite}"))
    for spec in specs:
        spec.run_dir.mkdir(parents=True, exist_ok=True)
    task = TrainTask(threads, retries, gpus=settings["gpus_per_node"])
    commands = [task_command(s.command, settings) if cluster == "slurm" else s.command for s in specs]
    return executor.map_array(task, commands, [str(s.run_dir) for s in specs])


def task_command(command: tuple[str, ...], settings: dict[str, Any]) -> tuple[str, ...]:
    """The run's command as a cluster node starts it: with [slurm] `python` (default `python`, found on the
    node's PATH after the `setup` lines), not the absolute path of the interpreter on the submitting machine."""
    return (settings["python"] or "python", *command[1:])


def collect(specs: list[RunSpec], jobs: list[Any], wall_start: float) -> list[Outcome]:
    """Wait for every job and turn its result into an Outcome; Ctrl-C stops waiting, not the jobs."""
    outcomes = []
    try:
        for spec, job in zip(specs, jobs, strict=True):
            try:
                state = job.result()
                outcomes.append(Outcome(spec, state, 1, time.monotonic() - wall_start))
            except Exception as error:  # submitit wraps the task's exception and traceback; keep its last line
                outcomes.append(Outcome(spec, "failed", 1, error=_last_line(str(error))))
    except KeyboardInterrupt:
        pass
    outcomes += [
        Outcome(spec, "submitted", error=f"job {job.job_id} still queued or running")
        for spec, job in list(zip(specs, jobs, strict=True))[len(outcomes) :]
    ]
    return outcomes


def _last_line(text: str) -> str:
    line = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "failed")
    return line.removeprefix(f"{RunFailed.__module__}.{RunFailed.__name__}: ")


def describe(specs: list[RunSpec], jobs: list[Any], results: Path, cluster: str) -> list[str]:
    """What was submitted and how to watch it."""
    array = str(jobs[0].job_id).split("_")[0]
    watch = f"squeue -j {array}   or   " if cluster == "slurm" else ""
    return [
        f"submitted {len(jobs)} runs as job array {array}; logs in {results / '.submitit'}",
        f"watch: {watch}hieros-bench status {specs[0].suite} --results {results}",
        "rerun the same `hieros-bench run` after the array ends to retry what failed",
    ]
