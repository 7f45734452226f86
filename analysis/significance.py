"""Calibrated tests for comparing two methods: the verdicts of a report (issue #34).

Every function takes scores in rliable's layout, `x` of shape (runs_x, tasks) and `y` of shape (runs_y, tasks), NaN
marking a missing cell; a 1-D array (runs,) is one task. The statistic is the report's P(X > Y)
(`analysis.stats.probability_of_improvement`): per task the Mann-Whitney U over the task's present runs divided by
its pairs of runs, ties counting half, averaged over tasks.

The percentile bootstrap interval of P(X > Y) excluding 0.5 is not a test of level 5%: on null data it fires in
about 20% of experiments at 3 runs against 3 (`python -m analysis.calibration`). The tests here are:
- `permutation_test`: under H0 the runs of X and Y are exchangeable within each task, so every assignment of the
  pooled runs of a task to the two labels is equally likely, independently across tasks (a stratified test).
  Exact, by enumerating every assignment, when there are at most `n_resamples` of them (C(20, 10) = 184,756: one
  task at 10 runs against 10); otherwise Monte Carlo with p = (1 + #{as extreme}) / (1 + draws), which is valid
  at any number of draws.
- `equivalence_test`: two one-sided tests (TOST) under a location-shift model with a margin in score units.
- `welch_test`: Welch's t on one task, to show beside a verdict, never as one.
- `holm` and `verdicts`: a family of comparisons, Holm-corrected, each "better", "worse", "level" or
  "inconclusive".
- `power`, `seeds_needed` (analysis/power.py): how many runs per side a comparison needs, by simulating the
  same test.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from analysis.stats import probability_of_improvement

N_RESAMPLES = 200_000  # exact up to this many label assignments (one task at 10 runs against 10), else draws
TOLERANCE = 1e-12  # values of the statistic this close count as equal (the same U summed in another order)
ALTERNATIVES = ("two-sided", "greater", "less")
CHUNK_ELEMENTS = 1 << 20  # random keys held at once when drawing permutations of a large task

Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class PermutationTest:
    """The result of `permutation_test`."""

    statistic: float  # P(X + shift > Y)
    pvalue: float
    alternative: str
    exact: bool  # every label assignment counted; False: Monte Carlo draws
    resamples: int  # label assignments counted: all of them when exact, else the draws
    runs_x: tuple[int, ...]  # present runs of X per task
    runs_y: tuple[int, ...]


@dataclass(frozen=True)
class EquivalenceTest:
    """The result of `equivalence_test`: p = max of the two one-sided p-values."""

    pvalue: float
    margin: float | tuple[float, ...]
    not_worse: PermutationTest  # H0: X is worse by at least the margin ("greater" on x + margin)
    not_better: PermutationTest  # H0: X is better by at least the margin ("less" on x - margin)


@dataclass(frozen=True)
class WelchTest:
    """Welch's t-test of one task's means."""

    statistic: float
    pvalue: float
    df: float


@dataclass(frozen=True)
class Verdict:
    """One comparison of a family (`verdicts`)."""

    verdict: str  # "better", "worse", "level" or "inconclusive"
    improvement: float  # P(X > Y)
    p_difference: float  # two-sided permutation test, raw
    p_difference_adjusted: float  # Holm over the family
    p_equivalence: float  # TOST at the margin, raw
    p_equivalence_adjusted: float  # Holm over the family
    exact: bool  # all three tests exact
    family_size: int
    correction: str  # "holm"
    alpha: float
    margin: float | tuple[float, ...]


def score_table(scores: np.ndarray) -> np.ndarray:
    """Scores as float (runs, tasks); a 1-D array (runs,) is one task."""
    table = np.asarray(scores, dtype=np.float64)
    table = table[:, None] if table.ndim == 1 else table
    if table.ndim != 2:
        raise ValueError(f"scores must have shape (runs, tasks) or (runs,), got {table.shape}")
    return table


def _shifted(x: np.ndarray, y: np.ndarray, shift: float | np.ndarray) -> Pair:
    """x + shift (shift a number or one per task (tasks,)) and y as (runs, tasks) tables, checked: the same
    tasks, and at least one present run of each side on every task."""
    x, y = score_table(x), score_table(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same tasks, got {x.shape} and {y.shape}")
    empty = (np.isnan(x).all(axis=0) | np.isnan(y).all(axis=0)).nonzero()[0]
    if empty.size:
        raise ValueError(f"task {int(empty[0])} needs at least one run with a score on each side")
    return x + np.broadcast_to(np.asarray(shift, dtype=np.float64), (x.shape[1],)), y


@dataclass(frozen=True)
class _Task:
    """One task's pooled runs: n of X and m of Y, and the mid-ranks of the pooled scores (n + m,), X's first."""

    n: int
    m: int
    ranks: np.ndarray

    @property
    def assignments(self) -> int:
        return math.comb(self.n + self.m, self.n)

    def null(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct values of U / (n m) over every assignment of the pooled runs to X and Y (ascending) and
        how many assignments give each (ints)."""
        doubled = tuple(sorted(np.rint(2 * self.ranks).astype(np.int64).tolist()))
        values, counts = _u_distribution(self.n, doubled)
        return values / (self.n * self.m), counts

    def sample(self, draws: int, rng: np.random.Generator) -> np.ndarray:
        """U / (n m) of `draws` assignments drawn uniformly (draws,): by the enumerated distribution where it
        has at most N_RESAMPLES assignments, else by random subsets of the pooled runs."""
        if self.assignments <= N_RESAMPLES:
            values, counts = self.null()
            picks = rng.integers(0, int(counts.sum()), size=draws)
            return values[np.searchsorted(np.cumsum(counts), picks, side="right")]
        size = self.n + self.m
        chunk = max(1, CHUNK_ELEMENTS // size)
        u = np.concatenate(
            [
                self.ranks[np.argpartition(rng.random((k, size)), self.n - 1, axis=1)[:, : self.n]].sum(axis=1)
                for k in (min(chunk, draws - s) for s in range(0, draws, chunk))
            ]
        )
        return (u - self.n * (self.n + 1) / 2) / (self.n * self.m)


@lru_cache(maxsize=8)
def _assignments(n: int, size: int) -> np.ndarray:
    """Every choice of n of `size` pooled positions as X's runs, one 0/1 row each: (C(size, n), size) float32."""
    chosen = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(size), n)), dtype=np.int64)
    rows = np.zeros((math.comb(size, n), size), dtype=np.float32)
    np.put_along_axis(rows, chosen.reshape(-1, n), 1.0, axis=1)
    return rows


