"""The report's figures. Each `draw_*` returns the matplotlib Figure and the table of exactly what it plots;
`save` writes them as NAME.png, NAME.pdf and NAME.csv with fixed metadata, so the same data gives the same bytes.
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

Table = tuple[list[str], list[list[Any]]]  # CSV header and rows


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 120,
            "font.size": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt


LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D")  # the dots of the games figure, one shape per line style


def colors(methods: list[str]) -> dict[str, dict[str, Any]]:
    """How each method is drawn, the same in every figure: {method: {"color", "linestyle"}}. Colours are seaborn's
    colour-blind palette (10 hues); from the 11th method on they repeat with dashed lines (then dotted), so that
    every line stays told apart by hue or by dash (tab20's light/dark pairs and evenly spaced hues both read as
    one colour at 15 methods). Bars take the colour; their rows are labelled."""
    import seaborn

    hues = seaborn.color_palette("colorblind", 10)
    return {
        m: {"color": tuple(hues[i % 10]), "linestyle": LINE_STYLES[(i // 10) % len(LINE_STYLES)]}
        for i, m in enumerate(methods)
    }


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


def draw_aggregates(
    results: dict[str, dict[str, dict[str, float]]], published: dict[str, dict[str, float]], palette: dict[str, Any]
) -> tuple[Any, Table]:
    """results {method: {metric: {value, low, high}}}: one panel per metric, a bar per method over its 95% CI
    and a tick at the point estimate (rliable's interval-estimate plot); published values as hollow diamonds."""
    plt = pyplot()
    metrics = list(next(iter(results.values())))
    rows_ = list(results) + [p for p in published if any(k in published[p] for k in metrics)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 0.42 * len(rows_) + 1.3), squeeze=False)
    rows: list[list[Any]] = []
    for ax, metric in zip(axes[0], metrics, strict=True):
        for y, method in enumerate(rows_):
            if method in results:
                r = results[method][metric]
                color = palette[method]["color"]
                ax.barh(y, r["high"] - r["low"], left=r["low"], height=0.6, color=color, alpha=0.75)
                ax.plot([r["value"]] * 2, [y - 0.3, y + 0.3], color="black", linewidth=1.5)
                ax.plot([r["value"]], [y], "o", color=color, markersize=5, zorder=1)  # seen if no width
                rows.append([method, metric, r["value"], r["low"], r["high"]])
            elif metric in published[method]:
                ax.plot(published[method][metric], y, marker="D", markerfacecolor="none", color="black")
                rows.append([f"{method} (published)", metric, published[method][metric], "", ""])
        ax.use_sticky_edges = False  # bars would pin the axis to the outermost interval and hide a point there
        ax.margins(x=0.05)
        ax.set_yticks(range(len(rows_)), rows_ if ax is axes[0][0] else [""] * len(rows_))
        ax.set_ylim(-0.6, len(rows_) - 0.4)
        ax.invert_yaxis()
        ax.set_title(metric)
        ax.set_xlabel("number of games" if metric == "Superhuman" else "normalised score")
    axes[0][0].set_ylabel("method")
    fig.tight_layout()
    return fig, (["method", "metric", "value", "ci_low", "ci_high"], rows)


