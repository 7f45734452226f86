"""Progress of one training run: a rich bar on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
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
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("steps  score {task.fields[score]}"), TimeElapsedColumn(), TimeRemainingColumn())
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
