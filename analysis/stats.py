"""Aggregate metrics with stratified bootstrap confidence intervals, in rliable's layout and with its names.

Every score array is `(runs, tasks)`: one row per run (seed), one column per task, normalised scores. Every
aggregate also accepts a leading batch of bootstrap replicates, `(reps, runs, tasks)`, which is how the
intervals are computed without a Python loop over replicates. Definitions follow rliable
(Agarwal et al., 2021): IQM is the mean of the middle 50% of all run-task scores, the median is over tasks
of per-task means, the optimality gap is `gamma - mean(min(score, gamma))`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Aggregate = Callable[[np.ndarray], np.ndarray]


def mean(scores: np.ndarray) -> np.ndarray:
    """Mean over tasks of the per-task mean over runs (rliable's aggregate_mean)."""
    return scores.mean(axis=-2).mean(axis=-1)


def median(scores: np.ndarray) -> np.ndarray:
    """Median over tasks of the per-task mean over runs (rliable's aggregate_median)."""
    return np.median(scores.mean(axis=-2), axis=-1)


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean of all run-task scores: cut int(0.25 n) from each end (scipy's trim_mean)."""
    flat = np.sort(scores.reshape(*scores.shape[:-2], -1), axis=-1)
    n = flat.shape[-1]
    cut = int(0.25 * n)
    return flat[..., cut:n - cut].mean(axis=-1)


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """How far below `gamma` (human level) the scores fall on average: gamma - mean(min(x, gamma))."""
    return gamma - np.minimum(scores, gamma).reshape(*scores.shape[:-2], -1).mean(axis=-1)


AGGREGATES: dict[str, Aggregate] = {"Median": median, "IQM": iqm, "Mean": mean, "Optimality Gap": optimality_gap}


def stratified_resample(scores: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """(reps, runs, tasks): runs resampled with replacement within each task (the stratified bootstrap)."""
    runs, tasks = scores.shape
    index = rng.integers(0, runs, size=(reps, runs, tasks))
    return np.take_along_axis(np.broadcast_to(scores, (reps, runs, tasks)), index, axis=1)


def interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap samples (rliable's default method)."""
    alpha = 100 * (1 - confidence) / 2
    low, high = np.percentile(samples, [alpha, 100 - alpha])
    return float(low), float(high)


def aggregate_with_ci(scores: np.ndarray, reps: int = 2000, seed: int = 0,
                      aggregates: dict[str, Aggregate] | None = None) -> dict[str, dict[str, float]]:
    """{name: {"value", "low", "high"}} for each aggregate of a (runs, tasks) array."""
    rng = np.random.default_rng(seed)
    samples = stratified_resample(scores, reps, rng)
    out = {}
    for name, fn in (aggregates or AGGREGATES).items():
        low, high = interval(fn(samples))
        out[name] = {"value": float(fn(scores)), "low": low, "high": high}
    return out


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y): per task the chance a run of X beats a run of Y (ties count half), averaged over tasks.

    x: (..., runs_x, tasks), y: (..., runs_y, tasks); this is rliable's Mann-Whitney U statistic form.
    """
    greater = (x[..., :, None, :] > y[..., None, :, :]).mean(axis=(-3, -2))
    ties = (x[..., :, None, :] == y[..., None, :, :]).mean(axis=(-3, -2))
    return (greater + 0.5 * ties).mean(axis=-1)


def probability_of_improvement_with_ci(x: np.ndarray, y: np.ndarray, reps: int = 2000,
                                       seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    px = probability_of_improvement(stratified_resample(x, reps, rng), stratified_resample(y, reps, rng))
    low, high = interval(px)
    return {"value": float(probability_of_improvement(x, y)), "low": low, "high": high}


def performance_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of run-task scores above each tau: (..., runs, tasks) -> (..., len(taus))."""
    flat = scores.reshape(*scores.shape[:-2], -1)
    return (flat[..., None, :] > taus[:, None]).mean(axis=-1)


def performance_profile_with_ci(scores: np.ndarray, taus: np.ndarray, reps: int = 2000,
                                seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    samples = performance_profile(stratified_resample(scores, reps, rng), taus)
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    return {"value": performance_profile(scores, taus), "low": low, "high": high}
