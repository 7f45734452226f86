"""Checkpoints: one state file per run directory, written atomically, holding everything a resume needs.

The state is a plain dict of the parts the training loop registers once on a `Checkpoint` (as danijar/embodied's
checkpoint): agent (models, optimisers, replays, selector RNGs), loop counters, the driver (the training
environments' own state, observations, acting state), every RNG (Python, NumPy, torch), the offset of
metrics.jsonl at the time of the checkpoint and the rest of the loop's state; save and restore walk the same
registrations, each part under its own top-level keys. It is written as a safetensors file (`hieros.state_file`), which
cannot execute code when read, so a run from someone else's store is safe to resume. Checkpoints of earlier
versions were pickles, which can: they are read only when the user says they trust them (`trust_pickle`), and
the run's next checkpoint replaces them.
"""

from __future__ import annotations

import os
import pickle
import random
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hieros import state_file
from hieros.rundir import CKPT_DIR, RunFileError, atomic_write_bytes

CKPT_FILE = "latest.safetensors"
PREVIOUS_FILE = "previous.safetensors"  # the one before the latest, kept so a corrupt latest one costs one interval
FILES = (CKPT_FILE, PREVIOUS_FILE)  # newest first, the order load tries them
PICKLED_FILES = ("latest.pkl", "previous.pkl")  # checkpoints of earlier versions, read only when trusted
BLOB_DIR = "blobs"  # the large arrays both checkpoints share, each stored once (hieros.state_file.BlobStore)
TRUST_FLAG = "--trust-pickle"  # hieros-bench run, python -m hieros.train and python -m hieros.openloop


class CheckpointError(RunFileError):
    """A run's checkpoints are all unreadable; the message names them and says what to do."""


class Stateful(Protocol):
    """A part of the checkpoint: its state as plain data (arrays and tensors included), and back."""

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> None: ...


