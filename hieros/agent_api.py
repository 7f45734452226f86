"""What the training loop needs from an agent, and the agents it can build by `model_name`.

Observations and actions are batched over the environments (first axis E). Discrete actions are integer
indices (E,), continuous actions float32 (E, k) in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from hieros.envs.base import ActSpace

MODELS = ("hieros", "dreamer", "random")


class Agent(Protocol):
    trains: bool  # False for agents without updates (the random policy)

    def initial_state(self, batch: int) -> Any: ...

    def policy(self, obs: Mapping[str, np.ndarray], state: Any, mode: str) -> tuple[np.ndarray, Any]:
        """Actions for a batch of observations. In mode "train" the agent also records the step in its replay."""

    def train_step(self) -> dict[str, float]:
        """One update (of every level due); {} while the replay is too small."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


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


def make_agent(config: Any, obs_space: Mapping[str, Any], act_space: ActSpace) -> Agent:
    """Build the agent named by `config.model_name`."""
    if config.model_name == "random":
        return RandomAgent(act_space, config.seed)
    if config.model_name not in MODELS:
        from hieros.config import ConfigError

        raise ConfigError(f"--model_name: unknown agent {config.model_name!r}; choose one of {', '.join(MODELS)}")
    from hieros.agent import make_learning_agent  # imports torch

    return make_learning_agent(config, obs_space, act_space)
