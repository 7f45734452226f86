"""The learning agent: world model + actor-critic + replay for one level (the flat agent, `--max_hierarchy=1`).

`--model_name=dreamer` is the same agent with the GRU RSSM instead of the S5 dynamics (DreamerV3 baseline).
Replay row t holds o_t, the reward received on arriving at o_t, and a_t, the action chosen after seeing o_t
(the original's convention; `action_shift` decides how the world model pairs them, defect D2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from hieros.actor_critic import ActorCritic
from hieros.config import Config, ConfigError
from hieros.envs.base import ActSpace
from hieros.replay import Replay, TimeBalanced, Uniform
from hieros.world_model import WorldModel, preprocess


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def make_selector(config: Config) -> TimeBalanced | Uniform:
    if config.replay == "uniform":
        return Uniform(seed=config.seed)
    if config.replay == "timebalanced":
        capacity = config.replay_size if config.replay_capacity_scaling else None
        return TimeBalanced(temperature=config.replay_temperature, seed=config.seed, capacity=capacity)
    raise ConfigError(f"--replay: unknown sampler {config.replay!r}; choose timebalanced or uniform")


class LevelAgent:
    trains = True

    def __init__(self, config: Config, obs_space: Mapping[str, Any], act_space: ActSpace):
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.use_deterministic_algorithms(config.deterministic)
        torch.manual_seed(config.seed)
        self.config = config
        self.device = resolve_device(config.device)
        self.act_space = act_space
        self.action_dim = act_space.n if act_space.discrete else int(np.prod(act_space.shape))
        self.world_model = WorldModel(config, dict(obs_space), self.action_dim).to(self.device)
        heads = {"extrinsic": config.extrinsic_reward_weight}
        self.actor_critic = ActorCritic(config, self.world_model.actor_feat_dim, self.action_dim,
                                        act_space.discrete, heads).to(self.device)
        self.replay = Replay(capacity=config.replay_size, seq_len=config.batch_length,
                             selector=make_selector(config), num_workers=config.num_envs)
        self.obs_keys = [k for k in obs_space if k not in ("reward", "is_first", "is_last", "is_terminal")]

    # --- acting -----------------------------------------------------------------------------------
    def initial_state(self, batch: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        latent = self.world_model.dynamics.initial(batch)
        return {k: v.detach() for k, v in latent.items()}, torch.zeros(batch, self.action_dim, device=self.device)

    @torch.no_grad()
    def policy(self, obs: Mapping[str, np.ndarray], state: Any, mode: str) -> tuple[np.ndarray, Any]:
        latent, prev_action = state
        data = preprocess({k: obs[k] for k in (*self.obs_keys, "is_first")}, self.device)
        embed = self.world_model.encoder(data)
        post, _ = self.world_model.dynamics.obs_step(latent, prev_action, embed, data["is_first"])
        dist = self.actor_critic.policy(self.world_model.actor_feat(post))
        action = dist.sample() if mode == "train" else dist.mode()
        if mode == "train":
            self._record(obs, action.cpu().numpy())
        env_action = action.argmax(-1) if self.act_space.discrete else action
        return env_action.cpu().numpy(), (post, action)

    def _record(self, obs: Mapping[str, np.ndarray], action: np.ndarray) -> None:
        """Write each environment's step into the replay, with the original's conventions (D16)."""
        ended = np.asarray(obs["is_last"]) | np.asarray(obs["is_terminal"])
        for worker in range(len(action)):
            step = {key: np.asarray(value[worker]) for key, value in obs.items()}
            step["action"] = action[worker] * (1.0 - float(obs["is_last"][worker]))
            if ended[worker] and not self.config.keep_terminal_reward:
                step["reward"] = np.zeros_like(step["reward"])
            self.replay.add(step, worker=worker)

    # --- learning ---------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        if len(self.replay) < self.config.batch_size:
            return {}
        data = preprocess(self.replay.sample(self.config.batch_size), self.device)
        start, metrics = self.world_model.train_step(data)
        rewards = {"extrinsic": lambda feat, states: self.world_model.reward_dist(feat).mode()}
        metrics.update(self.actor_critic.train_step(self.world_model, start, rewards))
        return metrics

    # --- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"world_model": self.world_model.state_dict_all(),
                "actor_critic": self.actor_critic.state_dict_all(),
                "replay": self.replay.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.world_model.load_state_dict_all(state["world_model"])
        self.actor_critic.load_state_dict_all(state["actor_critic"])
        self.replay.load_state_dict(state["replay"])


def make_learning_agent(config: Config, obs_space: Mapping[str, Any], act_space: ActSpace) -> LevelAgent:
    if config.model_name == "dreamer":
        config = Config({**config, "dynamics_model": "rssm", "max_hierarchy": 1})
    elif config.max_hierarchy != 1:
        raise ConfigError(f"--max_hierarchy={config.max_hierarchy}: the hierarchy of levels is not built yet in "
                          "this version; use --max_hierarchy=1 (the flat S5WM agent)")
    if config.compile or config.precision != 32:
        raise ConfigError("--compile=true and --precision=16 are not built yet in this version; "
                          "use --compile=false --precision=32 (the paper's settings)")
    if config.novelty_reward_weight > 0 and not config.novelty_only_higher_level:
        raise ConfigError("--novelty_only_higher_level=false: the novelty reward needs the subgoal autoencoder of "
                          "the hierarchy, not built yet in this version; keep it true")
    if act_space.discrete != (config.actor_dist == "onehot"):
        kind = "discrete" if act_space.discrete else "continuous"
        raise ConfigError(f"--actor_dist={config.actor_dist} does not fit the {kind} actions of this task; "
                          "use the task's preset (atari100k: onehot, dmc_*: normal)")
    return LevelAgent(config, obs_space, act_space)
