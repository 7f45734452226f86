"""The one observation interface every environment speaks.

`reset()` and `step(action)` return a dict of NumPy values: `image` (uint8 H x W x C) and/or `vector` (float32),
`reward` (float32, summed over repeated frames, 0 on reset), `is_first`, `is_last`, `is_terminal` (bool).
After `is_last` the caller calls `reset()`. `get_state()`/`set_state()` snapshot everything the environment
needs to continue identically (emulator or physics, RNGs, counters), so checkpoints resume mid-episode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class EnvError(Exception):
    """A user-facing environment problem (unknown task, bad setting, missing package); one line."""


@dataclass(frozen=True)
class ActSpace:
    """Discrete actions are indices in [0, n); continuous ones float32 arrays of `shape` in [-1, 1]."""

    discrete: bool
    n: int = 0
    shape: tuple[int, ...] = ()


class Env(Protocol):
    obs_space: dict[str, tuple[tuple[int, ...], np.dtype]]
    act_space: ActSpace

    def reset(self) -> dict[str, Any]: ...

    def step(self, action: Any) -> dict[str, Any]: ...

    def protocol(self) -> dict[str, Any]: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


FLAG_SPACES = {"reward": ((), np.dtype(np.float32)), "is_first": ((), np.dtype(bool)),
               "is_last": ((), np.dtype(bool)), "is_terminal": ((), np.dtype(bool))}


def observation(reward: float, is_first: bool, is_last: bool, is_terminal: bool, **values: Any) -> dict[str, Any]:
    return {**values, "reward": np.float32(reward), "is_first": is_first, "is_last": is_last,
            "is_terminal": is_terminal}


def settings(config: Mapping[str, Any], suite: str, defaults: Mapping[str, Any],
             choices: Mapping[str, tuple]) -> dict[str, Any]:
    """The `env.<suite>` block of the config over the defaults, with each choice-valued key checked."""
    given = dict(config.get("env", {}).get(suite, {})) if config else {}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise EnvError(f"env.{suite}: unknown key {unknown[0]!r}; keys: {', '.join(defaults)}")
    merged = {**defaults, **given}
    for key, allowed in choices.items():
        if merged[key] not in allowed:
            raise EnvError(f"env.{suite}.{key}={merged[key]!r} is not one of {', '.join(map(str, allowed))}")
    return merged
