"""How many runs per side a comparison needs (issue #34): `power` and `seeds_needed` simulate experiments and run
the report's own tests on them (`analysis.significance`: the stratified permutation test, or TOST with a margin);
`pilot_residuals` gives the shape of the noise from pilot runs, `smallest_pvalue` the floor of the exact test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.significance import N_RESAMPLES, equivalence_test, permutation_test, score_table

PLAN_RESAMPLES = 2000  # Monte Carlo draws per simulated experiment of the planner where the test is not exact


@dataclass(frozen=True)
class SeedPlan:
    """The result of `seeds_needed`."""

    seeds: int | None  # runs per side reaching the target power; None: not within max_seeds
    power: dict[int, float]  # estimated power at each number of runs per side tried
    level: float  # alpha / family_size (Bonferroni)
    notes: tuple[str, ...]  # numbers of runs at which the test can never reject, and why


def pilot_residuals(scores: np.ndarray) -> np.ndarray:
    """Pilot runs' scores (runs, tasks) centred on each task's mean and pooled: (present cells,)."""
    table = score_table(scores)
    centred = table - np.nanmean(table, axis=0)
    return centred[~np.isnan(centred)]


def smallest_pvalue(
    runs_x: int, runs_y: int, tasks: int = 1, alternative: str = "two-sided", n_resamples: int = N_RESAMPLES
) -> float:
    """The smallest p-value `permutation_test` can give at runs_x against runs_y on each of `tasks` tasks:
    2 / (assignments) two-sided and 1 / (assignments) one-sided when exact (without ties; ties only raise it),
    1 / (1 + n_resamples) by Monte Carlo. One task at 3 against 3: 2 / 20 = 0.1."""
    total = math.comb(runs_x + runs_y, runs_x) ** tasks
    if total <= n_resamples:
        return (2 if alternative == "two-sided" else 1) / total
    return 1 / (1 + n_resamples)


def _resamples(runs_x: int, runs_y: int, tasks: int, n_resamples: int | None) -> int:
    """The planner's resamples: the test's default where it is then exact, else PLAN_RESAMPLES draws."""
    if n_resamples is not None:
        return n_resamples
    exact = math.comb(runs_x + runs_y, runs_x) ** tasks <= N_RESAMPLES
    return N_RESAMPLES if exact else PLAN_RESAMPLES


def power(
    difference: float,
    runs_x: int,
    runs_y: int | None = None,
    *,
    spread: float = 1.0,
    residuals: np.ndarray | None = None,
    tasks: int = 1,
    alpha: float = 0.05,
    family_size: int = 1,
    alternative: str = "two-sided",
    experiments: int = 1000,
    n_resamples: int | None = None,
    rng: np.random.Generator | None = None,
    margin: float | None = None,
) -> float:
    """The chance that `permutation_test` rejects at level alpha / family_size (Bonferroni, a conservative stand-in
    for Holm: Holm's first step) when X is better than Y by `difference` (score units) on each of `tasks` tasks.

    Simulated: `experiments` experiments of runs_x against runs_y (default runs_x) runs per task, each score
    difference (X only) + spread * noise, noise standard normal or, with `residuals` (k,) (e.g. `pilot_residuals`),
    drawn from them with replacement after scaling them to mean 0 and standard deviation 1. The test is exact
    where it has at most N_RESAMPLES assignments, else n_resamples draws (None: PLAN_RESAMPLES). 0 without
    simulating where the smallest attainable p-value exceeds the level (one task at 3 against 3, two-sided:
    0.1 > 0.05). With `margin`, the test is `equivalence_test` at that margin instead: the chance it shows the
    two level (within +-margin) when the true difference is `difference` (e.g. 0); each of its one-sided tests
    must reach the level."""
    runs_y = runs_x if runs_y is None else runs_y
    level = alpha / family_size
    resamples = _resamples(runs_x, runs_y, tasks, n_resamples)
    if smallest_pvalue(runs_x, runs_y, tasks, alternative if margin is None else "greater", resamples) > level:
        return 0.0
    rng = rng if rng is not None else np.random.default_rng(0)
    shape = None if residuals is None else (residuals - residuals.mean()) / residuals.std()

    def noise(runs: int) -> np.ndarray:
        size = (runs, tasks)
        return spread * (rng.standard_normal(size) if shape is None else rng.choice(shape, size))

    rejected = 0
    for _ in range(experiments):
        x, y = difference + noise(runs_x), noise(runs_y)
        if margin is None:
            pvalue = permutation_test(x, y, alternative=alternative, n_resamples=resamples, rng=rng).pvalue
        else:
            pvalue = equivalence_test(x, y, margin, n_resamples=resamples, rng=rng).pvalue
        rejected += pvalue <= level
    return rejected / experiments


def seeds_needed(
    difference: float,
    spread: float = 1.0,
    *,
    alpha: float = 0.05,
    family_size: int = 1,
    target: float = 0.8,
    max_seeds: int = 20,
    residuals: np.ndarray | None = None,
    tasks: int = 1,
    experiments: int = 1000,
    n_resamples: int | None = None,
    rng: np.random.Generator | None = None,
    margin: float | None = None,
) -> SeedPlan:
    """The smallest number of runs per side (2 .. max_seeds) at which the two-sided permutation test finds a true
    `difference` (score units, noise of standard deviation `spread`, normal or shaped like `residuals`) with
    power >= target at level alpha / family_size.

    The level is Bonferroni's, conservative: Holm's first step, and a comparison that is not the family's
    smallest p-value is tested at a level between alpha / family_size and alpha, so this can only overstate the
    runs needed. The notes name the numbers of runs at which no p-value can reach the level (power 0). With
    `margin`, the plan is for the equivalence test ("level" within +-margin) at a true `difference` (see `power`)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    level = alpha / family_size
    powers: dict[int, float] = {}
    notes = []
    for runs in range(2, max_seeds + 1):
        sided = "two-sided" if margin is None else "greater"
        lowest = smallest_pvalue(runs, runs, tasks, sided, _resamples(runs, runs, tasks, n_resamples))
        if lowest > level:
            kind = "two-sided" if margin is None else "one-sided"
            notes.append(
                f"{runs} vs {runs} runs on {tasks} task(s): the smallest attainable {kind} p-value is "
                f"{lowest:.3g} > level {level:.3g}, power 0"
            )
        powers[runs] = power(
            difference,
            runs,
            spread=spread,
            residuals=residuals,
            tasks=tasks,
            alpha=alpha,
            family_size=family_size,
            experiments=experiments,
            n_resamples=n_resamples,
            rng=rng,
            margin=margin,
        )
        if powers[runs] >= target:
            return SeedPlan(runs, powers, level, tuple(notes))
    return SeedPlan(None, powers, level, tuple(notes))
