"""`hieros-bench seeds`: how many seeds per method a comparison needs, before the runs start.

From an assumed spread, or from pilot runs in the store (their scores' deviations from each task's mean, pooled
and resampled as the noise), the power of the report's test (`analysis.significance`, a two-sided stratified
permutation test of P(X > Y)) to find a true difference, at the level the report's Holm correction gives the
family's first comparison (alpha / family, Bonferroni: conservative), for each number of runs per side; and the
smallest number with the target power. Fix the seed count before the runs start: a count chosen after reading the
results biases the test (the report tests on the suite's planned seeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

HELP = __doc__.split("\n\n")[1].replace("\n", " ")
EXAMPLES = """examples:
  hieros-bench seeds --difference 0.1 --spread 0.08 --family 8
  hieros-bench seeds --difference 0.1 --suite cpu_learning --pilot dreamer,hieros --family 17
  hieros-bench seeds --difference 0.2 --spread 0.3 --tasks 26        # an Atari100k-like suite"""


def register(sub: argparse._SubParsersAction, names: Any, positive: Any) -> None:
    """Add `seeds` to the hieros-bench subcommands (`names`, `positive`: analysis.cli's argument types)."""
    seeds = sub.add_parser(
        "seeds",
        help="how many seeds a comparison needs (power of the report's test)",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    seeds.add_argument(
        "--difference",
        type=positive(float),
        required=True,
        metavar="D",
        help="the true difference to find, in normalised score (e.g. 0.1: 100 points of DMC's 1000)",
    )
    seeds.add_argument("--spread", type=positive(float), metavar="S", help="the standard deviation over seeds")
    seeds.add_argument(
        "--results", default="results", metavar="DIR", help="results store of --pilot (default: results)"
    )
    seeds.add_argument("--suite", help="the suite of --pilot (default: the store's only suite)")
    seeds.add_argument(
        "--pilot", type=names, metavar="A,B", help="methods whose runs give the spread and the shape of the noise"
    )
    seeds.add_argument(
        "--family", type=positive(int), default=1, metavar="K", help="comparisons in the family (default 1)"
    )
    seeds.add_argument("--alpha", type=positive(float), default=0.05, metavar="A", help="family-wise level (0.05)")
    seeds.add_argument("--power", type=positive(float), default=0.8, metavar="P", help="target power (default 0.8)")
    seeds.add_argument("--tasks", type=positive(int), metavar="T", help="tasks (default: the pilot's, else 1)")
    seeds.add_argument("--max-seeds", type=positive(int), default=20, metavar="N", help="largest count tried (20)")
    seeds.add_argument("--experiments", type=positive(int), default=500, metavar="E", help="simulations per count")
    seeds.set_defaults(func=cmd_seeds)


MAX_EXPERIMENTS = 100_000
MAX_SEEDS = 100


def cmd_seeds(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from analysis import significance
    from analysis.store import StoreError

    if (args.spread is None) == (args.pilot is None):
        raise StoreError("give the spread over seeds: --spread S, or --pilot A,B to read it from runs in the store")
    if not args.alpha < 0.5 or not args.power < 1:
        raise StoreError("--alpha must be below 0.5 and --power below 1")
    if args.experiments > MAX_EXPERIMENTS or args.max_seeds > MAX_SEEDS:
        raise StoreError(f"--experiments at most {MAX_EXPERIMENTS}, --max-seeds at most {MAX_SEEDS}")
    residuals, spread, tasks = None, args.spread, args.tasks or 1
    if args.pilot:
        residuals, pilot_tasks = _pilot(Path(args.results), args.suite, args.pilot)
        spread, tasks = float(residuals.std()), args.tasks or pilot_tasks
    plan = significance.seeds_needed(
        args.difference,
        spread,
        alpha=args.alpha,
        family_size=args.family,
        target=args.power,
        max_seeds=args.max_seeds,
        residuals=residuals,
        tasks=tasks,
        experiments=args.experiments,
        rng=np.random.default_rng(0),
    )
    console = Console(highlight=False)
    noise = f"pilot runs of {', '.join(args.pilot)} ({len(residuals)} deviations)" if args.pilot else "normal"
    console.print(
        f"power to find a difference of {args.difference:g} (spread {spread:.3g}; noise: {noise}; {tasks} task(s)) "
        f"at level {plan.level:.3g} = {args.alpha:g} / {args.family}"
    )
    table = Table()
    table.add_column("runs per side", justify="right")
    table.add_column("power", justify="right")
    for runs, power in plan.power.items():
        table.add_row(str(runs), f"{power:.2f}")
    console.print(table)
    for note in plan.notes[-1:]:
        console.print(f"note: {note} (and below)")
    if plan.seeds is None:
        console.print(f"no count up to {args.max_seeds} reaches power {args.power:g}; raise --max-seeds")
        return 1
    console.print(f"[bold]{plan.seeds} seeds per method[/] reach power {args.power:g} ({plan.power[plan.seeds]:.2f})")
    return 0


def _pilot(results: Path, suite: str | None, methods: list[str]) -> tuple[np.ndarray, int]:
    """The pooled deviations of the pilot methods' runs from each task's mean, and their number of tasks."""
    from analysis import significance
    from analysis.store import StoreError, load_store

    store = load_store(results, suite)
    unknown = sorted(set(methods) - set(store))
    if unknown:
        raise StoreError(f"--pilot: no method {', '.join(unknown)} in the store; it holds {', '.join(sorted(store))}")
    deviations, tasks = [], 0
    for name in methods:
        scores = store[name].scores(store[name].scored_tasks())
        deviations.append(significance.pilot_residuals(scores))
        tasks = max(tasks, scores.shape[1])
    residuals = np.concatenate(deviations)
    if len(residuals) < 3 or residuals.std() == 0:
        raise StoreError("--pilot: too few runs, or runs that all score the same, to give a spread")
    return residuals, tasks
