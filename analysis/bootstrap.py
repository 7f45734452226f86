"""Stratified bootstrap confidence intervals (rliable's `StratifiedBootstrap`, percentile method), vectorised.

A resample draws, for every task independently, as many runs with replacement from that task's runs as it has
(a missing cell, NaN, is never drawn). It is
represented by its multiplicities `counts` (reps, runs, tasks), which analysis.stats evaluates exactly; resamples
are generated in chunks so memory stays bounded for any number of replicates. Per-task intervals of a mean over
a handful of runs use Student's t instead (see `t_interval`).

`coverage` measures how far to trust these intervals at a given number of runs (`--calibrate`). With few runs per
task the stratified percentile bootstrap is narrower than its nominal 95% (a resample's variance is (n - 1) / n
of the truth, and the median of noisy task means is biased). Each task is modelled as normal with the mean and
spread of a method's own normalised scores; `trials` experiments of the same size are drawn, and we count how
often each interval contains the model's true aggregate (IQM and optimality gap from a large sample of it).
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import numpy as np

from analysis import parallel, stats

CONFIDENCE = 0.95
CHUNK_ELEMENTS = 1 << 17  # multiplicities held at once per unit (1 MiB of float64: they stay in cache)
POPULATION = 20_000  # draws per task for the model's true IQM and optimality gap


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """A generator for (seed, names): a method's intervals do not change when other methods are added."""
    return np.random.default_rng([seed, *(zlib.crc32(name.encode()) for name in names)])


def stratified_counts(
    scores: np.ndarray, reps: int, rng: np.random.Generator, chunk: int | None = None
) -> Iterator[np.ndarray]:
    """Multiplicities of `reps` stratified resamples of (runs, tasks) scores, in chunks (chunk, runs, tasks).

    On a full array each task draws `runs` indices uniformly (rliable's resampling). With missing cells task t
    draws its n_t present runs: n_t uniform positions among them, mapped to their rows."""
    runs, tasks = scores.shape
    present = ~np.isnan(scores)
    per_task = present.sum(axis=0)
    if not per_task.all():
        raise ValueError("every task needs at least one run with a score")
    full = bool(present.all())
    rows = np.argsort(~present, axis=0, kind="stable").astype(np.int32)  # each task's present rows first
    drawing = np.arange(runs)[:, None] < per_task[None, :]  # (runs, tasks): the first n_t draws of task t count
    chunk = chunk or max(1, CHUNK_ELEMENTS // (runs * tasks))
    column = np.arange(tasks, dtype=np.int32)
    for start in range(0, reps, chunk):
        n = min(chunk, reps - start)
        if full:
            drawn = rng.integers(0, runs, size=(n, runs, tasks), dtype=np.int32)
            weights = None
        else:
            positions = rng.integers(0, per_task, size=(n, runs, tasks), dtype=np.int32)
            drawn = np.take_along_axis(rows[None], positions, axis=1)
            weights = np.broadcast_to(drawing, drawn.shape).reshape(-1).astype(np.float64)
        drawn *= tasks  # flat index of (resample, drawn run, task), in int32: a chunk has under 2^31 cells
        drawn += np.arange(n, dtype=np.int32)[:, None, None] * (runs * tasks) + column
        counts = np.bincount(drawn.reshape(-1), weights=weights, minlength=n * runs * tasks)
        yield counts.reshape(n, runs, tasks).astype(np.float64)


def percentile_interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap replicates along axis 0 (rliable's default method)."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return low, high


Metric = Callable[..., np.ndarray]  # metric(scores, counts=None): a value, or one per resample
Metrics = Callable[..., dict[str, np.ndarray]]  # metrics(scores, counts=None): {name: value or one per resample}


def _estimate(value: Any, samples: list[np.ndarray]) -> dict[str, Any]:
    low, high = percentile_interval(np.concatenate(samples))
    if np.ndim(value) == 0:
        return {"value": float(value), "low": float(low), "high": float(high)}
    return {"value": value, "low": low, "high": high}


def joint_estimates(
    scores: dict[str, np.ndarray],
    metrics: dict[str, Metrics],
    pairs: list[tuple[str, str]],
    reps: int,
    rngs: dict[str, np.random.Generator],
    workers: int = 1,
    known: dict[str, dict[str, Any]] | None = None,
    tasks: dict[str, list[str]] | None = None,
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[tuple[str, str], dict[str, float]]]:
    """Every interval of a report: each method's metrics ({method: {metric: {value, low, high}}}; metrics[method]
    (scores, counts) gives them all at once, e.g. stats.aggregates) and P(X > Y) for each pair ({(x, y): {value,
    low, high}}).

    Each method is resampled by its own generator, from its state at the call; its metrics and every pair read
    those resamples, so the two sides of a pair are independent (rliable's StratifiedIndependentBootstrap) and a
    method's intervals do not depend on which other methods are in the report. The work is split by method, one
    unit each, run in `workers` processes, longest first: a unit computes its method's metrics and each pair in
    which it is Y, replaying X's stream (cheap for our few runs per task; a baseline with 100 runs per task is
    resampled once). The numbers are the same for any number of workers (a stream does not depend on chunking).
    With workers=1 each generator passed is advanced as by its own resampling; with more they are left as they
    were. A scalar metric gives floats; a vector one, such as a performance profile, arrays with pointwise
    intervals. `known` holds methods' metrics computed before (analysis.cache): they are not recomputed, and
    such a method is resampled only for its pairs.

    `tasks` names each method's columns where methods were scored on different tasks ({method: [task, ...]}):
    each method's metrics are over its own tasks and each pair's P(X > Y) over the tasks both have (the columns of
    a method's resamples are independent strata, so a pair reads the common ones of each). None: every array has
    the same tasks in the same order."""
    known = known or {}
    start = {n: copy.deepcopy(rng) for n, rng in rngs.items()}
    names = list(scores)
    columns = {pair: common_columns(tasks, *pair) for pair in pairs}

    def unit(i: int) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], dict[str, float]]]:
        y = names[i]
        own = rngs[y] if workers <= 1 else copy.deepcopy(start[y])
        xs = {x: columns[(x, to)] for x, to in pairs if to == y}
        return _unit(scores, None if y in known else metrics[y], y, xs, reps, own, start)

    cost = [scores[y].size * (y not in known) + sum(scores[x].size for x, to in pairs if to == y) for y in names]
    done = parallel.run(unit, len(names), workers, order=sorted(range(len(names)), key=lambda i: -cost[i]))
    per_pair = {pair: estimate for _, paired in done for pair, estimate in paired.items()}
    return {y: known.get(y, done[i][0]) for i, y in enumerate(names)}, {pair: per_pair[pair] for pair in pairs}


