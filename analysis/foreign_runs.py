"""Runs of other agents as runs of the store: what the readers of their trackers' files give
(analysis/tensorboard_runs.py: TensorBoard event files; analysis/wandb_runs.py: W&B offline runs and exports),
which task and seed each run is, and the run directories they become.

Each reader gives a ForeignRun: the episode returns logged under one tag, each at its x value as the writer counts
it, with what the source says of the run (its name, config, and for our own runs their run.json). Episode return
tags and x axes, as openrlbenchmark reads them:

    CleanRL       charts/episodic_return at global_step   (agent steps over all envs: frames = x * frame skip)
    sheeprl       Rewards/rew_avg at policy_step          (agent steps; each point the mean of the episodes that
                                                           ended since the last log, counted as one episode)
    hieros-bench  train_episode/score at frames           (environment frames)

Frames are `x * --frames-per-step` where the x axis counts agent steps (CleanRL's global_step counts frame-skipped
steps: 4 frames each on Atari), which the import must be told for another agent's runs (our own run.json says
it), or `x` itself where it counts frames (--x-unit). Each run is stored as train episode records with the suite's
final_train_window protocol, as the danijar files are, so `report` scores it like ours at the same budget.

Which run a run is: --task and --seed where given; else our run.json; else the run's config (env_id, env.id,
task; seed); else its name in CleanRL's form `{env_id}__{exp_name}__{seed}__{time}` (and any folder above it
that names an environment, as sheeprl's logs/runs/<algo>/<env_id>/<run>). Environment ids map to our tasks:
`BreakoutNoFrameskip-v4`, `ALE/Breakout-v5` -> atari_breakout; `dm_control/cartpole-balance-v0`,
`cartpole_balance` -> dmc_cartpole_balance. Where some run's seed is not said, the runs of each task are
numbered 1..N in the order the source lists them (as a per-game list's runs are), each keeping its name in
provenance.source_run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import tensorboard_runs, wandb_runs
from analysis.store import StoreError, find_game
from analysis.trackers import TAGS, ForeignRun
from analysis.transfer import (
    ORIGINAL_SCORES,
    WINDOW_FRAMES,
    Given,
    Imported,
    budget_of,
    imported_record,
    known_task,
    store_runs,
)
from hieros import metrics_file, rundir
from hieros.envs import list_tasks
from hieros.run_file import ImportProvenance, RunProtocol, ScoreProtocol

ENV_KEYS = ("env_id", "env.id", "task", "env", "env_name", "game")  # where a config names its environment
CLEANRL_NAME = re.compile(r"(?P<env>.+?)__(?P<exp>.+?)__(?P<seed>\d+)__(?P<time>\d+)")
ATARI_ID = re.compile(r"(?:ALE/)?(?P<game>[A-Za-z]+?)(?:NoFrameskip|Deterministic)?-v\d+")
DMC_ID = re.compile(r"(?:dm_control/)?(?P<domain>[a-z_]+)-(?P<task>[a-z_]+)-v\d+")


@dataclass(frozen=True)
class Request:
    """What an import of other agents' runs was asked: the store's place, the tag and x axis, the run's identity
    where the flags give it."""

    method: str
    results: Path
    suite: str
    given: Given
    tag: str | None = None
    x_axis: str | None = None  # W&B: the key of the rows' x values
    x_unit: str | None = None
    task: str | None = None
    seed: int | None = None
    force: bool = False


def task_of(env_id: Any) -> str | None:
    """Our task for an environment id as agents write it, or None."""
    if not isinstance(env_id, str):
        return None
    known = set(list_tasks(all_dmc=True))
    if env_id in known:
        return env_id
    if match := ATARI_ID.fullmatch(env_id):
        return find_game(match["game"])
    if match := DMC_ID.fullmatch(env_id):
        env_id = f"{match['domain']}_{match['task']}"
    return f"dmc_{env_id}" if f"dmc_{env_id}" in known else None


def _identity(run: ForeignRun, request: Request) -> tuple[str, int | None]:
    """(task, seed or None) of a run, from the flags, our run.json, its config, its name (see the module)."""
    record = run.record
    cleanrl = [m for c in (run.name, *run.names) if (m := CLEANRL_NAME.fullmatch(Path(c).name))]
    recorded = [record.task] if record else []
    said = [*recorded, *(run.config.get(k) for k in ENV_KEYS), *(m["env"] for m in cleanrl), *run.names]
    task = request.task or next((t for c in said if (t := task_of(c)) is not None), None)
    if task is None:
        named = next((c for c in said if isinstance(c, str)), run.name)
        raise StoreError(f"{run.where}: cannot tell which task {named!r} is; give it with --task")
    seed = request.seed if request.seed is not None else record.seed if record else run.config.get("seed")
    if seed is None and cleanrl:
        seed = int(cleanrl[0]["seed"])
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise StoreError(f"{run.where}: its seed {seed!r} is not an integer >= 0; give one with --seed")
    return known_task(task, run.where), seed


def _frames(run: ForeignRun, request: Request, tag: str) -> tuple[list[dict[str, Any]], int, str]:
    """The run's train episode records, its frames per step, and its x axis's unit."""
    recorded = run.record.protocol.frames_per_step if run.record else None
    per_step = recorded or request.given.frames_per_step
    if recorded and request.given.frames_per_step not in (None, recorded):
        raise StoreError(f"{run.where}: its run.json says {recorded} frames per step, not --frames-per-step")
    if per_step is None:
        raise StoreError(
            f"{run.where}: give --frames-per-step, the environment frames per agent step of its x axis (4 for "
            "CleanRL's and sheeprl's Atari runs, frame skip 4; their action repeat on DMC)"
        )
    unit = request.x_unit or (TAGS[tag].x_unit if tag in TAGS else "steps")
    episodes = []
    for x, y in run.points:
        if not (isinstance(x, int | float) and math.isfinite(x) and x >= 0 and float(x).is_integer()):
            raise StoreError(f"{run.where}: its x axis holds {x!r}, not a whole step count >= 0")
        if not (isinstance(y, int | float) and math.isfinite(y)):
            continue  # a step logged without this tag's value
        frames = int(x) * (per_step if unit == "steps" else 1)
        if episodes and frames < episodes[-1]["frames"]:
            raise StoreError(f"{run.where}: its x axis goes back, from {episodes[-1]['frames']} to {frames} frames")
        episodes.append(
            {"type": "episode", "mode": "train", "env_step": frames // per_step, "frames": frames, "score": float(y)}
        )
    if not episodes:
        raise StoreError(f"{run.where}: no episode return under {tag!r} in it")
    return episodes, per_step, unit


def import_runs(runs: list[ForeignRun], tag: str, sha256: str, source: dict[str, str], request: Request) -> Imported:
    """The runs as run directories of `request.method` (every run checked before anything is written), through
    transfer.store_runs: importing the same files again leaves them; another method's runs are never touched."""
    budget = budget_of(request.given.budget_frames, request.suite)
    window = request.given.window_frames or WINDOW_FRAMES
    built, numbered = [], {}
    identities = [_identity(run, request) for run in runs]
    renumber = any(seed is None for _, seed in identities)
    for run, (task, seed) in zip(runs, identities, strict=True):
        if renumber:
            seed = numbered[task] = numbered.get(task, 0) + 1
        episodes, per_step, unit = _frames(run, request, tag)
        protocol = RunProtocol.of(None, per_step, budget, ScoreProtocol("final_train_window", window))
        final = metrics_file.final_score(episodes, protocol.score, budget)
        if final is None:
            last = episodes[-1]["frames"]
            raise StoreError(
                f"{run.where}: no episode ends in the final window ({budget - window}, {budget}] frames (its "
                f"last at {last}); give --budget-frames within its frames, or a wider --window-frames"
            )
        details = {"source_run": run.name, "tag": tag, "x_axis": run.x_axis, "x_unit": unit, "writer": _writer(tag)}
        provenance = ImportProvenance(source["source_file"], source["sha256"], source["format"], details)
        record = imported_record(request.suite, request.method, task, seed, protocol, provenance, final)
        built.append((rundir.run_path(request.results, request.suite, request.method, task, seed), record, episodes))
    paths = [path for path, _, _ in built]
    twice = next((p for i, p in enumerate(paths) if p in paths[:i]), None)
    if twice is not None:
        raise StoreError(
            f"{source['source_file']}: two runs are {twice.parent.name} seed {twice.name.removeprefix('seed_')}; "
            "give the runs of one method, or each run's seed in its name or config"
        )
    return store_runs(request.results, request.results / request.suite / request.method, sha256, built, request.force)


