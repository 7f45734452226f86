"""The report's per-game figure (`draw_games`): a strip per game, each run a dot on its method's row and a tick at
their mean, on a symlog axis of normalised score (linear where every score is within [0, 1]).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.figures import ROW, Table, label_inches, pyplot, width_for

GAME_PANEL = 0.95  # inches: the narrowest panel of the games figure
GAME_TICKS = (-5.0, -1.0, 0.0, 1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0)  # on the symlog axis, in reach of the eye
BOUNDED_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)  # where every score is within [0, 1] (DMC), the axis is linear


def draw_games(
    games: dict[str, dict[str, dict[str, list[float]]]], palette: dict[str, Any], titles: dict[str, str]
) -> tuple[Any, Table]:
    """games {task: {method: {"raw": final scores of its runs, "normalized": the same normalised}}}: a panel per
    game with a labelled row per method (the palette's order), every run as a dot in the method's colour and a
    black tick at its mean, on a normalised axis shared by every game (symlog: linear in [-1, 1]), so our runs
    read against each baseline's spread (a strip plot). Fixed margins: tight_layout would lay out every panel's
    text once more."""
    plt = pyplot()
    tasks = list(games)
    methods = [m for m in palette if any(m in per_task for per_task in games.values())]
    labels = label_inches(methods)
    width = width_for(labels + GAME_PANEL * len(tasks))
    cols = max(1, min(len(tasks), int((width - labels) // GAME_PANEL)))
    nrows = -(-len(tasks) // cols)
    panel, gap = ROW * len(methods) + 0.1, 0.5  # inches: a panel, and its title and tick labels
    top, bottom = 0.25, 0.65  # inches: the first titles; the last tick labels and the two-line axis label
    height = top + nrows * panel + (nrows - 1) * gap + bottom
    fig, axes = plt.subplots(nrows, cols, figsize=(width, height), sharex=True, squeeze=False)
    jitter = np.random.default_rng(0)
    rows: list[list[Any]] = []
    for i, (ax, task) in enumerate(zip(axes.flat, tasks, strict=False)):
        rows += _game_strip(ax, task, games[task], methods, palette, jitter)
        for j in range(1, len(methods), 2):
            ax.axhspan(j - 0.5, j + 0.5, color="0.93", zorder=0, linewidth=0)
        for x in (0.0, 1.0):
            ax.axvline(x, color="gray", linestyle="--", linewidth=0.6, zorder=0)
        ax.grid(axis="y", visible=False)
        ax.set_yticks(range(len(methods)), methods if i % cols == 0 else [""] * len(methods))
        ax.set_ylim(len(methods) - 0.5, -0.5)
        ax.set_title(titles.get(task, task))
        ax.xaxis.set_tick_params(labelbottom=True)  # sharex hides them above the last row
    first = axes[0][0]
    first.set_xscale("symlog", linthresh=1.0)
    bounded = all(0 <= v <= 1 for per_task in games.values() for runs in per_task.values() for v in runs["normalized"])
    ticks = BOUNDED_TICKS if bounded else GAME_TICKS
    first.xaxis.set_major_locator(plt.FixedLocator(ticks))  # set_xticks would widen the view to them all
    first.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:g}"))
    first.minorticks_off()
    for ax in list(axes.flat)[len(tasks) :]:
        ax.set_axis_off()
    fig.supxlabel(
        "normalised final score of each run\n(tick: their mean; dashed: 0 and 1"
        + ("" if bounded else "; log beyond 1")
        + ")",
        y=0.05 / height,
        va="bottom",
    )
    fig.subplots_adjust(
        left=labels / width,
        right=1 - 0.12 / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=0.12,
        hspace=gap / panel,
    )
    return fig, (["task", "method", "run", "score", "normalized"], rows)


def _game_strip(
    ax: Any,
    task: str,
    runs_of: dict[str, dict[str, list[float]]],
    methods: list[str],
    palette: dict[str, Any],
    jitter: np.random.Generator,
) -> list[list[Any]]:
    """One game's strip on `ax`: each run a jittered dot on its method's row, a black tick at their mean."""
    xs, ys, dots, means = [], [], [], []
    rows: list[list[Any]] = []
    for j, method in enumerate(methods):
        runs = runs_of.get(method)
        if not runs or not runs["normalized"]:
            continue
        values = np.asarray(runs["normalized"], dtype=float)
        xs.append(values)
        ys.append(j + jitter.uniform(-0.25, 0.25, len(values)))
        dots += [palette[method]["color"]] * len(values)
        means.append((j, values.mean()))
        rows += [
            [task, method, run, float(raw), float(norm)]
            for run, (raw, norm) in enumerate(zip(runs["raw"], values, strict=True), start=1)
        ]
    if xs:
        ax.scatter(np.concatenate(xs), np.concatenate(ys), s=5, c=dots, alpha=0.7, linewidths=0)
        centres, values = np.array(means).T
        ax.vlines(values, centres - 0.35, centres + 0.35, color="black", linewidth=0.9)
    return rows
