"""`python -m hieros.wmbench`: the world-model bench's commands (docs/wmbench.md).

DESCRIPTION

    python -m hieros.wmbench data cartpole_state --seed 0          # make the dataset (once; bit for bit from the seed)
    python -m hieros.wmbench run --method rssm,s5wm --seeds 1,2,3  # train, measure, learn a policy in imagination
    python -m hieros.wmbench table                                  # held-out losses, open-loop error, score
    python -m hieros.wmbench plot --out results/wm_bench_plots      # open-loop error against imagined step
    hieros-bench report --results results --suite wm_bench          # scores: intervals, P(X > Y), verdicts
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hieros import code_version
from hieros.cli_errors import OneLineParser, guarded, int_in
from hieros.config import ConfigError
from hieros.envs import EnvError
from hieros.rundir import RunFileError
from hieros.wmbench import datasets
from hieros.wmbench.methods import METHODS, MODEL_SIZE_KEYS, SIZES, Settings, parse_set, resolve, suite_of

if TYPE_CHECKING:
    from hieros.wmbench.summary import RunData

DESCRIPTION = """\
The world-model bench: world models trained offline on one fixed dataset (same data, same update budget, same
batches for every model of a seed), measured on held-out episodes, and scored by a policy learned only inside the
frozen model. Each (method, seed) is a run directory results/wm_bench/<method>/<task>/seed_<n>/:
  1. N world-model updates (--updates) with the model's own loss and optimiser; every K (--eval-every) the
     held-out loss terms and the open-loop error after a short and a long context (--contexts, --horizon);
  2. M actor-critic updates (--policy-updates) in the frozen model's imagination, no new real data;
  3. the greedy policy in the real environment (--eval-episodes): its mean return is the run's score.
