"""The analysis subcommands of hieros-bench: report (analysis/report_cli.py), import (analysis/import_cli.py),
export, plot and seeds (analysis/seed_plan.py); bench.cli calls `register`.

Handlers return an exit status: 0 done, 2 a user error (one line `error: ...`). matplotlib and the analysis modules
load only when a command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from analysis import import_cli, report_cli, seed_plan
from analysis.cli_args import MAX_SEED, name, positive
from hieros.cli_errors import int_in

EXPORT_EPILOG = """\
examples:
  hieros-bench export --out ours.json.gz                        every finished run with a training curve
  hieros-bench export --suite atari100k --method hieros --out hieros.json.gz"""

PLOT_EPILOG = """\
examples:
  hieros-bench plot sampler                                 the paper's figure: ETBS tau 1.0, 0.7, 0.3 vs uniform
  hieros-bench plot sampler --preset                        uniform vs ETBS as the atari100k preset samples (tau 0.3)
  hieros-bench plot sampler --temperature 1.0 0.7 0.3 --items 8000
  hieros-bench plot sampler --capacity 1000000              also the original's capacity-scaled ETBS (D4)"""


# The most plot sampler may be asked for: beyond these a number is a typo that would run for hours or fill the memory.
MOST_ITEMS = 1_000_000  # plot sampler: env steps simulated
MOST_CAPACITY = 10**9  # plot sampler --capacity: the D4 scaling reads it as a replay size; more is no replay
MOST_DRAWS = 10_000_000  # plot sampler: samples drawn in all (items x train ratio / batch length), 32 bytes each


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], not {text}")
    return value


def cmd_export(args: argparse.Namespace) -> int:
    from analysis.export import export_runs

    count = export_runs(args.results, args.out, args.suite, args.method, args.force)
    print(f"wrote {count} runs to {args.out}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from analysis import sampler
    from analysis.outdir import check_folder, write_folder
    from analysis.store import StoreError

    custom = (args.temperature, args.items, args.train_ratio, args.batch_length, args.capacity)
    if args.preset or any(value is not None for value in custom):
        setup = sampler.preset_setup(
            args.temperature, args.items or 4000, args.train_ratio, args.batch_length, args.seed, args.capacity
        )
    else:
        setup = sampler.paper_setup(args.seed)
    draws = setup.items * setup.per_insert
    if not 1 <= draws <= MOST_DRAWS:
        raise StoreError(
            f"--items {setup.items} x --train-ratio {setup.train_ratio:g} / --batch-length {setup.batch_length} "
            f"draws {draws:.3g} samples; choose them to draw from 1 to {MOST_DRAWS}"
        )
    out = check_folder(args.out)
    paths = write_folder(
        out, lambda folder: [path.name for path in sampler.sampler_figure(folder, setup)], drop_earlier=False
    )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _no_plan(suite: str | None) -> int | None:
    return None


def register(sub: argparse._SubParsersAction, planned_seeds: Callable[[str | None], int | None] = _no_plan) -> None:
    """Add report, import, export, plot and seeds to the hieros-bench subcommands. `planned_seeds(suite)`: the seeds
    a suite plans per method (bench passes benchmark.toml's, bench.suites.planned_seeds), None where none are
    planned: a report tests our methods on those seeds (analysis.comparisons)."""
    raw = argparse.RawDescriptionHelpFormatter
    report_cli.register(sub, planned_seeds)

    import_cli.register(sub)

    exp = sub.add_parser(
        "export", help="write finished runs as a danijar json.gz score file", epilog=EXPORT_EPILOG, formatter_class=raw
    )
    exp.add_argument("--out", required=True, metavar="FILE.json.gz")
    exp.add_argument("--suite", help="suite (required when the store holds several)")
    exp.add_argument("--method", type=name, help="only this method")
    exp.add_argument("--results", default="results", metavar="DIR", help="results store (default: results)")
    exp.add_argument(
        "--force", action="store_true", help="replace an existing FILE that is not an earlier export of hieros-bench"
    )
    exp.set_defaults(func=cmd_export)

    plot = sub.add_parser(
        "plot",
        help="figures that need no runs: `plot sampler` (ETBS vs uniform replay)",
        epilog=PLOT_EPILOG,
        formatter_class=raw,
    )
    plot.add_argument("what", choices=["sampler"], help="sampler: how often ETBS and uniform replay sample items")
    plot.add_argument(
        "--temperature",
        type=_temperature,
        nargs="+",
        metavar="T",
        help="ETBS temperatures in [0, 1] (default with --preset: the preset's, 0.3)",
    )
    plot.add_argument(
        "--preset",
        action="store_true",
        help="as the atari100k preset samples (its temperature and ratio) instead of the paper's figure",
    )
    plot.add_argument(
        "--items",
        type=positive(int, MOST_ITEMS),
        metavar="N",
        help="env steps simulated, one item each (default 4000)",
    )
    plot.add_argument(
        "--train-ratio",
        type=positive(float),
        metavar="R",
        help="replayed steps per env step (default: the atari100k preset's)",
    )
    plot.add_argument("--batch-length", type=positive(int), metavar="L", help="steps per sequence (default: preset)")
    plot.add_argument(
        "--capacity",
        type=positive(int, MOST_CAPACITY),
        metavar="N",
        help="also draw the original's ETBS scaled by this capacity (defect D4)",
    )
    plot.add_argument("--seed", type=int_in(0, MAX_SEED), default=0)
    plot.add_argument(
        "--out", default="results/report", metavar="DIR", help="output directory (default: results/report)"
    )
    plot.set_defaults(func=cmd_plot)
    seed_plan.register(sub)
