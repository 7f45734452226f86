"""The decisive measure: a policy learned only inside the frozen world model, then scored in the real environment.

A fresh actor-critic (the level's `ActorCritic`, built with the agent) is trained for M updates as the agent trains
it (`ActorCritic.train_step`: imagination of `imag_horizon` steps from every posterior state of a batch, the
level's reward head, lambda-returns, return normalisation), on batches of the training episodes, with no new real
data and the world model never updated. The posterior of the imagination starts comes from the model in eval mode
(the agent takes it from its world-model update, with S5 dropout on). Then the greedy policy acts in a fresh,
separately seeded environment through the agent's own acting path (`Hieros.policy`: the world model's filtering
step, then the actor's mode) for `eval_eps` episodes (hieros.evaluation); their mean return is the run's score.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from hieros.agent.hierarchy import Hieros
from hieros.agent.level import Level
from hieros.agent.optim import floats
from hieros.agent.precision import updates
from hieros.agent.world_model import preprocess
from hieros.config import Config
from hieros.envs import make_env
from hieros.evaluation import Evaluation, run_episodes
from hieros.wmbench.batches import TrainBatches, model_inputs


def imagination_update(level: Level, batches: TrainBatches) -> dict[str, float]:
    """One actor-critic update in the frozen world model's imagination, from the posterior of a training batch."""
    config, world_model = level.config, level.world_model
    data = preprocess(model_inputs(batches.sample()), level.device, config.image_range)
    world_model.eval()
    with torch.no_grad():
        post, _ = world_model.dynamics.observe(world_model.encoder(data), data["action"], data["is_first"])
    start = {k: v.detach() for k, v in post.items()}
    with updates(config, level.device):
        metrics, _ = level.actor_critic.train_step(world_model, start, level.rewards(data), None)
    return floats(metrics)


def evaluate(agent: Hieros, config: Config, stopped: Callable[[], bool] = lambda: False) -> Evaluation | None:
    """`config.eval_eps` greedy episodes in a fresh environment seeded as the agent's first evaluation is."""
    return run_episodes(agent, config, 0, make_env, stopped, filmed=False)
