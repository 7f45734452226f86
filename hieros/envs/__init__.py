"""The environment registry: `make_env("atari_alien", config, seed)`, `make_env("dmc_cheetah_run", config, seed)`.

Task names follow the original HIEROS README: `atari_<game>` in snake_case and `dmc_<domain>_<task>`. Whether
DMC is seen from pixels or state is the config's `env.dmc.obs`, not part of the name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from hieros.envs.atari import ATARI100K_GAMES
from hieros.envs.base import ActSpace, Env, EnvError
from hieros.envs.dmc import DMC_PROPRIO, DMC_VISION

__all__ = ["ATARI100K_GAMES", "DMC_PROPRIO", "DMC_VISION", "ActSpace", "Env", "EnvError", "list_tasks", "make_env"]


def list_tasks(all_dmc: bool = False) -> list[str]:
    """Known task names: the 26 Atari100k games and the DreamerV3 DMC tasks (every suite task if `all_dmc`)."""
    dmc: list[str] = list(DMC_VISION)
    if all_dmc:
        from hieros.envs.dmc import dmc_tasks

        dmc = dmc_tasks()
    return [f"atari_{g}" for g in ATARI100K_GAMES] + [f"dmc_{t}" for t in dmc]


def _unknown(task: str) -> EnvError:
    close = difflib.get_close_matches(task, list_tasks(), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return EnvError(f"unknown task {task!r}{hint} (`hieros-bench list` shows all tasks)")


def make_env(task: str, config: Mapping[str, Any] | None, seed: int, mode: str = "train") -> Env:
    """Build the environment for `task`, seeded; `mode` is "train" or "eval" (life loss acts in train only)."""
    config = config or {}
    if mode not in ("train", "eval"):
        raise EnvError(f"mode must be train or eval, not {mode!r}")
    suite, _, name = task.partition("_")
    if suite == "atari" and name in ATARI100K_GAMES:
        from hieros.envs.atari import Atari

        return Atari(name, config, seed, mode)
    if suite == "dmc":
        from hieros.envs.dmc import DMC, split_task

        try:
            split_task(name)
        except KeyError:
            raise _unknown(task) from None
        except ImportError:
            raise EnvError("DMC needs dm_control: pip install dm-control mujoco==3.17.0") from None
        return DMC(name, config, seed, mode)
    raise _unknown(task)
