"""The environment registry: `make_env("atari_alien", config, seed)`, `make_env("dmc_cheetah_run", ...)`.

Task names follow the original HIEROS README: `atari_<game>` in snake_case and `dmc_<domain>_<task>`.
Whether DMC is seen from pixels or state is the config's `env.dmc.obs`, not part of the name. ale_py and
dm_control are imported only when an environment of theirs is made, so importing this package stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral
from typing import Any

from hieros.envs.atari import ATARI100K_GAMES, Atari
from hieros.envs.base import ActSpace, Env, EnvError, unknown_task
from hieros.envs.dmc import DMC, DMC_PROPRIO, DMC_VISION, dmc_tasks, split_task

__all__ = [
    "ATARI100K_GAMES",
    "DMC_PROPRIO",
    "DMC_VISION",
    "MODES",
    "ActSpace",
    "Env",
    "EnvError",
    "check_task",
    "discrete_actions",
    "known_task",
    "list_tasks",
    "make_env",
    "task_domain",
]

MODES = ("train", "eval")


def list_tasks(all_dmc: bool = False) -> list[str]:
    """Known task names: the 26 Atari100k games and the DreamerV3 DMC tasks (all suite tasks if `all_dmc`)."""
    dmc = dmc_tasks() if all_dmc else list(DMC_VISION)
    return [f"atari_{g}" for g in ATARI100K_GAMES] + [f"dmc_{t}" for t in dmc]


def task_domain(task: str) -> str:
    """The suite a task name belongs to, the part before its first underscore: atari_pong -> atari,
    dmc_cheetah_run -> dmc. Every module that groups or dispatches tasks by suite asks this function."""
    return task.partition("_")[0]


def check_task(task: str) -> None:
    """EnvError naming the closest known tasks unless `task` exists (DMC names beyond DreamerV3's import dm_control)."""
    domain, name = task_domain(task), task.partition("_")[2]
    if (domain == "atari" and name in ATARI100K_GAMES) or (domain == "dmc" and name in DMC_VISION):
        return
    if domain == "dmc":
        split_task(name)
        return
    raise unknown_task(task, list_tasks())


def known_task(task: str, error: type[Exception], where: str) -> str:
    """`task` if the registry knows it, else `error("<where>: <check_task's message>")`: one line in the caller's
    own error type (a config, suite or store error), without the EnvError behind it."""
    try:
        check_task(task)
    except EnvError as failure:
        raise error(f"{where}: {failure}") from None
    return task


def discrete_actions(task: str) -> bool:
    """Whether the task's actions are discrete (Atari) rather than continuous (DMC)."""
    return task_domain(task) == "atari"


def make_env(task: str, config: Mapping[str, Any] | None, seed: int, mode: str = "train") -> Env:
    """The environment for `task` with the `env.*` settings of `config` (defaults where missing), seeded.

    `mode` is "train" or "eval"; it only matters for Atari life loss, which acts in training only.
    """
    if mode not in MODES:
        raise EnvError(f"mode must be train or eval, not {mode!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise EnvError(f"the seed must be a non-negative integer, not {seed!r}")
    check_task(task)
    name = task.partition("_")[2]
    if discrete_actions(task):
        return Atari(name, config, int(seed), mode)
    return DMC(name, config, int(seed) % 2**32, mode)
