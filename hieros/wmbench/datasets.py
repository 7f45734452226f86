"""The world-model bench's fixed datasets: episodes collected once, regenerable bit for bit from a seed.

    python -m hieros.wmbench data cartpole_state --seed 0

`cartpole_state`: DMC cartpole balance from proprioceptive state through the project's own environment
(`make_env("dmc_cartpole_balance")` with the `dmc_proprio` preset and cpu_learning's action repeat 8: 125 steps
an episode), half the episodes from a uniformly random policy, half from a noisy PD controller on the pole's
angle and angular velocity and the cart's position and velocity, with Gaussian action noise whose scale is drawn
per episode (0.1 to 0.7: from near-perfect balancing to a pole that falls), so good and failing states both occur.

A dataset is flat arrays of steps in the agent's replay convention (row t: o_t, the reward on arriving at o_t, the
action chosen after o_t; the last row of an episode has a zero action), each step tagged with its episode, plus
per-episode arrays (kind, noise scale, held out or not). 20% of the episodes of each kind are held out, chosen by
the seed. Stored as `<cache>/<name>/seed_<s>-<R>r<C>c.npz` (the cache: $HIEROS_CACHE/wmbench, else
~/.cache/hieros-bench/wmbench) with a JSON beside it holding the sha256 of its contents; loading checks it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hieros.config import Config, build_config
from hieros.envs import make_env

FORMAT = "hieros-bench/wmbench-dataset/1"
STEP_KEYS = ("vector", "action", "reward", "is_first", "is_last", "is_terminal", "episode")
EPISODE_KEYS = ("episode_kind", "episode_noise", "episode_heldout", "episode_start", "episode_length")
KINDS = ("random", "controller")  # episode_kind 0 and 1
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the .npz entries' timestamp: the same file from the same arrays


class DatasetError(Exception):
    """A dataset is missing, unknown or does not match its recorded sha256; one line that says what to do."""


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is collected."""

    name: str
    task: str  # the environment task (hieros.envs.make_env)
    presets: tuple[str, ...]  # config presets of the environment
    env_set: Mapping[str, Any]  # config overrides of the environment (flat keys)
    random_episodes: int = 40  # episodes of the uniformly random policy
    controller_episodes: int = 40  # episodes of the noisy controller
    heldout_fraction: float = 0.2  # of each kind's episodes, held out (chosen by the seed)
    description: str = ""

    def env_config(self) -> Config:
        """The environment's config, as the agent of cpu_learning sees the task."""
        return build_config(list(self.presets), {"task": self.task, **self.env_set})


CARTPOLE_GAINS = np.array([3.0, 1.0, 0.5, 0.5])  # on (pole angle, angular velocity, cart position, cart velocity)
NOISE_RANGE = (0.1, 0.7)  # the controller's action noise std, drawn per episode


