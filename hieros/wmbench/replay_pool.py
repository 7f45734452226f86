"""A dataset of the data agents actually saw: the level-0 replay of finished runs, read from their checkpoints and
pooled, one kind of episode per run (so the held-out split takes episodes of every run).

Every complete episode of each run's replay is kept (a cpu_learning run keeps its whole history: 36k frames are
4.5k steps, its replay holds 100k); an episode cut by the run's end, or by the replay's eviction, is left out.
The steps are the replay's own rows, already in the agent's convention (the final step's action zero, its reward
dropped when keep_terminal_reward is false). The runs must have the environment of the dataset's spec, checked
against their run.json. A pool is as regenerable as its runs: each is a function of its seed, and the dataset's
sha256 says whether a pool made again is the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hieros import checkpoint, run_file
from hieros.config import Config
from hieros.rundir import RUN_FILE
from hieros.wmbench.collect import STEP_KEYS, DatasetError, DatasetSpec, heldout_split


def replay_streams(run_dir: Path) -> list[dict[str, np.ndarray]]:
    """The steps of each worker of the run's level-0 replay, in time order, from its latest checkpoint."""
    state = checkpoint.load(run_dir, read_only=True)
    if state is None:
        raise DatasetError(f"{run_dir} has no checkpoint; move the run away and make it again: {remake(run_dir)}")
    replay = state["agent"]["levels"][0]["replay"]
    size = replay["config"]["chunk_size"]
    streams = []
    for stream in replay["streams"]:
        chunks = [stream["chunks"][index] for index in sorted(stream["chunks"])]
        count = stream["n_steps"] - stream["first_chunk"] * size
        streams.append({key: np.concatenate([c[key] for c in chunks])[:count] for key in replay["spec"]})
    return streams


def remake(run_dir: Path) -> str:
    """How to make a source run (again) from its seed: the runner's command for its suite, method and seed."""
    *_, suite, method, _, seed = run_dir.parts
    return f"`hieros-bench run {suite} --methods {method} --seeds {seed.removeprefix('seed_')}`"


def complete_episodes(steps: Mapping[str, np.ndarray]) -> list[slice]:
    """The episodes of a stream that start with is_first and end with is_last."""
    firsts = np.flatnonzero(steps["is_first"])
    lasts = set(np.flatnonzero(steps["is_last"]).tolist())
    bounds = [*firsts.tolist(), len(steps["is_first"])]
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b - 1 in lasts]


def check_source(run_dir: Path, base: DatasetSpec) -> run_file.Record:
    """The run's record, refused in one line unless it ran the dataset's task and environment."""
    if not (run_dir / RUN_FILE).exists():
        raise DatasetError(f"no run at {run_dir}; make it from its seed: {remake(run_dir)}")
    record = run_file.read_run(run_dir)
    env = Config(record.config).get("env", {})
    want = base.env_config()
    if record.task != base.task or Config(env).flat() != Config(want.env).flat():
        raise DatasetError(f"{run_dir} did not run {base.name}'s task and environment ({base.task}, {want.env})")
    return record


def collect(
    base: DatasetSpec, seed: int, results: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """The pooled arrays (episode_kind: the source run's index) and what each source gave."""
    keys = (base.obs_key, *STEP_KEYS)
    parts: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    kinds, lengths, sources = [], [], []
    for kind, source in enumerate(base.replay_of):
        run_dir = results / source
        record = check_source(run_dir, base)
        episodes = [(stream, where) for stream in replay_streams(run_dir) for where in complete_episodes(stream)]
        for stream, where in episodes:
            for key in keys:
                parts[key].append(stream[key][where])
            kinds.append(kind)
            lengths.append(where.stop - where.start)
        sources.append({"run": source, "method": record.method, "seed": record.seed, "episodes": len(episodes)})
        if progress is not None:
            progress(kind + 1, len(base.replay_of))
    if not kinds:
        raise DatasetError(f"the runs of {base.name} hold no complete episode")
    arrays = {key: np.concatenate(parts[key]) for key in keys}
    arrays["action"] = arrays["action"].astype(np.float32)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    arrays.update(
        episode=np.repeat(np.arange(len(kinds), dtype=np.int32), lengths),
        episode_start=starts,
        episode_length=np.asarray(lengths, np.int64),
        episode_kind=np.asarray(kinds, np.int8),
        episode_noise=np.zeros(len(kinds), np.float32),  # no policy parameter: the agents' own
    )
    arrays["episode_heldout"] = heldout_split(arrays["episode_kind"], base.heldout_fraction, seed)
    return arrays, sources