A finished run is skipped, an unfinished one starts again. Methods: rssm, s5wm (`list`); a variant: --set."""

MOST = 10_000_000  # the most updates a flag may ask for


def _list(kind: type, known: Sequence[str] | None = None):
    """An argparse type: a comma-separated list of `kind`, non-empty, each in `known` if given."""

    def parse(text: str) -> tuple:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"an empty list: {text!r}")
        try:
            values = tuple(kind(item) for item in items)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a list of {kind.__name__}: {text!r}") from None
        for value in values:
            if known is not None and value not in known:
                raise argparse.ArgumentTypeError(f"unknown {value!r}; known: {', '.join(known)}")
            if kind is int and not 0 <= value < 2**32:
                raise argparse.ArgumentTypeError(f"{value} is not from 0 to 2**32 - 1")
        return values

    return parse


def parser() -> OneLineParser:
    top = OneLineParser(
        prog="python -m hieros.wmbench",
        description=DESCRIPTION,
        epilog="examples:\n" + __doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    defaults = Settings()

    data = sub.add_parser("data", help="make a dataset in the cache (regenerable bit for bit from its seed)")
    data.add_argument("name", choices=list(datasets.DATASETS), help="the dataset")
    data.add_argument("--seed", type=int_in(0, 2**32 - 1), default=0, help="its seed (default 0)")
    data.add_argument("--episodes", type=_list(int), metavar="R,C", help="random and controller episodes (40,40)")
    data.add_argument("--cache", type=Path, help="the cache folder (default $HIEROS_CACHE/wmbench or ~/.cache/...)")
    data.add_argument("--force", action="store_true", help="make it again even if it is there")
    data.add_argument("--results", type=Path, default=Path("results"), help="where a pooled replay's runs are")

    run = sub.add_parser("run", help="train and measure world models, one run per (method, seed)")
    run.add_argument("--method", type=_list(str, list(METHODS)), default=tuple(METHODS), help="methods (all)")
    run.add_argument("--seeds", type=_list(int), default=(1, 2, 3), help="seeds, e.g. 1,2,3 (default)")
    run.add_argument("--results", type=Path, default=Path("results"), help="the results store (default results)")
    sizes = "config size (cpu_small; paper: its model at the paper's size)"
    run.add_argument("--size", choices=list(SIZES), default=defaults.size, help=sizes)
    run.add_argument("--dataset", choices=list(datasets.DATASETS), default=defaults.dataset, help="the dataset")
    run.add_argument("--data-seed", type=int_in(0, 2**32 - 1), default=defaults.data_seed, help="its seed (0)")
    run.add_argument("--episodes", type=_list(int), metavar="R,C", help="its random and controller episodes (40,40)")
    run.add_argument("--cache", type=Path, help="the dataset cache folder")
    steps = (
        ("updates", defaults.updates, "world-model updates N"),
        ("eval-every", defaults.eval_every, "updates between held-out measurements K"),
        ("policy-updates", defaults.policy_updates, "actor-critic updates in imagination M"),
        ("eval-episodes", defaults.eval_episodes, "real episodes of the learned policy"),
        ("heldout-sequences", defaults.heldout_sequences, "held-out sequences for the losses"),
        ("openloop-sequences", defaults.openloop_sequences, "held-out sequences per context, open loop"),
        ("horizon", defaults.horizon, "imagined steps of the open-loop error"),
    )
    for flag, default, text in steps:
        run.add_argument(f"--{flag}", type=int_in(1, MOST), default=default, help=f"{text} (default {default})")
    run.add_argument("--contexts", type=_list(int), default=defaults.contexts, help="observed steps (default 4,96)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config switch (repeatable)")
    run.add_argument("--threads", type=int_in(1, 256), default=1, help="torch CPU threads (default 1)")

    for name, text in (("table", "the bench's table in markdown"), ("plot", "the open-loop figure (PNG, PDF)")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--results", type=Path, default=Path("results"), help="the results store")
        command.add_argument("--dataset", choices=list(datasets.DATASETS), default=defaults.dataset, help="its runs")
        if name == "plot":
            command.add_argument("--out", type=Path, default=Path("results/wm_bench_plots"), help="the folder")
            command.add_argument("--method", type=_list(str), help="only these methods, e.g. rssm,s5wm (default all)")
    sub.add_parser("list", help="the methods, sizes and datasets")
    return top


def _counts(episodes: tuple[int, ...] | None, name: str) -> tuple[int, int]:
    base = datasets.spec(name)
    if episodes is None:
        return base.random_episodes, base.controller_episodes
    if base.replay_of:
        raise ConfigError(f"--episodes: {name} holds every complete episode of its runs; leave --episodes out")
    if len(episodes) != 2 or min(episodes) < 1:
        raise ConfigError(f"--episodes {','.join(map(str, episodes))}: give two counts of at least 1, e.g. 40,40")
    return episodes[0], episodes[1]


def cmd_data(args: argparse.Namespace) -> int:
    counts = _counts(args.episodes, args.name)
    start = time.perf_counter()
    path, meta, made = datasets.make(
        args.name, args.seed, *counts, cache=args.cache, force=args.force, results=args.results
    )
    what = "made" if made else "already there"
    print(f"{path}: {what}, {meta['episodes']} episodes, {meta['steps']} steps, sha256 {meta['sha256'][:16]}")
    for source in meta.get("sources", []):
        print(f"  {source['run']}: {source['episodes']} complete episodes")
    for kind, summary in meta["returns"].items():
        print(f"  {kind}: return mean {summary['mean']:.0f} (min {summary['min']:.0f}, max {summary['max']:.0f})")
    if made:
        print(f"  in {time.perf_counter() - start:.1f} s")
    return 0


def settings_of(args: argparse.Namespace) -> Settings:
    counts = _counts(args.episodes, args.dataset)
    return Settings(
        dataset=args.dataset,
        data_seed=args.data_seed,
        random_episodes=counts[0],
        controller_episodes=counts[1],
        size=args.size,
        updates=args.updates,
        eval_every=args.eval_every,
        heldout_sequences=args.heldout_sequences,
        contexts=tuple(args.contexts),
        horizon=args.horizon,
        openloop_sequences=args.openloop_sequences,
        policy_updates=args.policy_updates,
        eval_episodes=args.eval_episodes,
        set=parse_set(args.set),
    )


def cmd_run(args: argparse.Namespace) -> int:
    code_version.code_state()  # the code this process runs, before it runs for hours
    settings = settings_of(args)
    dataset = datasets.load(
        settings.dataset, settings.data_seed, settings.random_episodes, settings.controller_episodes, args.cache
    )
    shortest = int(dataset.arrays["episode_length"][dataset.episodes(heldout=True)].min())
    if max(settings.contexts) + settings.horizon > shortest:
        raise ConfigError(
            f"--contexts {max(settings.contexts)} + --horizon {settings.horizon} steps exceed the shortest held-out "
            f"episode ({shortest} steps)"
        )
    for method in args.method:  # every config checked before any run starts
        resolve(method, args.seeds[0], settings)
    from hieros.wmbench.progress import run_all  # imports torch

    return run_all(args.results, list(args.method), list(args.seeds), settings, dataset, args.threads)


def finished_runs(args: argparse.Namespace) -> dict[str, list[RunData]]:
    """{method: finished runs} of --dataset's suite under --results; RunFileError in one line when none."""
    from hieros.wmbench.summary import load_runs

    runs = load_runs(args.results, args.dataset)
    if not runs:
        where = f"{args.results}/{suite_of(args.dataset)}"
        raise RunFileError(
            f"no finished run under {where}; run `python -m hieros.wmbench run --dataset {args.dataset}`"
        )
    return runs


def cmd_table(args: argparse.Namespace) -> int:
    from hieros.wmbench.summary import markdown

    print(markdown(finished_runs(args)), end="")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from hieros.wmbench.plot import figure

    runs = finished_runs(args)
    if args.method:
        unknown = sorted(set(args.method) - set(runs))
        if unknown:
            raise ConfigError(f"--method: no finished run of {', '.join(unknown)}; there are {', '.join(sorted(runs))}")
        runs = {name: runs[name] for name in args.method}
    for path in figure(runs, args.out):
        print(f"wrote {path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    print("methods:")
    for name, method in METHODS.items():
        keys = ", ".join(f"{k}={v}" for k, v in method.set.items())
        print(f"  {name:8} {method.description} ({keys})")
    print("sizes:   " + ", ".join(f"{name} (--configs <task> {' '.join(p)})" for name, p in SIZES.items()))
    print("         paper: cpu_small's training with the paper's model dimensions (" + ", ".join(MODEL_SIZE_KEYS) + ")")
    print("datasets:")
    for name, spec in datasets.DATASETS.items():
        print(f"  {name:8} {spec.description}")
    return 0


COMMANDS = {"data": cmd_data, "run": cmd_run, "table": cmd_table, "plot": cmd_plot, "list": cmd_list}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as done:  # --help, or a usage error already said in one line
        return int(done.code or 0)
    from hieros.run_record import RunLocked

    errors = (ConfigError, EnvError, RunFileError, datasets.DatasetError, RunLocked)
    return guarded(lambda: COMMANDS[args.command](args), errors, "hieros-wmbench")
