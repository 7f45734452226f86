"""Training curves: each run's points averaged in bins of env frames (or steps), then mean and interval over runs.

The default bins of a score curve are the protocol's final window (10k frames for Atari100k), so the last bin of
a run is exactly its final score under final_train_window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from analysis.bootstrap import CONFIDENCE, t_quantile
from analysis.store import Method, Run, StoreError
from analysis.summary_file import EndValue
from hieros.run_file import RunProtocol

MAX_BINS = 100
DEFAULT_BINS = 40


def edges(budget: float, window: float | None = None) -> np.ndarray:
    """Bin edges over (0, budget]: `window`-wide bins when they tile the budget in at most MAX_BINS, else
    DEFAULT_BINS equal bins."""
    if window and budget % window == 0 and budget / window <= MAX_BINS:
        return np.arange(0, budget + window, window, dtype=np.float64)
    return np.linspace(0, budget, DEFAULT_BINS + 1)


def score_edges(protocol: RunProtocol) -> np.ndarray:
    """The bins of a run's score curve: over its frame budget, the protocol's final window wide."""
    return edges(float(protocol.budget_frames), protocol.score.window_frames)


def run_points(records: list[dict[str, Any]], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a run: train episode scores against env frames, or a train metric against env steps."""
    if metric == "score":
        rows = [(r["frames"], r["score"]) for r in records if r.get("type") == "episode" and r.get("mode") == "train"]
    else:
        rows = [(r["env_step"], r.get(metric)) for r in records if r.get("type") == "train"]
    x = np.array([x for x, _ in rows], np.float64)
    y = np.array([np.nan if y is None else y for _, y in rows], np.float64)
    return x, y


def binned(x: np.ndarray, y: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
    """Mean of the y (points,) whose x lies in (edges[b], edges[b + 1]]: (bins,), NaN for an empty bin.

    Points with a NaN y or an x outside (edges[0], edges[-1]] are ignored."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    index = np.searchsorted(bin_edges, x, side="left") - 1
    keep = (index >= 0) & (index < len(bin_edges) - 1) & ~np.isnan(y)
    bins = len(bin_edges) - 1
    sums = np.bincount(index[keep], weights=y[keep], minlength=bins)
    counts = np.bincount(index[keep], minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def band(table: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, np.ndarray]:
    """Per bin over runs of a (runs, bins) table with NaN gaps: {mean, low, high, runs}, each (bins,).

    The interval is Student's t over the runs that have a value in the bin (NaN with fewer than two)."""
    present = ~np.isnan(table)
    n = present.sum(axis=0)
    filled = np.where(present, table, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / n
        var = np.where(present, (table - mean) ** 2, 0.0).sum(axis=0) / (n - 1)
        half = np.where(n >= 2, t_quantile(np.maximum(n - 1, 1), confidence) * np.sqrt(var / n), np.nan)
    mean = np.where(n > 0, mean, np.nan)
    return {"mean": mean, "low": mean - half, "high": mean + half, "runs": n}


END_FRACTION = 0.1  # a train metric's value at the end of training: its mean over the last tenth of the budget


def logged_metrics(methods: Mapping[str, Method]) -> set[str]:
    """The train metrics any run of `methods` logs (metrics.jsonl records of type train)."""
    stamps = {"type", "env_step", "frames", "grad_steps"}
    records = (rec for m in methods.values() for r in m.all_runs() for rec in r.metrics)
    return {k for rec in records if rec.get("type") == "train" for k in rec} - stamps


def check_metrics(methods: Mapping[str, Method], metrics: list[str]) -> None:
    """A one-line StoreError for a --metric no run logs, naming those that are logged."""
    logged = logged_metrics(methods)
    for metric in metrics:
        if metric not in logged:
            raise StoreError(
                f"--metric {metric!r}: no run logs it; logged train metrics: {', '.join(sorted(logged)) or 'none'}"
            )


def _runs_with_records(method: Method, task: str) -> list[Run]:
    return [r for _, r in sorted(method.runs.get(task, {}).items()) if r.metrics]


def for_report(methods: Mapping[str, Method], tasks: list[str], metrics: list[str]) -> dict[str, Any]:
    """Score curves (x = env frames) and each logged train metric (x = env steps), per task and method:
    {curve: {task: {method: {x, mean, low, high, runs}}}}. `metrics` are those check_metrics passed."""
    out: dict[str, Any] = {name: {} for name in ("score", *metrics)}
    for task in tasks:
        for name, method in methods.items():
            runs = _runs_with_records(method, task)
            if not runs:
                continue
            protocol = runs[0].record.protocol
            for metric in out:
                grid = score_edges(protocol) if metric == "score" else edges(float(protocol.budget_steps))
                result = band(np.array([binned(*run_points(r.metrics, metric), grid) for r in runs]))
                keep = result["runs"] > 0
                if keep.any():
                    out[metric].setdefault(task, {})[name] = {
                        "x": grid[1:][keep],
                        **{k: v[keep] for k, v in result.items()},
                    }
    return {k: v for k, v in out.items() if v}


def end_values(
    methods: Mapping[str, Method], tasks: list[str], metrics: list[str]
) -> dict[str, dict[str, dict[str, EndValue]]]:
    """Each train metric at the end of training, per task and method: every run's mean over its records in the
    last END_FRACTION of the budget's env steps, then the mean over runs with a Student t interval:
    {metric: {task: {method: EndValue}}} (methods without such records left out). `metrics` are those
    check_metrics passed."""
    out: dict[str, dict[str, dict[str, EndValue]]] = {}
    for metric in metrics:
        for task in tasks:
            for name, method in methods.items():
                runs = _runs_with_records(method, task)
                if not runs:
                    continue
                budget = float(runs[0].record.protocol.budget_steps)
                last = np.array([budget * (1 - END_FRACTION), budget])
                values = np.array([binned(*run_points(r.metrics, metric), last)[0] for r in runs])
                values = values[~np.isnan(values)]
                if len(values):
                    result = band(values[:, None])
                    out.setdefault(metric, {}).setdefault(task, {})[name] = EndValue(
                        **{k: float(v[0]) for k, v in result.items() if k != "runs"},
                        runs=len(values),
                        values=values.tolist(),
                    )
    return out
