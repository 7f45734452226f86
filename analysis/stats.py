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

from functools import lru_cache

import numpy as np


def _weights(scores: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (runs, tasks), got {scores.shape}")
    return np.isfinite(scores).astype(np.float64) if counts is None else counts


def _runs(scores: np.ndarray) -> np.ndarray:
    """Runs with a score per task (tasks,): what every weight column sums to, resampled or not."""
    return np.isfinite(scores).sum(axis=0).astype(np.float64)


def _filled(scores: np.ndarray) -> np.ndarray:
    """Scores with missing cells as 0, which their weight 0 then drops."""
    return np.where(np.isnan(scores), 0.0, scores)


def task_means(scores: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Per-task mean over runs: (runs, tasks) -> (tasks,), or (..., tasks) with counts."""
    return np.einsum("...rt,rt->...t", _weights(scores, counts), _filled(scores)) / _runs(scores)


def mean(scores: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs (rliable's aggregate_mean)."""
    return task_means(scores, counts).mean(axis=-1)


def median(scores: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Median over tasks of the per-task mean over runs (rliable's aggregate_median)."""
    return _median(task_means(scores, counts))


def _median(means: np.ndarray) -> np.ndarray:
    """np.median along the last axis, by one partition (np.median's checks cost more than the work here)."""
    if np.isnan(means).any():  # a task without runs: NaN, as np.median gives
        return np.median(means, axis=-1)
    tasks = means.shape[-1]
    middle = np.partition(means, [(tasks - 1) // 2, tasks // 2], axis=-1)
    return (middle[..., (tasks - 1) // 2] + middle[..., tasks // 2]) / 2


def optimality_gap(scores: np.ndarray, counts: np.ndarray | None = None, gamma: float = 1.0) -> np.ndarray:
    """gamma - mean of min(score, gamma) over all run-task scores (rliable's aggregate_optimality_gap)."""
    weights = _weights(scores, counts)
    return gamma - np.einsum("...rt,rt->...", weights, np.minimum(_filled(scores), gamma)) / _runs(scores).sum()


def _running(scores: np.ndarray, counts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The present scores in ascending order (N,) and the running sum of their weights in that order (..., N)."""
    weights = _weights(scores, counts)
    order = _ascending(np.ascontiguousarray(scores, dtype=np.float64).tobytes())
    return scores.reshape(-1)[order], np.cumsum(weights.reshape(*weights.shape[:-2], -1)[..., order], axis=-1)


@lru_cache(maxsize=64)
def _ascending(data: bytes) -> np.ndarray:
    """Flat positions of the present scores in ascending order (a bootstrap asks for the same array per chunk)."""
    flat = np.frombuffer(data, dtype=np.float64)
    present = np.flatnonzero(np.isfinite(flat))
    return present[np.argsort(flat[present], kind="stable")]


def _iqm(values: np.ndarray, running: np.ndarray) -> np.ndarray:
    n = values.size
    cut = int(0.25 * n)
    clipped = np.clip(running[..., :-1], cut, n - cut)
    return ((n - cut) * values[-1] - cut * values[0] - clipped @ np.diff(values)) / (n - 2 * cut)


def _profile(values: np.ndarray, running: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """1 - (weight of the scores <= tau) / (total weight), from the running sum of the weights in score order."""
    at_most = np.searchsorted(values, np.asarray(taus), side="right")  # how many sorted scores are <= tau
    below = np.where(at_most > 0, running[..., np.maximum(at_most - 1, 0)], 0.0)
    return 1.0 - below / running[..., -1:]


def iqm(scores: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """Interquartile mean: the 25% trimmed mean of all run-task scores (scipy's trim_mean, as rliable).

    int(0.25 n) scores are cut from each end of the n sorted scores. With multiplicities, the i-th smallest score
    v_i covers the positions [E_{i-1}, E_i) of the sorted resample (E the running sum of its counts), and only its
    overlap with [cut, n - cut) enters the mean: C_i - C_{i-1}, with C = E clipped to [cut, n - cut]. Summed by
    parts, sum_i (C_i - C_{i-1}) v_i = (n - cut) v_last - cut v_first - sum_{i<last} C_i (v_{i+1} - v_i): one
    running sum, one clip and one matrix product per resample."""
    return _iqm(*_running(scores, counts))


def _superhuman(means: np.ndarray, threshold: float) -> np.ndarray:
    return (means > threshold).sum(axis=-1).astype(np.float64)


def _average_profile(means: np.ndarray, taus: np.ndarray) -> np.ndarray:
    return (means[..., None, :] > np.asarray(taus)[:, None]).mean(axis=-1)


def aggregates(
    scores: np.ndarray,
    counts: np.ndarray | None = None,
    taus: np.ndarray | None = None,
    with_superhuman: bool = False,
    profile: str = "runs",
) -> dict[str, np.ndarray]:
    """Median, IQM, Mean and Optimality Gap of one array or per resample: the numbers of the functions above, with
    the task means and the sorted running sum computed once for all of them (what a bootstrap pays for per
    resample). With `with_superhuman`, Superhuman: the number of tasks whose mean normalised score exceeds 1 (the
    papers' '#Superhuman'). With `taus`, the performance profile at each tau (..., len(taus)): the fraction of
    run-task scores strictly above it (rliable's score distribution), or with profile="average" the fraction of
    tasks whose mean over runs is (rliable's average-score distribution, `use_score_distribution=False`)."""
    means = task_means(scores, counts)
    values, running = _running(scores, counts)
    out = {
        "Median": _median(means),
        "IQM": _iqm(values, running),
        "Mean": means.mean(axis=-1),
        "Optimality Gap": optimality_gap(scores, counts),
    }
    if with_superhuman:
        out["Superhuman"] = _superhuman(means, 1.0)
    if taus is not None:
        out["profile"] = _profile(values, running, taus) if profile == "runs" else _average_profile(means, taus)
    return out


def probability_of_improvement(
    x: np.ndarray, y: np.ndarray, counts_x: np.ndarray | None = None, counts_y: np.ndarray | None = None
) -> np.ndarray:
    """P(X > Y): per task the chance that a run of X beats a run of Y, ties counting half, averaged over tasks.

    x: (runs_x, tasks), y: (runs_y, tasks): rliable's probability_of_improvement (the Mann-Whitney U statistic
    divided by the task's pairs of runs, runs_x * runs_y on a full array). With counts (..., runs_x, tasks) and
    (..., runs_y, tasks), one value per pair of resamples."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same tasks, got {x.shape} and {y.shape}")
    wx, wy = _weights(x, counts_x), _weights(y, counts_y)
    lead = wx.shape[:-2]
    value = improvement_by_task(wins_by_task(x, y), by_task(wx), by_task(wy))
    return value.reshape(lead) if lead else value[0]


def wins_by_task(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[x_it > y_jt] + 0.5 [x_it = y_jt] for every pair of runs, task first: (tasks, runs_x, runs_y)."""
    return np.moveaxis((x[:, None, :] > y[None, :, :]) + 0.5 * (x[:, None, :] == y[None, :, :]), -1, 0)


def by_task(weights: np.ndarray) -> np.ndarray:
    """Weights (..., runs, tasks) as (tasks, runs, resamples), contiguous, the layout improvement_by_task takes."""
    runs, tasks = weights.shape[-2:]
    return np.ascontiguousarray(weights.reshape(-1, runs, tasks).transpose(2, 1, 0))


def improvement_by_task(wins: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """P(X > Y) per resample (R,) from wins (tasks, rx, ry) and weights wx (tasks, rx, R), wy (tasks, ry, R):
    per task wx^T wins wy over the task's pairs of runs (one (rx, ry) x (ry, R) product per task), averaged."""
    beaten = np.einsum("txr,txr->tr", wx, wins @ wy)  # (tasks, R)
    pairs = wx[..., :1].sum(axis=1) * wy[..., :1].sum(axis=1)  # every resample has each task's number of runs
    return (beaten / pairs).mean(axis=0)


AGGREGATES = {"Median": median, "IQM": iqm, "Mean": mean, "Optimality Gap": optimality_gap}
LOWER_IS_BETTER = frozenset({"Optimality Gap"})