def cartpole_controller(vector: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A PD controller on cartpole's state [cart x, cos, sin, cart velocity, angular velocity], plus noise."""
    x, cos, sin, velocity, angular = vector
    angle = np.arctan2(sin, cos)
    action = CARTPOLE_GAINS @ np.array([angle, angular, x, velocity]) + noise * rng.normal()
    return np.clip(np.array([action], np.float32), -1.0, 1.0)


DATASETS = {
    "cartpole_state": DatasetSpec(
        name="cartpole_state",
        task="dmc_cartpole_balance",
        presets=("dmc_proprio",),
        env_set={"env.dmc.repeat": 8},
        description="DMC cartpole balance from state (repeat 8): random policy and noisy PD controller episodes",
    ),
}


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def cache_dir() -> Path:
    """$HIEROS_CACHE/wmbench, else $XDG_CACHE_HOME/hieros-bench/wmbench, else ~/.cache/hieros-bench/wmbench."""
    if os.environ.get("HIEROS_CACHE"):
        return Path(os.environ["HIEROS_CACHE"]) / "wmbench"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hieros-bench" / "wmbench"


def dataset_path(name: str, seed: int, random_episodes: int, controller_episodes: int, cache: Path | None) -> Path:
    return (cache or cache_dir()) / name / f"seed_{seed}-{random_episodes}r{controller_episodes}c.npz"


def make_command(name: str, seed: int, random_episodes: int, controller_episodes: int) -> str:
    """The command that makes a dataset (named in the error of a missing one)."""
    base = spec(name)
    extra = ""
    if (random_episodes, controller_episodes) != (base.random_episodes, base.controller_episodes):
        extra = f" --episodes {random_episodes},{controller_episodes}"
    return f"python -m hieros.wmbench data {name} --seed {seed}{extra}"


# --- collecting -------------------------------------------------------------------------------------------
def collect(
    name: str,
    seed: int,
    random_episodes: int | None = None,
    controller_episodes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """The dataset's arrays, a function of (name, seed, episode counts) only."""
    base = spec(name)
    counts = (
        base.random_episodes if random_episodes is None else random_episodes,
        base.controller_episodes if controller_episodes is None else controller_episodes,
    )
    rng = np.random.default_rng([seed, 1])  # the policies' noise
    env = make_env(base.task, base.env_config(), seed=seed)
    kinds = [0] * counts[0] + [1] * counts[1]
    steps: dict[str, list[Any]] = {key: [] for key in STEP_KEYS}
    noises, starts, lengths = [], [], []
    try:
        for episode, kind in enumerate(kinds):
            noise = float(rng.uniform(*NOISE_RANGE)) if kind == 1 else 1.0
            starts.append(len(steps["reward"]))
            obs = env.reset()
            while True:
                last = bool(obs["is_last"])
                if last:
                    action = np.zeros(env.act_space.shape, np.float32)
                elif kind == 0:
                    action = rng.uniform(-1.0, 1.0, env.act_space.shape).astype(np.float32)
                else:
                    action = cartpole_controller(obs["vector"], noise, rng)
                for key in ("vector", "reward", "is_first", "is_last", "is_terminal"):
                    steps[key].append(obs[key])
                steps["action"].append(action)
                steps["episode"].append(episode)
                if last:
                    break
                obs = env.step(action)
            noises.append(noise)
            lengths.append(len(steps["reward"]) - starts[-1])
            if progress is not None:
                progress(episode + 1, len(kinds))
    finally:
        env.close()
    arrays = {
        "vector": np.asarray(steps["vector"], np.float32),
        "action": np.asarray(steps["action"], np.float32),
        "reward": np.asarray(steps["reward"], np.float32),
        **{key: np.asarray(steps[key], bool) for key in ("is_first", "is_last", "is_terminal")},
        "episode": np.asarray(steps["episode"], np.int32),
        "episode_kind": np.asarray(kinds, np.int8),
        "episode_noise": np.asarray(noises, np.float32),
        "episode_start": np.asarray(starts, np.int64),
        "episode_length": np.asarray(lengths, np.int64),
    }
    arrays["episode_heldout"] = heldout_split(arrays["episode_kind"], base.heldout_fraction, seed)
    return arrays


def heldout_split(kinds: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Per episode, whether it is held out: round(fraction x count) episodes of each kind, chosen by the seed."""
    rng = np.random.default_rng([seed, 2])
    heldout = np.zeros(len(kinds), bool)
    for kind in np.unique(kinds):
        members = np.flatnonzero(kinds == kind)
        heldout[rng.permutation(members)[: round(fraction * len(members))]] = True
    return heldout


# --- storing ----------------------------------------------------------------------------------------------
def content_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """The sha256 of the arrays (names, dtypes, shapes and bytes, in name order): the dataset's identity,
    independent of how the file is compressed."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def save(path: Path, arrays: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> dict[str, Any]:
    """Write the compressed .npz (fixed entry timestamps, so the same arrays give the same file) and the JSON
    beside it; returns that JSON."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            entry = zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arrays[key]), allow_pickle=False)
    data = buffer.getvalue()
    meta = {
        "format": FORMAT,
        **info,
        "sha256": content_sha256(arrays),
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "episodes": len(arrays["episode_kind"]),
        "steps": len(arrays["reward"]),
        "heldout_episodes": int(arrays["episode_heldout"].sum()),
        "returns": returns_by_kind(arrays),
    }
    from hieros.rundir import atomic_write_bytes, atomic_write_json

    atomic_write_bytes(path, data)
    atomic_write_json(path.with_suffix(".json"), meta)
    return meta


def returns_by_kind(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Mean, min and max episode return of each kind of episode (to see that good and failing episodes occur)."""
    totals = np.bincount(arrays["episode"], weights=arrays["reward"], minlength=len(arrays["episode_kind"]))
    out = {}
    for index, kind in enumerate(KINDS):
        values = totals[arrays["episode_kind"] == index]
        if len(values):
            out[kind] = {"mean": float(values.mean()), "min": float(values.min()), "max": float(values.max())}
    return out


@dataclass
class Dataset:
    """A loaded dataset: its arrays and the JSON beside it."""

    name: str
    seed: int
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def sha256(self) -> str:
        return str(self.meta["sha256"])

    def episodes(self, heldout: bool) -> np.ndarray:
        """The ids of the held-out (or the training) episodes."""
        return np.flatnonzero(self.arrays["episode_heldout"] == heldout)

    def identity(self) -> dict[str, Any]:
        """What a run records of its data (its protocol)."""
        kinds = self.arrays["episode_kind"]
        return {
            "name": self.name,
            "seed": self.seed,
            "sha256": self.sha256,
            "episodes": {kind: int((kinds == i).sum()) for i, kind in enumerate(KINDS)},
            "heldout_episodes": int(self.arrays["episode_heldout"].sum()),
        }


def load(
    name: str, seed: int, random_episodes: int | None = None, controller_episodes: int | None = None, cache=None
) -> Dataset:
    """The stored dataset, its contents checked against the recorded sha256; DatasetError naming the command that
    makes it when it is missing."""
    base = spec(name)
    counts = (random_episodes or base.random_episodes, controller_episodes or base.controller_episodes)
    path = dataset_path(name, seed, *counts, cache)
    meta_path = path.with_suffix(".json")
    if not path.exists() or not meta_path.exists():
        raise DatasetError(
            f"no dataset {name} seed {seed} at {path}; make it with `{make_command(name, seed, *counts)}`"
        )
    meta = json.loads(meta_path.read_text())
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    if content_sha256(arrays) != meta.get("sha256"):
        raise DatasetError(f"{path} does not match the sha256 in {meta_path.name}; make it again with --force")
    return Dataset(name, seed, arrays, meta)


def make(
    name: str,
    seed: int,
    random_episodes: int | None = None,
    controller_episodes: int | None = None,
    cache: Path | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, dict[str, Any], bool]:
    """Collect and store a dataset unless it is there already: (path, its JSON, whether it was made now)."""
    base = spec(name)
    counts = (random_episodes or base.random_episodes, controller_episodes or base.controller_episodes)
    path = dataset_path(name, seed, *counts, cache)
    if path.exists() and path.with_suffix(".json").exists() and not force:
        return path, load(name, seed, *counts, cache).meta, False
    arrays = collect(name, seed, *counts, progress=progress)
    info = {
        "name": name,
        "seed": seed,
        "task": base.task,
        "env": dict(base.env_set),
        "command": make_command(name, seed, *counts),
    }
    return path, save(path, arrays, info), True
