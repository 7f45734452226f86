"""How often the report's rules call a difference that is not there, and the power of the test that replaces them.

`python -m analysis.calibration [--experiments N] [--seed S] [--out FILE] [--quick] [--jobs J]` simulates, for
each score shape and each number of runs per side (GRID), `experiments` comparisons of two methods and prints a
markdown table of rates (written to FILE too with --out), each with its 95% Clopper-Pearson interval:
- false positives on null data (X and Y drawn alike) of (a) the old rule, the percentile bootstrap interval of
  P(X > Y) excluding 0.5 (`analysis.bootstrap.improvement_estimate` with BOOTSTRAP_REPS replicates; the report
  draws 50,000), (b) the two-sided stratified permutation test at ALPHA (`analysis.significance`), (c) Welch's t
  (one task only);
- (d) false "level": the equivalence test (TOST) rejecting when X differs from Y by exactly the margin (a pure
  location shift of MARGIN units, better in half the experiments and worse in the other half);
- the power of (b) when X is better by each of DIFFERENCES units.
A shape's unit is its standard deviation (per task in the many-task shape), and for Student's t with 2 degrees of
freedom, whose variance is infinite, the normal-equivalent scale IQR / 1.349. Each (shape, runs) cell has its own
generator, seeded by (seed, shape, runs), so the numbers do not depend on --jobs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

from analysis import bootstrap, parallel, significance

ALPHA = 0.05
GRID = ((3, 3), (3, 5), (5, 3), (4, 4), (5, 5), (3, 10), (5, 10), (7, 7), (10, 10))  # (runs of X, runs of Y)
QUICK_GRID = ((3, 3), (5, 3), (5, 5), (10, 10))
EXPERIMENTS = 1000
QUICK_EXPERIMENTS = 200
DIFFERENCES = (0.5, 1.0, 2.0)  # true differences for the power, in the shape's units
MARGIN = 1.0  # the equivalence margin, in the shape's units
BOOTSTRAP_REPS = 1000  # replicates of the old rule's interval per experiment
MC_RESAMPLES = 999  # permutation draws where the test is not exact (the many-task shape)
COLUMNS = ("old rule", "permutation", "Welch t", "false level", *(f"power {d:g}" for d in DIFFERENCES))


@dataclass(frozen=True)
class Shape:
    """A distribution of scores: `draw(rng, runs)` gives (runs, tasks); differences are in `unit` (tasks,)."""

    name: str
    about: str
    unit: np.ndarray
    draw: Callable[[np.random.Generator, int], np.ndarray]

    @property
    def tasks(self) -> int:
        return len(self.unit)


def _bimodal(rng: np.random.Generator, runs: int) -> np.ndarray:
    """30% of runs fail (near 0, sd 0.05), the others reach about 1 (sd 0.2): (runs, 1)."""
    failed = rng.random((runs, 1)) < 0.3
    return np.where(failed, 0.05 * rng.standard_normal((runs, 1)), 1 + 0.2 * rng.standard_normal((runs, 1)))


def _bounded(rng: np.random.Generator, runs: int) -> np.ndarray:
    """DMC-like returns on [0, 1000], U-shaped with mass at both ends: 1000 clip(1.1 B - 0.05, 0, 1), B ~
    beta(0.3, 0.3) (about 20% of runs exactly 0 and 20% exactly 1000, so ties): (runs, 1)."""
    return 1000 * np.clip(1.1 * rng.beta(0.3, 0.3, size=(runs, 1)) - 0.05, 0, 1)


def _atari(location: np.ndarray, scale: np.ndarray) -> Callable[[np.random.Generator, int], np.ndarray]:
    def draw(rng: np.random.Generator, runs: int) -> np.ndarray:
        return location + scale * rng.standard_normal((runs, len(location)))

    return draw


def shapes() -> list[Shape]:
    """The simulated score shapes: four single-task ones and a stratified 26-task one like Atari100k (each task's
    location a human-normalised-like lognormal, median 0.37; its spread 0.3 of it plus 0.05)."""
    location = np.random.default_rng(26).lognormal(-1.0, 1.0, size=26)
    scale = 0.3 * location + 0.05
    t_unit = scipy_stats.t.ppf(0.75, 2) / scipy_stats.norm.ppf(0.75)
    bounded_sd = float(_bounded(np.random.default_rng(0), 1_000_000).std())
    return [
        Shape("normal", "N(0, 1)", np.ones(1), lambda rng, runs: rng.standard_normal((runs, 1))),
        Shape("heavy-tailed", "Student t, 2 dof", np.full(1, t_unit), lambda rng, runs: rng.standard_t(2, (runs, 1))),
        Shape("bimodal", "30% of runs fail", np.full(1, np.sqrt(0.3 * 0.05**2 + 0.7 * 0.2**2 + 0.21)), _bimodal),
        Shape("bounded", "0..1000, ties at both ends", np.full(1, bounded_sd), _bounded),
        Shape("26 tasks", "Atari100k-like, stratified", scale, _atari(location, scale)),
    ]


def _old_rule(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> bool:
    """The report's old verdict: the percentile bootstrap interval of P(X > Y) excludes 0.5."""
    rng_x, rng_y = rng.spawn(2)
    interval = bootstrap.improvement_estimate(x, y, BOOTSTRAP_REPS, rng_x, rng_y)
    return interval["low"] > 0.5 or interval["high"] < 0.5