Columns = tuple[Any, Any]  # (x's columns, y's columns) of the tasks a pair compares, as index arrays or slices


def common_columns(tasks: dict[str, list[str]] | None, x: str, y: str) -> Columns:
    """The columns of x's and of y's scores that hold the tasks both have, in y's order (all of both: None)."""
    if tasks is None or tasks[x] == tasks[y]:
        return slice(None), slice(None)
    shared = [t for t in tasks[y] if t in tasks[x]]
    if not shared:
        raise ValueError(f"{x} and {y} have no task in common")
    return np.array([tasks[x].index(t) for t in shared]), np.array([tasks[y].index(t) for t in shared])


def _unit(
    scores: dict[str, np.ndarray],
    metrics: Metrics | None,
    y: str,
    xs: dict[str, Columns],
    reps: int,
    rng: np.random.Generator,
    start: dict[str, np.random.Generator],
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], dict[str, float]]]:
    """Method y's metrics (its resamples drawn by rng; none without `metrics`) and P(x > y) for each x in xs over
    the columns xs[x] (x's resamples replayed from its `start` generator), in chunks of resamples that keep the
    counts in cache."""
    if metrics is None and not xs:
        return {}, {}
    chunk = max(1, CHUNK_ELEMENTS // (scores[y].size + sum(scores[x].size for x in xs)))
    streams = {x: stratified_counts(scores[x], reps, copy.deepcopy(start[x]), chunk) for x in xs}
    sides = {x: (scores[x][:, cx], scores[y][:, cy]) for x, (cx, cy) in xs.items()}
    wins = {x: stats.wins_by_task(*sides[x]) for x in xs}
    samples: dict[str, list[np.ndarray]] = {}
    paired: dict[str, list[np.ndarray]] = {x: [] for x in xs}
    for counts in stratified_counts(scores[y], reps, rng, chunk):
        for key, value in (metrics(scores[y], counts) if metrics else {}).items():
            samples.setdefault(key, []).append(value)
        if xs:
            y_first = stats.by_task(counts)
            for x, (cx, cy) in xs.items():
                x_first = stats.by_task(next(streams[x]))
                paired[x].append(stats.improvement_by_task(wins[x], x_first[cx], y_first[cy]))
    own = {k: _estimate(value, samples[k]) for k, value in metrics(scores[y]).items()} if metrics else {}
    return own, {(x, y): _estimate(stats.probability_of_improvement(*sides[x]), paired[x]) for x in xs}


def interval_estimates(
    scores: np.ndarray, metrics: dict[str, Metric], reps: int, rng: np.random.Generator
) -> dict[str, dict[str, Any]]:
    """{name: {value, low, high}} of each metric(scores, counts) of one (runs, tasks) array (joint_estimates)."""

    def together(s: np.ndarray, counts: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return {name: metric(s, counts) for name, metric in metrics.items()}

    return joint_estimates({"": scores}, {"": together}, [], reps, {"": rng})[0][""]


def improvement_estimate(
    x: np.ndarray, y: np.ndarray, reps: int, rng_x: np.random.Generator, rng_y: np.random.Generator
) -> dict[str, float]:
    """P(X > Y) of (runs_x, tasks) and (runs_y, tasks) with an interval from independent stratified resamples of
    each, X's by rng_x and Y's by rng_y (joint_estimates)."""

    def nothing(s: np.ndarray, counts: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return {}

    return joint_estimates(
        {"x": x, "y": y}, {"x": nothing, "y": nothing}, [("x", "y")], reps, {"x": rng_x, "y": rng_y}
    )[1][("x", "y")]


def t_quantile(dof: Any, confidence: float = CONFIDENCE) -> Any:
    """Student's t quantile of a two-sided `confidence` interval at `dof` degrees of freedom (an int, or an array
    of them: one per bin of a curve, analysis.curves): the half-width of a t interval in standard errors."""
    if np.ndim(dof) == 0:
        return _t_quantile(confidence, int(dof))
    from scipy.stats import t

    return t.ppf(0.5 + confidence / 2, dof)


@cache
def _t_quantile(confidence: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, dof))


def t_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student's t interval of the mean of `values` (n,); (nan, nan) for fewer than two values.

    For the mean of one task over a few runs the percentile bootstrap is too narrow (about 84% coverage at 5
    normal runs); t is exact for normal scores and wider than the bootstrap otherwise."""
    n = len(values)
    if n < 2:
        return float("nan"), float("nan")
    half = t_quantile(n - 1, confidence) * np.std(values, ddof=1) / np.sqrt(n)
    centre = float(np.mean(values))
    return centre - float(half), centre + float(half)


def model_truth(mean: np.ndarray, sd: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """The aggregates of the normal model N(mean_t, sd_t) of each task (tasks,)."""
    sample = rng.normal(mean, sd, size=(POPULATION, len(mean)))
    return {
        "Median": float(np.median(mean)),
        "IQM": float(stats.iqm(sample)),
        "Mean": float(mean.mean()),
        "Optimality Gap": float(stats.optimality_gap(sample)),
    }


def coverage(scores: np.ndarray, trials: int, reps: int, rng: np.random.Generator) -> dict[str, float]:
    """Fraction of `trials` simulated (runs, tasks) experiments, shaped like `scores`, whose 95% stratified
    bootstrap interval of each aggregate contains the model's value (missing cells stay missing)."""
    missing = np.isnan(scores)
    if (len(scores) - missing.sum(axis=0) < 2).any():
        raise ValueError("calibration needs at least two runs per task")
    mean, sd = np.nanmean(scores, axis=0), np.nanstd(scores, axis=0, ddof=1)
    truth = model_truth(mean, sd, rng)
    hits = dict.fromkeys(truth, 0)
    for _ in range(trials):
        simulated = np.where(missing, np.nan, rng.normal(mean, sd, size=scores.shape))
        intervals = interval_estimates(simulated, stats.AGGREGATES, reps, rng)
        for name, value in truth.items():
            hits[name] += intervals[name]["low"] <= value <= intervals[name]["high"]
    return {name: count / trials for name, count in hits.items()}
