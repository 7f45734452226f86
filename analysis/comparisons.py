"""The comparisons a report tests, and their calibrated verdicts (docs/report.md, "Verdicts").

A report calls a difference only through the tests of `analysis.significance`: a stratified permutation test of
P(X > Y) per comparison, Holm-corrected over the family of comparisons the user asked for, and an equivalence test
(TOST, a shift of `margin` in normalised score) for "level". Each comparison is "better", "worse", "level" or
"inconclusive"; P(X > Y) with its bootstrap interval stays beside it as the effect size.

The family:
- with `--ladder`: each rung against the rung it changes and against random, and the `--compare` pairs;
- without: the report's pairs (each of our methods against the later ones and every imported method or shipped
  baseline), and the `--compare` pairs.

Optional stopping: seeds added after a result was read bias a test. A suite's planned seed count (benchmark.toml)
is the design, so our methods are tested on their planned seeds (1..N) and the report names any method that has
more; `all_seeds` tests on every seed instead. Imported methods and baselines are tested on all their runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis import power, significance
from analysis.summary_file import Comparison, Comparisons, Rung

ALPHA = 0.05
MARGIN = 0.1  # "level" means within 0.1 of normalised score: a tenth of random-to-human, 100 of DMC's 1000
POWER_EXPERIMENTS = 200  # simulated experiments per power estimate (Monte Carlo error about 3 points at 50%)
TEST = (
    "two-sided stratified permutation test of P(X > Y) (exact where it has at most 200,000 label assignments, "
    "else 200,000 random ones)"
)
EQUIVALENCE = "two one-sided permutation tests (TOST) of a shift of the margin in normalised score"


def family(
    pairs: Sequence[tuple[str, str]],
    ladder: Sequence[Rung] | None,
    compare: Sequence[tuple[str, str]],
    floor: str | None,
) -> tuple[list[tuple[str, str]], str]:
    """The comparisons to test, each (x, y) once, and how they were chosen. `ladder`: the rungs of `ladder.rows`;
    `floor`: the random method where the report has one."""
    if ladder:
        chosen = [(r.method, r.reference) for r in ladder if r.reference]
        chosen += [(r.method, floor) for r in ladder if floor and r.method != floor]
        how = "each ladder rung against the rung it changes" + (" and against random" if floor else "")
    else:
        chosen, how = list(pairs), "each of our methods against every other method of the report"
    if compare:
        how += ", and the --compare pairs"
    out: list[tuple[str, str]] = []
    for x, y in [*chosen, *compare]:
        if x != y and (x, y) not in out and (y, x) not in out:
            out.append((x, y))
    return out, how


@dataclass(frozen=True)
class SeedPlan:
    """The seeds a suite plans per method (benchmark.toml): `default` of each, `of_method` where a method's own
    count is given (a rung added later with as many as a power calculation asked, and the methods it is tested
    against)."""

    default: int
    of_method: Mapping[str, int] = field(default_factory=dict)

    def of(self, method: str) -> int:
        return self.of_method.get(method, self.default)

    def describe(self) -> str:
        own = ", ".join(f"{m} {n}" for m, n in sorted(self.of_method.items()))
        return f"{self.default} per method" + (f" ({own})" if own else "")


def planned(seeds: Sequence[int], planned_seeds: int | None) -> np.ndarray:
    """The rows (of a method's scores, one per seed in `seeds`' order) of the seeds the suite planned: 1..N."""
    rows = np.arange(len(seeds))
    return rows if planned_seeds is None else rows[np.asarray(seeds) <= planned_seeds]


def verdicts(
    scores: Mapping[str, np.ndarray],
    tasks: Mapping[str, Sequence[str]],
    seeds: Mapping[str, Sequence[int]],
    ours: set[str],
    chosen: Sequence[tuple[str, str]],
    how: str,
    plan: SeedPlan | None = None,
    all_seeds: bool = False,
    alpha: float = ALPHA,
    margin: float = MARGIN,
) -> Comparisons:
    """The verdicts of the family `chosen` (described by `how`): the summary's tests.

    scores: normalised (runs, tasks) per method, rows in `seeds`' order and columns in `tasks`' order; `ours`:
    the methods of the store (tested on their planned seeds unless `all_seeds`)."""
    design = None if all_seeds else plan
    rows = {
        n: planned(seeds[n], design.of(n) if design else None) if n in ours else np.arange(len(seeds[n]))
        for n in scores
    }
    pairs = {f"{x} vs {y}": _common(scores, tasks, rows, x, y) for x, y in chosen}
    found = significance.verdicts(pairs, alpha, margin=margin, rng=np.random.default_rng(0)) if pairs else {}
    out = {}
    for (x, y), (key, verdict) in zip(chosen, found.items(), strict=True):
        a, b = pairs[key]
        welch = significance.welch_test(a, b)
        out[key] = Comparison(
            x=x,
            y=y,
            verdict=verdict.verdict,
            improvement=verdict.improvement,
            p=verdict.p_difference,
            p_adjusted=verdict.p_difference_adjusted,
            p_equivalence=verdict.p_equivalence,
            p_equivalence_adjusted=verdict.p_equivalence_adjusted,
            exact=verdict.exact,
            runs=[int(np.isfinite(a).sum(axis=0).min()), int(np.isfinite(b).sum(axis=0).min())],
            tasks=int(a.shape[1]),
            welch_p=None if welch is None else float(welch.pvalue),
            power=_power(a, b, margin, alpha, len(chosen)),
        )
    return Comparisons(
        alpha=alpha,
        margin=margin,
        correction="Holm",
        family=how,
        size=len(chosen),
        test=TEST,
        equivalence=EQUIVALENCE,
        planned_seeds=None if plan is None else plan.default,
        planned_seeds_of={} if plan is None else dict(plan.of_method),
        all_seeds=all_seeds,
        beyond_plan=_beyond_plan(seeds, ours & set(scores), plan),
        pairs=out,
    )


def _beyond_plan(seeds: Mapping[str, Sequence[int]], ours: set[str], plan: SeedPlan | None) -> dict[str, list[int]]:
    """{method: its seeds past its planned count} of each of `ours` that has any (in name order)."""
    return {
        n: [s for s in seeds[n] if s > plan.of(n)]
        for n in sorted(ours)
        if plan is not None and any(s > plan.of(n) for s in seeds[n])
    }


def _common(
    scores: Mapping[str, np.ndarray],
    tasks: Mapping[str, Sequence[str]],
    rows: Mapping[str, np.ndarray],
    x: str,
    y: str,
) -> tuple[np.ndarray, np.ndarray]:
    """x's and y's scores on the tasks both have (in y's order), on their tested rows."""
    shared = [t for t in tasks[y] if t in tasks[x]]
    columns_x = [list(tasks[x]).index(t) for t in shared]
    columns_y = [list(tasks[y]).index(t) for t in shared]
    return scores[x][rows[x]][:, columns_x], scores[y][rows[y]][:, columns_y]


def _power(x: np.ndarray, y: np.ndarray, margin: float, alpha: float, family_size: int) -> float | None:
    """The power of the comparison's test to find a difference of one margin at these runs and the spread the
    two methods show (their runs' deviations from each task's mean, pooled), at the family's Bonferroni level."""
    residuals = np.concatenate([power.pilot_residuals(x), power.pilot_residuals(y)])
    if len(residuals) < 3 or residuals.std() == 0:
        return None
    return power.power(
        margin,
        int(np.isfinite(x).sum(axis=0).min()),
        int(np.isfinite(y).sum(axis=0).min()),
        spread=float(residuals.std()),
        tasks=x.shape[1],
        alpha=alpha,
        family_size=family_size,
        experiments=POWER_EXPERIMENTS,
        rng=np.random.default_rng(0),
    )
