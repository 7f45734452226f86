"""Sample efficiency: the IQM of normalised training scores at points along the budget, each with a 95%
stratified bootstrap interval (rliable's `plot_sample_efficiency_curve`, which bootstraps each point on its own).

A run's score at a point is the mean of its training episodes that end in the bin before it (analysis.curves,
the bins of the score curves: the protocol's final window), so the last point is the run's final score under
final_train_window. A method gets a curve when every task of the report has runs with episode records on one
frame grid; the points are at most POINTS evenly spaced bin ends (Atari100k: every 40k frames).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from analysis import bootstrap, curves, stats
from analysis.store import Method, normalize
from analysis.summary_file import EfficiencyCurve

POINTS = 10


def grid(method: Method, tasks: list[str]) -> np.ndarray | None:
    """The bin edges the method's runs share on every task, or None (no runs with metrics on some task, or runs
    with another budget or window)."""
    found = set()
    for task in tasks:
        runs = [r for r in method.runs.get(task, {}).values() if r.metrics]
        if not runs:
            return None
        found.update(tuple(curves.score_edges(run.record.protocol)) for run in runs)
    return np.array(found.pop()) if len(found) == 1 else None


def table(method: Method, tasks: list[str], edges: np.ndarray) -> np.ndarray:
    """Normalised binned training scores (runs, tasks, bins), runs padded with NaN where a task has fewer."""
    per_task = []
    for task in tasks:
        rows = []
        for _, run in sorted(method.runs[task].items()):
            if run.metrics:
                rows.append(normalize(task, curves.binned(*curves.run_points(run.metrics, "score"), edges)))
        per_task.append(np.array(rows))
    most = max(len(rows) for rows in per_task)
    out = np.full((most, len(tasks), len(edges) - 1), np.nan)
    for t, rows in enumerate(per_task):
        out[: len(rows), t] = rows
    return out


def points(bins: int) -> np.ndarray:
    """Indices of at most POINTS bins, evenly spaced and ending at the last."""
    step = -(-bins // POINTS)
    return np.arange(bins - 1, -1, -step)[::-1]


def iqm_per_point(shape: tuple[int, int, int]) -> Callable[[np.ndarray, np.ndarray | None], dict[str, Any]]:
    """A bootstrap metric over a (runs, tasks * points) array: the IQM at each point, (..., points)."""
    runs, tasks, count = shape

    def metric(scores: np.ndarray, counts: np.ndarray | None = None) -> dict[str, Any]:
        cube = scores.reshape(runs, tasks, count)
        weights = None if counts is None else counts.reshape(*counts.shape[:-2], runs, tasks, count)
        values = [stats.iqm(cube[:, :, p], None if weights is None else weights[..., p]) for p in range(count)]
        return {"IQM": np.stack(values, axis=-1)}

    return metric


def compute(
    methods: dict[str, Method], tasks: dict[str, list[str]], reps: int, seed: int, workers: int = 1
) -> dict[str, EfficiencyCurve]:
    """{method: its EfficiencyCurve} for every method with a curve on each of its tasks (`tasks`:
    {method: its tasks in the report})."""
    scores, metrics, frames = {}, {}, {}
    for name, method in methods.items():
        edges = grid(method, tasks[name])
        if edges is None:
            continue
        cube = table(method, tasks[name], edges)
        at = points(cube.shape[2])
        at = at[~np.isnan(cube[:, :, at]).all(axis=0).any(axis=0)]  # points where every task has a run's score
        if not len(at):
            continue
        chosen = cube[:, :, at]
        scores[name] = chosen.reshape(chosen.shape[0], -1)
        metrics[name] = iqm_per_point(chosen.shape)
        frames[name] = edges[1:][at]
    if not scores:
        return {}
    rngs = {n: bootstrap.rng_for(seed, "efficiency", n) for n in scores}
    estimates, _ = bootstrap.joint_estimates(scores, metrics, [], reps, rngs, workers)
    return {
        n: EfficiencyCurve(frames[n].tolist(), **{k: np.asarray(v).tolist() for k, v in estimates[n]["IQM"].items()})
        for n in scores
    }
