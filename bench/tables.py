"""The tables `hieros-bench` prints: the sweep summary, `status` and `list`."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench import state as states
from bench.progress import COLORS, duration
from bench.state import Outcome
from bench.suites import Benchmark
from hieros import checkpoint, run_file, rundir
from hieros.envs import task_domain
from hieros.run_file import Record

SUMMARY_ROWS = 40  # above this, the summary lists only the runs that did not finish
PLAIN_WIDTH = 160  # tables written to a file or pipe are this wide (rich would assume 80)


def make_console() -> Console:
    return Console(highlight=False, width=None if sys.stdout.isatty() else PLAIN_WIDTH)


def _score(record: Record | None) -> str:
    final = record.score.final if record else None
    return "-" if final is None else f"{final:.2f}"


def _against_field(record: Record, score: float | None, frames: float | None = None) -> str:
    """An Atari100k run's score as a percentile of the shipped baselines' runs on its game: a finished run's
    against their final scores ("p62 of 171"); a running run's latest score, at `frames`, against the runs with
    training curves (DreamerV3's) at the same frames ("p40 of 10 at 120k"), so a run falling behind is seen early.
    '-' for other runs."""
    from analysis import baselines

    task = record.task
    if score is None or task_domain(task) != "atari" or record.protocol.budget_frames != baselines.BUDGET_FRAMES:
        return "-"
    found = baselines.percentile(float(score), task, frames)
    if found is None:
        return "-"
    at = f" at {frames / 1000:.0f}k" if frames is not None and frames < baselines.BUDGET_FRAMES else ""
    return f"p{100 * found[0]:.0f} of {found[1]}{at}"


def summary(console: Console, outcomes: list[Outcome], skipped: int, wall: float, results: Path) -> None:
    """The table at the end of a sweep, and a line that says what to do next."""
    rows = sorted(outcomes, key=lambda o: (o.spec.method, o.spec.task, o.spec.seed))
    shown = rows if len(rows) <= SUMMARY_ROWS else [o for o in rows if o.state != "done"]
    table = Table(
        title=f"sweep: {len(outcomes)} runs in {duration(wall)}"
        + (f" ({skipped} more were already done)" if skipped else "")
    )
    for column in ("run", "state", "attempts", "final score", "wall", "note"):
        table.add_column(column, justify="right" if column in ("attempts", "final score", "wall") else "left")
    for o in shown:
        record = _record(o.spec.run_dir) if o.state == "done" else None
        color = COLORS.get(o.state, "white")
        table.add_row(
            o.spec.name,
            f"[{color}]{o.state}[/]",
            str(o.attempts),
            _score(record),
            duration(o.wall) if o.wall else "-",
            escape(o.error),
        )
    if shown:
        console.print(table)
    if len(shown) < len(rows):
        console.print(f"({len(rows) - len(shown)} done runs not listed; `hieros-bench status` lists every run)")
    counts = Counter(o.state for o in outcomes)
    console.print(", ".join(f"[{COLORS.get(s, 'white')}]{n} {s}[/]" for s, n in sorted(counts.items())))
    if counts.get("interrupted") or counts.get("pending"):
        console.print("rerun the same command to resume the interrupted runs and start the rest")
    elif counts.get("failed"):
        console.print(f"the failed runs' output is in their runner.log under {results}; a rerun retries them")
    elif counts.get("submitted"):
        console.print("the job array keeps running; `hieros-bench status` shows its runs")
    elif counts.get("elsewhere"):
        console.print("some runs are running in another process; `hieros-bench status` shows them")


def _record(run_dir: Path) -> Record | None:
    try:
        return run_file.read_run(run_dir)
    except rundir.RunFileError:
        return None


def status_row(name: str, run_dir: Path, stored: bool = True) -> tuple[str, list[str], str | None]:
    """(state, table cells, error) for one run (`stored`: in the store layout, hieros.run_search); a corrupt
    run.json is the state 'corrupt' with its error."""
    try:
        state, record = states.run_state(run_dir, stored=stored)
    except rundir.RunFileError as error:
        return "corrupt", [name, "[red]corrupt[/]", "-", "-", "-", "-", "-", "-", escape(str(error))], str(error)
    steps = score = wall = eta = field = "-"
    note = ""
    if record:
        progress, budget = record.progress, record.protocol.budget_steps
        steps = f"{progress.env_steps}/{budget}"
        value = record.score.final if state == "done" else progress.last_score
        if state == "done":
            score = _score(record)
        elif value is not None:
            score = f"{value:.1f}"
        frames = None if state == "done" else progress.env_steps * record.protocol.frames_per_step
        field = _against_field(record, value, frames)
        wall = duration(progress.wall_seconds)
        if state == "running" and 0 < progress.env_steps < budget:
            eta = duration(progress.wall_seconds * (budget / progress.env_steps - 1))
        if state == "failed" and record.error:
            note = states.error_line(record.error)
        if state == "interrupted":
            note = (
                "resumes from its checkpoint on the next run"
                if checkpoint.exists(run_dir)
                else "no checkpoint: the next run starts it again, its records set aside"
            )
    elif state == "failed":
        note = states.error_line(states.output_tail(run_dir))
    color = COLORS.get(state, "cyan")
    return (
        state,
        [
            name,
            f"[{color}]{state}[/]",
            steps,
            score,
            field,
            wall,
            eta,
            str(record.attempts) if record else "-",
            escape(note),
        ],
        None,
    )


def status(console: Console, runs: list[tuple[str, Path, bool]], title: str) -> list[str]:
    """Print the status table of (name, run directory, in the store layout) runs; the errors of corrupt runs."""
    table = Table(title=title)
    for column in ("run", "state", "env steps", "score", "vs field", "wall", "ETA", "attempts", "note"):
        table.add_column(
            column, justify="left" if column in ("run", "state", "note") else "right", no_wrap=column != "note"
        )
    counts: Counter[str] = Counter()
    errors = []
    for name, run_dir, stored in runs:
        state, cells, error = status_row(name, run_dir, stored)
        counts[state] += 1
        table.add_row(*cells)
        if error:
            errors.append(error)
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" ({len(runs)} runs)")
    return errors


def listing(console: Console, benchmark: Benchmark, tasks: list[str]) -> None:
    """Suites (a short block each, readable at any width), methods, and tasks."""
    console.print(f"[bold]suites[/] ({benchmark.path})")
    for s in benchmark.suites.values():
        frames = s.overrides.get("steps")
        budget = f", {frames:,} frames" if isinstance(frames, int) else ""
        console.print(f"  [bold]{s.name}[/]: {len(s.tasks)} tasks x {s.seeds} seeds{budget}. {escape(s.description)}")
        console.print(f"      methods: {', '.join(s.methods)}")
        console.print("      presets: " + "; ".join(_per_domain(k, " ".join(v)) for k, v in s.presets.items()))
    methods = Table(title="methods")
    for column in ("method", "agent", "overrides", "description"):
        methods.add_column(column)
    for m in benchmark.methods.values():
        methods.add_row(m.name, m.model_name, " ".join(f"{k}={v}" for k, v in m.overrides.items()), m.description)
    console.print(methods)
    for domain in sorted({task_domain(t) for t in tasks}):
        console.print(f"[bold]{domain} tasks:[/] " + " ".join(t for t in tasks if task_domain(t) == domain))


def _per_domain(key: str, text: str) -> str:
    return text if key == "*" else f"{key}: {text}"
