"""DeepMind Control Suite tasks from pixels (`obs: image`) or proprioceptive state (`obs: proprio`).

Action repeat 2 with summed rewards; episodes of 1000 physics steps end with `is_last` and no terminal.
Rendering is headless (MUJOCO_GL=egl) with shadows, reflections and multisampling off, which is ~7x faster.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from hieros.envs.base import FLAG_SPACES, ActSpace, EnvError, observation, settings

os.environ.setdefault("MUJOCO_GL", "egl")  # before dm_control loads mujoco: headless rendering

# The task lists of the DreamerV3 paper, used by HIEROS (names as dmc_<domain>_<task>; cup = ball_in_cup).
DMC_PROPRIO = (
    "acrobot_swingup", "cartpole_balance", "cartpole_balance_sparse", "cartpole_swingup", "cartpole_swingup_sparse",
    "cheetah_run", "cup_catch", "finger_spin", "finger_turn_easy", "finger_turn_hard", "hopper_hop", "hopper_stand",
    "pendulum_swingup", "reacher_easy", "reacher_hard", "walker_run", "walker_stand", "walker_walk",
)
DMC_VISION = (*DMC_PROPRIO, "quadruped_run", "quadruped_walk")
DOMAIN_ALIASES = {"cup": "ball_in_cup"}
DEFAULTS = {"size": [64, 64], "repeat": 2, "camera": -1, "obs": "image"}
CHOICES = {"obs": ("image", "proprio")}


def dmc_tasks() -> list[str]:
    """Every dm_control suite task as `<domain>_<task>` (the DreamerV3 names first)."""
    from dm_control import suite

    names = [f"{domain}_{task}" for domain, task in suite.ALL_TASKS]
    return list(dict.fromkeys([*DMC_VISION, *names]))


def split_task(name: str) -> tuple[str, str]:
    from dm_control import suite

    for domain, task in suite.ALL_TASKS:
        for alias in [domain, *[a for a, d in DOMAIN_ALIASES.items() if d == domain]]:
            if name == f"{alias}_{task}":
                return domain, task
    raise KeyError(name)


class DMC:
    def __init__(self, name: str, config: Mapping[str, Any], seed: int, mode: str = "train"):
        try:
            from dm_control import suite
        except ImportError:
            raise EnvError("DMC needs dm_control: pip install dm-control mujoco==3.17.0") from None
        self.name, self.mode = name, mode
        self.settings = settings(config, "dmc", DEFAULTS, CHOICES)
        domain, task = split_task(name)
        self.env = suite.load(domain, task, task_kwargs={"random": int(seed) % 2**32})
        camera = self.settings["camera"]
        self.camera = (2 if domain == "quadruped" else 0) if camera == -1 else camera
        model = self.env.physics.model
        model.vis.quality.offsamples = 0
        model.light_castshadow[:] = 0
        model.mat_reflectance[:] = 0
        spec = self.env.action_spec()
        self.low, self.high = spec.minimum.astype(np.float32), spec.maximum.astype(np.float32)
        self.act_space = ActSpace(discrete=False, shape=tuple(spec.shape))
        height, width = self.settings["size"]
        if self.settings["obs"] == "image":
            self.obs_space = {"image": ((height, width, 3), np.dtype(np.uint8)), **FLAG_SPACES}
        else:
            size = sum(int(np.prod(v.shape)) for v in self.env.observation_spec().values())
            self.obs_space = {"vector": ((size,), np.dtype(np.float32)), **FLAG_SPACES}
        self.episode_rng: Any = None
        self.episode_actions: list[np.ndarray] = []

    def _values(self, time_step: Any) -> dict[str, np.ndarray]:
        if self.settings["obs"] == "image":
            height, width = self.settings["size"]
            return {"image": self.env.physics.render(height, width, camera_id=self.camera)}
        arrays = [np.asarray(time_step.observation[k], np.float32).ravel() for k in sorted(time_step.observation)]
        return {"vector": np.concatenate(arrays)}

    def reset(self) -> dict[str, Any]:
        self.episode_rng = self.env.task.random.get_state()
        self.episode_actions = []
        return observation(0.0, True, False, False, **self._values(self.env.reset()))

    def _act(self, action: np.ndarray) -> tuple[float, Any]:
        action = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        scaled = self.low + (action + 1.0) / 2.0 * (self.high - self.low)
        reward = 0.0
        for _ in range(self.settings["repeat"]):
            time_step = self.env.step(scaled)
            reward += time_step.reward or 0.0
            if time_step.last():
                break
        return reward, time_step

    def step(self, action: np.ndarray) -> dict[str, Any]:
        self.episode_actions.append(np.asarray(action, np.float32).copy())
        reward, time_step = self._act(action)
        last = time_step.last()
        return observation(reward, False, last, last and time_step.discount == 0, **self._values(time_step))

    def protocol(self) -> dict[str, Any]:
        return {"suite": "dmc", "task": self.name, "mode": self.mode, **self.settings, "camera": self.camera,
                "frames_per_step": self.settings["repeat"], "episode_frames": 1000}

    def get_state(self) -> dict[str, Any]:
        """The episode's start (the task RNG before its reset) and its actions: replaying them is exact."""
        return {"episode_rng": self.episode_rng, "episode_actions": list(self.episode_actions),
                "rng": self.env.task.random.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.env.task.random.set_state(state["episode_rng"])
        self.reset()
        for action in state["episode_actions"]:
            self.episode_actions.append(action)
            self._act(action)
        self.env.task.random.set_state(state["rng"])

    def close(self) -> None:
        self.env.close()
