"""The one observation interface every environment speaks, and the errors it raises for users.

`reset()` and `step(action)` return a dict of NumPy values: `image` (uint8 H x W x C) and/or `vector`
(float32), `reward` (float32, summed over repeated frames, 0 on reset), `is_first`, `is_last`, `is_terminal`
(bool). After `is_last` the caller calls `reset()`. `get_state()`/`set_state()` snapshot everything the
environment needs to continue identically (emulator or physics, RNGs, counters), so checkpoints resume
mid-episode. `protocol()` is a JSON-able description of every setting that defines the evaluation protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from hieros.cli_errors import closest


class EnvError(Exception):
    """A user-facing environment problem (unknown task, bad setting, missing package); one line."""


@dataclass(frozen=True)
class ActSpace:
    """Discrete actions are indices in [0, n); continuous ones float32 arrays of `shape` in [low, high]."""

    discrete: bool
    n: int = 0
    shape: tuple[int, ...] = ()
    low: float = -1.0
    high: float = 1.0


class Env(Protocol):
    """What the training loop needs from an environment; `make_env` returns one."""

    obs_space: dict[str, tuple[tuple[int, ...], np.dtype]]
    act_space: ActSpace

    def reset(self) -> dict[str, Any]: ...

    def step(self, action: Any) -> dict[str, Any]: ...

    def protocol(self) -> dict[str, Any]: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


FLAG_SPACES = {
    "reward": ((), np.dtype(np.float32)),
    "is_first": ((), np.dtype(bool)),
    "is_last": ((), np.dtype(bool)),
    "is_terminal": ((), np.dtype(bool)),
}


def observation(reward: float, is_first: bool, is_last: bool, is_terminal: bool, **values: Any) -> dict[str, Any]:
    """One observation dict: the given arrays plus the reward and the three episode flags."""
    return {
        **values,
        "reward": np.float32(reward),
        "is_first": bool(is_first),
        "is_last": bool(is_last),
        "is_terminal": bool(is_terminal),
    }


def unknown_task(task: str, known: Sequence[str]) -> EnvError:
    """The one-line error for a task name that does not exist, naming the closest known ones."""
    close = closest(task, known)
    hint = f"; closest: {', '.join(close)}" if close else ""
    listing = "all tasks: `hieros-bench list` or hieros.envs.list_tasks()"
    return EnvError(f"unknown task {task!r}{hint} ({listing})")


def stack(observations: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Observations of several environments (or one) as one batch: each key's values stacked on a new first axis."""
    return {key: np.stack([o[key] for o in observations]) for key in observations[0]}
