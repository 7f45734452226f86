"""One level of HIEROS (the original's `SubActor`): world model, actor-critic, subgoal autoencoder and replay.

Level 0 sees the environment and acts in it; level i >= 1 sees the latents of level i-1 (its `stoch` one-hots
and symlogged `deter`, the last `history` of them concatenated) and its actions are subgoal codes for level
i-1. `hieros.agent.hierarchy` decides when each level acts and trains and what it is shown; this module does the
work of one level. Replay row t holds o_t, the reward received on arriving at o_t, and a_t, the action chosen
after seeing o_t (the original's convention; `action_shift` decides how the world model pairs them, D2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from hieros.agent.actor_critic import ActorCritic, RewardFn
from hieros.agent.latents import State
from hieros.agent.optim import Metrics, compiled, floats
from hieros.agent.precision import updates
from hieros.agent.subgoal import SubgoalAutoencoder, novelty_reward, subgoal_reward
from hieros.agent.world_model import WorldModel, preprocess
from hieros.config import Config, ConfigError
from hieros.replay import Replay, TimeBalanced, Uniform

FLAGS = ("reward", "is_first", "is_last", "is_terminal")


def make_selector(config: Config, level: int = 0) -> TimeBalanced | Uniform:
    """The replay sampler of a level, seeded from --seed (level 0) or from (--seed, level)."""
    seed: Any = config.seed if level == 0 else [config.seed, level]
    if config.replay == "uniform":
        return Uniform(seed=seed)
    if config.replay == "timebalanced":
        capacity = config.replay_size if config.replay_capacity_scaling else None
        return TimeBalanced(temperature=config.replay_temperature, seed=seed, capacity=capacity)
    raise ConfigError(f"--replay: unknown sampler {config.replay!r}; choose timebalanced or uniform")


class Level:
    """What one level owns and does.

    index: 0 for the environment level. obs_space: {key: (shape, dtype)} with the episode flags.
    action_dim, dist, rows: the action space (env actions, or rows x classes codes with dist "onehot_rows").
    goal_dim: width of the subgoal input of actor and critics (0 at the top level).
    heads: {reward name: weight} among extrinsic, subgoal, novelty.
    autoencoder: whether this level needs a subgoal autoencoder (it receives subgoals or has novelty).
    """

    def __init__(
        self,
        config: Config,
        index: int,
        obs_space: Mapping[str, Any],
        action_dim: int,
        dist: str,
        rows: int,
        goal_dim: int,
        heads: dict[str, float],
        autoencoder: bool,
        device: torch.device,
    ):
        self.config = config
        self.device = device
        self.action_dim = action_dim
        self.heads = heads
        self.world_model = WorldModel(config, dict(obs_space), action_dim).to(device)
        self.actor_critic = ActorCritic(
            config, self.world_model.actor_feat_dim, action_dim, dist, heads, rows=rows, goal_dim=goal_dim
        ).to(device)
        self.autoencoder = SubgoalAutoencoder(config, config.dyn_deter).to(device) if autoencoder else None
        for module in (self.world_model, self.actor_critic, self.autoencoder):
            if module is not None:  # eval mode except inside the world model's own update, as the original
                module.eval()
        self.replay = Replay(
            capacity=config.replay_size,
            seq_len=config.batch_length,
            selector=make_selector(config, index),
            num_workers=config.num_envs,
        )
        self.obs_keys = [k for k in obs_space if k not in FLAGS]
        self.goal_key = "subgoal" if config.decompress_subgoal_for_input else "encoded_subgoal"
        # D21: acting by the mode, a higher level hands down its class probabilities (the original) or the argmax
        self.soft_mode = dist == "onehot_rows" and config.subgoal_eval_code == "probabilities"
        self._act = compiled(self._act_step, config)

    # --- acting -----------------------------------------------------------------------------------
    def initial_latent(self, batch: int) -> State:
        return {k: v.detach() for k, v in self.world_model.dynamics.initial(batch).items()}

    @torch.no_grad()
    def act(
        self, obs: Mapping[str, Any], latent: State, prev_action: torch.Tensor, goal: torch.Tensor | None, mode: str
    ) -> tuple[torch.Tensor, State]:
        """The posterior for this observation and the action: sampled in "train" mode, the mode in "eval"."""
        data = preprocess({k: obs[k] for k in (*self.obs_keys, "is_first")}, self.device, self.config.image_range)
        return self._act(data, latent, prev_action, goal, mode == "train")

    def _act_step(
        self,
        data: dict[str, torch.Tensor],
        latent: State,
        prev_action: torch.Tensor,
        goal: torch.Tensor | None,
        sample: bool,
    ) -> tuple[torch.Tensor, State]:
        """Level.act on tensors (one graph for torch.compile: `_act` is its compiled form with --compile)."""
        embed = self.world_model.encoder(data)
        post, _ = self.world_model.dynamics.obs_step(latent, prev_action, embed, data["is_first"])
        dist = self.actor_critic.policy(self.world_model.actor_feat(post), goal)
        if sample:
            return dist.sample(), post
        return (dist.probs.flatten(-2) if self.soft_mode else dist.mode()), post

    def record(self, step: Mapping[str, np.ndarray]) -> None:
        """Add one row per environment (arrays with a leading env axis) to this level's replay."""
        for worker in range(len(step["is_first"])):
            self.replay.add({key: value[worker] for key, value in step.items()}, worker=worker)

    # --- learning ---------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One update: world model, then actor and critics in imagination, then the subgoal autoencoder on
        the imagined states (the original's `SubActor._train`)."""
        config = self.config
        data = preprocess(self.replay.sample(config.batch_size), self.device, config.image_range)
        with updates(config, self.device):
            return floats(self._train(data))

    def _train(self, data: dict[str, torch.Tensor]) -> Metrics:
        start, metrics = self.world_model.train_step(data)
        goal = data[self.goal_key].flatten(0, 1) if self.actor_critic.goal_dim else None
        ac_metrics, imagined = self.actor_critic.train_step(self.world_model, start, self.rewards(data), goal)
        metrics.update(ac_metrics)
        if self.autoencoder is not None:
            metrics.update(self.autoencoder.train_step(imagined["deter"]))
        return metrics

    def rewards(self, data: dict[str, torch.Tensor]) -> dict[str, RewardFn]:
        """This level's reward heads for an imagination from the batch `data`: the world model's reward, and below
        the top level the subgoal reward (towards the decoded subgoal active at each imagination start) and the
        novelty reward."""
        config = self.config
        rewards = {"extrinsic": lambda feat, states: self.world_model.reward_dist(feat).mode()}
        if "subgoal" in self.heads:
            target = data["subgoal"].flatten(0, 1)
            symlog_state = config.subgoal_compression.encoding_symlog
            rewards["subgoal"] = lambda feat, states: subgoal_reward(states["deter"], target, symlog_state)
        if "novelty" in self.heads:
            raw = config.subgoal_compression.novelty_raw_target
            rewards["novelty"] = lambda feat, states: novelty_reward(self.autoencoder, states["deter"], raw)
        return rewards

    # --- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            "world_model": self.world_model.state_dict_all(),
            "actor_critic": self.actor_critic.state_dict_all(),
            "replay": self.replay.state_dict(),
        }
        if self.autoencoder is not None:
            state["autoencoder"] = {
                "model": self.autoencoder.state_dict(),
                "opt": self.autoencoder.optimizer.state_dict(),
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.world_model.load_state_dict_all(state["world_model"])
        self.actor_critic.load_state_dict_all(state["actor_critic"])
        self.replay.load_state_dict(state["replay"])
        if self.autoencoder is not None:
            self.autoencoder.load_state_dict(state["autoencoder"]["model"])
            self.autoencoder.optimizer.load_state_dict(state["autoencoder"]["opt"])
