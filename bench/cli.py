"""hieros-bench: run benchmark suites, watch them, and turn their results into reports."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import cost, tables
from bench import plan as planning
from bench import state as states
from bench.local import LocalRunner
from bench.progress import SweepDisplay
from bench.resources import Budget, budget
from bench.state import Outcome
from bench.suites import Benchmark, SuiteError, load, planned_seeds
from hieros import run_search, rundir
from hieros.cli_errors import DEBUG_ENV, OneLineParser, guarded
from hieros.config import ConfigError
from hieros.envs import EnvError, list_tasks

try:  # the report/import/export/plot subcommands, when analysis/ is there
    import analysis.cli as analysis_cli
    from analysis.store import StoreError
except ModuleNotFoundError as missing:
    if missing.name not in ("analysis", "analysis.cli", "analysis.store"):
        raise
    analysis_cli, StoreError = None, SuiteError  # type: ignore[assignment]

USER_ERRORS = (SuiteError, ConfigError, EnvError, StoreError, rundir.RunFileError)
EPILOG = """examples:
  hieros-bench list                                   suites, methods and tasks
  hieros-bench run smoke                              every method x task x seed of the smoke suite
  hieros-bench run atari100k --seeds 5 --jobs 4       26 games x 5 seeds, 4 runs at a time
  hieros-bench run atari100k --tasks atari_pong,atari_breakout --seed-list 1,2 --method hieros_uniform
  hieros-bench run smoke --set steps=8000 --dry-run   print the exact commands, run nothing
  hieros-bench run atari100k --backend slurm          one Slurm job array through submitit
  hieros-bench status smoke                           done, running, interrupted, failed; steps, scores, ETA
  hieros-bench status runs/                           any run directories, e.g. python -m hieros.train's runs/
  hieros-bench report                                 scores, aggregates with CIs, tables and plots

