"""Run RunSpecs as subprocesses on this machine: a pool of `jobs`, thread budgets, GPU slots, locks, retries, Ctrl-C.

Each run is `python -m hieros.train ...` in its own process (crash isolation) and its own session, so signals
reach it only through the runner. Before it starts, the runner locks the run directory and hands the locked
descriptor to the worker (hieros.runlock.hold_lock): the lock lives while either process does, so two runners
never run the same run, and a killed worker's lock vanishes with it. Ctrl-C (or SIGTERM) is passed on; the
workers checkpoint and exit 130, and a rerun resumes them. A second Ctrl-C kills them (they resume from their
last checkpoint).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from bench import state as states
from bench.plan import RunSpec, shell_line, worker_env
from bench.progress import SweepDisplay
from bench.resources import Budget
from bench.state import Outcome
from hieros import rundir, runlock
from hieros.cli_errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_LOCKED

# A worker exits EXIT_LOCKED only if it did not adopt the lock its runner handed down (it cannot be held elsewhere).
LOCK_NOT_ADOPTED = f"hieros.train did not adopt the runner's lock ({runlock.LOCK_FD_ENV}); see hieros.runlock.lock_run"
POLL_SECONDS = 0.05


@dataclass
class _Active:
    spec: RunSpec
    process: subprocess.Popen
    lock_fd: int
    slot: str | None
    started: float
    attempt: int
    log: Any
    offset: int


class LocalRunner:
    def __init__(self, specs: list[RunSpec], budget: Budget, retries: int, display: SweepDisplay):
        self.queue: deque[tuple[RunSpec, int]] = deque((spec, 1) for spec in specs)
        self.budget, self.retries, self.display = budget, retries, display
        self.free_slots = list(budget.slots)
        self.active: list[_Active] = []
        self.outcomes: list[Outcome] = []
        self.signals = self.forwarded = 0
        self.last_signal = signal.SIGINT

    def run(self) -> list[Outcome]:
        """Run the queue to the end, or until a signal; every spec gets exactly one Outcome."""
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            with self.display:
                while self.active or (self.queue and not self.signals):
                    self._forward_signals()
                    while self.queue and not self.signals and self.free_slots:
                        self._launch(*self.queue.popleft())
                    for run in [r for r in self.active if r.process.poll() is not None]:
                        self.active.remove(run)
                        self._finish(run, run.process.returncode)
                    self.display.refresh([r.spec for r in self.active])
                    time.sleep(POLL_SECONDS)
        finally:
            for run in self.active:  # only after an unexpected error in the runner itself: let them checkpoint
                run.process.send_signal(signal.SIGTERM)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.outcomes += [Outcome(spec, "pending", attempt - 1, error="not started") for spec, attempt in self.queue]
        return self.outcomes

    def _on_signal(self, signum: int, frame: object) -> None:
        """Only count it: the loop passes it on (a handler that prints or reaps could interrupt the loop doing so)."""
        self.signals += 1
        self.last_signal = signum

    def _forward_signals(self) -> None:
        if self.forwarded == self.signals:
            return
        self.forwarded = self.signals
        if self.signals == 1:
            self.display.note(
                "stopping: each run saves a checkpoint and exits; rerun the same command to resume "
                "(Ctrl-C again kills them at once)"
            )
            forward = signal.SIGTERM if self.last_signal == signal.SIGTERM else signal.SIGINT
        else:
            self.display.note("killing the runs; they resume from their last checkpoint")
            forward = signal.SIGKILL
        for run in self.active:
            if run.process.poll() is None:
                run.process.send_signal(forward)

    def _launch(self, spec: RunSpec, attempt: int) -> None:
        lock_fd = runlock.hold_lock(spec.run_dir)
        if lock_fd is None:
            taken = f"running in another process ({runlock.holder(spec.run_dir)})"
            self._record(Outcome(spec, "elsewhere", attempt - 1, error=taken))
            return
        try:
            current, _ = states.run_state(spec.run_dir, locked=False)
        except rundir.RunFileError as error:
            runlock.let_go(lock_fd)
            self._record(Outcome(spec, "failed", attempt - 1, error=str(error)))
            return
        if current == "done":  # finished by another runner since this sweep was planned
            runlock.let_go(lock_fd)
            self._record(Outcome(spec, "done", attempt - 1))
            return
        slot = self.free_slots.pop(0)
        env = worker_env(self.budget.threads, slot, results=spec.run_dir.parents[3])
        log, offset = states.begin_attempt(spec.run_dir, attempt, shell_line(spec, env))
        try:
            process = subprocess.Popen(
                spec.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env, runlock.LOCK_FD_ENV: str(lock_fd)},
                pass_fds=(lock_fd,),
                start_new_session=True,
            )
        except OSError as error:
            states.end_attempt(log, -1, 0.0)
            runlock.let_go(lock_fd)
            self.free_slots.append(slot)
            self._record(Outcome(spec, "failed", attempt, error=f"cannot start: {error}"))
            return
        self.active.append(_Active(spec, process, lock_fd, slot, time.monotonic(), attempt, log, offset))
        self.display.started(spec, attempt)

    def _finish(self, run: _Active, code: int) -> None:
        wall = time.monotonic() - run.started
        states.end_attempt(run.log, code, wall)
        runlock.let_go(run.lock_fd)
        self.free_slots.append(run.slot)
        spec, attempt = run.spec, run.attempt
        if code == 0:
            current, record = states.run_state(spec.run_dir, locked=False)
            if current == "done":
                self._record(Outcome(spec, "done", attempt, wall))
                return
            code_text = f"exited 0 but run.json says {record.status if record else 'nothing'}"
            self._record(Outcome(spec, "failed", attempt, wall, code_text))
            return
        error = states.attempt_error(spec.run_dir, run.offset, code)
        if code == EXIT_LOCKED:
            self._record(Outcome(spec, "failed", attempt, wall, LOCK_NOT_ADOPTED))
        elif code == EXIT_INTERRUPTED or self.signals:
            self._record(Outcome(spec, "interrupted", attempt, wall, "stopped; a rerun resumes it from its checkpoint"))
        elif code != EXIT_INPUT and attempt <= self.retries:
            self.display.retry(spec, attempt, error)
            self.queue.append((spec, attempt + 1))
        else:
            self._record(Outcome(spec, "failed", attempt, wall, error))

    def _record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.display.finished(outcome)
