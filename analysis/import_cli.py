"""`hieros-bench import`: other methods' runs into the store as run directories. Published score files
(analysis/score_files.py), the original code's log directory (analysis/transfer.py), other agents' TensorBoard
event files and W&B runs (analysis/foreign_runs.py). bench.cli registers it through analysis.cli."""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.cli_args import name, positive
from analysis.trackers import X_UNITS

IMPORT_EPILOG = """\
formats:
  danijar/dreamerv3 json.gz  [{task, method, seed, xs, ys}], xs in env frames; stored as train episodes, final
                             score = mean over the last --window-frames of the budget (final_train_window)
  per-game lists             {"Alien": [run1, run2, ...]} (IRIS, TWM, STORM, SPR, SimPLe); final scores only,
                             protocol published_final
  original HIEROS log dir    its scores.jsonl, whose step counts a reset step per episode (frames = step -
                             repeat x episodes so far, one env); one run per directory (--task, --seed)
  TensorBoard event files    a folder of runs (each folder of event files one run), the episode returns under
                             --tag at each step; frames = step x --frames-per-step (or the step, --x-unit
                             frames); task and seed from --task/--seed, the run's name (CleanRL's
                             env_id__exp__seed__time), its config.yaml/hparams.yaml (sheeprl) or run.json (ours)
  W&B offline runs           wandb/offline-run-*/: the history rows with --tag, at --x-axis (global_step or
                             _step); task and seed from the run's config (env_id, seed) or name
  W&B exports                a line plot's CSV (x axis, then "<run> - <metric>" per run), or the API's history
                             rows (CSV or JSON with _step; a run column tells runs apart), or JSON
                             [{name, config, history}]
  W&B online (optional)      wandb://ENTITY/PROJECT[/RUN_ID][?KEY=VALUE&...]: the project's runs whose config
                             has each KEY=VALUE, read with wandb.Api (needs `wandb login` and the network)
examples:
  hieros-bench import ../shared/data/atari100k_raw/dreamerv3/atari100k-dreamerv3.json.gz --method dreamerv3
  hieros-bench import ../shared/data/atari100k_raw/iris/IRIS.json --method iris
  hieros-bench import runs/ --method ppo --frames-per-step 4              CleanRL's runs/ (TensorBoard)
  hieros-bench import logs/runs/dreamer_v3 --method sheeprl_dv3 --frames-per-step 4
  hieros-bench import wandb/ --method ppo --frames-per-step 4             W&B offline runs (WANDB_MODE=offline)
  hieros-bench import export.csv --method ppo --frames-per-step 4 --x-axis global_step   a W&B panel's CSV
  hieros-bench import "wandb://openrlbenchmark/cleanrl?exp_name=ppo_atari_envpool" --method ppo --frames-per-step 4
  hieros-bench import /tmp/orig_run1 --method hieros_original --suite cpu_learning --task dmc_cartpole_balance \
      --seed 1 --budget-frames 36000 --frames-per-step 8 --window-frames 4000"""


def cmd_import(args: argparse.Namespace) -> int:
    from analysis.foreign_runs import Request, import_path, kind_of
    from analysis.score_files import import_file
    from analysis.store import StoreError
    from analysis.transfer import DEFAULT_SUITE, Given, import_original_logdir

    given = Given(args.budget_frames, args.frames_per_step, args.window_frames)
    path = Path(args.file)
    kind = kind_of(args.file)
    if kind is not None:
        suite = args.suite or DEFAULT_SUITE
        request = Request(
            args.method,
            Path(args.results),
            suite,
            given,
            args.tag,
            args.x_axis,
            args.x_unit,
            args.task,
            args.seed,
            args.force,
        )
        done = import_path(args.file, kind, request)
    elif path.is_dir():
        if not args.task:
            raise StoreError(f"{args.file} is a log directory of the original code: give its --task")
        suite = args.suite or DEFAULT_SUITE
        seed = 1 if args.seed is None else args.seed
        done = import_original_logdir(args.file, args.method, args.results, suite, args.task, seed, given, args.force)
    else:
        done = import_file(args.file, args.method, args.results, args.suite, given, args.force)
    same = f" ({done.unchanged} already there from this file, left as they were)" if done.unchanged else ""
    print(f"imported {done.written} runs of {args.method} from {path.name} into {done.folder.parent}{same}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `import` to the hieros-bench subcommands."""
    imp = sub.add_parser(
        "import",
        help="bring published per-seed results, and other agents' TensorBoard or W&B runs, into the store",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument(
        "file",
        help="a danijar json.gz score file, a per-game lists json, a log directory of the original HIEROS code "
        "(its scores.jsonl; give --task and --seed), TensorBoard event files or a folder of runs holding them "
        "(CleanRL, sheeprl, ours), a W&B offline run or wandb/ folder, a W&B export (.csv, .json), or "
        "wandb://ENTITY/PROJECT[?KEY=VALUE] (online, optional)",
    )
    imp.add_argument("--method", required=True, help="method name in the store (e.g. dreamerv3)")
    imp.add_argument("--suite", help="suite in the store (default: the one an export names, else atari100k)")
    imp.add_argument("--results", default="results", metavar="DIR", help="results store (default: results)")
    imp.add_argument(
        "--budget-frames",
        type=positive(int),
        metavar="N",
        help="the runs' frame budget (default: an export's, else 400000 for atari100k)",
    )
    imp.add_argument(
        "--frames-per-step",
        type=positive(int),
        metavar="N",
        help="action repeat (default: an export's, else 4); TensorBoard / W&B runs of other agents: required, "
        "the frames per agent step (4 for CleanRL's and sheeprl's Atari)",
    )
    imp.add_argument(
        "--window-frames",
        type=positive(int),
        metavar="N",
        help="final-score window of curve files, in frames (default: an export's, else 10000)",
    )
    imp.add_argument(
        "--task",
        help="the task of an original-code log directory, e.g. dmc_cartpole_balance; of every TensorBoard or "
        "W&B run (default: from its name or config, e.g. CleanRL's env_id)",
    )
    imp.add_argument(
        "--seed",
        type=positive(int),
        help="the run number of an original-code log directory in the store (default 1); of a TensorBoard "
        "or W&B run (default: from its name or config, else its runs numbered 1..N per task)",
    )
    imp.add_argument(
        "--tag",
        type=name,
        metavar="TAG",
        help="TensorBoard / W&B: the episode return's tag (default: the first there of charts/episodic_return "
        "(CleanRL), Rewards/rew_avg (sheeprl), train_episode/score (ours))",
    )
    imp.add_argument(
        "--x-axis",
        type=name,
        metavar="KEY",
        help="W&B: the key of the rows' x values (default: global_step where the rows have it, else _step)",
    )
    imp.add_argument(
        "--x-unit",
        choices=X_UNITS,
        help="TensorBoard / W&B: what the x axis counts: agent steps (frames = x * --frames-per-step; "
        "CleanRL's global_step, sheeprl's policy_step) or frames (ours); default by the tag, else steps",
    )
    imp.add_argument(
        "--force",
        action="store_true",
        help="replace runs in the way (ours, from another file, or "
        "this file's again), moving them aside to seed_<n>.old-<time>",
    )
    imp.set_defaults(func=cmd_import)
