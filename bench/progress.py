"""The sweep's live display: a bar per active run and an overall bar with ETA on a terminal; plain lines otherwise.

Progress comes from each run's run.json (`progress.env_steps` of `protocol.budget_steps`), which the training
process rewrites atomically at every log; the display polls it about once a second.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from bench.plan import RunSpec
from bench.state import Outcome
from hieros import run_file, rundir

COLORS = {"done": "green", "failed": "red", "interrupted": "yellow", "pending": "yellow", "elsewhere": "cyan"}


def duration(seconds: float) -> str:
    """3725 -> '1h02m', 95 -> '1m35s', 7 -> '7s'."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def eta_seconds(
    active: Sequence[tuple[str, float, float]],
    finished: Mapping[str, Sequence[float]],
    pending: Sequence[str],
    slots: int,
) -> float | None:
    """Seconds until a sweep ends: the remaining runs list-scheduled, in launch order, on `slots` runners.

    active: (method, fraction of its budget done, wall seconds so far) per running run; finished: the wall
    seconds of finished runs per method; pending: the method of each run not started yet, in launch order.
    A run's length is the mean of its method's finished runs and its running ones projected from their
    progress (from 2% on); a method with neither takes the mean over the others. None while nothing is known.
    """
    lengths: dict[str, list[float]] = {m: list(walls) for m, walls in finished.items() if walls}
    for method, fraction, wall in active:
        if fraction >= 0.02:
            lengths.setdefault(method, []).append(wall / fraction)
    if not lengths:
        return None
    means = {method: sum(walls) / len(walls) for method, walls in lengths.items()}
    fallback = sum(means.values()) / len(means)
    free_at = [max(0.0, means.get(m, fallback) - wall) for m, _, wall in active]
    free_at += [0.0] * max(0, slots - len(free_at))  # the idle slots
    for method in pending:
        free_at.sort()
        free_at[0] += means.get(method, fallback)
    return max(free_at)


def _read_record(spec: RunSpec) -> run_file.Record | None:
    try:
        return run_file.read_run(spec.run_dir)
    except rundir.RunFileError:
        return None


def run_progress(spec: RunSpec) -> tuple[float, float, str]:
    """(fraction of the budget done, wall seconds, 'steps 1200/25000 score 3.0 ETA 2m10s') from run.json;
    (0, 0, '') before it exists."""
    record = _read_record(spec)
    if record is None:
        return 0.0, 0.0, ""
    progress, budget = record.progress, max(1, record.protocol.budget_steps)
    steps, wall = progress.env_steps, progress.wall_seconds
    fraction = min(1.0, steps / budget)
    text = f"steps {steps}/{budget}"
    if progress.last_score is not None:
        text += f"  score {progress.last_score:.1f}"
    if 0 < fraction < 1 and wall > 0:
        text += f"  ETA {duration(wall * (1 - fraction) / fraction)}"
    return fraction, wall, text


