"""The sweep's live display: one bar per active run and an overall bar with ETA on a terminal; plain lines otherwise."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from bench.plan import RunSpec


class SweepDisplay:
    def __init__(self, total: int, console: Console | None = None):
        self.console = console or Console(stderr=False)
        self.interactive = sys.stdout.isatty()
        self.total = total
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=self.console, transient=False)
        self.overall: TaskID | None = None
        self.bars: dict[str, TaskID] = {}
        self.finished_count = 0

    def __enter__(self) -> SweepDisplay:
        if self.interactive:
            self.progress.start()
            self.overall = self.progress.add_task("[bold]all runs", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.interactive:
            self.progress.stop()

    def _print(self, text: str) -> None:
        if self.interactive:
            self.progress.console.print(text)
        else:
            print(text, flush=True)

    def note(self, text: str) -> None:
        self._print(f"[yellow]{text}[/]" if self.interactive else text)

    def started(self, spec: RunSpec) -> None:
        if self.interactive:
            self.bars[spec.name] = self.progress.add_task(spec.name, total=None)
        else:
            self._print(f"start  {spec.name}")

    def retry(self, spec: RunSpec, attempt: int, code: int) -> None:
        self._drop(spec)
        message = f"retry  {spec.name}: attempt {attempt} exited with {code}"
        self._print(f"[red]{message}[/]" if self.interactive else message)

    def finished(self, spec: RunSpec, state: str, error: str = "") -> None:
        self._drop(spec)
        self.finished_count += 1
        if self.interactive and self.overall is not None:
            self.progress.update(self.overall, completed=self.finished_count)
        line = f"{state:<6} {spec.name}" + (f": {error.splitlines()[-1]}" if error and state == "failed" else "")
        color = {"done": "green", "failed": "red"}.get(state, "yellow")
        self._print(f"[{color}]{line}[/]" if self.interactive else line)

    def poll(self, running: list[tuple[RunSpec, tuple[int, int] | None]]) -> None:
        if not self.interactive:
            return
        for spec, progress in running:
            if progress and spec.name in self.bars:
                self.progress.update(self.bars[spec.name], completed=progress[0], total=progress[1])

    def _drop(self, spec: RunSpec) -> None:
        if spec.name in self.bars:
            self.progress.remove_task(self.bars.pop(spec.name))
