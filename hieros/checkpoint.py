"""Checkpoints: one pickled state per run directory, written atomically, holding everything a resume needs.

The state is a plain dict built by the training loop: agent (models, optimisers, replays, selector RNGs),
loop counters, the training environments' own state, every RNG (Python, NumPy, torch) and the offset of
metrics.jsonl at the time of the checkpoint. Pickle is used so the torch-free random method needs no torch;
torch tensors pickle natively.
"""

from __future__ import annotations

import io
import os
import pickle
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hieros.rundir import CKPT_DIR, RunFileError, atomic_write_bytes

CKPT_FILE = "latest.pkl"
PREVIOUS_FILE = "previous.pkl"  # the checkpoint before the latest, kept so a corrupt latest one costs one interval
FILES = (CKPT_FILE, PREVIOUS_FILE)  # newest first, the order load tries them


class CheckpointError(RunFileError):
    """A run's checkpoints are all unreadable; the message names them and says what to do."""


def checkpoint_file(run_dir: str | Path, name: str = CKPT_FILE) -> Path:
    return Path(run_dir) / CKPT_DIR / name


def exists(run_dir: str | Path) -> bool:
    """Whether the run has a checkpoint to resume from (latest or previous; readable or not, load says)."""
    return any(checkpoint_file(run_dir, name).exists() for name in FILES)


def save(run_dir: str | Path, state: dict[str, Any]) -> None:
    """Write the latest checkpoint atomically; the one it replaces becomes the previous one."""
    buffer = io.BytesIO()
    pickle.dump(state, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    latest = checkpoint_file(run_dir)
    if latest.exists():
        os.replace(latest, checkpoint_file(run_dir, PREVIOUS_FILE))
    atomic_write_bytes(latest, buffer.getvalue())


def load(run_dir: str | Path) -> dict[str, Any] | None:
    """The newest readable checkpoint (latest, else previous), or None if the run has none.

    An unreadable one is kept aside as <name>.corrupt-<time> with a line on stderr; if none is readable,
    CheckpointError says what to do and the run directory is left as it was, apart from that renaming."""
    corrupt = []
    for name in FILES:
        file = checkpoint_file(run_dir, name)
        if not file.exists():
            continue
        try:
            with open(file, "rb") as f:
                state = pickle.load(f)
            if not isinstance(state, dict) or "counters" not in state:
                raise ValueError("not a checkpoint of hieros.train")
        except Exception as error:  # any unpickling failure means the same: unreadable
            kept = file.with_name(f"{file.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(file, kept)
            corrupt.append(f"{file} ({type(error).__name__}; kept as {kept.name})")
            print(
                f"warning: checkpoint {file} is unreadable ({type(error).__name__}); kept as {kept.name}",
                file=sys.stderr,
            )
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
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "torch" in state:  # unpickling the checkpoint's tensors has loaded torch
        torch = sys.modules["torch"]
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
