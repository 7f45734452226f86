"""A report's outputs, written whole or not at all: its figures (PNG, PDF and the CSV of what each plots),
summary.json, report.md and the LaTeX table, from the numbers analysis.report computed.

Every file goes into a staging folder and is then moved into the output folder (analysis.outdir), which lists them
in its .hieros-report.json: a re-run replaces or removes only the files listed there, so whatever else is in the
folder (reports of other suites, a user's notes) stays; a failure, a full disk or Ctrl-C on the way leaves the
previous report as it was, and a disk error names the folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from analysis import figures, figures_curves, figures_games, ladder, latex, markdown, outdir, parallel, render, sampler
from analysis.report import Options, Report
from analysis.store import display_name, normalize, score_range
from analysis.summary_file import SUMMARY_FILE, Summary
from hieros import rundir


def metric_file_name(metric: str) -> str:
    """The figure name of a --metric: metric_<name>, with what a file name cannot hold as '_' (the agent's metrics
    are named per level, `level_0/model_loss`: metric_level_0_model_loss)."""
    return "metric_" + re.sub(r"[^A-Za-z0-9_.-]", "_", metric)


def figure_makers(report: Report, options: Options) -> dict[str, Callable[[], tuple[Any, figures.Table]]]:
    """{name: draw()} of every figure of the report, in the order report.md shows them; each draw() returns the
    figure and its table."""
    summary = report.summary
    # a method scored on fewer of the report's tasks carries its mark ("[25/26 tasks]") in the legends too
    label = {n: n + render.tasks_mark(summary, n) for n in summary.methods}
    palette = {label[n]: style for n, style in figures.colors(list(summary.methods)).items()}
    titles = {t: display_name(t) for t in summary.tasks}
    published = {n: p.aggregates for n, p in summary.published.items()}
    # one task: Median, IQM and Mean are the same number, so one panel (with the optimality gap) says it
    shown = ("Mean", "Optimality Gap") if len(summary.tasks) == 1 else None
    leaderboard = {
        label[n]: {k: v for k, v in summary.methods[n].aggregates.items() if shown is None or k in shown}
        for n in render.ranked(summary)
    }
    profiles = {label[n]: p for n, p in report.profiles["methods"].items()}
    efficiency = {label[n]: curve for n, curve in summary.efficiency.items()}
    games = _games(summary, label)
    makers: dict[str, Callable[[], tuple[Any, figures.Table]]] = {
        "aggregates": lambda: figures.draw_aggregates(leaderboard, published, palette),
        "profiles": lambda: figures.draw_profiles(report.profiles["taus"], profiles, palette, report.profiles["kind"]),
    }
    tested = {
        key: (found, t.verdict)
        for key, t in summary.tests.pairs.items()
        if (found := ladder.probability(summary.improvement, t.x, t.y)) is not None
    }
    if tested:
        makers["improvement"] = lambda: figures.draw_improvement(tested)
    if summary.ladder is not None:
        floor = summary.methods.get(ladder.FLOOR)
        floor_score = floor.aggregates[summary.ladder.metric] if floor else None
        makers["ladder"] = partial(ladder.draw, summary.ladder.rungs, summary.ladder.metric, floor_score)
    if efficiency:
        makers["efficiency"] = lambda: figures_curves.draw_efficiency(efficiency, palette)
    makers["games"] = lambda: figures_games.draw_games(games, palette, titles)
    for curve, data in report.curves.items():
        if curve == "score":
            ranges = {t: score_range(t) for t in summary.tasks}
            makers["curves"] = partial(
                figures_curves.draw_curves, data, "env frames", "episode score", palette, titles, ranges
            )
        else:
            makers[metric_file_name(curve)] = partial(
                figures_curves.draw_curves,
                data,
                "env steps",
                curve,
                palette,
                titles,
                log=figures_curves.wants_log_axis(data),
            )
    if options.sampler and "human" in summary.normalization.values():  # the atari100k preset's replay

        def sampler_figure() -> tuple[Any, figures.Table]:
            setup = sampler.preset_setup(seed=options.seed, capacity=sampler.preset_capacity())
            return sampler.draw(sampler.run(setup), setup)

        makers["sampler"] = sampler_figure
    return makers


def _games(summary: Summary, label: dict[str, str]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """The games figure's data: {task: {method's label: {"raw": its runs' final scores, "normalized": the same}}}."""
    runs = {t: {label[n]: m.games[t].scores for n, m in summary.methods.items() if t in m.games} for t in summary.tasks}
    return {
        t: {n: {"raw": raw, "normalized": list(normalize(t, np.array(raw)))} for n, raw in per.items()}
        for t, per in runs.items()
    }


def write(report: Report, options: Options) -> list[Path]:
    """Every output file of the report, whole or not at all, into `options.out` (analysis.outdir.write_folder:
    of the files already there, only an earlier report's are replaced or removed). Returns the paths."""
    return outdir.write_folder(
        options.out, lambda folder: _write_files(report, replace(options, out=folder)), drop_earlier=True
    )


def _write_files(report: Report, options: Options) -> list[str]:
    out = options.out
    makers = figure_makers(report, options)
    names = list(makers)

    def save(i: int) -> list[Path]:
        return figures.save(*makers[names[i]](), out, names[i])

    longest_first = sorted(range(len(names)), key=lambda i: names[i] not in ("curves", "games"))
    paths = [path for saved in parallel.run(save, len(names), options.workers, longest_first) for path in saved]
    texts = {
        SUMMARY_FILE: report.summary.text(),
        "report.md": markdown.report_md(report.summary, names),
        f"table_{report.summary.suite}.tex": latex.table(report.summary),
    }
    for file, text in texts.items():
        rundir.atomic_write_bytes(out / file, text.encode())
        paths.append(out / file)
    return [path.name for path in paths]
