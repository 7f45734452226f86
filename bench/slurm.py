"""`--backend slurm`: the pending runs as one Slurm job array through submitit; preempted or timed-out runs requeue.

Each array task is a `PackedTask`: `runs_per_task` runs ([slurm] in benchmark.toml, default 1) side by side on
the task's GPU, each a `TrainTask` in its own thread that locks the run directory like the local runner and runs
the same `python -m hieros.train` command, with its own retries. Before a preemption or the time limit, Slurm
sends USR2 (submitit asks for it 90 s ahead); submitit then calls `PackedTask.checkpoint`, which stops every
unfinished run with SIGTERM (it saves its checkpoint and exits 130) and returns a task of those runs alone,
which submitit requeues: they resume from their checkpoints. The task's result is each run's outcome, so one run
that fails leaves its siblings running. No sbatch script is written by hand; submitit makes it from [slurm].
`cluster="local"` (the hidden `--backend local-submitit`) runs the same path with submitit's LocalExecutor.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
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
STOP_SECONDS = 75  # how long checkpoint() waits for the runs to save; submitit's signal comes 90 s before the kill
Result = tuple[str, str]  # a run's (state, error line): ("done", ""), ("failed", "<run dir>: <why>"), ...


class RunFailed(RuntimeError):
    """The run failed for good (a user error, or a crash on every retry); one line."""


class TrainTask:
    """One run with retries under its lock; `stop()` (from another thread) makes it save and exit."""

    def __init__(self, threads: int | None, retries: int, requeues: int = 0, gpus: int = 0):
        self.threads, self.retries, self.requeues, self.gpus = threads, retries, requeues, gpus
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = threading.Event()
        self._guard = threading.Lock()  # starting and reaping the process against stop()

    def __call__(self, command: tuple[str, ...], run_dir: str) -> str:
        """'done', 'interrupted' or 'elsewhere'; raises RunFailed with the error line."""
        folder = Path(run_dir)
        lock_fd = self._take_lock(folder)
        if lock_fd is None:
            return "interrupted" if self._stopped.is_set() else "elsewhere"
        try:
            attempt = 1
            while not self._stopped.is_set():
                code, offset = self._attempt(command, folder, lock_fd, attempt)
                if code in OUTCOMES:
                    return OUTCOMES[code]
                error = LOCK_NOT_ADOPTED if code == EXIT_LOCKED else states.attempt_error(folder, offset, code)
                if code in (EXIT_INPUT, EXIT_LOCKED) or attempt > self.retries:
                    raise RunFailed(f"{folder}: {error}")
                attempt += 1
            return "interrupted"  # stopped between attempts: the requeued task makes the next one
        finally:
            runlock.let_go(lock_fd)

    def stop(self) -> None:
        """Let the run save its checkpoint and exit (SIGTERM), and start no further attempt of it."""
        with self._guard:
            self._stopped.set()
            if self._process is not None and self._process.returncode is None:
                self._process.send_signal(signal.SIGTERM)

    def _take_lock(self, folder: Path) -> int | None:
        """The run's lock, or None if another runner has it (or the task was stopped). A requeued task waits for
        it up to REQUEUE_LOCK_WAIT: the task it replaces may still be saving, or a dead node's lock not yet expired
        on a shared filesystem; after that it fails, naming the holder, rather than leave its run unfinished."""
        deadline = time.monotonic() + (REQUEUE_LOCK_WAIT if self.requeues else 0)
        while (lock_fd := runlock.hold_lock(folder)) is None:
            if self._stopped.is_set():
                return None
            if time.monotonic() >= deadline:
                if self.requeues:
                    raise RunFailed(
                        f"{folder}: requeued, but its lock is still held after {REQUEUE_LOCK_WAIT} s by "
                        f"{runlock.holder(folder)}; if that process is gone, run it again (hieros-bench run resumes it)"
                    )
                return None
            self._stopped.wait(max(0.0, min(5.0, deadline - time.monotonic())))
        return lock_fd

    def _attempt(self, command: tuple[str, ...], folder: Path, lock_fd: int, attempt: int) -> tuple[int, int]:
        # Slurm sets CUDA_VISIBLE_DEVICES itself; a task that asked for a GPU must get one torch can use
        env = worker_env(self.threads or cpu_count(), None, expect_gpu=self.gpus > 0, results=folder.parents[3])
        requeued = f" (requeue {self.requeues})" if self.requeues else ""
        preempt = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))
        with self._guard:  # stop() either sees this process, or came first and no attempt starts
            if self._stopped.is_set():
                return EXIT_INTERRUPTED, 0
            log, offset = states.begin_attempt(folder, attempt, f"{shlex.join(command)}{requeued}")
            started = time.monotonic()
            process = self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env, runlock.LOCK_FD_ENV: str(lock_fd)},
                pass_fds=(lock_fd,),
                preexec_fn=lambda: signal.signal(preempt, signal.SIG_IGN),
            )
        code = None
        try:
            while (code := self._poll(process)) is None:
                time.sleep(0.5)
        finally:  # also when submitit requeues the task from checkpoint() and exits
            states.end_attempt(log, -1 if code is None else code, time.monotonic() - started)
        return code, offset

    def _poll(self, process: subprocess.Popen[bytes]) -> int | None:
        """The training process's exit code, or None while it runs."""
        with self._guard:
            return process.poll()