def _writer(tag: str) -> str:
    return TAGS[tag].name if tag in TAGS else "unknown"


def kind_of(source: str) -> str | None:
    """Which tracker's files `source` is or holds (tensorboard, wandb-offline, wandb-export; wandb-online for a
    wandb:// address), or None for the other import formats (published score files, the original code's log
    directory)."""
    if source.startswith(wandb_runs.ONLINE):
        return "wandb-online"
    path = Path(source)
    if path.is_file():
        if path.name.startswith(tensorboard_runs.EVENTS):
            return "tensorboard"
        if path.suffix == ".wandb":
            return "wandb-offline"
        return "wandb-export" if wandb_runs.is_export(path) else None
    if not path.is_dir() or (path / ORIGINAL_SCORES).exists():
        return None
    events, offline = tensorboard_runs.event_files(path), wandb_runs.offline_files(path)
    if events and offline:
        raise StoreError(
            f"{path}: it holds both TensorBoard event files and W&B offline runs (the same runs twice, as "
            "CleanRL's --track writes them); give the folder of one, e.g. runs/ or wandb/"
        )
    if not events and not offline:
        raise StoreError(
            f"{path}: no TensorBoard event files, W&B offline runs (wandb/offline-run-*) or the original "
            f"code's {ORIGINAL_SCORES} in it"
        )
    return "tensorboard" if events else "wandb-offline"


def import_path(path: Path | str, kind: str, request: Request) -> Imported:
    """Every run of the tracker's files at `path` (kind_of; a wandb:// address for wandb-online) as a run of
    `request.method` in the store."""
    if kind == "wandb-online":
        runs, tag, sha256 = wandb_runs.read_online(str(path), request.tag, request.x_axis)
        return import_runs(runs, tag, sha256, {"source_file": str(path), "sha256": sha256, "format": kind}, request)
    path = Path(path)
    if kind == "tensorboard":
        runs, tag, sha256 = tensorboard_runs.read(path, request.tag)
    elif kind == "wandb-offline":
        runs, tag, sha256 = wandb_runs.read_offline(path, request.tag, request.x_axis)
    else:
        runs, tag, sha256 = wandb_runs.read_export(path, request.tag, request.x_axis)
    source = {"source_file": path.resolve().name, "sha256": sha256, "format": kind}
    return import_runs(runs, tag, sha256, source, request)
