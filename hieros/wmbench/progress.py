"""Running the bench's runs one after the other, with a rich progress bar (plain lines off a terminal)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from hieros.run_record import RunLocked
from hieros.wmbench.datasets import Dataset
from hieros.wmbench.methods import Settings
from hieros.wmbench.run import BenchRun, is_done, run_dir_of

PLAIN_EVERY = 30.0  # seconds between plain progress lines


def run_all(
    results: Path, methods: list[str], seeds: list[int], settings: Settings, dataset: Dataset, threads: int
) -> int:
    """Every (method, seed) not yet done, in turn; a summary line per run. 0 when all are done."""
    torch.set_num_threads(threads)
    console = Console(highlight=False)
    todo = [(m, s) for m in methods for s in seeds if not is_done(results, m, s, settings)]
    skipped = len(methods) * len(seeds) - len(todo)
    if skipped:
        console.print(f"{skipped} run(s) already done, skipped")
    total = settings.updates + settings.policy_updates + 1
    interactive = sys.stdout.isatty()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[phase]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not interactive) as bar:
        overall = bar.add_task("all runs", total=len(todo), phase="")
        for method, seed in todo:
            if is_done(results, method, seed, settings):  # finished meanwhile by another process: kept as it is
                console.print(f"{method} seed {seed}: done meanwhile by another process, skipped")
                bar.advance(overall)
                continue
            task = bar.add_task(f"{method} seed {seed}", total=total, phase="")
            last = [0.0]

            def report(phase: str, done: int, of: int, method=method, seed=seed, task=task, last=last) -> None:
                offset = {"world model": 0, "policy in imagination": settings.updates}.get(phase, total - 1)
                bar.update(task, completed=offset + done, phase=phase)
                now = time.monotonic()
                if not interactive and (now - last[0] >= PLAIN_EVERY or done == of):
                    last[0] = now
                    print(f"{method} seed {seed}: {phase} {done}/{of}", flush=True)

            start = time.perf_counter()
            try:
                run = BenchRun(results, method, seed, settings, dataset)
            except RunLocked:  # another `run` command has it: that one finishes it
                console.print(f"{method} seed {seed}: being run by another process, skipped")
                bar.remove_task(task)
                bar.advance(overall)
                continue
            score = run.run(report)
            bar.remove_task(task)
            bar.advance(overall)
            console.print(
                f"{method} seed {seed}: score {score:.1f} in {time.perf_counter() - start:.0f} s "
                f"({run_dir_of(results, method, seed, settings)})"
            )
    return 0