class PackedTask:
    """One array task: its runs side by side on the task's GPU, each a TrainTask in a thread of its own."""

    def __init__(
        self,
        threads: int | None,
        retries: int,
        gpus: int = 0,
        requeues: int = 0,
        size: int | None = None,
        finished: dict[str, Result] | None = None,
    ):
        self.threads, self.retries, self.gpus, self.requeues = threads, retries, gpus, requeues
        self.size = size  # the runs the task started with (its CPUs are split among them); None: not started
        self.finished = dict(finished or {})  # runs that an earlier start of this task ended, by run directory
        self._runs: dict[str, TrainTask] = {}
        self._results: dict[str, Result] = {}
        self._threads: list[threading.Thread] = []

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_runs": {}, "_results": {}, "_threads": []}

    def __call__(self, commands: list[tuple[str, ...]], run_dirs: list[str]) -> dict[str, Result]:
        """Every run's (state, error line) by run directory: 'done', 'interrupted', 'elsewhere' or 'failed'."""
        self.size = self.size or len(commands)
        threads = max(1, (self.threads or cpu_count()) // self.size)  # the task's CPUs (cpus_per_task), shared
        for command, run_dir in zip(commands, run_dirs, strict=True):
            run = self._runs[run_dir] = TrainTask(threads, self.retries, self.requeues, self.gpus)
            thread = threading.Thread(target=self._drive, args=(run, command, run_dir), daemon=True)
            self._threads.append(thread)
            thread.start()
        for thread in self._threads:
            while thread.is_alive():
                thread.join(1.0)  # short waits: submitit's USR2 handler runs in this thread between them
        return {**self.finished, **self._results}

    def _drive(self, run: TrainTask, command: tuple[str, ...], run_dir: str) -> None:
        """One run to its end; whatever ends it is its own result, never its siblings'."""
        try:
            self._results[run_dir] = (run(command, run_dir), "")
        except Exception as error:  # RunFailed; anything else (an OS error, a bug) must not end the other runs
            why = str(error) if isinstance(error, RunFailed) else f"{run_dir}: {type(error).__name__}: {error}"
            self._results[run_dir] = ("failed", why)

    def checkpoint(self, commands: list[tuple[str, ...]], run_dirs: list[str]) -> Any:
        """Called by submitit on USR2: stop every unfinished run (SIGTERM; STOP_SECONDS in all for them to save),
        then requeue this task with those runs alone; the ended ones' results go with it."""
        import submitit

        for run in self._runs.values():
            run.stop()
        deadline = time.monotonic() + STOP_SECONDS
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        ended = {d: result for d, result in dict(self._results).items() if result[0] != "interrupted"}
        left = [(c, d) for c, d in zip(commands, run_dirs, strict=True) if d not in ended]
        size = self.size or len(commands)
        requeued = PackedTask(self.threads, self.retries, self.gpus, self.requeues + 1, size, self.finished | ended)
        return submitit.helpers.DelayedSubmission(requeued, [c for c, _ in left], [d for _, d in left])


@dataclass(frozen=True)
class Submitted:
    """One array task as submitted: its runs, in plan order, and its submitit job."""

    specs: list[RunSpec]
    job: Any


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


def packs(specs: list[RunSpec], size: int) -> list[list[RunSpec]]:
    """The runs `size` at a time in plan order, one array task each (the last may hold fewer)."""
    return [specs[i : i + size] for i in range(0, len(specs), max(1, size))]


def packing(runs: int, size: int) -> str:
    """'N tasks, K runs per task': how `runs` runs go out as array tasks."""
    size = min(size, runs) if runs else size
    tasks = len(range(0, runs, max(1, size)))
    return f"{tasks} task{'s' if tasks != 1 else ''}, {size} run{'s' if size != 1 else ''} per task"


def submit(
    specs: list[RunSpec],
    results: Path,
    settings: dict[str, Any],
    jobs: int | None,
    threads: int | None,
    retries: int,
    cluster: str = "slurm",
) -> list[Submitted]:
    """Submit the runs as one job array, `runs_per_task` runs a task; the tasks, in the order of `specs`."""
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
    groups = packs(specs, settings["runs_per_task"])
    task = PackedTask(threads, retries, gpus=settings["gpus_per_node"])
    commands = [[task_command(s.command, settings) if cluster == "slurm" else s.command for s in g] for g in groups]
    jobs_made = executor.map_array(task, commands, [[str(s.run_dir) for s in group] for group in groups])
    return [Submitted(group, job) for group, job in zip(groups, jobs_made, strict=True)]


def task_command(command: tuple[str, ...], settings: dict[str, Any]) -> tuple[str, ...]:
    """The run's command as a cluster node starts it: with [slurm] `python` (default `python`, found on the
    node's PATH after the `setup` lines), not the absolute path of the interpreter on the submitting machine."""
    return (settings["python"] or "python", *command[1:])


def collect(tasks: list[Submitted], wall_start: float) -> list[Outcome]:
    """Wait for every array task: one Outcome per run, in the order submitted; Ctrl-C stops waiting, not the jobs."""
    outcomes: list[Outcome] = []
    waited = 0
    try:
        for task in tasks:
            outcomes += _outcomes(task, wall_start)
            waited += 1
    except KeyboardInterrupt:
        pass
    outcomes += [
        Outcome(spec, "submitted", error=f"job {task.job.job_id} still queued or running")
        for task in tasks[waited:]
        for spec in task.specs
    ]
    return outcomes


def _outcomes(task: Submitted, wall_start: float) -> list[Outcome]:
    """The Outcomes of one array task's runs, from its result (each run's own), or its error (all of them)."""
    try:
        results: dict[str, Result] = task.job.result()
    except Exception as error:  # submitit wraps the task's exception and traceback; keep its last line
        return [Outcome(spec, "failed", 1, error=_last_line(str(error))) for spec in task.specs]
    wall = time.monotonic() - wall_start
    missing = ("failed", f"job {task.job.job_id} returned no outcome for this run")
    outcomes = []
    for spec in task.specs:
        state, error = results.get(str(spec.run_dir), missing)
        outcomes.append(Outcome(spec, state, 1, 0.0 if state == "failed" else wall, error))
    return outcomes


def _last_line(text: str) -> str:
    """The last line of submitit's error text (the task's exception, after its traceback)."""
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "failed")


def describe(tasks: list[Submitted], results: Path, cluster: str) -> list[str]:
    """What was submitted and how to watch it."""
    array = str(tasks[0].job.job_id).split("_")[0]
    runs = sum(len(task.specs) for task in tasks)
    watch = f"squeue -j {array}   or   " if cluster == "slurm" else ""
    return [
        f"submitted {runs} runs as job array {array} ({packing(runs, len(tasks[0].specs))}); "
        f"logs in {results / '.submitit'}",
        f"watch: {watch}hieros-bench status {tasks[0].specs[0].suite} --results {results}",
        "rerun the same `hieros-bench run` after the array ends to retry what failed",
    ]
