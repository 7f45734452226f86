"""The report's figures: each written as PNG and PDF with a CSV of exactly the data it plots.

Inputs are plain dicts of numbers computed by analysis.report; these functions only draw and save.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path, name: str, header: list[str], rows: list[list[Any]]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf", out / f"{name}.csv"]
    fig.savefig(paths[0], dpi=120, metadata={"Software": None}, bbox_inches="tight")
    fig.savefig(paths[1], metadata={"CreationDate": None}, bbox_inches="tight")
    _plt().close(fig)
    with open(paths[2], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return paths


def aggregates(out: Path, results: dict[str, dict[str, dict[str, float]]]) -> list[Path]:
    """results: {method: {metric: {value, low, high}}} -> interval estimates, one panel per metric."""
    plt = _plt()
    metrics = list(next(iter(results.values())))
    methods = list(results)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 0.5 * len(methods) + 1.4))
    rows = []
    for ax, metric in zip(np.atleast_1d(axes), metrics, strict=True):
        for y, method in enumerate(methods):
            r = results[method][metric]
            ax.plot([r["low"], r["high"]], [y, y], linewidth=6, alpha=0.6, solid_capstyle="butt")
            ax.plot([r["value"]], [y], "k|", markersize=14)
            rows.append([method, metric, r["value"], r["low"], r["high"]])
        ax.set_yticks(range(len(methods)), methods if ax is np.atleast_1d(axes)[0] else [""] * len(methods))
        ax.set_xlabel(f"{metric} (normalised score)")
        ax.set_title(metric)
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, out, "aggregates", ["method", "metric", "value", "ci_low", "ci_high"], rows)


def profiles(out: Path, taus: np.ndarray, curves: dict[str, dict[str, np.ndarray]]) -> list[Path]:
    """curves: {method: {value, low, high}} over `taus` -> performance profiles with 95% bands."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = []
    for method, c in curves.items():
        line = ax.plot(taus, c["value"], label=method)[0]
        ax.fill_between(taus, c["low"], c["high"], color=line.get_color(), alpha=0.2)
        rows += [[method, t, v, lo, hi] for t, v, lo, hi in zip(taus, c["value"], c["low"], c["high"], strict=True)]
    ax.set(xlabel=r"normalised score $\tau$", ylabel=r"fraction of runs with score $> \tau$",
           title="performance profiles")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, out, "profiles", ["method", "tau", "fraction", "ci_low", "ci_high"], rows)


def improvement(out: Path, pairs: dict[str, dict[str, float]]) -> list[Path]:
    """pairs: {"X vs Y": {value, low, high}} -> probability of improvement intervals."""
    plt = _plt()
    names = list(pairs)
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.2))
    rows = []
    for y, name in enumerate(names):
        r = pairs[name]
        ax.plot([r["low"], r["high"]], [y, y], linewidth=6, alpha=0.6, solid_capstyle="butt")
        ax.plot([r["value"]], [y], "k|", markersize=14)
        rows.append([name, r["value"], r["low"], r["high"]])
    ax.axvline(0.5, color="gray", linestyle="--")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="P(X > Y)", title="probability of improvement", xlim=(0, 1))
    return _save(fig, out, "improvement", ["pair", "probability", "ci_low", "ci_high"], rows)


def curves(out: Path, name: str, ylabel: str, data: dict[str, dict[str, dict[str, np.ndarray]]]) -> list[Path]:
    """data: {task: {method: {x, mean, low, high}}} -> one panel per task, mean and 95% band over seeds."""
    plt = _plt()
    tasks = list(data)
    cols = min(6, len(tasks))
    rows_n = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.0 * cols, 2.4 * rows_n), squeeze=False)
    rows = []
    colors: dict[str, str] = {}
    for ax, task in zip(axes.flat, tasks, strict=False):
        for method, c in data[task].items():
            line = ax.plot(c["x"], c["mean"], label=method, color=colors.get(method))[0]
            colors[method] = line.get_color()
            ax.fill_between(c["x"], c["low"], c["high"], color=colors[method], alpha=0.2)
            rows += [[task, method, x, m, lo, hi] for x, m, lo, hi in zip(c["x"], c["mean"], c["low"], c["high"],
                                                                        strict=True)]
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("env frames", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=max(1, len(labels)), bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, out, name, ["task", "method", "frames", "mean", "ci_low", "ci_high"], rows)
