"""The training environments and what goes with them from one step to the next, as danijar/embodied's `Driver`.

The driver owns the environments, their current observations (a batch), the agent's acting state and each
episode's running return and length. One call is one policy call and one step of every environment; the steps it
takes and the episodes it ends go to the callbacks registered with `on_step` and `on_episode` (the loop counts the
first and logs the second). Its state, for the checkpoint, is returns, lengths, obs, agent_state and envs: the
top-level keys checkpoints have had since before the driver (`KEYS`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hieros.agent_api import Agent
from hieros.envs.base import stack
from hieros.progress import Clocks


class Driver:
    KEYS = ("returns", "lengths", "obs", "agent_state", "envs")  # its state at the checkpoint's top level

    def __init__(self, envs: Sequence[Any], agent: Agent, clocks: Clocks):
        self.envs = list(envs)
        self.agent = agent
        self.clocks = clocks  # policy and env
        self.returns = np.zeros(len(self.envs))
        self.lengths = np.zeros(len(self.envs), dtype=np.int64)
        self.obs: dict[str, np.ndarray] = {}
        self.agent_state: Any = None
        self._on_step: list[Callable[[], None]] = []
        self._on_episode: list[Callable[[float, int], None]] = []

    @property
    def protocol(self) -> dict[str, Any]:
        """The environments' settings (the first one's: they are alike), run.json's `protocol.env`."""
        return self.envs[0].protocol()

    def on_step(self, callback: Callable[[], None]) -> None:
        """`callback()` for each environment step taken, before the environment takes it."""
        self._on_step.append(callback)

    def on_episode(self, callback: Callable[[float, int], None]) -> None:
        """`callback(score, length)` for each episode that ends."""
        self._on_episode.append(callback)

    def reset(self) -> None:
        """Every environment reset and a fresh acting state (a run's start; a resume then loads its state)."""
        self.obs = stack([env.reset() for env in self.envs])
        self.agent_state = self.agent.initial_state(len(self.envs))

    def __call__(self) -> None:
        """One policy call and one step of every environment. As the original's driver, the agent sees the final
        observation of an episode (and records it); the environment resets on the following call, which is not
        counted as an environment step (it takes no frames)."""
        with self.clocks("policy"):
            actions, self.agent_state = self.agent.policy(self.obs, self.agent_state, mode="train")
        observations = []
        for i, env in enumerate(self.envs):
            if self.obs["is_last"][i]:  # the agent has seen (and recorded) the final step; this step resets
                with self.clocks("env"):
                    observations.append(env.reset())
                continue
            for callback in self._on_step:  # counts environment transitions, so frames are emulator frames
                callback()
            with self.clocks("env"):
                obs = env.step(actions[i])
            self.returns[i] += float(obs["reward"])
            self.lengths[i] += 1
            if obs["is_last"]:
                for done in self._on_episode:
                    done(float(self.returns[i]), int(self.lengths[i]))
                self.returns[i], self.lengths[i] = 0.0, 0
            observations.append(obs)
        self.obs = stack(observations)

    def subgoal_image(self) -> np.ndarray | None:
        """The agent's picture of its subgoals at the current step (hieros.agent_api.Agent.subgoal_image)."""
        return self.agent.subgoal_image(self.obs, self.agent_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "returns": self.returns.copy(),
            "lengths": self.lengths.copy(),
            "obs": self.obs,
            "agent_state": self.agent_state,
            "envs": [env.get_state() for env in self.envs],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.returns, self.lengths = state["returns"], state["lengths"]
        self.obs, self.agent_state = state["obs"], state["agent_state"]
        for env, env_state in zip(self.envs, state["envs"], strict=True):
            env.set_state(env_state)

    def close(self) -> None:
        for env in self.envs:
            env.close()
