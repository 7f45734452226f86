"""The report's figures. Each `draw_*` returns the matplotlib Figure and the table of exactly what it plots;
`save` writes them as NAME.png, NAME.pdf and NAME.csv with fixed metadata, so the same data gives the same bytes.
matplotlib is imported only when a figure is drawn. Here: the shared layout (sizes, colours, legends, ticks, `save`)
and the aggregates, profiles and improvement figures; the curves in figures_curves.py, the games in figures_games.py.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from analysis.summary_file import Interval

Table = tuple[list[str], list[list[Any]]]  # CSV header and rows


COLUMN = 3.25  # inches: a figure one column of a two-column paper wide
PAGE = 6.75  # inches: a figure across both columns (the text width)
LEGEND_ROWS = 4  # a legend below a one-column figure with more rows than this widens it to PAGE
LEGEND_ROW = 0.15  # inches per row of a legend (7 pt text)
LEGEND_CHAR = 0.06  # inches per character of a 7 pt label, about
LEGEND_HANDLE = 0.5  # inches of a legend entry besides its label: the line, the gaps


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "font.size": 8,
            "axes.titlesize": 8,
            "axes.labelsize": 8,
            "figure.labelsize": 8,
            "xtick.labelsize": 7,
            "ytick.labelsize": 7,
            "legend.fontsize": 7,
            "legend.frameon": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.formatter.useoffset": False,  # a tick label is its value, never read against a "+1e5" aside
            "pdf.fonttype": 42,  # TrueType in the PDF: publishers refuse Type 3 fonts
        }
    )
    return plt


TAB10 = 10  # glasbey_category10 begins with matplotlib's tab10
LUMINANCE = (0.05, 0.42)  # relative luminance of the further colours: seen on white, told from black ticks


def _luminance(rgb: list[float]) -> float:
    """WCAG relative luminance of an sRGB colour (components in [0, 1])."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def hues() -> list[str]:
    """The report's colours in order: colorcet's glasbey_category10 (tab10, then each colour as far as can be from
    all before it), less the further colours too light to see or too dark to tell from black (LUMINANCE)."""
    import colorcet
    from matplotlib.colors import to_hex

    low, high = LUMINANCE
    palette = colorcet.glasbey_category10
    return [to_hex(c) for i, c in enumerate(palette) if i < TAB10 or low <= _luminance(c) <= high]


def colors(methods: list[str]) -> dict[str, dict[str, Any]]:
    """How each method is drawn, the same in every figure of a report: {method: {"color"}}, one colour per method
    by its position in `methods` (the report's method order), so every figure agrees."""
    palette = hues()
    return {m: {"color": palette[i % len(palette)]} for i, m in enumerate(methods)}


def width_for(inches: float) -> float:
    """The figure width for content `inches` wide: one column (COLUMN) if it fits, else both (PAGE)."""
    return COLUMN if inches <= COLUMN else PAGE


