"""The report, import, export and plot subcommands of hieros-bench (registered by bench.cli)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPORT_EPILOG = """examples:
  hieros-bench report                                    every method of the one suite under results/
  hieros-bench report --suite atari100k --paper-tasks    the HIEROS paper's 25 games (no UpNDown)
  hieros-bench import atari100k-dreamerv3.json.gz --method dreamerv3
  hieros-bench report --allow-mixed --metric model_loss  also plot a logged metric against env frames
  hieros-bench plot sampler --temperature 0.3 1.0        ETBS vs uniform replay sampling"""


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import Options, ReportError, compute, write

    out = Path(args.out or Path(args.results) / "report")
    options = Options(Path(args.results), out, args.suite, args.tasks.split(",") if args.tasks else None,
                      args.paper_tasks, args.reps, args.seed, args.allow_partial, args.allow_mixed,
                      args.expect_seeds, [p for p in args.published.split(",") if p], args.metric or [])
    start = time.monotonic()
    try:
        summary = compute(options)
    except ReportError as error:
        print(f"error: {error}")
        return 1
    write(options, summary)
    console = Console()
    table = Table(title=f"{summary['suite']}: {len(summary['tasks'])} tasks (95% CIs, {args.reps} bootstrap reps)")
    for column in ("method", "runs/task", "Median", "IQM", "Mean", "Optimality Gap", "> human"):
        table.add_column(column)
    for name, m in summary["methods"].items():
        cells = [f"{a['value']:.3f} [{a['low']:.3f}, {a['high']:.3f}]" for a in m["aggregates"].values()]
        table.add_row(name, str(m["runs_per_task"]), *cells, str(m["above_human"]))
    console.print(table)
    for check in summary["checks"]:
        console.print(f"[yellow]{check['kind']}: {check['message']}[/]")
    console.print(f"wrote {out}/report.md, summary.json, table_atari100k.tex and figures "
                  f"in {time.monotonic() - start:.1f} s")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from analysis.transfer import import_file

    count = import_file(args.file, args.method, args.results, args.suite, args.budget_frames)
    print(f"imported {count} runs of {args.method} into {args.results}/{args.suite}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from analysis.transfer import export_runs

    count = export_runs(args.results, args.out, args.suite, args.method)
    print(f"wrote {count} runs to {args.out}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from analysis.sampler import sampler_figure

    paths = sampler_figure(Path(args.out), args.temperature, args.items, args.train_ratio, args.batch_length,
                           args.seed, args.capacity)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="normalised scores, aggregates with CIs, tables and figures",
                            epilog=REPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--results", default="results", help="results directory (default: results)")
    report.add_argument("--suite", help="the suite to report (needed when the store holds several)")
    report.add_argument("--out", help="output directory (default: RESULTS/report)")
    report.add_argument("--tasks", help="comma-separated subset of tasks")
    report.add_argument("--paper-tasks", action="store_true", help="the HIEROS paper's 25 Atari games")
    report.add_argument("--reps", type=int, default=2000, help="bootstrap replicates (default 2000)")
    report.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    report.add_argument("--expect-seeds", type=int, help="fail unless every task has seeds 1..N")
    report.add_argument("--published", default="HIEROS",
                        help="published per-game means to show, comma-separated (default: HIEROS)")
    report.add_argument("--metric", action="append", help="also plot this logged train metric (repeatable)")
    report.add_argument("--allow-partial", action="store_true", help="report despite missing or unfinished runs")
    report.add_argument("--allow-mixed", action="store_true", help="report despite mixed configs or protocols")
    report.set_defaults(func=cmd_report)

    imp = sub.add_parser("import", help="bring published per-seed scores into the store")
    imp.add_argument("file", help="danijar json.gz ({task, method, seed, xs, ys}) or {Game: [run scores]} json")
    imp.add_argument("--method", required=True, help="method name in the store")
    imp.add_argument("--suite", default="atari100k")
    imp.add_argument("--budget-frames", type=int, default=400_000, help="the runs' frame budget (default 400k)")
    imp.add_argument("--results", default="results")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="write runs as a danijar json.gz score file")
    exp.add_argument("--out", required=True, help="FILE.json.gz")
    exp.add_argument("--suite")
    exp.add_argument("--method")
    exp.add_argument("--results", default="results")
    exp.set_defaults(func=cmd_export)

    plot = sub.add_parser("plot", help="figures that need no runs: `plot sampler`")
    plot.add_argument("what", choices=["sampler"], help="sampler: ETBS vs uniform replay sampling")
    plot.add_argument("--temperature", type=float, nargs="+", default=[1.0, 0.7, 0.3], help="ETBS temperatures")
    plot.add_argument("--items", type=int, default=4000, help="items inserted (default 4000)")
    plot.add_argument("--train-ratio", type=float, default=1024, help="replayed steps per env step (default 1024)")
    plot.add_argument("--batch-length", type=int, default=64, help="steps per sequence (default 64)")
    plot.add_argument("--capacity", type=int, help="scale ETBS by this capacity, as the original (defect D4)")
    plot.add_argument("--seed", type=int, default=0)
    plot.add_argument("--out", default="results/report", help="output directory")
    plot.set_defaults(func=cmd_plot)