def draw_profiles(
    taus: np.ndarray, profiles: dict[str, dict[str, np.ndarray]], palette: dict[str, Any], kind: str = "runs"
) -> tuple[Any, Table]:
    """Performance profiles: fraction of runs (kind "runs") or of tasks by their mean over runs ("average") with
    normalised score > tau, with pointwise 95% bands."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    rows: list[list[Any]] = []
    for method, p in profiles.items():
        ax.plot(taus, p["value"], label=method, **palette[method])
        ax.fill_between(taus, p["low"], p["high"], color=palette[method]["color"], alpha=0.2, linewidth=0)
        rows += [
            [method, float(t), float(v), float(lo), float(hi)]
            for t, v, lo, hi in zip(taus, p["value"], p["low"], p["high"], strict=True)
        ]
    ax.set(
        xlabel=r"normalised score $\tau$",
        ylabel=r"fraction of runs with score $> \tau$" if kind == "runs" else r"fraction of tasks with mean $> \tau$",
        title="performance profiles (95% bands)" if kind == "runs" else "average-score profiles (95% bands)",
        ylim=(0, 1.02),
        xlim=(taus[0], taus[-1]),
    )
    ax.legend()
    fig.tight_layout()
    return fig, (["method", "tau", "fraction", "ci_low", "ci_high"], rows)


def draw_improvement(pairs: dict[str, dict[str, Any]]) -> tuple[Any, Table]:
    """P(X > Y) with 95% CIs, one row per tested pair ({value, low, high, verdict}), its verdict at the right."""
    plt = pyplot()
    names = list(pairs)
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.3))
    rows: list[list[Any]] = []
    for y, name in enumerate(names):
        r = pairs[name]
        ax.barh(y, r["high"] - r["low"], left=r["low"], height=0.6, color="tab:blue", alpha=0.6)
        ax.plot([r["value"]] * 2, [y - 0.3, y + 0.3], color="black", linewidth=1.5)
        if r["high"] - r["low"] < 0.01:  # an interval too narrow to see (every resample agrees): a dot
            ax.plot([r["value"]], [y], "o", color="tab:blue", markersize=5)
        ax.text(1.06, y, r["verdict"], va="center", ha="left", fontsize=8, transform=ax.get_yaxis_transform())
        rows.append([name, r["value"], r["low"], r["high"], r["verdict"]])
    ax.axvline(0.5, color="gray", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(names)), [n.replace(" vs ", " > ") for n in names])
    ax.invert_yaxis()
    ax.set(xlabel="P(X > Y) [95% CI]; verdict of the calibrated test at the right", xlim=(-0.04, 1.04))
    ax.set_title("probability of improvement, tested pairs")
    fig.tight_layout()
    return fig, (["pair", "probability", "ci_low", "ci_high", "verdict"], rows)


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
    `log`: a log y axis (wants_log_axis), on which a band stops at a tenth of the smallest mean."""
    plt = pyplot()
    tasks = list(data)
    cols = min(6, len(tasks))
    nrows = -(-len(tasks) // cols)
    methods = list(dict.fromkeys(m for per_task in data.values() for m in per_task))
    # as many legend entries a row as fit the figure's width (a handle and the label at 8 pt, ~0.075 in a letter)
    entry_inches = 0.5 + 0.075 * max(len(m) for m in methods)
    # fixed margins in inches: tight_layout would render every panel's ticks once more; a lone panel widens to
    # hold two columns of a long legend (a ladder's methods) rather than stack them in one
    width = max(2.9 * cols, 2 * entry_inches) if len(methods) > 4 else 2.9 * cols
    ncol = max(1, min(len(methods), int(width // entry_inches)))
    legend_inches = 0.25 * -(-len(methods) // ncol) + 0.1
    height = 2.3 * nrows + legend_inches
    fig, axes = plt.subplots(nrows, cols, figsize=(width, height), squeeze=False, sharex=True)
    rows: list[list[Any]] = []
    for ax, task in zip(axes.flat, tasks, strict=False):
        for method, c in data[task].items():
            ax.plot(c["x"], c["mean"], label=method, linewidth=1.2, **palette[method])
            bottom, top = (ranges or {}).get(task, (-np.inf, np.inf))
            if log:
                bottom = max(bottom, float(np.nanmin(c["mean"])) / 10)
            ax.fill_between(
                c["x"],
                np.clip(c["low"], bottom, top),
                np.clip(c["high"], bottom, top),
                color=palette[method]["color"],
                alpha=0.2,
                linewidth=0,
            )
            rows += [
                [task, method, float(x), float(m), float(lo), float(hi), int(n)]
                for x, m, lo, hi, n in zip(c["x"], c["mean"], c["low"], c["high"], c["runs"], strict=True)
            ]
        if log:
            ax.set_yscale("log")
        _clamp(ax, [c["mean"] for c in data[task].values()], log)
        ax.set_title(titles.get(task, task), fontsize=9)
        ax.tick_params(labelsize=7)
        if not log:  # a log axis places its own ticks at the decades
            ax.locator_params(nbins=4)  # a third of the ticks to lay out and render, in 26 panels
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
        ax.xaxis.get_offset_text().set_fontsize(7)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.set_axis_off()
    for ax in axes.flat:  # sharex hides the tick labels above the last row; a panel missing below needs its own
        ax.xaxis.set_tick_params(labelbottom=True)
    handles = [plt.Line2D([], [], **palette[m]) for m in methods]
    fig.legend(handles, methods, loc="lower center", ncol=ncol, frameon=False, fontsize=8)
    fig.supxlabel(xlabel, fontsize=9, y=(legend_inches + 0.05) / height)
    fig.supylabel(ylabel + (" (log scale)" if log else ""), fontsize=9, x=0.08 / width)
    fig.subplots_adjust(
        left=0.85 / width,
        right=1 - 0.1 / width,
        top=1 - 0.3 / height,
        bottom=(legend_inches + 0.55) / height,
        wspace=0.38,
        hspace=0.45,
    )
    return fig, (["task", "method", xlabel.split(" (")[0].replace(" ", "_"), "mean", "ci_low", "ci_high", "runs"], rows)


def draw_efficiency(data: dict[str, dict[str, list[float]]], palette: dict[str, Any]) -> tuple[Any, Table]:
    """data {method: {frames, value, low, high}} (analysis.efficiency): IQM of normalised training scores against
    env frames with 95% stratified bootstrap bands, rliable's sample-efficiency curve."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    rows: list[list[Any]] = []
    for method, c in data.items():
        ax.plot(c["frames"], c["value"], marker="o", markersize=3, label=method, **palette[method])
        ax.fill_between(c["frames"], c["low"], c["high"], color=palette[method]["color"], alpha=0.2, linewidth=0)
        rows += [[method, *values] for values in zip(c["frames"], c["value"], c["low"], c["high"], strict=True)]
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value / 1000:g}k"))
    ax.set_xlabel("env frames")
    ax.set_ylabel("IQM normalised score")
    ax.set_title("sample efficiency (IQM over runs and tasks, 95% bands)")
    ax.legend(fontsize=7, ncol=1 + len(data) // 8)
    fig.tight_layout()
    return fig, (["method", "frames", "iqm", "ci_low", "ci_high"], rows)


def draw_games(
    games: dict[str, dict[str, dict[str, list[float]]]], palette: dict[str, Any], titles: dict[str, str]
) -> tuple[Any, Table]:
    """games {task: {method: {"raw": final scores of its runs, "normalized": the same normalised}}}: one row per
    game on a shared normalised axis (symlog: linear in [-1, 1]), a sub-row per method, every run as a dot and a
    black tick at its mean, so our runs read against each baseline's spread (a strip plot). One Axes for all
    games: the 26-panel version cost seconds of text layout per report."""
    plt = pyplot()
    tasks = list(games)
    methods = list(dict.fromkeys(m for per_task in games.values() for m in per_task))
    step = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(7.5, 0.055 * len(methods) * len(tasks) + 1.6))
    jitter = np.random.default_rng(0)
    rows: list[list[Any]] = []
    for j, method in enumerate(methods):
        offset = (j - (len(methods) - 1) / 2) * step
        xs, ys, means, centres = [], [], [], []
        for i, task in enumerate(tasks):
            runs = games[task].get(method)
            if not runs or not runs["normalized"]:
                continue
            values = np.asarray(runs["normalized"], dtype=float)
            xs.append(values)
            ys.append(i + offset + jitter.uniform(-0.3, 0.3, len(values)) * step)
            means.append(values.mean())
            centres.append(i + offset)
            rows += [
                [task, method, run, float(raw), float(norm)]
                for run, (raw, norm) in enumerate(zip(runs["raw"], values, strict=True), start=1)
            ]
        if xs:
            ax.scatter(
                np.concatenate(xs),
                np.concatenate(ys),
                s=5,
                color=palette[method]["color"],
                marker=MARKERS[LINE_STYLES.index(palette[method]["linestyle"])],  # a dash group's own shape
                alpha=0.6,
                linewidths=0,
                label=method,
            )
            ax.vlines(means, np.array(centres) - step / 2, np.array(centres) + step / 2, color="black", linewidth=1.0)
    for i in range(1, len(tasks), 2):
        ax.axhspan(i - 0.5, i + 0.5, color="0.92", zorder=0, linewidth=0)
    for x in (0.0, 1.0):
        ax.axvline(x, color="gray", linestyle="--", linewidth=0.8, zorder=0)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_yticks(range(len(tasks)), [titles.get(t, t) for t in tasks], fontsize=7)
    ax.set_ylim(len(tasks) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("normalised final score per run (symlog; tick: mean over runs; dashed: 0 and 1)")
    ax.legend(
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=min(len(methods), 4),
        fontsize=7,
        frameon=False,
        markerscale=2,
    )
    fig.tight_layout()
    return fig, (["task", "method", "run", "score", "normalized"], rows)
