"""What the training loop needs from an agent, and the agents it can build by `model_name`.

Observations and actions are batched over the environments (first axis E). Discrete actions are integer
indices (E,), continuous actions float32 (E, k) in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from hieros.config import ConfigError
from hieros.envs import discrete_actions
from hieros.envs.base import ActSpace


class Agent(Protocol):
    trains: bool  # False for agents without updates (the random policy)

    def initial_state(self, batch: int) -> Any: ...

    def policy(self, obs: Mapping[str, np.ndarray], state: Any, mode: str) -> tuple[np.ndarray, Any]:
        """Actions for a batch of observations. In mode "train" the agent also records the step in its replay."""

    def train_step(self) -> dict[str, float]:
        """One update (of every level due); {} while the replay is too small."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def subgoal_image(self, obs: Mapping[str, np.ndarray], state: Any) -> np.ndarray | None:
        """The first environment's frame and each higher level's subgoal as one uint8 RGB image (H, W, 3), for
        subgoals/ and TensorBoard; None where there is nothing to draw (no hierarchy, no images)."""


class RandomAgent:
    """The uniformly random policy: the random baseline of score normalisation, and a fast runner test."""

    trains = False

    def __init__(self, act_space: ActSpace, seed: int):
        self.act_space = act_space
        self.rng = np.random.default_rng(seed)

    def initial_state(self, batch: int) -> None:
        return None

    def policy(self, obs: Mapping[str, np.ndarray], state: None, mode: str) -> tuple[np.ndarray, None]:
        batch = len(obs["is_first"])
        if self.act_space.discrete:
            return self.rng.integers(0, self.act_space.n, size=batch), None
        shape = (batch, *self.act_space.shape)
        return self.rng.uniform(-1.0, 1.0, size=shape).astype(np.float32), None

    def train_step(self) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]

    def subgoal_image(self, obs: Mapping[str, np.ndarray], state: None) -> None:
        return None  # no subgoals


def make_agent(config: Any, obs_space: Mapping[str, Any], act_space: ActSpace) -> Agent:
    """Build the agent named by `config.model_name`."""
    if config.model_name == "random":
        return RandomAgent(act_space, config.seed)
    from hieros.agent.build import make_learning_agent  # imports torch

    return make_learning_agent(config, obs_space, act_space)


def check_run(config: Any) -> None:
    """What a run needs beyond valid values, checked before its directory is made: an actor for the kind of
    actions the task has, and a device that exists here."""
    if config.model_name == "random":
        return
    if config.s5.dt_min > config.s5.dt_max:
        raise ConfigError(f"--s5.dt_min={config.s5.dt_min:g} is above --s5.dt_max={config.s5.dt_max:g}: give a range")
    discrete = discrete_actions(config.task)
    if discrete != (config.actor_dist == "onehot"):
        kind = "discrete" if discrete else "continuous"
        raise ConfigError(
            f"--actor_dist={config.actor_dist} does not fit the {kind} actions of {config.task}; "
            "use the task's preset (atari100k: onehot, dmc_*: normal)"
        )
    if config.device == "auto":
        from hieros.agent.device import resolve_device

        resolve_device("auto")  # a GPU this machine shows but torch cannot use: one line, before the run starts
    if config.device.startswith("cuda"):
        import torch

        index = int(config.device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            seen = f"{torch.cuda.device_count()} CUDA devices are" if torch.cuda.is_available() else "no CUDA device is"
            raise ConfigError(f"--device={config.device}: {seen} visible here; use --device=cpu or auto")
