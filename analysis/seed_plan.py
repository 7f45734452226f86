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

import numpy as np

from analysis.cli_args import names, positive

HELP = __doc__.split("\n\n")[1].replace("\n", " ")
EXAMPLES = """examples:
  hieros-bench seeds --difference 0.1 --spread 0.08 --family 8
  hieros-bench seeds --equivalence 0.1 --spread 0.03 --family 2     # to show two methods level within 0.1
  hieros-bench seeds --difference 0.1 --suite cpu_learning --pilot dreamer,hieros --family 17
  hieros-bench seeds --difference 0.2 --spread 0.3 --tasks 26        # an Atari100k-like suite"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `seeds` to the hieros-bench subcommands."""
    seeds = sub.add_parser(
        "seeds",
        help="how many seeds a comparison needs (power of the report's test)",
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    seeds.add_argument(
        "--difference",
        type=_non_negative,
        metavar="D",
        help="the true difference to find, in normalised score (e.g. 0.1: 100 points of DMC's 1000); with "
        "--equivalence the true difference to show level (default 0)",
    )
    seeds.add_argument(
        "--equivalence",
        type=positive(float),
        metavar="M",
        help="plan to show 'level' within +-M (the report's --margin) by the equivalence test, not a difference",
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


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def cmd_seeds(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from analysis.power import seeds_needed
    from analysis.store import StoreError

    if args.difference is None and args.equivalence is None:
        raise StoreError("give --difference D (a difference to find) or --equivalence M (a level to show)")
    difference = args.difference if args.difference is not None else 0.0
    if args.equivalence is None and difference == 0:
        raise StoreError("--difference 0 has no power to find; plan 'level' with --equivalence M")
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
    plan = seeds_needed(
        difference,
        spread,
        alpha=args.alpha,
        family_size=args.family,
        target=args.power,
        max_seeds=args.max_seeds,
        residuals=residuals,
        tasks=tasks,
        experiments=args.experiments,
        rng=np.random.default_rng(0),
        margin=args.equivalence,
    )
    console = Console(highlight=False)
    noise = f"pilot runs of {', '.join(args.pilot)} ({len(residuals)} deviations)" if args.pilot else "normal"
    goal = (
        f"find a difference of {difference:g}"
        if args.equivalence is None
        else f"show level within +-{args.equivalence:g} at a true difference of {difference:g}"
    )
    console.print(
        f"power to {goal} (spread {spread:.3g}; noise: {noise}; {tasks} task(s)) at level {plan.level:.3g} = "
        f"{args.alpha:g} / {args.family}"
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
    from analysis.power import pilot_residuals
    from analysis.store import StoreError, load_store

    store = load_store(results, suite)
    unknown = sorted(set(methods) - set(store))
    if unknown:
        raise StoreError(f"--pilot: no method {', '.join(unknown)} in the store; it holds {', '.join(sorted(store))}")
    deviations, tasks = [], 0
    for name in methods:
        scores = store[name].scores(store[name].scored_tasks())
        deviations.append(pilot_residuals(scores))
        tasks = max(tasks, scores.shape[1])
    residuals = np.concatenate(deviations)
    if len(residuals) < 3 or residuals.std() == 0:
        raise StoreError("--pilot: too few runs, or runs that all score the same, to give a spread")
    return residuals, tasks
