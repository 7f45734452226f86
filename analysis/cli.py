"""The report, import, export and plot subcommands of hieros-bench; bench.cli calls `register`.

Handlers return an exit status: 0 done, 1 the store fails its checks (one line per problem), 2 a user error
(one line `error: ...`). matplotlib and the analysis modules load only when a command runs.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import import_cli, seed_plan
from hieros.cli_errors import int_in
from hieros.run_search import Sources

if TYPE_CHECKING:
    from analysis.report import Options
    from analysis.summary_file import Summary

REPORT_HELP = """\
Reads every run of one suite under RESULTS (ours and imported ones), or of the RUN_DIRs given (run directories
in any layout, or folders of them: each run's suite, method, task and seed come from its run.json; runs trained
outside a suite form the suite `runs`), checks that the runs are complete and comparable, then writes into OUT
(default RESULTS/report, ./report with RUN_DIRs; with several suites and no --suite, each suite into
OUT/<suite>): report.md, summary.json, table_<suite>.tex, and
PNG/PDF/CSV figures (aggregates, profiles, improvement, games, curves, metric_<name>, sampler).
OUT must be new, empty, or a folder a report wrote (it lists its files in .hieros-report.json); a re-run replaces
only those files, never anything else in OUT.
An Atari100k store is compared with the published per-run scores of other methods shipped with the package
(--baselines). Aggregates use human-normalised scores (Atari) or return/1000 (DMC) over the tasks every method
has a score on, with 95% stratified bootstrap intervals as rliable; per-game intervals are Student t over runs,
inside the task's possible scores."""

REPORT_EPILOG = """\
examples:
  hieros-bench report                                   every suite under results/
  hieros-bench report runs/                             the runs python -m hieros.train wrote (any layout)
  hieros-bench report runs/a runs/b --out cmp           compare run directories given by path
  hieros-bench report --suite atari100k --tasks hieros25  the HIEROS paper's 25 games (no UpNDown)
  hieros-bench report --baselines all                   the whole shipped field (also with no runs of ours)
  hieros-bench report --baselines DreamerV3,DIAMOND     only these baselines (--baselines none: none)
  hieros-bench report --methods hieros,dreamerv3 --metric model_loss
  hieros-bench report --expect-seeds 5                  fail unless our methods have seeds 1..5 everywhere
  hieros-bench report --allow-partial --reps 2000       a quick look while runs are still going
  hieros-bench report --calibrate                       how far to trust the intervals at this many seeds
  hieros-bench report --profile average                 profiles of task means instead of run scores

exit status: 0 written, 1 the store fails a check (one line each; --allow-partial / --allow-mixed /
--allow-failed to report anyway), 2 a user error (empty or corrupt store, unknown task or method)"""

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


# The most a flag may ask for: beyond these a number is a typo that would run for hours or fill the memory.
MOST_REPS = 1_000_000  # bootstrap replicates: 20 times rliable's default
MOST_TRIALS = 10_000  # --calibrate's simulated experiments per method (a few seconds per 200)
MOST_SEEDS = 1000  # --expect-seeds: as many as one `hieros-bench run` sweep may have
MAX_SEED = 2**32 - 1  # NumPy's seeds are 32 bits
MOST_ITEMS = 1_000_000  # plot sampler: env steps simulated
MOST_CAPACITY = 10**9  # plot sampler --capacity: the D4 scaling reads it as a replay size; more is no replay
MOST_DRAWS = 10_000_000  # plot sampler: samples drawn in all (items x train ratio / batch length), 32 bytes each


def _positive(kind: type, most: float = math.inf) -> Callable[[str], int | float]:
    """A finite number above 0 and at most `most`."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        if value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most}, not {text}")
        return value

    return parse


def _within(low: float, high: float) -> Callable[[str], float]:
    """A number in the open interval (low, high)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"must be above {low:g} and below {high:g}, not {text}")
        return value

    return parse


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], not {text}")
    return value


def _names(text: str) -> list[str]:
    """A comma-separated list of at least one name (an empty one would read as all of them)."""
    names = [name for name in text.split(",") if name]
    if not names:
        raise argparse.ArgumentTypeError(f"name at least one, not {text!r} (leave the option out for all)")
    return names