class Checkpoint:
    """The run's checkpoint as a registry: each part registered once, under one top-level key or, for a part whose
    state is a dict of several (the driver's), under those keys; `state` and `restore` walk the registrations in
    order, so what is saved and what is restored cannot differ. A part registered `optional` is given None when a
    checkpoint of an earlier version lacks its key; a key the registrations do not name is ignored."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self._parts: list[tuple[str | tuple[str, ...], Stateful, bool]] = []

    @property
    def keys(self) -> list[str]:
        return [key for keys, _, _ in self._parts for key in ((keys,) if isinstance(keys, str) else keys)]

    def register(self, keys: str | tuple[str, ...], part: Stateful, optional: bool = False) -> None:
        twice = set(self.keys) & {keys} if isinstance(keys, str) else set(self.keys) & set(keys)
        if twice:
            raise ValueError(f"checkpoint key(s) {sorted(twice)} registered twice")
        self._parts.append((keys, part, optional))

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for keys, part, _ in self._parts:
            value = part.state_dict()
            if isinstance(keys, str):
                state[keys] = value
            elif set(value) != set(keys):
                raise ValueError(f"{type(part).__name__} gave the state {sorted(value)}, registered as {sorted(keys)}")
            else:
                state.update((key, value[key]) for key in keys)
        return state

    def save(self) -> None:
        save(self.run_dir, self.state())

    def restore(self, state: Mapping[str, Any]) -> None:
        for keys, part, optional in self._parts:
            get = state.get if optional else state.__getitem__
            part.load_state_dict(get(keys) if isinstance(keys, str) else {key: get(key) for key in keys})


class Rngs:
    """Every RNG of the process (`rng_state`) as a part of the checkpoint."""

    def state_dict(self) -> dict[str, Any]:
        return rng_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_rng_state(state)


def checkpoint_file(run_dir: str | Path, name: str = CKPT_FILE) -> Path:
    return Path(run_dir) / CKPT_DIR / name


def exists(run_dir: str | Path) -> bool:
    """Whether the run has a checkpoint to resume from (latest or previous, pickled or not; readable or not,
    load says)."""
    return any(checkpoint_file(run_dir, name).exists() for name in FILES + PICKLED_FILES)


def blob_store(run_dir: str | Path) -> state_file.BlobStore:
    return state_file.BlobStore(Path(run_dir) / CKPT_DIR / BLOB_DIR)


def save(run_dir: str | Path, state: dict[str, Any]) -> None:
    """Write the latest checkpoint atomically; the one it replaces becomes the previous one. The large arrays
    go to the blob store first, once each (the replay's chunks: both checkpoints share them), and blobs neither
    checkpoint names are removed after. Pickled checkpoints of an earlier version, once a newer one exists, are
    removed."""
    blobs = blob_store(run_dir)
    data = state_file.dumps(state, blobs)  # first: a state that cannot be saved changes no checkpoint on disk
    latest = checkpoint_file(run_dir)
    if latest.exists():
        os.replace(latest, checkpoint_file(run_dir, PREVIOUS_FILE))
    atomic_write_bytes(latest, data)
    blobs.keep(set().union(*(state_file.blob_names(checkpoint_file(run_dir, name)) for name in FILES)))
    for name in PICKLED_FILES:
        checkpoint_file(run_dir, name).unlink(missing_ok=True)


def load(
    run_dir: str | Path, trust_pickle: bool = False, read_only: bool = False, device: str = "cpu"
) -> dict[str, Any] | None:
    """The newest readable checkpoint (latest, else previous), or None if the run has none; its tensors on
    `device` (the CPU unless told: a GPU run's checkpoint opens anywhere).

    An unreadable one is kept aside as <name>.corrupt-<time> with a line on stderr (not with `read_only`: a
    command that only reads the run, hieros.openloop, changes nothing in it); if none is readable,
    CheckpointError says what to do and the run directory is left as it was, apart from that renaming.
    A run whose only checkpoints are pickles (an earlier version's) is read only with `trust_pickle`; without
    it, CheckpointError names TRUST_FLAG, the flag of every command that resumes or reads a run."""
    pickled = [checkpoint_file(run_dir, name) for name in PICKLED_FILES]
    if not any(checkpoint_file(run_dir, name).exists() for name in FILES) and any(f.exists() for f in pickled):
        if not trust_pickle:
            raise CheckpointError(
                f"{next(f for f in pickled if f.exists())} is a pickled checkpoint of an earlier version, and reading "
                f"a pickle can run any code it carries: if you trust where this run came from, resume it with "
                f"{TRUST_FLAG} (its next checkpoint is a safe one); otherwise delete {Path(run_dir) / CKPT_DIR} "
                "to start it again from step 0"
            )
        return _load_first(run_dir, PICKLED_FILES, _read_pickle, read_only)
    blobs = blob_store(run_dir)
    return _load_first(run_dir, FILES, lambda file: state_file.load(file, device, blobs), read_only)


def _read_pickle(file: Path) -> Any:
    with open(file, "rb") as f:
        return pickle.load(f)


def _load_first(
    run_dir: str | Path, names: tuple[str, ...], read: Callable[[Path], Any], read_only: bool
) -> dict[str, Any] | None:
    corrupt = []
    for name in names:
        file = checkpoint_file(run_dir, name)
        if not file.exists():
            continue
        try:
            state = read(file)
            if not isinstance(state, dict) or "counters" not in state:
                raise ValueError("not a checkpoint of hieros.train")
        except Exception as error:  # any failure to read means the same: unreadable
            where = "left in place"
            if not read_only:
                kept = file.with_name(f"{file.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
                os.replace(file, kept)
                where = f"kept as {kept.name}"
            corrupt.append(f"{file} ({type(error).__name__}; {where})")
            print(f"warning: checkpoint {file} is unreadable ({type(error).__name__}); {where}", file=sys.stderr)
            continue
        if corrupt:
            print(
                f"warning: resuming from the older checkpoint {file} (env step {state['counters']['env_step']})",
                file=sys.stderr,
            )
        return state
    if corrupt:
        raise CheckpointError(
            f"no readable checkpoint: {'; '.join(corrupt)}; run again to start this run from "
            f"step 0 (its earlier records are kept aside), or delete {Path(run_dir)}"
        )
    return None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and, if it is loaded, torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state()}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        state["torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():  # the run's GPU only (set as current)
            state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "torch" in state:  # reading the checkpoint's tensors has loaded torch
        torch = sys.modules["torch"]
        torch.set_rng_state(state["torch"])
        cuda = state.get("cuda")
        if isinstance(cuda, list):  # pickles of earlier versions: one state per GPU that was visible
            index = torch.cuda.current_device() if torch.cuda.is_available() else 0
            cuda = cuda[index] if index < len(cuda) else None
        if cuda is not None and torch.cuda.is_available():  # a GPU run resumed on the CPU has no GPU stream
            torch.cuda.set_rng_state(cuda.cpu())