class SweepDisplay:
    """`specs` in launch order, `slots` of them at a time (for the ETA)."""

    def __init__(
        self,
        specs: Sequence[RunSpec],
        slots: int = 1,
        console: Console | None = None,
        interactive: bool | None = None,
        plain_every: float = 60.0,
    ):
        self.console = console or Console(highlight=False)
        self.interactive = sys.stdout.isatty() if interactive is None else interactive
        self.total, self.slots, self.plain_every = len(specs), slots, plain_every
        self.methods = {spec.name: spec.method for spec in specs}
        self.pending = [spec.name for spec in specs]
        self.walls: dict[str, float] = {}
        self.finished_walls: dict[str, list[float]] = {}
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=True,
        )
        self.overall: TaskID | None = None
        self.bars: dict[str, TaskID] = {}
        self.fractions: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.last_poll = self.last_plain = 0.0

    def __enter__(self) -> SweepDisplay:
        self.last_plain = time.monotonic()
        if self.interactive:
            self.progress.start()
            self.overall = self.progress.add_task("[bold]all runs", total=self.total, info="")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.interactive:
            self.progress.stop()

    def _print(self, text: str, color: str | None = None) -> None:
        if self.interactive:
            self.console.print(f"[{color}]{escape(text)}[/]" if color else escape(text))
        else:
            print(text, flush=True)

    def note(self, text: str) -> None:
        self._print(text, "yellow")

    def started(self, spec: RunSpec, attempt: int) -> None:
        fraction, self.walls[spec.name], _ = run_progress(spec)
        self.fractions[spec.name] = fraction
        if spec.name in self.pending:
            self.pending.remove(spec.name)
        if self.interactive:
            self.bars[spec.name] = self.progress.add_task(spec.name, total=1.0, completed=fraction, info="starting")
        else:
            self._print(f"start    {spec.name}" + (f" (attempt {attempt})" if attempt > 1 else ""))

    def retry(self, spec: RunSpec, attempt: int, why: str) -> None:
        self._drop(spec)
        self.pending.append(spec.name)
        self._print(f"retry    {spec.name}: attempt {attempt} failed ({why})", "red")

    def finished(self, outcome: Outcome) -> None:
        self._drop(outcome.spec)
        self.counts[outcome.state] = self.counts.get(outcome.state, 0) + 1
        line = f"{outcome.state:<8} {outcome.spec.name}"
        if outcome.state == "done":
            record = _read_record(outcome.spec)
            wall = record.progress.wall_seconds if record else 0.0  # the run's own clock, across resumes
            if wall > 0:
                self.finished_walls.setdefault(outcome.spec.method, []).append(wall)
            final = record.score.final if record else None
            line += f"  score {'-' if final is None else f'{final:.2f}'}"
            line += f"  ({duration(outcome.wall)})" if outcome.wall else ""
        elif outcome.error:
            line += f": {outcome.error}"
        self._print(f"[{self.finished_count}/{self.total}] {line}", COLORS.get(outcome.state))
        self._update_overall()

    @property
    def finished_count(self) -> int:
        return sum(self.counts.values())

    def refresh(self, active: list[RunSpec]) -> None:
        """Poll the active runs' run.json (at most once a second) and redraw; plain lines every `plain_every`."""
        now = time.monotonic()
        if now - self.last_poll < 1.0:
            return
        self.last_poll = now
        texts = {}
        for spec in active:
            self.fractions[spec.name], self.walls[spec.name], texts[spec.name] = run_progress(spec)
            if self.interactive and spec.name in self.bars:
                self.progress.update(
                    self.bars[spec.name],
                    completed=self.fractions[spec.name],
                    info=escape(texts[spec.name] or "starting"),
                )
        self._update_overall()
        if not self.interactive and now - self.last_plain >= self.plain_every:
            self.last_plain = now
            running = ", ".join(f"{name} {self.fractions[name]:.0%}" for name in texts)
            self._print(f"progress {self.summary()}" + (f"; running: {running}" if running else ""))

    def summary(self) -> str:
        """'5/12 runs finished (4 done, 1 failed), ETA 3m10s'."""
        counts = ", ".join(f"{n} {state}" for state, n in sorted(self.counts.items()))
        text = f"{self.finished_count}/{self.total} runs finished" + (f" ({counts})" if counts else "")
        active = [
            (self.methods[name], fraction, self.walls.get(name, 0.0)) for name, fraction in self.fractions.items()
        ]
        eta = eta_seconds(active, self.finished_walls, [self.methods[n] for n in self.pending], self.slots)
        if eta is not None and self.finished_count < self.total:
            text += f", ETA {duration(eta)}"
        return text

    def _update_overall(self) -> None:
        if self.interactive and self.overall is not None:
            completed = self.finished_count + sum(self.fractions.values())
            self.progress.update(self.overall, completed=completed, info=escape(self.summary()))

    def _drop(self, spec: RunSpec) -> None:
        self.fractions.pop(spec.name, None)
        self.walls.pop(spec.name, None)
        if spec.name in self.bars:
            self.progress.remove_task(self.bars.pop(spec.name))
