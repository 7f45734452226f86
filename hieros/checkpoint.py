"""Checkpoints: one pickled state per run directory, written atomically, holding everything a resume needs.

The state is a plain dict built by the training loop: agent (models, optimisers, replays, selector RNGs),
loop counters, the training environments' own state, every RNG (Python, NumPy, torch) and the offset of
metrics.jsonl at the time of the checkpoint. Pickle is used so the torch-free random method needs no torch;
torch tensors pickle natively.
"""

from __future__ import annotations

import io
import pickle
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hieros.rundir import CKPT_DIR, atomic_write_bytes

CKPT_FILE = "latest.pkl"


def checkpoint_file(run_dir: str | Path) -> Path:
    return Path(run_dir) / CKPT_DIR / CKPT_FILE


def save(run_dir: str | Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    pickle.dump(state, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    atomic_write_bytes(checkpoint_file(run_dir), buffer.getvalue())


def load(run_dir: str | Path) -> dict[str, Any] | None:
    """The latest checkpoint, or None if the run has none."""
    file = checkpoint_file(run_dir)
    if not file.exists():
        return None
    with open(file, "rb") as f:
        return pickle.load(f)


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
    if "torch" in state:
        import torch

        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