def legend_columns(labels: list[str], width: float) -> int:
    """How many entries a row of a legend `width` inches wide holds."""
    entry = LEGEND_HANDLE + LEGEND_CHAR * max(map(len, labels))
    return max(1, min(len(labels), int(width // entry)))


def legend_rows(labels: list[str], width: float) -> int:
    """How many rows a legend `width` inches wide takes."""
    return -(-len(labels) // legend_columns(labels, width))


def legend_width(labels: list[str]) -> float:
    """COLUMN if a legend of `labels` below the figure takes at most LEGEND_ROWS rows there, else PAGE."""
    return COLUMN if legend_rows(labels, COLUMN) <= LEGEND_ROWS else PAGE


def band_panel(methods: list[str]) -> tuple[Any, Any, float]:
    """One panel of curves with bands for `methods` and room for their legend below: figure, axes, width."""
    width = legend_width(methods)
    fig, ax = pyplot().subplots(figsize=(width, 2.6 + LEGEND_ROW * legend_rows(methods, width)), layout="constrained")
    return fig, ax, width


def legend_below(fig: Any, handles: list[Any], labels: list[str], width: float) -> None:
    """The legend under the axes, outside the data (a constrained-layout figure makes room for it)."""
    fig.legend(handles, labels, loc="outside lower center", ncols=legend_columns(labels, width))


def compact(axis: Any, value: float, _: Any = None) -> str:
    """A tick label without offset or exponent: thousands as k and millions as M where the axis reaches 10,000
    (400k env frames), else the number (1000 for a DMC return)."""
    top = max(abs(v) for v in axis.get_view_interval())
    scale, suffix = (1e6, "M") if top >= 1e7 else (1e3, "k") if top >= 1e4 else (1.0, "")
    return f"{value / scale:g}{suffix}" if value else "0"


def compact_ticks(plt: Any, axis: Any) -> None:
    """Label `axis` (ax.xaxis or ax.yaxis) with `compact`."""
    axis.set_major_formatter(plt.FuncFormatter(partial(compact, axis)))


def save(fig: Any, table: Table, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf", out / f"{name}.csv"]
    fig.savefig(paths[0], metadata={"Software": None})
    fig.savefig(paths[1], metadata={"CreationDate": None, "Producer": None})
    pyplot().close(fig)
    with open(paths[2], "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(table[0])
        writer.writerows([[f"{v:.6g}" if isinstance(v, float) else v for v in row] for row in table[1]])
    return paths


AGGREGATE_PANEL = 1.1  # inches: the narrowest panel of the aggregates figure
ROW = 0.16  # inches per labelled row (a method) of the aggregates and games figures, 7 pt labels


def label_inches(labels: list[str]) -> float:
    """The width of a column of 7 pt tick labels, about."""
    return LEGEND_CHAR * max(map(len, labels)) + 0.1


def draw_aggregates(
    results: Mapping[str, Mapping[str, Interval]], published: Mapping[str, Mapping[str, float]], palette: dict[str, Any]
) -> tuple[Any, Table]:
    """results {method: {metric: Interval}}: one panel per metric, a bar per method over its 95% CI
    and a tick at the point estimate (rliable's interval-estimate plot); published values as hollow diamonds."""
    plt = pyplot()
    metrics = list(next(iter(results.values())))
    rows_ = list(results) + [p for p in published if any(k in published[p] for k in metrics)]
    width = width_for(label_inches(rows_) + AGGREGATE_PANEL * len(metrics))
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(width, ROW * len(rows_) + 0.7), squeeze=False, layout="constrained"
    )
    rows: list[list[Any]] = []
    for ax, metric in zip(axes[0], metrics, strict=True):
        for y, method in enumerate(rows_):
            if method in results:
                r = results[method][metric]
                color = palette[method]["color"]
                ax.barh(y, r.high - r.low, left=r.low, height=0.6, color=color, alpha=0.75)
                ax.plot([r.value] * 2, [y - 0.3, y + 0.3], color="black", linewidth=1.2)
                ax.plot([r.value], [y], "o", color=color, markersize=4, zorder=1)  # seen if no width
                rows.append([method, metric, r.value, r.low, r.high])
            elif metric in published[method]:
                ax.plot(published[method][metric], y, marker="D", markersize=4, markerfacecolor="none", color="black")
                rows.append([f"{method} (published)", metric, published[method][metric], "", ""])
        ax.use_sticky_edges = False  # bars would pin the axis to the outermost interval and hide a point there
        ax.margins(x=0.08)
        ax.locator_params(axis="x", nbins=3, steps=[1, 2.5, 5, 10])  # labels apart in a narrow panel
        ax.grid(axis="y", visible=False)
        ax.set_yticks(range(len(rows_)), rows_ if ax is axes[0][0] else [""] * len(rows_))
        ax.set_ylim(len(rows_) - 0.4, -0.6)
        ax.set_title(metric)
    fig.supxlabel("normalised score" + ("; Superhuman: number of games" if "Superhuman" in metrics else ""))
    return fig, (["method", "metric", "value", "ci_low", "ci_high"], rows)


PROFILE_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
PROFILE_STEP = 0.1  # of the largest tau: a profile's axis starts and ends on a multiple of it


def profile_range(taus: np.ndarray, profiles: dict[str, dict[str, np.ndarray]]) -> tuple[float, float]:
    """The taus over which some profile moves, widened to multiples of PROFILE_STEP of the largest: left of it every
    profile and band is 1, right of it 0. A bounded score's profiles (DMC) may all fall in a tenth of the axis."""
    low = np.nanmin([p["low"] for p in profiles.values()], axis=0)
    high = np.nanmax([p["high"] for p in profiles.values()], axis=0)
    below, above = np.flatnonzero(low < 1), np.flatnonzero(high > 0)
    first = max(int(below[0]) - 1, 0) if below.size else 0
    last = min(int(above[-1]) + 1, len(taus) - 1) if above.size else len(taus) - 1
    step = float(taus[-1]) * PROFILE_STEP
    start = round(math.floor(round(float(taus[first]) / step, 9)) * step, 9)
    end = round(math.ceil(round(float(taus[last]) / step, 9)) * step, 9)
    return max(float(taus[0]), start), min(float(taus[-1]), end)


def _profile_scale(ax: Any, taus: np.ndarray, profiles: dict[str, dict[str, np.ndarray]]) -> None:
    """The x axis over profile_range. Scores past 2 (human-normalised Atari, taus to 8) on a log scale beyond 1 and
    linear below it: the profiles fall mostly within [0, 2], a quarter of a linear axis to 8."""
    start, end = profile_range(taus, profiles)
    ax.set_xlim(start, end)
    if end > 2:
        ax.set_xscale("symlog", linthresh=1.0, linscale=1.5)
        ticks = [t for t in PROFILE_TICKS if start <= t <= end]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()


def draw_profiles(
    taus: np.ndarray, profiles: dict[str, dict[str, np.ndarray]], palette: dict[str, Any], kind: str = "runs"
) -> tuple[Any, Table]:
    """Performance profiles: fraction of runs (kind "runs") or of tasks by their mean over runs ("average") with
    normalised score > tau, with pointwise 95% bands; the legend below."""
    methods = list(profiles)
    fig, ax, width = band_panel(methods)
    rows: list[list[Any]] = []
    handles = []
    for method, p in profiles.items():
        handles += ax.plot(taus, p["value"], linewidth=1.2, **palette[method])
        ax.fill_between(taus, p["low"], p["high"], color=palette[method]["color"], alpha=0.2, linewidth=0)
        rows += [
            [method, float(t), float(v), float(lo), float(hi)]
            for t, v, lo, hi in zip(taus, p["value"], p["low"], p["high"], strict=True)
        ]
    _profile_scale(ax, taus, profiles)
    ax.set(
        xlabel=r"normalised score $\tau$" + (" (log scale past 1)" if ax.get_xscale() == "symlog" else ""),
        ylabel=r"fraction of runs with score $> \tau$" if kind == "runs" else r"fraction of tasks with mean $> \tau$",
        title="performance profiles (95% bands)" if kind == "runs" else "average-score profiles (95% bands)",
        ylim=(0, 1.02),
    )
    legend_below(fig, handles, methods, width)
    return fig, (["method", "tau", "fraction", "ci_low", "ci_high"], rows)


MATRIX_FROM = 21  # tested pairs from which the improvement figure is a matrix (X rows, Y columns), not a row each
VERDICT_MARK = {"better": "▲", "worse": "▼", "level": "=", "inconclusive": ""}


def draw_improvement(pairs: Mapping[str, tuple[Interval, str]]) -> tuple[Any, Table]:
    """P(X > Y) with 95% CIs of the tested pairs ({"X vs Y": (P(X > Y), verdict)}): a row per pair with its
    verdict at the right, or, from MATRIX_FROM pairs on, a matrix of P(X > Y) marked by verdict."""
    rows = [[name, r.value, r.low, r.high, verdict] for name, (r, verdict) in pairs.items()]
    table = (["pair", "probability", "ci_low", "ci_high", "verdict"], rows)
    fig = _improvement_matrix(pairs) if len(pairs) >= MATRIX_FROM else _improvement_rows(pairs)
    return fig, table


def _improvement_rows(pairs: Mapping[str, tuple[Interval, str]]) -> Any:
    plt = pyplot()
    names = list(pairs)
    fig, ax = plt.subplots(figsize=(PAGE, 2 * ROW * len(names) + 0.9))
    for y, name in enumerate(names):
        r, verdict = pairs[name]
        ax.barh(y, r.high - r.low, left=r.low, height=0.6, color="tab:blue", alpha=0.6)
        ax.plot([r.value] * 2, [y - 0.3, y + 0.3], color="black", linewidth=1.5)
        if r.high - r.low < 0.01:  # an interval too narrow to see (every resample agrees): a dot
            ax.plot([r.value], [y], "o", color="tab:blue", markersize=4)
        ax.text(1.06, y, verdict, va="center", ha="left", fontsize=7)
    ax.axvline(0.5, color="gray", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(names)), [n.replace(" vs ", " > ") for n in names])
    ax.invert_yaxis()
    ax.set_xlim(-0.04, 1.3)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax.spines["bottom"].set_bounds(0, 1)
    ax.set_xlabel("P(X > Y) [95% CI]; the verdict of the calibrated test at the right")
    fig.tight_layout()
    return fig


def _improvement_matrix(pairs: Mapping[str, tuple[Interval, str]]) -> Any:
    plt = pyplot()
    split = [name.split(" vs ") for name in pairs]
    xs = list(dict.fromkeys(x for x, _ in split))
    ys = list(dict.fromkeys(y for _, y in split))
    values = np.full((len(xs), len(ys)), np.nan)
    fig, ax = plt.subplots(figsize=(PAGE, min(9.0, ROW * 1.6 * len(xs) + 1.6)))
    for (x, y), (r, verdict) in zip(split, pairs.values(), strict=True):
        i, j = xs.index(x), ys.index(y)
        values[i, j] = r.value
        ax.text(j, i, f"{r.value:.2f}{VERDICT_MARK.get(verdict, '')}", ha="center", va="center", fontsize=5.5)
    image = ax.imshow(values, cmap="coolwarm", vmin=0, vmax=1, aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(len(ys)), ys, rotation=60, ha="right")
    ax.set_yticks(range(len(xs)), xs)
    ax.set_xlabel("Y")
    ax.set_ylabel("X")
    ax.set_title("P(X > Y) of the tested pairs; ▲ better, ▼ worse, = level by the calibrated test, else inconclusive")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="P(X > Y)")
    fig.tight_layout()
    return fig
