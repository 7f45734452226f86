"""`hieros-bench report`: its flags and help, the report's options from them, and what it prints; bench.cli
registers it through analysis.cli.

The handler returns an exit status: 0 written, 1 the store fails its checks (one line per problem), 2 a user error
(one line `error: ...`). The analysis modules load only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.cli_args import MAX_SEED, names, positive, within
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

# The most a flag may ask for: beyond these a number is a typo that would run for hours or fill the memory.
MOST_REPS = 1_000_000  # bootstrap replicates: 20 times rliable's default
MOST_TRIALS = 10_000  # --calibrate's simulated experiments per method (a few seconds per 200)
MOST_SEEDS = 1000  # --expect-seeds: as many as one `hieros-bench run` sweep may have


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


def register(sub: argparse._SubParsersAction, planned_seeds: Callable[[str | None], int | None]) -> None:
    """Add `report` to the hieros-bench subcommands; `planned_seeds(suite)`: as analysis.cli.register's."""
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
    report.add_argument("--methods", type=names, metavar="A,B", help="only these methods (default: all)")
    report.add_argument(
        "--tasks",
        type=names,
        metavar="T1,T2",
        help="only these tasks, or a named set: hieros25 (the HIEROS paper's 25 games, no UpNDown)",
    )
    report.add_argument("--paper-tasks", action="store_true", help="the same as --tasks hieros25")
    report.add_argument(
        "--expect-seeds",
        type=positive(int, MOST_SEEDS),
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
        type=names,
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
        type=positive(int, MOST_REPS),
        default=50_000,
        metavar="N",
        help=f"bootstrap replicates (default 50000, as rliable; at most {MOST_REPS})",
    )
    report.add_argument("--seed", type=int_in(0, MAX_SEED), default=0, help="bootstrap seed (default 0)")
    report.add_argument(
        "--calibrate",
        type=positive(int, MOST_TRIALS),
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
        type=names,
        metavar="A,B,C:REF",
        help="an ablation ladder: each rung's score and P(rung > the rung before it, or REF) and "
        "P(rung > random) with their verdicts, as a table and a figure; its comparisons are the family the "
        "verdicts are corrected over (docs/report.md)",
    )
    report.add_argument(
        "--margin",
        type=within(0, 10),
        metavar="M",
        help="a verdict says 'level' only where an equivalence test shows the difference within +-M normalised "
        "score (default 0.1: analysis.comparisons.MARGIN); otherwise 'inconclusive'",
    )
    report.add_argument(
        "--alpha",
        type=within(0, 0.5),
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
        type=positive(int),
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
