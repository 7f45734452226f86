"""The report's numbers as text, shared by report.md (analysis/markdown.py), the LaTeX table (analysis/latex.py) and
the terminal: scores and aggregates formatted, methods ranked and labelled, a method's tasks and runs per task; and
the terminal's table. Pure formatting."""

from __future__ import annotations

import math
from typing import Any

from analysis import ladder
from analysis.store import display_name
from analysis.summary_file import Interval, MethodSummary, Summary

AGGREGATE_ORDER = ("Median", "IQM", "Mean", "Optimality Gap", "Superhuman")


def fmt(value: float | None) -> str:
    """A raw score: one decimal from 10 up, two below; '–' for none."""
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def fmt_aggregate(name: str, value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    text = f"{value:.0f}" if name == "Superhuman" else f"{value:.3f}"
    return text.removeprefix("-") if float(text) == 0 else text


def with_interval(name: str, a: Interval) -> str:
    return f"{fmt_aggregate(name, a.value)} [{fmt_aggregate(name, a.low)}, {fmt_aggregate(name, a.high)}]"


def aggregate_names(summary: Summary) -> list[str]:
    present = {k for m in summary.methods.values() for k in m.aggregates}
    return [k for k in AGGREGATE_ORDER if k in present]


def ranked(summary: Summary) -> list[str]:
    """Every method, best first by IQM (the leaderboard's order; rliable's recommended aggregate)."""
    iqm = {name: m.aggregates.get("IQM") for name, m in summary.methods.items()}
    return sorted(iqm, key=lambda n: -(0.0 if iqm[n] is None else iqm[n].value))


def label(name: str, method: MethodSummary) -> str:
    """A method's name, marked when it is a shipped baseline or an imported file."""
    return name + (" (baseline)" if method.baseline else " (imported)" if method.imported else "")


def task_subset(summary: Summary, name: str) -> str:
    """What it means that a method has scores on fewer of the report's tasks than the rest ('' when it has all)."""
    own, every = summary.methods[name].tasks, summary.tasks
    if own == every:
        return ""
    missing = ", ".join(display_name(t) for t in every if t not in own)
    return (
        f"scored on {len(own)} of {len(every)} tasks (without {missing}): its aggregates are over these, "
        "and P(X > Y) with it over the tasks both have"
    )


def tasks_mark(summary: Summary, name: str) -> str:
    """' [25/26 tasks]' beside a method scored on fewer of the report's tasks, in every table; '' otherwise."""
    own, every = summary.methods[name].tasks, summary.tasks
    return "" if own == every else f" [{len(own)}/{len(every)} tasks]"


def runs_per_task(method: MethodSummary) -> str:
    """'5', or '3-5' where some tasks have fewer runs with a score."""
    low, high = method.runs_per_task, method.runs_per_task_max
    return f"{low}" if low == high else f"{low}-{high}"


def terminal(summary: Summary) -> Any:
    """A rich Table of the aggregates, value over its interval, and the probability of improvement below."""
    from rich.table import Table

    names = aggregate_names(summary)
    short = {"Optimality Gap": "OG", "Superhuman": "#>human"}
    stats_ = summary.statistics
    table = Table(
        title=f"{summary.suite}: {len(summary.tasks)} tasks, 95% CIs "
        f"({stats_.reps} bootstrap replicates, seed {stats_.seed})"
    )
    table.add_column("method", overflow="fold")
    table.add_column("runs", justify="right")
    for name in names:  # on a narrow terminal a cell wraps onto more lines; it is never cut short with "…"
        table.add_column(short.get(name, name), justify="right", overflow="fold")

    def cell(name: str, a: Interval) -> str:
        return f"{fmt_aggregate(name, a.value)}\n[{fmt_aggregate(name, a.low)}, {fmt_aggregate(name, a.high)}]"

    for name in ranked(summary):
        m = summary.methods[name]
        table.add_row(
            label(name, m) + tasks_mark(summary, name),
            runs_per_task(m),
            *[cell(k, m.aggregates[k]) for k in names],
            end_section=True,
        )
    for name, p in summary.published.items():
        if p.aggregates:
            table.add_row(f"{name} (published)", "–", *[fmt_aggregate(k, p.aggregates.get(k)) for k in names])
    for pair, t in summary.tests.pairs.items():
        p = ladder.probability(summary.improvement, t.x, t.y)
        shown = cell("P", p) if p else f"{t.improvement:.3f}"
        label_ = f"P({pair.replace(' vs ', ' > ')}): {t.verdict}"
        table.add_row(label_, "", shown, *[""] * (len(names) - 1))
    return table