@lru_cache(maxsize=4096)
def _u_distribution(n: int, doubled_ranks: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The null distribution of U = (sum of X's mid-ranks) - n (n + 1) / 2 for n runs of X among pooled runs with
    these doubled mid-ranks (sorted; it depends on them only): the distinct U (ascending) and their counts.

    One matrix product of the assignment matrix with the rank vector; 2U is an integer (mid-ranks are halves),
    exact in float32, so the distribution is a bincount."""
    ranks = np.asarray(doubled_ranks, dtype=np.float32)
    twice_u = np.rint(_assignments(n, len(ranks)) @ ranks).astype(np.int64) - n * (n + 1)
    counts = np.bincount(twice_u)
    present = np.flatnonzero(counts)
    return present / 2.0, counts[present]


def _tasks(x: np.ndarray, y: np.ndarray) -> list[_Task]:
    """Each task's present runs of x and y (runs, tasks) pooled and mid-ranked. All columns are ranked at once,
    missing cells as +inf: above every score, they leave the present runs' mid-ranks as they are."""
    pooled = np.concatenate([x, y])
    present = ~np.isnan(pooled)
    ranks = scipy_stats.rankdata(np.where(present, pooled, np.inf), axis=0)
    is_x = np.arange(len(pooled)) < len(x)
    return [
        _Task(int((keep & is_x).sum()), int((keep & ~is_x).sum()), column[keep])
        for column, keep in zip(ranks.T, present.T, strict=True)
    ]


def _exact_null(tasks: list[_Task]) -> tuple[np.ndarray, np.ndarray]:
    """The statistic's value under every assignment, grouped: values and counts, at most the number of
    assignments long (per task the distinct values, combined by outer sums and products)."""
    values, counts = np.zeros(1), np.ones(1, dtype=np.int64)
    for task in tasks:
        v, c = task.null()
        values = np.add.outer(values, v).ravel()
        counts = np.multiply.outer(counts, c).ravel()
    return values / len(tasks), counts


def _as_extreme(null: np.ndarray, observed: float, alternative: str) -> np.ndarray:
    """Which values of the statistic under H0 are at least as extreme as the observed one (bool, null's shape)."""
    if alternative == "greater":
        return null >= observed - TOLERANCE
    if alternative == "less":
        return null <= observed + TOLERANCE
    return np.abs(null - 0.5) >= abs(observed - 0.5) - TOLERANCE


def permutation_test(
    x: np.ndarray,
    y: np.ndarray,
    *,
    alternative: str = "two-sided",
    shift: float | np.ndarray = 0.0,
    n_resamples: int = N_RESAMPLES,
    rng: np.random.Generator | None = None,
) -> PermutationTest:
    """Stratified permutation test of S = P(X + shift > Y) (the mean over tasks of U / (n m)).

    x: (runs_x, tasks), y: (runs_y, tasks) or 1-D (one task), NaN a missing cell; every task needs a run on each
    side. shift: a number or one per task (tasks,), in score units, added to x. H0: within each task the present
    runs of X + shift and Y are exchangeable. The alternative is "greater" (S > 0.5), "less" or "two-sided"
    (|S - 0.5| as the extremeness). Exact when the assignments of all tasks together number at most
    `n_resamples`; otherwise `n_resamples` random assignments (each task relabelled independently) and
    p = (1 + #{at least as extreme}) / (1 + n_resamples). rng: for the draws; None: seeded with 0, so a report's
    p-values repeat."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    x, y = _shifted(x, y, shift)
    observed = float(probability_of_improvement(x, y))
    tasks = _tasks(x, y)
    total = math.prod(task.assignments for task in tasks)
    exact = total <= n_resamples
    if exact:
        values, counts = _exact_null(tasks)
        pvalue = counts[_as_extreme(values, observed, alternative)].sum() / counts.sum()
    else:
        rng = rng if rng is not None else np.random.default_rng(0)
        null = sum(task.sample(n_resamples, rng) for task in tasks) / len(tasks)
        pvalue = (1 + np.count_nonzero(_as_extreme(null, observed, alternative))) / (1 + n_resamples)
    return PermutationTest(
        statistic=observed,
        pvalue=float(pvalue),
        alternative=alternative,
        exact=exact,
        resamples=total if exact else n_resamples,
        runs_x=tuple(task.n for task in tasks),
        runs_y=tuple(task.m for task in tasks),
    )


def equivalence_test(
    x: np.ndarray,
    y: np.ndarray,
    margin: float | np.ndarray,
    *,
    n_resamples: int = N_RESAMPLES,
    rng: np.random.Generator | None = None,
) -> EquivalenceTest:
    """Two one-sided permutation tests (TOST) that X and Y differ by less than `margin` in score units.

    x: (runs_x, tasks), y: (runs_y, tasks) or 1-D; margin > 0, a number or one per task (tasks,). Under a
    location-shift model (X = Y + delta in distribution, per task): p1 tests H0 delta <= -margin ("greater" on
    x + margin), p2 tests H0 delta >= margin ("less" on x - margin); p = max(p1, p2). At the boundary of either
    H0 the shifted runs are exchangeable, so each test has its exact level there."""
    bound = np.asarray(margin, dtype=np.float64)
    if not (bound > 0).all():
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    kwargs = {"n_resamples": n_resamples, "rng": rng}
    not_worse = permutation_test(x, y, alternative="greater", shift=bound, **kwargs)
    not_better = permutation_test(x, y, alternative="less", shift=-bound, **kwargs)
    return EquivalenceTest(
        pvalue=max(not_worse.pvalue, not_better.pvalue),
        margin=float(bound) if bound.ndim == 0 else tuple(bound.tolist()),
        not_worse=not_worse,
        not_better=not_better,
    )


def welch_test(x: np.ndarray, y: np.ndarray) -> WelchTest | None:
    """Welch's t-test of the means of one task (scipy.stats.ttest_ind, equal_var=False), to show beside a verdict,
    never as one: it assumes normal means, which a handful of RL runs does not warrant.

    x: (runs_x,) or (runs_x, 1), y likewise; missing cells dropped. None with several tasks (a t-test of
    per-task means would weigh tasks by their score scales) or with fewer than two runs on a side."""
    x, y = score_table(x), score_table(y)
    if x.shape[1] != 1 or y.shape[1] != 1:
        return None
    xs, ys = x[~np.isnan(x)], y[~np.isnan(y)]
    if len(xs) < 2 or len(ys) < 2:
        return None
    result = scipy_stats.ttest_ind(xs, ys, equal_var=False)
    return WelchTest(statistic=float(result.statistic), pvalue=float(result.pvalue), df=float(result.df))


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values of a family (k,) -> (k,) (statsmodels' multipletests, method "holm")."""
    p = np.asarray(pvalues, dtype=np.float64)
    return p.copy() if p.size == 0 else multipletests(p, method="holm")[1]


def verdicts(
    pairs: Sequence[Pair] | Mapping[str, Pair],
    alpha: float = 0.05,
    *,
    margin: float | np.ndarray,
    n_resamples: int = N_RESAMPLES,
    rng: np.random.Generator | None = None,
) -> list[Verdict] | dict[str, Verdict]:
    """A verdict for each comparison (x, y) of a family: x (runs_x, tasks), y (runs_y, tasks) or 1-D.

    The two-sided permutation p-values are Holm-corrected across the family, and so are the equivalence (TOST at
    `margin`, score units, a number or one per task) p-values. A pair is "better" or "worse" (by the sign of
    P(X > Y) - 0.5) where the adjusted difference p <= alpha, "level" where the adjusted equivalence p <= alpha
    and the difference is not rejected, "inconclusive" otherwise. Returns a list for a sequence of pairs, a dict
    with the same keys for a mapping. rng: Monte Carlo draws where a test is not exact (None: seeded with 0)."""
    named = pairs if isinstance(pairs, Mapping) else dict(enumerate(pairs))
    rng = rng if rng is not None else np.random.default_rng(0)
    differences = [permutation_test(x, y, n_resamples=n_resamples, rng=rng) for x, y in named.values()]
    equivalences = [equivalence_test(x, y, margin, n_resamples=n_resamples, rng=rng) for x, y in named.values()]
    p_difference = holm([test.pvalue for test in differences])
    p_equivalence = holm([test.pvalue for test in equivalences])
    out = {}
    for i, key in enumerate(named):
        difference, equivalence = differences[i], equivalences[i]
        if p_difference[i] <= alpha:
            verdict = "better" if difference.statistic > 0.5 else "worse"
        else:
            verdict = "level" if p_equivalence[i] <= alpha else "inconclusive"
        out[key] = Verdict(
            verdict=verdict,
            improvement=difference.statistic,
            p_difference=difference.pvalue,
            p_difference_adjusted=float(p_difference[i]),
            p_equivalence=equivalence.pvalue,
            p_equivalence_adjusted=float(p_equivalence[i]),
            exact=difference.exact and equivalence.not_worse.exact and equivalence.not_better.exact,
            family_size=len(named),
            correction="holm",
            alpha=alpha,
            margin=equivalence.margin,
        )
    return out if isinstance(pairs, Mapping) else list(out.values())
