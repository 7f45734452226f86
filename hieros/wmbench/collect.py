"""What the world-model bench's datasets are and how their episodes are collected (hieros.wmbench.datasets stores
and loads them).

`cartpole_state`: DMC cartpole balance from proprioceptive state through the project's own environment
(`make_env("dmc_cartpole_balance")` with the `dmc_proprio` preset and cpu_learning's action repeat 8: 125 steps
an episode), half the episodes from a uniformly random policy, half from a noisy PD controller on the pole's
angle and angular velocity and the cart's position and velocity, with Gaussian action noise whose scale is drawn
per episode (0.1 to 0.7: from near-perfect balancing to a pole that falls), so good and failing states both occur.
The episodes are a function of (name, seed, episode counts) only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hieros.config import Config, build_config
from hieros.envs import make_env

STEP_KEYS = ("vector", "action", "reward", "is_first", "is_last", "is_terminal", "episode")
KINDS = ("random", "controller")  # episode_kind 0 and 1


class DatasetError(Exception):
    """A dataset is missing, unknown or does not match its recorded sha256; one line that says what to do."""


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is collected."""

    name: str
    task: str  # the environment task (hieros.envs.make_env)
    presets: tuple[str, ...]  # config presets of the environment
    env_set: Mapping[str, Any]  # config overrides of the environment (flat keys)
    random_episodes: int = 40  # episodes of the uniformly random policy
    controller_episodes: int = 40  # episodes of the noisy controller
    heldout_fraction: float = 0.2  # of each kind's episodes, held out (chosen by the seed)
    description: str = ""

    def env_config(self) -> Config:
        """The environment's config, as the agent of cpu_learning sees the task."""
        return build_config(list(self.presets), {"task": self.task, **self.env_set})


CARTPOLE_GAINS = np.array([3.0, 1.0, 0.5, 0.5])  # on (pole angle, angular velocity, cart position, cart velocity)
NOISE_RANGE = (0.1, 0.7)  # the controller's action noise std, drawn per episode


def cartpole_controller(vector: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A PD controller on cartpole's state [cart x, cos, sin, cart velocity, angular velocity], plus noise."""
    x, cos, sin, velocity, angular = vector
    angle = np.arctan2(sin, cos)
    action = CARTPOLE_GAINS @ np.array([angle, angular, x, velocity]) + noise * rng.normal()
    return np.clip(np.array([action], np.float32), -1.0, 1.0)


DATASETS = {
    "cartpole_state": DatasetSpec(
        name="cartpole_state",
        task="dmc_cartpole_balance",
        presets=("dmc_proprio",),
        env_set={"env.dmc.repeat": 8},
        description="DMC cartpole balance from state (repeat 8): random policy and noisy PD controller episodes",
    ),
}


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


# --- collecting -------------------------------------------------------------------------------------------
def collect(
    name: str,
    seed: int,
    random_episodes: int | None = None,
    controller_episodes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """The dataset's arrays, a function of (name, seed, episode counts) only."""
    base = spec(name)
    counts = (
        base.random_episodes if random_episodes is None else random_episodes,
        base.controller_episodes if controller_episodes is None else controller_episodes,
    )
    rng = np.random.default_rng([seed, 1])  # the policies' noise
    env = make_env(base.task, base.env_config(), seed=seed)
    kinds = [0] * counts[0] + [1] * counts[1]
    steps: dict[str, list[Any]] = {key: [] for key in STEP_KEYS}
    noises, starts, lengths = [], [], []
    try:
        for episode, kind in enumerate(kinds):
            noise = float(rng.uniform(*NOISE_RANGE)) if kind == 1 else 1.0
            starts.append(len(steps["reward"]))
            obs = env.reset()
            while True:
                last = bool(obs["is_last"])
                if last:
                    action = np.zeros(env.act_space.shape, np.float32)
                elif kind == 0:
                    action = rng.uniform(-1.0, 1.0, env.act_space.shape).astype(np.float32)
                else:
                    action = cartpole_controller(obs["vector"], noise, rng)
                for key in ("vector", "reward", "is_first", "is_last", "is_terminal"):
                    steps[key].append(obs[key])
                steps["action"].append(action)
                steps["episode"].append(episode)
                if last:
                    break
                obs = env.step(action)
            noises.append(noise)
            lengths.append(len(steps["reward"]) - starts[-1])
            if progress is not None:
                progress(episode + 1, len(kinds))
    finally:
        env.close()
    arrays = {
        "vector": np.asarray(steps["vector"], np.float32),
        "action": np.asarray(steps["action"], np.float32),
        "reward": np.asarray(steps["reward"], np.float32),
        **{key: np.asarray(steps[key], bool) for key in ("is_first", "is_last", "is_terminal")},
        "episode": np.asarray(steps["episode"], np.int32),
        "episode_kind": np.asarray(kinds, np.int8),
        "episode_noise": np.asarray(noises, np.float32),
        "episode_start": np.asarray(starts, np.int64),
        "episode_length": np.asarray(lengths, np.int64),
    }
    arrays["episode_heldout"] = heldout_split(arrays["episode_kind"], base.heldout_fraction, seed)
    return arrays


def heldout_split(kinds: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Per episode, whether it is held out: round(fraction x count) episodes of each kind, chosen by the seed."""
    rng = np.random.default_rng([seed, 2])
    heldout = np.zeros(len(kinds), bool)
    for kind in np.unique(kinds):
        members = np.flatnonzero(kinds == kind)
        heldout[rng.permutation(members)[: round(fraction * len(members))]] = True
    return heldout
