"""hieros-bench: run benchmark suites, watch them, and turn their results into reports."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from analysis.store import StoreError
from bench import plan as planning
from bench import state as states
from bench.local import LocalRunner, Outcome
from bench.suites import SuiteError, load
from hieros import rundir
from hieros.config import ConfigError
from hieros.envs import EnvError, list_tasks

EPILOG = """examples:
  hieros-bench list                                  suites, methods and tasks
  hieros-bench run smoke                             every method x task x seed of the smoke suite
  hieros-bench run atari100k --seeds 5 --jobs 4      26 games x 5 seeds, 4 runs at a time
  hieros-bench run atari100k --tasks atari_pong,atari_breakout --seed-list 1,2 --method hieros_uniform
  hieros-bench run smoke --set steps=8000 --dry-run  print the exact commands, run nothing
  hieros-bench run atari100k --backend slurm --jobs 50   one Slurm job array through submitit
  hieros-bench status smoke                          what is done, running, interrupted, failed
Runs are resumable: run the same command again after a crash or Ctrl-C and it continues where it stopped."""


def _seeds(args: argparse.Namespace, default: int) -> list[int]:
    if args.seed_list:
        try:
            return [int(s) for s in args.seed_list.split(",") if s.strip()]
        except ValueError:
            raise SuiteError(f"--seed-list {args.seed_list!r}: give integers like 1,2,3") from None
    return list(range(1, (args.seeds or default) + 1))


def _specs(args: argparse.Namespace) -> tuple[list[planning.RunSpec], dict]:
    benchmark = load(args.suites)
    suite = benchmark.suite(args.suite)
    methods = [args.method] if args.method else suite.methods
    tasks = [t for t in args.tasks.split(",") if t] if getattr(args, "tasks", None) else None
    extra = planning.parse_sets(getattr(args, "set", None) or [])
    specs = planning.plan(benchmark, suite, methods, _seeds(args, suite.seeds), Path(args.results), tasks, extra)
    return specs, benchmark.slurm


def cmd_run(args: argparse.Namespace) -> int:
    specs, slurm = _specs(args)
    console = Console()
    todo, skipped = [], []
    for spec in specs:
        state, record = states.run_state(spec.run_dir)
        conflict = states.config_conflict(spec, record)
        if conflict and not args.force:
            raise SuiteError(conflict)
        if conflict:
            moved = states.move_aside(spec.run_dir)
            console.print(f"moved the old run aside: {moved}")
        elif state == "done":
            skipped.append(spec)
            continue
        todo.append(spec)
    if args.dry_run:
        for spec in todo:
            print(" ".join(spec.command))
        print(f"# {len(todo)} to run, {len(skipped)} already done", file=sys.stderr)
        return 0
    console.print(f"{args.suite}: {len(specs)} runs, {len(skipped)} already done, {len(todo)} to run "
                  f"({args.jobs} at a time) into {args.results}")
    start = time.monotonic()
    if args.backend == "local":
        outcomes = LocalRunner(todo, args.jobs, args.threads, args.retries,
                               int(slurm.get("runs_per_gpu", 1))).run()
    else:
        from bench.slurm import submit

        outcomes = submit(todo, Path(args.results), args.jobs, args.threads, slurm,
                          local=args.backend == "local-submitit")
    _summary(console, outcomes, len(skipped), time.monotonic() - start)
    if any(o.state == "interrupted" for o in outcomes):
        return 130
    return 1 if any(o.state == "failed" for o in outcomes) else 0


def _summary(console: Console, outcomes: list[Outcome], skipped: int, wall: float) -> None:
    table = Table(title=f"sweep finished in {wall:.0f} s ({skipped} runs were already done)")
    for column in ("run", "state", "attempts", "final score", "note"):
        table.add_column(column)
    for o in sorted(outcomes, key=lambda o: o.spec.name):
        score = "-"
        if o.state == "done":
            final = rundir.read_run(o.spec.run_dir)["score"].get("final")
            score = "-" if final is None else f"{final:.2f}"
        color = {"done": "green", "failed": "red"}.get(o.state, "yellow")
        note = o.error.strip().splitlines()[-1] if o.error.strip() else ""
        table.add_row(o.spec.name, f"[{color}]{o.state}[/]", str(o.attempts), score, note)
    console.print(table)


def cmd_status(args: argparse.Namespace) -> int:
    if args.suite:
        dirs = [(s.name, s.run_dir) for s in _specs(args)[0]]
    else:
        dirs = [(p.relative_to(args.results).as_posix(), p) for p in rundir.find_runs(args.results)]
    if not dirs:
        raise SuiteError(f"no runs under {args.results}; start one with `hieros-bench run SUITE`")
    table = Table(title=f"runs under {args.results}")
    for column in ("run", "state", "env steps", "last score", "wall", "ETA"):
        table.add_column(column, justify="left" if column in ("run", "state") else "right")
    counts: dict[str, int] = {}
    for name, run_dir in dirs:
        state, record = states.run_state(run_dir)
        counts[state] = counts.get(state, 0) + 1
        steps = score = wall = eta = "-"
        if record:
            progress, budget = record["progress"], record["protocol"]["budget_steps"]
            steps = f"{progress['env_steps']}/{budget}"
            score = "-" if progress.get("last_score") is None else f"{progress['last_score']:.1f}"
            wall = f"{progress['wall_seconds']:.0f}s"
            if state == "running" and progress["env_steps"]:
                eta = f"{progress['wall_seconds'] * (budget / progress['env_steps'] - 1):.0f}s"
        color = {"done": "green", "failed": "red", "running": "cyan"}.get(state, "yellow")
        table.add_row(name, f"[{color}]{state}[/]", steps, score, wall, eta)
    console = Console()
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    benchmark = load(args.suites)
    console = Console()
    suites = Table(title=f"suites ({benchmark.path})")
    for column in ("suite", "tasks", "seeds", "methods", "description"):
        suites.add_column(column)
    for s in benchmark.suites.values():
        suites.add_row(s.name, str(len(s.tasks)), str(s.seeds), ", ".join(s.methods), s.description)
    methods = Table(title="methods")
    for column in ("method", "agent", "overrides", "description"):
        methods.add_column(column)
    for m in benchmark.methods.values():
        overrides = " ".join(f"{k}={v}" for k, v in m.overrides.items())
        methods.add_row(m.name, m.model_name, overrides, m.description)
    console.print(suites, methods)
    console.print("tasks: " + " ".join(list_tasks()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hieros-bench", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", default=None, help="suite file (default: ./benchmark.toml or the project's)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run every (method, task, seed) of a suite; resumable",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("suite", help="suite name from benchmark.toml (see `hieros-bench list`)")
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, help="seeds 1..N (default: the suite's)")
    seeds.add_argument("--seed-list", help="explicit seeds, e.g. 1,2,7")
    run.add_argument("--tasks", help="comma-separated subset of the suite's tasks")
    run.add_argument("--method", help="one method (default: the suite's methods)")
    run.add_argument("--jobs", type=int, default=2, help="runs at a time (default 2); array parallelism on Slurm")
    run.add_argument("--threads", type=int, default=1, help="CPU threads per run (default 1)")
    run.add_argument("--backend", choices=["local", "slurm", "local-submitit"], default="local",
                     help="local processes, or a Slurm job array via submitit (local-submitit: same, on this machine)")
    run.add_argument("--results", default="results", help="results directory (default: results)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override for every run")
    run.add_argument("--retries", type=int, default=2, help="retries of a crashed run (default 2)")
    run.add_argument("--force", action="store_true", help="move aside runs made with a different config")
    run.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="a table of runs: pending/running/interrupted/failed/done")
    status.add_argument("suite", nargs="?", help="limit to a suite's planned runs")
    status.add_argument("--results", default="results")
    status.add_argument("--method")
    status.add_argument("--seeds", type=int)
    status.add_argument("--seed-list")
    status.set_defaults(func=cmd_status)

    listing = sub.add_parser("list", help="suites, methods and tasks")
    listing.set_defaults(func=cmd_list)
    try:
        import analysis.cli as analysis_cli
    except ModuleNotFoundError as error:
        if error.name != "analysis.cli":
            raise
    else:
        analysis_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SuiteError, ConfigError, EnvError, StoreError, rundir.RunFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
