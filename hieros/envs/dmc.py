"""DeepMind Control Suite tasks from pixels (`obs: image`) or proprioceptive state (`obs: proprio`).

Actions in [-1, 1] are rescaled to the task's bounds and repeated `repeat` times with the rewards summed.
An episode is 1000 control steps (500 agent steps at repeat 2) and ends with `is_last` and no terminal,
unless the task itself terminates. Rendering is headless (MUJOCO_GL=egl) with shadows, reflections and
multisampling off, about 7x faster than dm_control's default look.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from hieros.envs.base import FLAG_SPACES, ActSpace, EnvError, observation, unknown_task
from hieros.envs.settings import SIZE, integer, one_of, read_settings

# The task lists of the DreamerV3 paper, used by HIEROS (cup = ball_in_cup; both names are accepted).
DMC_PROPRIO = (
    "acrobot_swingup",
    "cartpole_balance",
    "cartpole_balance_sparse",
    "cartpole_swingup",
    "cartpole_swingup_sparse",
    "cheetah_run",
    "cup_catch",
    "finger_spin",
    "finger_turn_easy",
    "finger_turn_hard",
    "hopper_hop",
    "hopper_stand",
    "pendulum_swingup",
    "reacher_easy",
    "reacher_hard",
    "walker_run",
    "walker_stand",
    "walker_walk",
)
DMC_VISION = (*DMC_PROPRIO, "quadruped_run", "quadruped_walk")
DOMAIN_ALIASES = {"cup": "ball_in_cup"}
DEFAULT_CAMERAS = {"quadruped": 2}  # DreamerV3's choice; every other domain uses camera 0
EPISODE_STEPS = 1000
DEFAULTS = {"size": [64, 64], "repeat": 2, "camera": -1, "obs": "image"}
CHECKS = {"size": SIZE, "repeat": integer(1), "camera": integer(-1), "obs": one_of("image", "proprio")}
INSTALL = "DMC needs dm_control: pip install dm-control mujoco==3.17.0"


def _suite() -> Any:
    os.environ.setdefault("MUJOCO_GL", "egl")  # before dm_control loads mujoco: headless rendering
    try:
        from dm_control import suite
    except ImportError:
        raise EnvError(INSTALL) from None
    return suite


def dmc_tasks() -> list[str]:
    """Every dm_control suite task as `<domain>_<task>` (the DreamerV3 names first)."""
    names = [f"{domain}_{task}" for domain, task in _suite().ALL_TASKS]
    return list(dict.fromkeys([*DMC_VISION, *names]))


def split_task(name: str) -> tuple[str, str]:
    """The dm_control (domain, task) of a name such as `walker_walk` or `cup_catch`; EnvError if none."""
    for domain, task in _suite().ALL_TASKS:
        aliases = [domain, *[alias for alias, full in DOMAIN_ALIASES.items() if full == domain]]
        if name in (f"{alias}_{task}" for alias in aliases):
            return domain, task
    raise unknown_task(f"dmc_{name}", [f"dmc_{t}" for t in dmc_tasks()])


class DMC:
    """One dm_control suite task (`name` as `<domain>_<task>`), seeded; `mode` is recorded in the protocol."""

    def __init__(self, name: str, config: Mapping[str, Any] | None, seed: int, mode: str = "train"):
        self.settings = read_settings(config, "dmc", DEFAULTS, CHECKS)
        domain, task = split_task(name)
        self.name, self.mode = name, mode
        # The episode length is EPISODE_STEPS, counted here, rather than each domain's own time limit.
        task_kwargs = {"random": int(seed), "time_limit": float("inf")}
        self.env = _suite().load(domain, task, task_kwargs=task_kwargs)
        model = self.env.physics.model
        camera = self.settings["camera"]
        self.camera = DEFAULT_CAMERAS.get(domain, 0) if camera == -1 else camera
        if self.camera >= model.ncam:
            self.env.close()
            valid = f"use -1 or 0 to {model.ncam - 1}"
            raise EnvError(f"env.dmc.camera={camera} is not valid for {name}; {valid}")
        model.vis.quality.offsamples = 0
        model.light_castshadow[:] = 0
        model.mat_reflectance[:] = 0
        spec = self.env.action_spec()
        self.low, self.high = spec.minimum.astype(np.float64), spec.maximum.astype(np.float64)
        self.act_space = ActSpace(discrete=False, shape=tuple(spec.shape))
        height, width = self.settings["size"]
        if self.settings["obs"] == "image":
            self.obs_space = {"image": ((height, width, 3), np.dtype(np.uint8)), **FLAG_SPACES}
        else:
            size = sum(int(np.prod(v.shape)) for v in self.env.observation_spec().values())
            self.obs_space = {"vector": ((size,), np.dtype(np.float32)), **FLAG_SPACES}
        self.steps = 0  # control steps in this episode
        self.episode_rng: Any = None
        self.episode_actions: list[np.ndarray] = []

    def _values(self, time_step: Any) -> dict[str, np.ndarray]:
        if self.settings["obs"] == "image":
            height, width = self.settings["size"]
            return {"image": self.env.physics.render(height, width, camera_id=self.camera)}
        values = time_step.observation
        return {"vector": np.concatenate([np.asarray(values[k], np.float32).ravel() for k in sorted(values)])}

    def reset(self) -> dict[str, Any]:
        """Start an episode from the task's seeded RNG and return its first observation."""
        self.episode_rng = self.env.task.random.get_state()
        self.episode_actions = []
        self.steps = 0
        return observation(0.0, True, False, False, **self._values(self.env.reset()))

    def _act(self, action: np.ndarray) -> tuple[float, Any]:
        scaled = self.low + (np.clip(action, -1.0, 1.0) + 1.0) / 2.0 * (self.high - self.low)
        reward = 0.0
        for _ in range(self.settings["repeat"]):
            time_step = self.env.step(scaled)
            self.steps += 1
            reward += time_step.reward or 0.0
            if time_step.last() or self.steps >= EPISODE_STEPS:
                break
        return reward, time_step

    def step(self, action: np.ndarray) -> dict[str, Any]:
        """Apply `action` (in [-1, 1], clipped) for `repeat` control steps."""
        action = np.asarray(action, np.float32)
        if action.shape != self.act_space.shape or not np.isfinite(action).all():
            raise ValueError(f"action must be finite with shape {self.act_space.shape}, got {action}")
        self.episode_actions.append(action.copy())
        reward, time_step = self._act(action)
        terminal = time_step.last() and time_step.discount == 0
        last = terminal or self.steps >= EPISODE_STEPS
        return observation(reward, False, last, terminal, **self._values(time_step))

    def protocol(self) -> dict[str, Any]:
        """The evaluation protocol of this environment, as stored with each run."""
        return {
            "suite": "dmc",
            "task": self.name,
            "mode": self.mode,
            **self.settings,
            "camera": self.camera,
            "frames_per_step": self.settings["repeat"],
            "episode_frames": EPISODE_STEPS,
            "action_bounds": [self.low.tolist(), self.high.tolist()],
            "render": "no shadows, reflections or multisampling",
        }

    def get_state(self) -> dict[str, Any]:
        """The episode's start (the task RNG before its reset) and its actions: replaying them is exact."""
        return {
            "episode_rng": self.episode_rng,
            "episode_actions": list(self.episode_actions),
            "rng": self.env.task.random.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue exactly where `get_state` was taken, by replaying the episode so far."""
        self.env.task.random.set_state(state["episode_rng"])
        self.reset()
        for action in state["episode_actions"]:
            self.episode_actions.append(action)
            self._act(action)
        self.env.task.random.set_state(state["rng"])

    def close(self) -> None:
        """Release the physics and the renderer."""
        self.env.close()