def _rejects(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> bool:
    return significance.permutation_test(x, y, n_resamples=_resamples(x), rng=rng).pvalue <= ALPHA


def _resamples(x: np.ndarray) -> int:
    """The test's default (exact up to 10 runs against 10) on one task, MC_RESAMPLES draws on several."""
    return significance.N_RESAMPLES if x.shape[1] == 1 else MC_RESAMPLES


def cell(shape: Shape, runs_x: int, runs_y: int, experiments: int, rng: np.random.Generator) -> dict[str, int]:
    """How many of `experiments` simulated comparisons each rule of COLUMNS rejected (no Welch on several tasks)."""
    hits = dict.fromkeys(COLUMNS if shape.tasks == 1 else [c for c in COLUMNS if c != "Welch t"], 0)
    margin = MARGIN * shape.unit
    for i in range(experiments):
        x, y = shape.draw(rng, runs_x), shape.draw(rng, runs_y)
        hits["old rule"] += _old_rule(x, y, rng)
        hits["permutation"] += _rejects(x, y, rng)
        welch = significance.welch_test(x, y)
        if welch is not None:
            hits["Welch t"] += welch.pvalue <= ALPHA
        at_margin = x + (margin if i % 2 else -margin)
        equivalence = significance.equivalence_test(at_margin, y, margin, n_resamples=_resamples(x), rng=rng)
        hits["false level"] += equivalence.pvalue <= ALPHA
        for d in DIFFERENCES:
            hits[f"power {d:g}"] += _rejects(x + d * shape.unit, y, rng)
    return hits


def _rate(count: int | None, experiments: int) -> str:
    """A rate in percent with its 95% Clopper-Pearson interval; a dash for a rule not applied."""
    if count is None:
        return "—"
    low, high = proportion_confint(count, experiments, alpha=0.05, method="beta")
    return f"{100 * count / experiments:.1f} ({100 * low:.1f}–{100 * high:.1f})"


def table(results: dict[tuple[str, int, int], dict[str, int]], experiments: int) -> str:
    """The markdown table of every cell's rates."""
    header = ["shape", "runs X vs Y", *COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (name, runs_x, runs_y), hits in results.items():
        rates = [_rate(hits.get(column), experiments) for column in COLUMNS]
        lines.append(f"| {name} | {runs_x} vs {runs_y} | " + " | ".join(rates) + " |")
    return "\n".join(lines)


def run(
    experiments: int, seed: int, grid: tuple[tuple[int, int], ...], jobs: int
) -> dict[tuple[str, int, int], dict[str, int]]:
    """Every (shape, runs) cell's hits, in `jobs` processes, the costliest first: {(shape, runs_x, runs_y): hits}."""
    units = [(shape, runs_x, runs_y) for shape in shapes() for runs_x, runs_y in grid]

    def work(i: int) -> dict[str, int]:
        shape, runs_x, runs_y = units[i]
        rng = bootstrap.rng_for(seed, "calibration", shape.name, f"{runs_x}x{runs_y}")
        hits = cell(shape, runs_x, runs_y, experiments, rng)
        print(f"  {shape.name}, {runs_x} vs {runs_y}: done", file=sys.stderr, flush=True)
        return hits

    cost = [shape.tasks * (runs_x + runs_y) for shape, runs_x, runs_y in units]
    done = parallel.run(work, len(units), jobs, order=sorted(range(len(units)), key=lambda i: -cost[i]))
    return {(shape.name, runs_x, runs_y): hits for (shape, runs_x, runs_y), hits in zip(units, done, strict=True)}


def describe(experiments: int, seed: int, seconds: float, jobs: int) -> str:
    """What the table's numbers are."""
    about = "; ".join(f"{shape.name}: {shape.about}" for shape in shapes())
    return (
        f"{experiments} simulated experiments per row, seed {seed}, level {ALPHA}; rates in % with 95% "
        f"Clopper-Pearson intervals. Old rule: the 95% percentile bootstrap interval of P(X > Y) "
        f"({BOOTSTRAP_REPS} replicates) excludes 0.5. Permutation: the two-sided stratified permutation test "
        f"(exact on one task, {MC_RESAMPLES} random relabellings on 26). False level: TOST at a margin of "
        f"{MARGIN:g} unit with the true difference exactly at the margin. Power: the permutation test at true "
        f"differences of {', '.join(f'{d:g}' for d in DIFFERENCES)} units (a unit is the shape's standard "
        f"deviation, per task on 26 tasks; for t with 2 dof IQR / 1.349). Shapes: {about}. "
        f"{seconds:.0f} s in {jobs} process(es)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.calibration", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", type=int, help=f"per row (default {EXPERIMENTS}; --quick {QUICK_EXPERIMENTS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    parser.add_argument("--quick", action="store_true", help=f"fewer experiments and runs: {QUICK_GRID}")
    parser.add_argument("--jobs", type=int, default=parallel.cpus(), help="processes (default: every core)")
    args = parser.parse_args(argv)
    experiments = args.experiments or (QUICK_EXPERIMENTS if args.quick else EXPERIMENTS)
    if experiments < 1:
        parser.error("--experiments must be positive")
    start = time.perf_counter()
    results = run(experiments, args.seed, QUICK_GRID if args.quick else GRID, args.jobs)
    seconds = time.perf_counter() - start
    text = table(results, experiments) + "\n\n" + describe(experiments, args.seed, seconds, args.jobs)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