Runs land in RESULTS/<suite>/<method>/<task>/seed_<n>/. Rerunning a command is safe: done runs are skipped,
interrupted ones resume from their checkpoint, failed ones are retried. Ctrl-C stops at a checkpoint."""


def _plan(args: argparse.Namespace) -> tuple[Benchmark, list[planning.RunSpec]]:
    benchmark = load(args.suites)
    suite = benchmark.suite(args.suite)
    methods = planning.parse_list(args.method, "--method", list(benchmark.methods)) or suite.methods
    tasks = planning.parse_list(args.tasks, "--tasks", suite.tasks)
    if args.seeds is not None or args.seed_list is not None:
        seeds: list[int] | dict[str, list[int]] = planning.parse_seeds(args.seeds, args.seed_list, suite.seeds)
    else:  # each method its planned seeds
        seeds = {m: planning.parse_seeds(None, None, suite.seeds_for(m)) for m in methods}
    extra = planning.parse_sets(getattr(args, "set", None) or [])
    trust = getattr(args, "trust_pickle", False)
    return benchmark, planning.plan(benchmark, suite, methods, seeds, Path(args.results), tasks, extra, trust)


def _triage(
    specs: list[planning.RunSpec], force: bool, dry_run: bool, console: Console
) -> tuple[list[planning.RunSpec], list[Outcome], int]:
    """(runs to start, runs running elsewhere, number already done); refuses a changed config unless --force."""
    todo, elsewhere, done, conflicts = [], [], 0, []
    for spec in specs:
        try:
            state, record = states.run_state(spec.run_dir)
            why = states.config_conflict(spec, record)
        except rundir.RunFileError as error:
            state, why = "corrupt", str(error)
        if why and state == "running":
            raise SuiteError(f"{why}; it is running in another process, so it cannot be moved aside now")
        if why and not force:
            conflicts.append(why)
            continue
        if why:
            console.print(
                f"would move {spec.run_dir} aside"
                if dry_run
                else f"moved the old run aside to {rundir.move_aside(spec.run_dir)}",
                style="yellow",
            )
            todo.append(spec)
        elif state == "done":
            done += 1
        elif state == "running":
            elsewhere.append(Outcome(spec, "elsewhere", error="running in another process"))
        else:
            todo.append(spec)
    if conflicts:
        more = f" (and {len(conflicts) - 1} more runs)" if len(conflicts) > 1 else ""
        raise SuiteError(
            f"{conflicts[0]}{more}; use --force to move old runs aside to seed_<n>.old-<time>, or another --results"
        )
    return todo, elsewhere, done


def cmd_run(args: argparse.Namespace) -> int:
    benchmark, specs = _plan(args)
    console = tables.make_console()
    dry_console = Console(stderr=True, highlight=False)
    todo, elsewhere, done = _triage(specs, args.force, args.dry_run, dry_console if args.dry_run else console)
    local = args.backend == "local"
    per_gpu = args.runs_per_gpu or benchmark.local["runs_per_gpu"]
    pool = budget(args.jobs, args.threads, per_gpu, others=states.runs_held(Path(args.results))) if local else None
    slurm_settings = {**benchmark.slurm, "runs_per_task": args.runs_per_task or benchmark.slurm["runs_per_task"]}
    where = f", {pool.describe()}" if pool else f" on {args.backend}"
    if args.dry_run:
        summary = f"# {len(todo)} to run{where}; {done} already done, {len(elsewhere)} running elsewhere"
        _dry_run(args, todo, pool, per_gpu, slurm_settings, summary)
        return 0
    header = (
        f"[bold]{args.suite}[/]: {len(specs)} runs, {done} already done, {len(elsewhere)} running "
        f"elsewhere, {len(todo)} to run{where} -> {args.results}"
    )
    if pool or not todo:
        console.print(header)
    if pool and pool.note:
        console.print(f"[yellow]{pool.note}[/]")
    if not todo:
        if elsewhere:
            tables.summary(console, elsewhere, done, 0.0, Path(args.results))
        return 0
    start = time.monotonic()
    if pool:
        outcomes = LocalRunner(todo, pool, args.retries, SweepDisplay(todo, pool.jobs, console)).run()
    else:
        from bench import slurm

        cluster = "local" if args.backend == "local-submitit" else "slurm"
        tasks = slurm.submit(todo, Path(args.results), slurm_settings, args.jobs, args.threads, args.retries, cluster)
        console.print(header)
        for line in slurm.describe(tasks, Path(args.results), cluster):
            console.print(line)
        if cluster == "slurm" and not args.wait:
            return 0
        outcomes = slurm.collect(tasks, start)
    tables.summary(console, outcomes + elsewhere, done, time.monotonic() - start, Path(args.results))
    states_seen = {o.state for o in outcomes}
    if states_seen & {"interrupted", "pending", "submitted"}:
        return 130
    return 1 if "failed" in states_seen else 0


def _dry_run(
    args: argparse.Namespace,
    todo: list[planning.RunSpec],
    pool: Budget | None,
    per_gpu: int,
    slurm_settings: dict[str, Any],
    summary: str,
) -> None:
    """The exact commands on stdout; the pool or the job array, and the cost, on stderr."""
    per_task = slurm_settings["runs_per_task"]
    # on Slurm, the task's CPUs split among its runs (bench.slurm.PackedTask)
    threads = pool.threads if pool else max(1, (args.threads or slurm_settings["cpus_per_task"]) // per_task)
    env = planning.worker_env(threads, None, expect_gpu=not pool and slurm_settings["gpus_per_node"] > 0)
    for spec in todo:
        if not pool:  # as the cluster's nodes will start it
            from bench.slurm import task_command

            spec = replace(spec, command=task_command(spec.command, slurm_settings))
        print(planning.shell_line(spec, env))
    print(summary, file=sys.stderr)
    if pool and pool.note:
        print(f"# {pool.note}", file=sys.stderr)
    if not pool:
        from bench import slurm

        request = slurm.executor_parameters(slurm_settings, args.jobs, args.threads, f"hieros-bench-{args.suite}")
        shown = ", ".join(f"{k}={v}" for k, v in request.items() if k != "name")
        print(
            f"# slurm: one job array {request['name']} of {slurm.packing(len(todo), per_task)}, {threads} threads "
            f"a run; submitit would request {shown}",
            file=sys.stderr,
        )
    gpus = sorted({slot for slot in pool.slots if slot is not None}) if pool else []
    gpu = bool(gpus) if pool else slurm_settings["gpus_per_node"] > 0
    # runs that share a GPU are priced as if they took turns on it, with the GPUs at a time (cost.Estimate.line)
    sharing = (per_gpu if pool else per_task) if gpu else 1
    at_once = (len(gpus) if gpus else pool.jobs) if pool else args.jobs or slurm_settings["array_parallelism"]
    lengths = cost.eval_episode_lengths(args.results, {spec.task for spec in todo})
    found = cost.estimate(todo, cost.finished_records(args.results, todo), gpu, threads, lengths)
    print(found.line(at_once, sharing), file=sys.stderr)


def cmd_status(args: argparse.Namespace) -> int:
    suite, paths = _status_targets(args)
    if suite:
        runs = [(s.name, s.run_dir, True) for s in _plan(argparse.Namespace(**{**vars(args), "suite": suite}))[1]]
        title = f"{suite} under {args.results}"
        where = args.results
    else:
        sources = paths or [Path(args.results)]
        runs = [(_shown(found.path, sources), found.path, found.stored) for found in run_search.find(sources)]
        where = run_search.describe(sources)
        title = f"runs under {where}"
    if not runs:
        raise SuiteError(f"no runs under {where}; start some with `hieros-bench run SUITE`")
    errors = tables.status(tables.make_console(), runs, title)
    if errors:
        more = f" (and {len(errors) - 1} more corrupt run files)" if len(errors) > 1 else ""
        raise rundir.RunFileError(errors[0] + more)
    return 0


def _status_targets(args: argparse.Namespace) -> tuple[str | None, list[Path]]:
    """(a suite, or the run directories and folders of them) that `status` was given: a target that exists is a
    path, any other a suite name; the selection options (--tasks, --seeds, ...) pick runs of a suite only."""
    paths = [Path(t) for t in args.targets if Path(t).exists()]
    names = [t for t in args.targets if not Path(t).exists()]
    if names and (paths or len(names) > 1):
        raise SuiteError(
            f"{names[0]}: no such run directory or folder; give one suite, or run directories and folders of them"
        )
    selected = [flag for flag, value in SELECTION.items() if getattr(args, value) is not None]
    if selected and not names:
        raise SuiteError(f"{selected[0]} picks runs of a suite's plan; give the suite (`hieros-bench status SUITE`)")
    return (names[0] if names else None), paths


SELECTION = {"--seeds": "seeds", "--seed-list": "seed_list", "--tasks": "tasks", "--method": "method"}


def _shown(path: Path, sources: list[Path]) -> str:
    """A run as the status table names it: its path below the folder given (the store's suite/method/task/seed_n),
    or the path given."""
    for source in sources:
        if path != source and path.is_relative_to(source):
            return path.relative_to(source).as_posix()
    return str(path)


def cmd_list(args: argparse.Namespace) -> int:
    tables.listing(tables.make_console(), load(args.suites), list_tasks(all_dmc=True))
    return 0


def _selection(parser: argparse.ArgumentParser) -> None:
    """The options that pick runs out of a suite (run and status)."""
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, metavar="N", help="seeds 1..N (default: the suite's)")
    seeds.add_argument("--seed-list", metavar="1,2,7", help="explicit seeds")
    parser.add_argument("--tasks", metavar="A,B", help="a comma-separated subset of the suite's tasks")
    parser.add_argument("--method", metavar="NAME[,NAME]", help="methods (default: the suite's; any in the file)")
    parser.add_argument("--results", default="results", metavar="DIR", help="results directory (default: results)")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = OneLineParser(prog="hieros-bench", description=__doc__, epilog=EPILOG, formatter_class=formatter)
    parser.add_argument("--suites", metavar="FILE", help="suite file (default: ./benchmark.toml or the project's)")
    parser.add_argument(
        "--debug", action="store_true", help=f"show tracebacks instead of one-line errors (also: {DEBUG_ENV}=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run every (method, task, seed) of a suite; resumable and idempotent",
        description="Run every (method, task, seed) of a suite, each as its own `python -m hieros.train` process.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    run.add_argument("suite", help="suite name from the suite file (`hieros-bench list`)")
    _selection(run)
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="config override for every run, repeatable (e.g. --set steps=20000 --set s5.num_blocks=2)",
    )
    run.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="runs at a time (default: one per GPU slot, else cores / threads); Slurm: array parallelism",
    )
    run.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads per run, as OMP/MKL_NUM_THREADS (default: cores / (jobs + runs that other runners hold "
        "in this store); Slurm: cpus_per_task)",
    )
    run.add_argument("--runs-per-gpu", type=int, metavar="N", help="runs sharing a GPU (default: [local] in the file)")
    run.add_argument(
        "--runs-per-task", type=int, metavar="N", help="slurm: runs sharing an array task's GPU (default: [slurm])"
    )
    run.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="restarts of a crashed run, each from its checkpoint (default 2; bad configs: none)",
    )
    run.add_argument(
        "--backend",
        choices=["local", "slurm", "local-submitit"],
        default="local",
        metavar="{local,slurm}",
        help="local processes (default), or one Slurm job array through submitit "
        "(local-submitit: the same array on this machine, for tests)",
    )
    run.add_argument("--wait", action="store_true", help="slurm: wait for the array and print the summary")
    run.add_argument(
        "--force",
        action="store_true",
        help="move runs made with another config (or a corrupt run.json) aside to seed_<n>.old-<time>",
    )
    run.add_argument("--dry-run", action="store_true", help="print the exact commands, run nothing")
    run.add_argument(
        "--trust-pickle",
        action="store_true",
        help="let runs resume from pickled checkpoints of an earlier version (a pickle can run code: use it only "
        "for a store you trust; each run's next checkpoint is a safe one)",
    )
    run.set_defaults(func=cmd_run)

    status = sub.add_parser(
        "status",
        help="a table of runs: state, env steps, score, wall time, ETA",
        description="Every run under RESULTS, a suite's planned runs (pending ones included), or the runs "
        "of the run directories and folders given (any layout; each run's identity from its run.json): "
        "pending, running, interrupted (killed; resumable), failed, done.",
        formatter_class=formatter,
    )
    status.add_argument(
        "targets",
        nargs="*",
        metavar="SUITE | RUN_DIR",
        help="a suite's planned runs, or run directories and folders of them in any layout, e.g. runs/ of "
        "python -m hieros.train (a target that exists is a path; default: every run under RESULTS)",
    )
    _selection(status)
    status.set_defaults(func=cmd_status)

    listing = sub.add_parser("list", help="suites, methods and tasks")
    listing.set_defaults(func=cmd_list)
    if analysis_cli is not None:
        analysis_cli.register(sub, planned_seeds)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: every error is one line with an exit code (hieros.cli_errors)."""
    args = build_parser().parse_args(argv)
    if args.debug:
        os.environ[DEBUG_ENV] = "1"
    return guarded(lambda: _checked(args), USER_ERRORS, "hieros-bench")


# The most each count of `run` may ask for: beyond these a number is a typo, and would be a list that large
# (GPU slots, pool slots) or that many OpenMP threads per run.
MOST = {"jobs": 4096, "threads": 1024, "runs_per_gpu": 64, "runs_per_task": 64, "retries": 100}


def _checked(args: argparse.Namespace) -> int:
    for option in ("jobs", "threads", "runs_per_gpu", "runs_per_task"):
        value = getattr(args, option, None)
        if value is not None and value < 1:
            raise SuiteError(f"--{option.replace('_', '-')} must be at least 1, not {value}")
    if getattr(args, "retries", 0) < 0:
        raise SuiteError("--retries must not be negative")
    backend = getattr(args, "backend", "local")
    if getattr(args, "runs_per_task", None) and backend == "local":
        raise SuiteError("--runs-per-task packs runs into Slurm array tasks; on this machine use --runs-per-gpu")
    if getattr(args, "runs_per_gpu", None) and backend != "local":
        raise SuiteError(f"--runs-per-gpu shares GPUs of this machine; with --backend {backend} use --runs-per-task")
    for option, most in MOST.items():
        value = getattr(args, option, None)
        if value is not None and value > most:
            raise SuiteError(f"--{option.replace('_', '-')} must be at most {most}, not {value}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
