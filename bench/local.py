"""Run RunSpecs as subprocesses on this machine: a pool of `jobs`, thread budgets, GPU slots, retries, Ctrl-C.

Each run is `python -m hieros.train ...` in its own process (crash isolation). The training process locks its
run directory, so two runners never run the same run: the second gets exit code 75 and reports it as running
elsewhere. Ctrl-C is passed to the workers, which checkpoint and exit 130; a rerun resumes them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from bench.plan import RunSpec
from bench.progress import SweepDisplay
from hieros import rundir

EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_USAGE = 130, 75, 2


@dataclass
class Outcome:
    spec: RunSpec
    state: str  # done | failed | interrupted | elsewhere
    attempts: int = 0
    wall: float = 0.0
    error: str = ""


@dataclass
class _Active:
    spec: RunSpec
    process: subprocess.Popen
    slot: str | None
    started: float
    attempt: int
    log: object = field(repr=False, default=None)


def visible_gpus() -> list[str]:
    """GPU ids from CUDA_VISIBLE_DEVICES, else from nvidia-smi; empty on a CPU machine."""
    if os.environ.get("CUDA_VISIBLE_DEVICES"):
        return [g for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
    if not shutil.which("nvidia-smi"):
        return []
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU")]


def error_tail(log: Path, lines: int = 15) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class LocalRunner:
    def __init__(self, specs: list[RunSpec], jobs: int, threads: int, retries: int, runs_per_gpu: int = 1,
                 display: SweepDisplay | None = None):
        self.queue = deque((spec, 1) for spec in specs)
        self.total = len(specs)
        self.jobs, self.threads, self.retries = jobs, threads, retries
        gpus = visible_gpus()
        self.free_slots: list[str | None] = [g for g in gpus for _ in range(runs_per_gpu)] or [None] * jobs
        self.active: list[_Active] = []
        self.outcomes: list[Outcome] = []
        self.stopping = False
        self.display = display or SweepDisplay(len(specs))

    def _launch(self, spec: RunSpec, attempt: int) -> None:
        slot = self.free_slots.pop(0)
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads),
               "PYTHONUNBUFFERED": "1"}
        if slot is not None:
            env["CUDA_VISIBLE_DEVICES"] = slot
        spec.run_dir.mkdir(parents=True, exist_ok=True)
        log = open(spec.run_dir / "runner.log", "a")  # noqa: SIM115 (closed when the run ends)
        log.write(f"=== attempt {attempt} {time.strftime('%Y-%m-%dT%H:%M:%S')}: {' '.join(spec.command)}\n")
        log.flush()
        process = subprocess.Popen(spec.command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.active.append(_Active(spec, process, slot, time.monotonic(), attempt, log))
        self.display.started(spec)

    def _finish(self, run: _Active, code: int) -> None:
        run.log.close()
        self.free_slots.append(run.slot)
        wall = time.monotonic() - run.started
        spec = run.spec
        if code == 0:
            outcome = Outcome(spec, "done", run.attempt, wall)
        elif code == EXIT_LOCKED:
            outcome = Outcome(spec, "elsewhere", run.attempt, wall, "running in another process")
        elif code == EXIT_INTERRUPTED or self.stopping:
            outcome = Outcome(spec, "interrupted", run.attempt, wall, "stopped; a rerun resumes it")
        else:
            tail = error_tail(spec.run_dir / "runner.log")
            if code != EXIT_USAGE and run.attempt <= self.retries:
                self.display.retry(spec, run.attempt, code)
                self.queue.append((spec, run.attempt + 1))
                return
            outcome = Outcome(spec, "failed", run.attempt, wall, tail)
        self.outcomes.append(outcome)
        self.display.finished(outcome.spec, outcome.state, outcome.error)

    def _on_signal(self, signum: int, frame: object) -> None:
        if not self.stopping:
            self.stopping = True
            self.display.note("stopping: the runs save a checkpoint; rerun the same command to resume")
        for run in self.active:
            if run.process.poll() is None:
                run.process.send_signal(signal.SIGINT)

    def run(self) -> list[Outcome]:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with self.display:
                while self.active or (self.queue and not self.stopping):
                    while self.queue and not self.stopping and len(self.active) < self.jobs and self.free_slots:
                        self._launch(*self.queue.popleft())
                    for run in list(self.active):
                        code = run.process.poll()
                        if code is not None:
                            self.active.remove(run)
                            self._finish(run, code)
                    self.display.poll([(r.spec, _progress(r.spec.run_dir)) for r in self.active])
                    time.sleep(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.outcomes += [Outcome(spec, "interrupted", attempt - 1) for spec, attempt in self.queue]
        return self.outcomes


def _progress(run_dir: Path) -> tuple[int, int] | None:
    """(env steps, budget steps) of a running run, from its run.json."""
    try:
        record = rundir.read_run(run_dir)
    except rundir.RunFileError:
        return None
    return record["progress"]["env_steps"], record["protocol"]["budget_steps"]
