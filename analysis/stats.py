"""Aggregate metrics of normalised scores in rliable's layout, with optional bootstrap multiplicities.

Every function takes `scores` of shape (runs, tasks), rliable's layout. NaN marks a missing cell: a run with no
score on that task (danijar/dreamerv3's protocol gives none when no episode ends in the final window); each task
then counts the runs it has, and a full array gives rliable's numbers exactly. Each function can also take
`counts`, an integer array (..., runs, tasks): how often each run of each task was drawn by a resample (a column
sums to that task's number of runs, and is 0 on missing cells). With `counts` the result has the leading shape
`...`, one value per resample, computed exactly as on the materialised resample but in O(runs * tasks) per
resample and without sorting. Without `counts` every run counts once: the point estimate. Definitions follow
rliable (Agarwal et al., 2021, `rliable.metrics`).
"""

from __future__ import annotations

import numpy as np


def _weights(scores: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (runs, tasks), got {scores.shape}")
    return np.isfinite(scores).astype(np.float64) if counts is None else counts


def _filled(scores: np.ndarray) -> np.ndarray:
    """Scores with missing cells as 0, which their weight 0 then drops."""
    return np.where(np.isnan(scores), 0.0, scores)


def task_means(scores: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Per-task mean over runs: (runs, tasks) -> (tasks,), or (..., tasks) with counts."""
    weights = _weights(scores, counts)
    return (weights * _filled(scores)).sum(axis=-2) / weights.sum(axis=-2)


def mean(scores: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs (rliable's aggregate_mean)."""
    return task_means(scores, counts).mean(axis=-1)


def median(scores: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Median over tasks of the per-task mean over runs (rliable's aggregate_median)."""
    return np.median(task_means(scores, counts), axis=-1)


def optimality_gap(scores: np.ndarray, counts: np.ndarray | None = None, gamma: float = 1.0) -> np.ndarray:
    """gamma - mean of min(score, gamma) over all run-task scores (rliable's aggregate_optimality_gap)."""
    weights = _weights(scores, counts)
    return gamma - (weights * np.minimum(_filled(scores), gamma)).sum(axis=(-2, -1)) / weights.sum(axis=(-2, -1))


def _sorted(scores: np.ndarray, counts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The present scores in ascending order (N,) and their weights in that order (..., N)."""
    weights = _weights(scores, counts)
    present = np.flatnonzero(np.isfinite(scores))
    order = present[np.argsort(scores.reshape(-1)[present], kind="stable")]
    return scores.reshape(-1)[order], weights.reshape(*weights.shape[:-2], -1)[..., order]


def iqm(scores: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Interquartile mean: the 25% trimmed mean of all run-task scores (scipy's trim_mean, as rliable).

    int(0.25 n) scores are cut from each end of the n sorted scores. With multiplicities, the i-th smallest score
    v_i covers the positions [E_{i-1}, E_i) of the sorted resample (E the running sum of its counts), and only its
    overlap with [cut, n - cut) enters the mean: C_i - C_{i-1}, with C = E clipped to [cut, n - cut]. Summed by
    parts, sum_i (C_i - C_{i-1}) v_i = (n - cut) v_last - cut v_first - sum_{i<last} C_i (v_{i+1} - v_i): one
    running sum, one clip and one matrix product per resample."""
    values, weights = _sorted(scores, counts)
    n = values.size
    cut = int(0.25 * n)
    running = np.cumsum(weights[..., :-1], axis=-1)
    np.clip(running, cut, n - cut, out=running)
    return ((n - cut) * values[-1] - cut * values[0] - running @ np.diff(values)) / (n - 2 * cut)


def superhuman(scores: np.ndarray, counts: np.ndarray | None = None, threshold: float = 1.0) -> np.ndarray:
    """Number of tasks whose mean normalised score exceeds `threshold` (the papers' '#Superhuman')."""
    return (task_means(scores, counts) > threshold).sum(axis=-1).astype(np.float64)


def performance_profile(scores: np.ndarray, taus: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Fraction of run-task scores strictly above each tau (rliable's score distribution): (..., len(taus)).
    From the running sum of the weights in score order: 1 - (weight of the scores <= tau) / (total weight)."""
    values, weights = _sorted(scores, counts)
    running = np.cumsum(weights, axis=-1)
    at_most = np.searchsorted(values, np.asarray(taus), side="right")  # how many sorted scores are <= tau
    below = np.where(at_most > 0, running[..., np.maximum(at_most - 1, 0)], 0.0)
    return 1.0 - below / running[..., -1:]


def probability_of_improvement(x: np.ndarray, y: np.ndarray, counts_x: np.ndarray | None = None,
                               counts_y: np.ndarray | None = None) -> np.ndarray:
    """P(X > Y): per task the chance that a run of X beats a run of Y, ties counting half, averaged over tasks.

    x: (runs_x, tasks), y: (runs_y, tasks): rliable's probability_of_improvement (the Mann-Whitney U statistic
    divided by the task's pairs of runs, runs_x * runs_y on a full array). With counts (..., runs_x, tasks) and
    (..., runs_y, tasks), one value per pair of resamples."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same tasks, got {x.shape} and {y.shape}")
    wins = (x[:, None, :] > y[None, :, :]) + 0.5 * (x[:, None, :] == y[None, :, :])  # (runs_x, runs_y, tasks)
    wx, wy = _weights(x, counts_x), _weights(y, counts_y)
    pairs = wx.sum(axis=-2) * wy.sum(axis=-2)
    # per task, wx^T wins wy over every resample: one (runs_x, runs_y) x (runs_y, resamples) product per task
    lead, tasks = wx.shape[:-2], x.shape[1]
    by_task = np.moveaxis(wins, -1, 0) @ wy.reshape(-1, y.shape[0], tasks).transpose(2, 1, 0)  # (tasks, rx, R)
    beaten = (by_task * wx.reshape(-1, x.shape[0], tasks).transpose(2, 1, 0)).sum(axis=1)  # (tasks, R)
    per_task = beaten.T.reshape(*lead, tasks) / pairs
    return per_task.mean(axis=-1)


AGGREGATES = {"Median": median, "IQM": iqm, "Mean": mean, "Optimality Gap": optimality_gap}
LOWER_IS_BETTER = frozenset({"Optimality Gap"})
