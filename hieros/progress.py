"""Progress of one training run: a rich bar on a terminal, a plain line every few seconds otherwise; the named
clocks of its loop."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, total: int, description: str, start: int = 0, plain_every: float = 30.0):
        self.total = total
        self.description = description
        self.plain_every = plain_every
        self.interactive = sys.stdout.isatty()
        self._last_plain = 0.0
        self._bar: RichProgress | None = None
        self._start = start

    def __enter__(self) -> Progress:
        if self.interactive:
            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("steps  score {task.fields[score]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, completed=self._start, score="-")
        return self

    def update(self, step: int, score: float | None = None) -> None:
        text = "-" if score is None else f"{score:.1f}"
        if self._bar is not None:
            self._bar.update(self._task, completed=step, score=text)
            return
        now = time.monotonic()
        if now - self._last_plain >= self.plain_every or step >= self.total:
            self._last_plain = now
            print(f"{self.description}: step {step}/{self.total} last score {text}", flush=True)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()


PHASES = ("policy", "env", "train", "eval", "log", "checkpoint")  # the training loop's named clocks


class Clocks:
    """Seconds the training loop spends in each phase, summed across resumes (run.json: progress.phase_seconds):
    policy (acting, replay insertion included), env (environment steps and resets), train (the updates, replay
    sampling included), eval, log (metrics and run.json) and checkpoint. On CUDA each phase ends with a host read
    (actions, metrics), so the GPU's work lands in the phase that queued it."""

    def __init__(self, seconds: Mapping[str, float] | None = None):
        self.load_state_dict(seconds)

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start

    def state_dict(self) -> dict[str, float]:
        return dict(self.seconds)

    def load_state_dict(self, seconds: Mapping[str, float] | None) -> None:
        """The seconds of a checkpoint (None, from before the clocks: they start at zero)."""
        self.seconds = {name: 0.0 for name in PHASES} | dict(seconds or {})
