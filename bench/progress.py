"""The sweep's live display: a bar per active run and an overall bar with ETA on a terminal; plain lines otherwise.

Progress comes from each run's run.json (`progress.env_steps` of `protocol.budget_steps`), which the training
process rewrites atomically at every log; the display polls it about once a second.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from bench.plan import RunSpec
from hieros import rundir

if TYPE_CHECKING:
    from bench.local import Outcome

COLORS = {"done": "green", "failed": "red", "interrupted": "yellow", "pending": "yellow", "elsewhere": "cyan"}


def duration(seconds: float) -> str:
    """3725 -> '1h02m', 95 -> '1m35s', 7 -> '7s'."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def run_progress(spec: RunSpec) -> tuple[float, str]:
    """(fraction of the budget done, 'steps 1200/25000 score 3.0 ETA 2m10s') from run.json; (0, '') before it exists."""
    try:
        record = rundir.read_run(spec.run_dir)
    except rundir.RunFileError:
        return 0.0, ""
    progress, budget = record["progress"], max(1, record["protocol"]["budget_steps"])
    steps, wall = progress["env_steps"], progress["wall_seconds"]
    fraction = min(1.0, steps / budget)
    text = f"steps {steps}/{budget}"
    if progress.get("last_score") is not None:
        text += f"  score {progress['last_score']:.1f}"
    if 0 < fraction < 1 and wall > 0:
        text += f"  ETA {duration(wall * (1 - fraction) / fraction)}"
    return fraction, text


class SweepDisplay:
    def __init__(self, total: int, console: Console | None = None, interactive: bool | None = None,
                 plain_every: float = 60.0):
        self.console = console or Console(highlight=False)
        self.interactive = sys.stdout.isatty() if interactive is None else interactive
        self.total, self.plain_every = total, plain_every
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30), TaskProgressColumn(),
                                 TextColumn("{task.fields[info]}"), console=self.console, transient=True)
        self.overall: TaskID | None = None
        self.bars: dict[str, TaskID] = {}
        self.fractions: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.started_at = time.monotonic()
        self.last_poll = self.last_plain = 0.0

    def __enter__(self) -> SweepDisplay:
        self.started_at = self.last_plain = time.monotonic()
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
        fraction, _ = run_progress(spec)
        self.fractions[spec.name] = fraction
        if self.interactive:
            self.bars[spec.name] = self.progress.add_task(spec.name, total=1.0, completed=fraction, info="starting")
        else:
            self._print(f"start    {spec.name}" + (f" (attempt {attempt})" if attempt > 1 else ""))

    def retry(self, spec: RunSpec, attempt: int, why: str) -> None:
        self._drop(spec)
        self._print(f"retry    {spec.name}: attempt {attempt} failed ({why})", "red")

    def finished(self, outcome: Outcome) -> None:
        self._drop(outcome.spec)
        self.counts[outcome.state] = self.counts.get(outcome.state, 0) + 1
        line = f"{outcome.state:<8} {outcome.spec.name}"
        if outcome.state == "done":
            final = _final_score(outcome.spec)
            line += f"  score {final}" + (f"  ({duration(outcome.wall)})" if outcome.wall else "")
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
            self.fractions[spec.name], texts[spec.name] = run_progress(spec)
            if self.interactive and spec.name in self.bars:
                self.progress.update(self.bars[spec.name], completed=self.fractions[spec.name],
                                     info=escape(texts[spec.name] or "starting"))
        self._update_overall()
        if not self.interactive and now - self.last_plain >= self.plain_every:
            self.last_plain = now
            running = ", ".join(f"{name} {self.fractions[name]:.0%}" for name in texts)
            self._print(f"progress {self.summary()}" + (f"; running: {running}" if running else ""))

    def summary(self) -> str:
        """'5/12 runs finished (4 done, 1 failed), ETA 3m10s'."""
        counts = ", ".join(f"{n} {state}" for state, n in sorted(self.counts.items()))
        text = f"{self.finished_count}/{self.total} runs finished" + (f" ({counts})" if counts else "")
        completed = self.finished_count + sum(self.fractions.values())
        elapsed = time.monotonic() - self.started_at
        if 0 < completed < self.total and elapsed > 5:
            text += f", ETA {duration(elapsed * (self.total - completed) / completed)}"
        return text

    def _update_overall(self) -> None:
        if self.interactive and self.overall is not None:
            completed = self.finished_count + sum(self.fractions.values())
            self.progress.update(self.overall, completed=completed, info=escape(self.summary()))

    def _drop(self, spec: RunSpec) -> None:
        self.fractions.pop(spec.name, None)
        if spec.name in self.bars:
            self.progress.remove_task(self.bars.pop(spec.name))


def _final_score(spec: RunSpec) -> str:
    try:
        final = rundir.read_run(spec.run_dir)["score"].get("final")
    except rundir.RunFileError:
        return "-"
    return "-" if final is None else f"{final:.2f}"
