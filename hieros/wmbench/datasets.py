"""The world-model bench's fixed datasets: episodes collected once (hieros.wmbench.collect), regenerable bit for
bit from a seed, stored and loaded here.

    python -m hieros.wmbench data cartpole_state --seed 0

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

from hieros.wmbench import replay_pool
from hieros.wmbench.collect import DATASETS, STEP_KEYS, DatasetError, DatasetSpec, collect, spec

__all__ = ["DATASETS", "Dataset", "DatasetError", "DatasetSpec", "collect", "load", "make", "save", "spec"]

FORMAT = "hieros-bench/wmbench-dataset/1"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the .npz entries' timestamp: the same file from the same arrays


def cache_dir() -> Path:
    """$HIEROS_CACHE/wmbench, else $XDG_CACHE_HOME/hieros-bench/wmbench, else ~/.cache/hieros-bench/wmbench."""
    if os.environ.get("HIEROS_CACHE"):
        return Path(os.environ["HIEROS_CACHE"]) / "wmbench"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hieros-bench" / "wmbench"


def dataset_path(name: str, seed: int, random_episodes: int, controller_episodes: int, cache: Path | None) -> Path:
    """`<cache>/<name>/seed_<s>-<R>r<C>c.npz`; a pooled replay (every episode of its runs) `seed_<s>.npz`."""
    counts = "" if spec(name).replay_of else f"-{random_episodes}r{controller_episodes}c"
    return (cache or cache_dir()) / name / f"seed_{seed}{counts}.npz"


def make_command(name: str, seed: int, random_episodes: int, controller_episodes: int) -> str:
    """The command that makes a dataset (named in the error of a missing one)."""
    base = spec(name)
    extra = ""
    if (random_episodes, controller_episodes) != (base.random_episodes, base.controller_episodes):
        extra = f" --episodes {random_episodes},{controller_episodes}"
    return f"python -m hieros.wmbench data {name} --seed {seed}{extra}"


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


def save(
    path: Path, arrays: Mapping[str, np.ndarray], info: Mapping[str, Any], kinds: tuple[str, ...]
) -> dict[str, Any]:
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
        "returns": returns_by_kind(arrays, kinds),
    }
    from hieros.rundir import atomic_write_bytes, atomic_write_json

    atomic_write_bytes(path, data)
    atomic_write_json(path.with_suffix(".json"), meta)
    return meta


def returns_by_kind(arrays: Mapping[str, np.ndarray], kinds: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Mean, min and max episode return of each kind of episode (to see that good and failing episodes occur)."""
    totals = np.bincount(arrays["episode"], weights=arrays["reward"], minlength=len(arrays["episode_kind"]))
    out = {}
    for index, kind in enumerate(kinds):
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

    @property
    def step_keys(self) -> tuple[str, ...]:
        """The per-step arrays a model is given: the observation key and STEP_KEYS."""
        return (spec(self.name).obs_key, *STEP_KEYS)

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
            "episodes": {kind: int((kinds == i).sum()) for i, kind in enumerate(spec(self.name).kinds)},
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
    results: Path = Path("results"),
) -> tuple[Path, dict[str, Any], bool]:
    """Collect and store a dataset unless it is there already: (path, its JSON, whether it was made now); a pooled
    replay reads its runs under `results`."""
    base = spec(name)
    counts = (random_episodes or base.random_episodes, controller_episodes or base.controller_episodes)
    path = dataset_path(name, seed, *counts, cache)
    if path.exists() and path.with_suffix(".json").exists() and not force:
        return path, load(name, seed, *counts, cache).meta, False
    info: dict[str, Any] = {"name": name, "seed": seed, "task": base.task, "env": dict(base.env_set)}
    if base.replay_of:
        arrays, info["sources"] = replay_pool.collect(base, seed, results, progress)
    else:
        arrays = collect(name, seed, *counts, progress=progress)
    info["command"] = make_command(name, seed, *counts)
    return path, save(path, arrays, info, base.kinds), True
