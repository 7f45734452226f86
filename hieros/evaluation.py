"""Evaluation: greedy episodes in fresh, separately seeded environments, the training state untouched (D6).

`eval_eps` episodes are played by `eval_envs` environments at once, the policy called on their batch (the
original's eval driver over its eval envs; 1 env, as Atari100k's `envs.amount: 1`, by default). Environment j of
evaluation `index` is seeded `evaluation_seed(config, index)` for j = 0 (D1) and from it for the others; each
starts a new episode when its last one ends while episodes are still owed. With one environment each episode
starts from a fresh acting state; with several, the batch's acting state carries on and each environment's
latent restarts at its episode's first step, as in training with `num_envs` environments.

A stop signal is looked at every step. Then the evaluation stops where it is and `EvalProgress` holds all of it
(the episodes done, each environment's state, the observations, the agent's acting state and the first
episode's frames so far); the checkpoint that follows carries it, and the resumed run continues the same
evaluation from that step, exactly as if never stopped. A preempted hours-long Atari evaluation so loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hieros import video
from hieros.agent_api import Agent
from hieros.config import Config
from hieros.envs.base import stack


@dataclass
class Evaluation:
    episodes: list[tuple[float, int]]  # (score, length) of each episode, in the order they ended
    frames: list[np.ndarray] = field(default_factory=list)  # the first episode's images, when filmed


@dataclass
class EvalProgress:
    """An evaluation stopped part way: everything needed to go on with it (plain data, for the checkpoint)."""

    index: int
    episodes: list[tuple[float, int]]
    started: int  # episodes begun, the running ones included
    running: list[list[Any]]  # per environment [episode number (-1: idle), score, length]
    env_states: list[dict[str, Any]]
    obs: dict[str, np.ndarray]
    agent_state: Any
    frames: list[np.ndarray]

    def to_state(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EvalProgress:
        return cls(**{**state, "episodes": [tuple(e) for e in state["episodes"]]})


class Evaluations:
    """Evaluations as the loop runs them (`run`), and the one a stop cut short (`progress`): the checkpoint's
    `eval_progress`, continued when the resumed run comes to the same evaluation."""

    def __init__(self, config: Config, make_env: Callable[..., Any]):
        self.config = config
        self.make_env = make_env
        self.progress: EvalProgress | None = None

    def run(self, agent: Agent, index: int, stopped: Callable[[], bool], filmed: bool) -> Evaluation | None:
        """Evaluation number `index` (`run_episodes`), or None if `stopped()` turned true on the way (then
        `progress` holds where it stopped)."""
        resume = self.progress if self.progress and self.progress.index == index else None
        done = run_episodes(agent, self.config, index, self.make_env, stopped, filmed, resume)
        self.progress = done if isinstance(done, EvalProgress) else None
        return done if isinstance(done, Evaluation) else None

    def state_dict(self) -> dict[str, Any] | None:
        return None if self.progress is None else self.progress.to_state()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """The evaluation a checkpoint stopped in (None: none, or a checkpoint from before resumable ones)."""
        self.progress = None if state is None else EvalProgress.from_state(state)


def evaluation_seed(config: Config, index: int) -> int:
    """The eval environment's seed: evaluation `index` of seed s is 10**6 + 1000 s + index (docs/deviations.md)."""
    return 10**6 + config.seed * 1000 + index


def env_seed(config: Config, index: int, env: int) -> int:
    """Environment `env` of evaluation `index`: evaluation_seed for the first, one derived from it for the others."""
    base = evaluation_seed(config, index)
    return base if env == 0 else int(np.random.SeedSequence([base, env]).generate_state(1)[0])


def run_episodes(
    agent: Agent,
    config: Config,
    index: int,
    make_env: Callable[..., Any],
    stopped: Callable[[], bool],
    filmed: bool,
    resume: EvalProgress | None = None,
) -> Evaluation | EvalProgress:
    """`config.eval_eps` greedy episodes of evaluation `index` (continuing `resume`, a stopped one), the first
    one's frames kept when `filmed`; an EvalProgress when `stopped()` turned true on the way."""
    count = min(config.eval_envs, config.eval_eps)
    envs = [make_env(config.task, config, seed=env_seed(config, index, j), mode="eval") for j in range(count)]
    try:
        if resume is None:
            obs = stack([env.reset() for env in envs])
            state, started, episodes, frames = agent.initial_state(count), count, [], []
            running = [[j, 0.0, 0] for j in range(count)]
        else:
            for env, env_state in zip(envs, resume.env_states, strict=True):
                env.set_state(env_state)
            obs, state, started = resume.obs, resume.agent_state, resume.started
            episodes, frames, running = list(resume.episodes), list(resume.frames), [list(r) for r in resume.running]
        while True:
            for j, (episode, score, length) in enumerate(running):
                # one frame per step of the first episode (not again for the step a resumed run starts on)
                if (
                    filmed
                    and episode == 0
                    and len(frames) == length
                    and (image := video.frame(_row(obs, j))) is not None
                ):
                    frames.append(image)
                if episode < 0 or not obs["is_last"][j]:
                    continue
                episodes.append((score, length))
                running[j] = [started if started < config.eval_eps else -1, 0.0, 0]
                if started < config.eval_eps:
                    started += 1
                    obs = {key: value.copy() for key, value in obs.items()}
                    _put(obs, j, envs[j].reset())
                    if count == 1:  # a fresh acting state per episode, the hierarchy's step count from 0 (batch 1)
                        state = agent.initial_state(1)
            if len(episodes) == config.eval_eps:
                return Evaluation(episodes, frames)
            if stopped():
                env_states = [env.get_state() for env in envs]
                return EvalProgress(index, episodes, started, running, env_states, obs, state, frames)
            action, state = agent.policy(obs, state, mode="eval")
            obs = {key: value.copy() for key, value in obs.items()}  # one copy a step, then each env's row
            for j, env in enumerate(envs):
                if running[j][0] >= 0:
                    _put(obs, j, env.step(action[j]))
                    running[j][1] += float(obs["reward"][j])
                    running[j][2] += 1
    finally:
        for env in envs:
            env.close()


def _row(obs: dict[str, np.ndarray], j: int) -> dict[str, Any]:
    return {key: value[j] for key, value in obs.items()}


def _put(obs: dict[str, np.ndarray], j: int, new: dict[str, Any]) -> None:
    """Environment j's observation `new` into the batch `obs` (a fresh copy: the agent or a checkpoint may hold the
    batch before it)."""
    for key, value in new.items():
        obs[key][j] = value