def _name(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("name one, not '' (leave the option out for all)")
    return text


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.outdir import check_folder
    from analysis.outputs import write
    from analysis.report import ChecksFailed, compute
    from analysis.store import suites_in

    sources, inputs, default_out = _report_sources(args)
    out = check_folder(Path(args.out) if args.out else default_out, inputs)
    suites = suites_in(sources)
    if args.suite is None and len(suites) > 1:  # every suite of the store, each into OUT/<suite>
        for suite in suites:  # every suite's folder checked before the first suite is computed
            check_folder(out / suite, inputs)
        codes = [
            cmd_report(argparse.Namespace(**{**vars(args), "suite": suite, "out": str(out / suite)}))
            for suite in suites
        ]
        return max(codes)
    start = time.perf_counter()
    options = _report_options(args, sources, out, suites)
    try:
        report = compute(options)
    except ChecksFailed as failed:
        print("\n".join(failed.lines), file=sys.stderr)
        return 1
    paths = write(report, options)
    _print_report(report.summary, paths, options.out, start)
    return 0


def _report_options(args: argparse.Namespace, sources: Sources, out: Path, suites: list[str]) -> Options:
    """The report's options from its flags, `out` checked and `suites` the suites its sources hold."""
    from analysis.report import Options

    return Options(
        results=sources,
        out=out,
        suite=args.suite,
        methods=args.methods,
        tasks=args.tasks,
        paper_tasks=args.paper_tasks,
        reps=args.reps,
        seed=args.seed,
        allow_partial=args.allow_partial,
        allow_mixed=args.allow_mixed,
        allow_failed=args.allow_failed,
        expect_seeds=args.expect_seeds,
        suite_seeds=args.planned_seeds(args.suite or (suites[0] if suites else None)),
        published=None if args.published is None else [p for p in args.published if p != "none"],
        metrics=args.metric or [],
        sampler=not args.no_sampler,
        calibrate=args.calibrate,
        baselines=args.baselines,
        jobs=args.jobs,
        cache=not args.no_cache,
        ladder=args.ladder,
        compare=args.compare or [],
        profile=args.profile,
        all_seeds=args.all_seeds,
        **{k: v for k, v in (("alpha", args.alpha), ("margin", args.margin)) if v is not None},
    )


def _print_report(summary: Summary, paths: list[Path], out: Path, start: float) -> None:
    """The report's checks and table on the terminal, and which files it wrote where since `start`."""
    from rich.console import Console

    from analysis.render import terminal

    console = Console()
    table = terminal(summary)
    if not console.is_terminal:  # a log or a pipe has no width to keep to: the table whole, never cut
        console = Console(width=max(console.width, Console(width=1000).measure(table).maximum))
    for check in summary.checks:
        console.print(f"[yellow]{check.kind}[/]: {check.message}", highlight=False)
    console.print(table)
    console.print(
        f"wrote {len(paths)} files to {out} in {time.perf_counter() - start:.1f} s (open {out / 'report.md'})",
        highlight=False,
    )


def _report_sources(args: argparse.Namespace) -> tuple[Sources, dict[str, Path], Path]:
    """What a report reads (the store, or the run directories and folders given), the inputs its output must keep
    apart from, and its default output folder (RESULTS/report; ./report beside run directories given)."""
    from analysis.store import StoreError

    if not args.runs:
        results = Path(args.results or "results")
        return results, {"the results store": results}, results / "report"
    if args.results is not None:
        raise StoreError("give run directories or --results, not both (a store is a folder of runs: give it too)")
    runs = tuple(Path(run) for run in args.runs)
    for run in runs:
        if not run.exists():
            raise StoreError(f"{run}: no such run directory or folder of runs")
    return runs, {f"the runs {run}": run for run in runs}, Path("report")


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
    """Add report, import, export and plot to the hieros-bench subcommands. `planned_seeds(suite)`: the seeds a
    suite plans per method (bench passes benchmark.toml's, bench.suites.planned_seeds), None where none are
    planned: a report tests our methods on those seeds (analysis.comparisons)."""
    raw = argparse.RawDescriptionHelpFormatter
    report = sub.add_parser(
        "report",
        help="normalised scores, aggregates with CIs, tables and figures",
        description=REPORT_HELP,
        epilog=REPORT_EPILOG,
        formatter_class=raw,
    )
    report.add_argument(
        "runs",
        nargs="*",
        metavar="RUN_DIR",
        help="run directories, or folders of them in any layout (e.g. runs/ of python -m hieros.train), "
        "to report instead of the store: their runs compared by the suite, method, task and seed of each run.json",
    )
    report.add_argument(
        "--results",
        metavar="DIR",
        help="results store, or any folder of run directories (default: results)",
    )
    report.add_argument("--suite", help="suite to report (default: every suite in the store)")
    report.add_argument(
        "--out", metavar="DIR", help="output directory (default: RESULTS/report; ./report with RUN_DIRs)"
    )
    report.add_argument("--methods", type=_names, metavar="A,B", help="only these methods (default: all)")
    report.add_argument(
        "--tasks",
        type=_names,
        metavar="T1,T2",
        help="only these tasks, or a named set: hieros25 (the HIEROS paper's 25 games, no UpNDown)",
    )
    report.add_argument("--paper-tasks", action="store_true", help="the same as --tasks hieros25")
    report.add_argument(
        "--expect-seeds",
        type=_positive(int, MOST_SEEDS),
        metavar="N",
        help="our methods must have seeds 1..N on every task",
    )
    report.add_argument("--allow-partial", action="store_true", help="report despite missing or unfinished runs")
    report.add_argument(
        "--allow-mixed", action="store_true", help="report despite mixed configs or protocols within or between methods"
    )
    report.add_argument(
        "--allow-failed",
        action="store_true",
        help="report despite runs that failed before writing run.json (left out of the numbers; see their runner.log)",
    )
    report.add_argument(
        "--baselines",
        type=_names,
        metavar="NAMES",
        help="published per-run results shipped with the package, compared with intervals like our "
        "runs: comma-separated names, all, or none (default on an Atari100k store: "
        "SimPLe,TWM,IRIS,DreamerV3,STORM,DIAMOND,Simulus; `all` lists every one in the report)",
    )
    report.add_argument(
        "--published",
        action="append",
        metavar="NAME",
        help="published per-game means to show, repeatable (default: HIEROS for Atari; 'none')",
    )
    report.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="also plot this logged train metric against env steps, repeatable (e.g. model_loss)",
    )
    report.add_argument(
        "--reps",
        type=_positive(int, MOST_REPS),
        default=50_000,
        metavar="N",
        help=f"bootstrap replicates (default 50000, as rliable; at most {MOST_REPS})",
    )
    report.add_argument("--seed", type=int_in(0, MAX_SEED), default=0, help="bootstrap seed (default 0)")
    report.add_argument(
        "--calibrate",
        type=_positive(int, MOST_TRIALS),
        nargs="?",
        const=200,
        default=0,
        metavar="TRIALS",
        help="also measure how often the aggregate intervals cover the truth at this many runs, in "
        "TRIALS simulated experiments per method (default 200; a few seconds each)",
    )
    report.add_argument("--no-sampler", action="store_true", help="leave out the replay sampler figure")
    report.add_argument(
        "--profile",
        choices=("runs", "average"),
        default="runs",
        help="performance profiles of every run's score (default, rliable's score distribution) or of each "
        "task's mean over runs (average: rliable's use_score_distribution=False)",
    )
    report.add_argument(
        "--compare",
        nargs=2,
        action="append",
        metavar=("X", "Y"),
        help="also P(X > Y) for these two methods, any two, baselines included (repeatable)",
    )
    report.add_argument(
        "--ladder",
        type=_names,
        metavar="A,B,C:REF",
        help="an ablation ladder: each rung's score and P(rung > the rung before it, or REF) and "
        "P(rung > random) with their verdicts, as a table and a figure; its comparisons are the family the "
        "verdicts are corrected over (docs/report.md)",
    )
    report.add_argument(
        "--margin",
        type=_within(0, 10),
        metavar="M",
        help="a verdict says 'level' only where an equivalence test shows the difference within +-M normalised "
        "score (default 0.1: analysis.comparisons.MARGIN); otherwise 'inconclusive'",
    )
    report.add_argument(
        "--alpha",
        type=_within(0, 0.5),
        metavar="A",
        help="the family-wise level of the verdicts (Holm; default 0.05: analysis.comparisons.ALPHA)",
    )
    report.add_argument(
        "--all-seeds",
        action="store_true",
        help="test on every seed of our methods, not only the suite's planned ones (benchmark.toml: seeds "
        "added after a result was read bias a test)",
    )
    report.add_argument(
        "--jobs",
        type=_positive(int),
        default=None,
        metavar="N",
        help="processes for the bootstrap and the figures (default: every core; the numbers and "
        "files are the same for any N)",
    )
    report.add_argument(
        "--no-cache",
        action="store_true",
        help="recompute the shipped baselines' own intervals instead of reusing them from the cache "
        "(~/.cache/hieros-bench, or $HIEROS_BENCH_CACHE; the numbers are the same)",
    )
    report.set_defaults(func=cmd_report, planned_seeds=planned_seeds)

    import_cli.register(sub, _positive, _name)

    exp = sub.add_parser(
        "export", help="write finished runs as a danijar json.gz score file", epilog=EXPORT_EPILOG, formatter_class=raw
    )
    exp.add_argument("--out", required=True, metavar="FILE.json.gz")
    exp.add_argument("--suite", help="suite (required when the store holds several)")
    exp.add_argument("--method", type=_name, help="only this method")
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
        type=_positive(int, MOST_ITEMS),
        metavar="N",
        help="env steps simulated, one item each (default 4000)",
    )
    plot.add_argument(
        "--train-ratio",
        type=_positive(float),
        metavar="R",
        help="replayed steps per env step (default: the atari100k preset's)",
    )
    plot.add_argument("--batch-length", type=_positive(int), metavar="L", help="steps per sequence (default: preset)")
    plot.add_argument(
        "--capacity",
        type=_positive(int, MOST_CAPACITY),
        metavar="N",
        help="also draw the original's ETBS scaled by this capacity (defect D4)",
    )
    plot.add_argument("--seed", type=int_in(0, MAX_SEED), default=0)
    plot.add_argument(
        "--out", default="results/report", metavar="DIR", help="output directory (default: results/report)"
    )
    plot.set_defaults(func=cmd_plot)
    seed_plan.register(sub, _names, _positive)
