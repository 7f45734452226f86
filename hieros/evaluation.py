"""Evaluation: greedy episodes in a fresh, separately seeded environment, the training state untouched (D6).

A stop signal is looked at every step. Then the evaluation is dropped whole: no episode is returned and the random
generators (torch's for a learning agent, the random policy's own) are put back as they were before it, so the
checkpoint that follows holds the state before it and the resumed run evaluates again from its first episode,
exactly as if never stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hieros import checkpoint, video
from hieros.agent_api import Agent
from hieros.config import Config
from hieros.envs.base import stack


@dataclass
class Evaluation:
    episodes: list[tuple[float, int]]  # (score, length) of each episode
    frames: list[np.ndarray] = field(default_factory=list)  # the first episode's images, when filmed


def evaluation_seed(config: Config, index: int) -> int:
    """The eval environment's seed: evaluation `index` of seed s is 10**6 + 1000 s + index (docs/deviations.md)."""
    return 10**6 + config.seed * 1000 + index


def run_episodes(
    agent: Agent,
    config: Config,
    index: int,
    make_env: Callable[..., Any],
    stopped: Callable[[], bool],
    filmed: bool,
) -> Evaluation | None:
    """`config.eval_eps` greedy episodes of evaluation `index`, the first one's frames kept when `filmed`;
    None when `stopped()` turned true on the way (everything as before the call)."""
    before = checkpoint.rng_state(), None if agent.trains else agent.state_dict()
    env = make_env(config.task, config, seed=evaluation_seed(config, index), mode="eval")
    result = Evaluation([])
    try:
        for episode in range(config.eval_eps):
            obs, state, score, length = env.reset(), agent.initial_state(1), 0.0, 0
            while True:
                if filmed and episode == 0 and (image := video.frame(obs)) is not None:
                    result.frames.append(image)
                if obs["is_last"]:
                    break
                if stopped():
                    checkpoint.set_rng_state(before[0])
                    if before[1] is not None:
                        agent.load_state_dict(before[1])
                    return None
                action, state = agent.policy(stack([obs]), state, mode="eval")
                obs = env.step(action[0])
                score += float(obs["reward"])
                length += 1
            result.episodes.append((score, length))
    finally:
        env.close()
    return result
