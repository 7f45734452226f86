"""The report's curve figures: training curves per task (`draw_curves`, a log axis where `wants_log_axis`) and
sample efficiency (`draw_efficiency`), laid out and saved as analysis.figures does every figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from analysis.figures import (
    LEGEND_ROW,
    PAGE,
    Table,
    band_panel,
    compact_ticks,
    legend_below,
    legend_columns,
    legend_rows,
    legend_width,
    pyplot,
)
from analysis.summary_file import EfficiencyCurve


def _clamp(ax: Any, means: list[np.ndarray], log: bool = False) -> None:
    """Keep the means in view: bands of bins with few runs (Student t with 1-2 degrees of freedom is wide) may
    extend past the panel by at most half the means' range (on a log axis, half their range of decades); the CSV
    has them whole."""
    values = np.concatenate(means)
    scale, unscale = (np.log10, lambda v: 10.0**v) if log else (lambda v: v, lambda v: v)
    low, high = float(scale(np.nanmin(values))), float(scale(np.nanmax(values)))
    span = high - low or max(abs(high), 1.0)
    bottom, top = (float(scale(limit)) for limit in ax.get_ylim())
    ax.set_ylim(unscale(max(bottom, low - span / 2)), unscale(min(top, high + span / 2)))


LOG_RANGE = 30.0  # a curve whose positive means span more than this factor is drawn on a log axis


def wants_log_axis(data: dict[str, dict[str, dict[str, np.ndarray]]]) -> bool:
    """Whether curves (draw_curves' `data`) are better read on a log axis: every mean positive and spanning more
    than LOG_RANGE, as a loss does that falls from its first updates (a linear axis shows only that fall)."""
    means = np.concatenate([np.asarray(c["mean"], float) for per in data.values() for c in per.values()])
    means = means[np.isfinite(means)]
    return bool(means.size) and bool(np.all(means > 0)) and float(means.max() / means.min()) > LOG_RANGE


CURVE_COLUMNS = 6  # panels in a row of a curves figure (PAGE wide)
CURVE_HEIGHT = 1.25  # inches per row of curve panels, their titles and tick labels included
LONE_HEIGHT = 2.2  # inches: a lone curve panel (one task), its title and tick labels included


def draw_curves(
    data: dict[str, dict[str, dict[str, np.ndarray]]],
    xlabel: str,
    ylabel: str,
    palette: dict[str, Any],
    titles: dict[str, str],
    ranges: dict[str, tuple[float, float]] | None = None,
    log: bool = False,
) -> tuple[Any, Table]:
    """data {task: {method: {x, mean, low, high, runs}}}: a panel per task, mean over runs and 95% band; a band is
    drawn inside the task's possible scores where `ranges` {task: (low, high)} gives them (the CSV keeps it whole).
    `log`: a log y axis (wants_log_axis), on which a band stops at a tenth of the smallest mean. The legend below,
    in the palette's order; PAGE wide, a lone panel COLUMN wide where its legend fits there."""
    plt = pyplot()
    tasks = list(data)
    cols = min(CURVE_COLUMNS, len(tasks))
    nrows = -(-len(tasks) // cols)
    methods = [m for m in palette if any(m in per_task for per_task in data.values())]
    width = PAGE if cols > 1 else legend_width(methods)
    ncol = legend_columns(methods, width)
    legend_inches = LEGEND_ROW * legend_rows(methods, width) + 0.05
    panels = CURVE_HEIGHT * nrows if cols > 1 else LONE_HEIGHT
    height = panels + legend_inches + 0.35
    # fixed margins in inches: tight_layout would render every panel's ticks once more
    fig, axes = plt.subplots(nrows, cols, figsize=(width, height), squeeze=False, sharex=True)
    rows: list[list[Any]] = []
    for ax, task in zip(axes.flat, tasks, strict=False):
        rows += _task_curves(ax, task, data[task], palette, (ranges or {}).get(task, (-np.inf, np.inf)), log)
        if log:
            ax.set_yscale("log")
        else:  # a log axis places its own ticks at the decades
            ax.locator_params(nbins=4)  # a third of the ticks to lay out and render, in 26 panels
            compact_ticks(plt, ax.yaxis)
        _clamp(ax, [c["mean"] for c in data[task].values()], log)
        ax.set_title(titles.get(task, task))
        ax.xaxis.set_tick_params(labelbottom=True)  # sharex hides them above the last row
    compact_ticks(plt, axes[0][0].xaxis)  # shared by every panel
    axes[0][0].locator_params(axis="x", nbins=3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.set_axis_off()
    handles = [plt.Line2D([], [], **palette[m]) for m in methods]
    fig.legend(handles, methods, loc="lower center", ncol=ncol)
    fig.supxlabel(xlabel, y=(legend_inches + 0.03) / height, va="bottom")
    top, bottom = 1 - 0.2 / height, (legend_inches + 0.4) / height
    fig.supylabel(ylabel + (" (log scale)" if log else ""), x=0.05 / width, y=(top + bottom) / 2, ha="left")
    fig.subplots_adjust(
        left=0.6 / width,
        right=1 - 0.1 / width,
        top=top,
        bottom=bottom,
        wspace=0.55 if cols > 1 else 0.2,
        hspace=0.6,
    )
    return fig, (["task", "method", xlabel.split(" (")[0].replace(" ", "_"), "mean", "ci_low", "ci_high", "runs"], rows)


def _task_curves(
    ax: Any,
    task: str,
    curves: dict[str, dict[str, np.ndarray]],
    palette: dict[str, Any],
    limits: tuple[float, float],
    log: bool,
) -> list[list[Any]]:
    """One task's curves on `ax`, each mean and its band inside `limits` (log: above a tenth of the least mean)."""
    rows: list[list[Any]] = []
    for method, c in curves.items():
        ax.plot(c["x"], c["mean"], linewidth=1.0, **palette[method])
        bottom, top = limits
        if log:
            bottom = max(bottom, float(np.nanmin(c["mean"])) / 10)
        ax.fill_between(
            c["x"],
            np.clip(c["low"], bottom, top),
            np.clip(c["high"], bottom, top),
            color=palette[method]["color"],
            alpha=0.15,
            linewidth=0,
        )
        rows += [
            [task, method, float(x), float(m), float(lo), float(hi), int(n)]
            for x, m, lo, hi, n in zip(c["x"], c["mean"], c["low"], c["high"], c["runs"], strict=True)
        ]
    return rows


def draw_efficiency(data: Mapping[str, EfficiencyCurve], palette: dict[str, Any]) -> tuple[Any, Table]:
    """data {method: EfficiencyCurve} (analysis.efficiency): IQM of normalised training scores against
    env frames with 95% stratified bootstrap bands, rliable's sample-efficiency curve; the legend below."""
    plt = pyplot()
    methods = list(data)
    fig, ax, width = band_panel(methods)
    rows: list[list[Any]] = []
    handles = []
    for method, c in data.items():
        handles += ax.plot(c.frames, c.value, marker="o", markersize=2.5, linewidth=1.2, **palette[method])
        ax.fill_between(c.frames, c.low, c.high, color=palette[method]["color"], alpha=0.2, linewidth=0)
        rows += [[method, *values] for values in zip(c.frames, c.value, c.low, c.high, strict=True)]
    compact_ticks(plt, ax.xaxis)
    ax.locator_params(axis="x", nbins=5)
    ax.set(xlabel="env frames", ylabel="IQM normalised score", title="sample efficiency (IQM, 95% bands)")
    legend_below(fig, handles, methods, width)
    return fig, (["method", "frames", "iqm", "ci_low", "ci_high"], rows)
