"""The HIEROS agent: a stack of levels on coarser and coarser time scales (reference §4).

Level i acts every `subactor_update_every`^i environment steps and trains every `subactor_train_every`^i
updates. One policy step, as the original's `Hieros.policy` (§4.7):

1. Encoding pass, bottom-up: each level i >= 1 whose lower level is due appends that level's latent from the
   step before (one-hot stoch, symlogged deter) to its history of the last `subactor_update_every` latents.
2. Top-down: every level adds the step's reward / period to its window sum; where an episode ended, its latent,
   its last action (the held subgoal code) and (D16) its window sum are zeroed. A due level with a full history
   observes the concatenated history, conditions its actor on the code its parent holds (the top level on
   nothing), acts, and in training writes the row to its replay (reward = the window sum). A level's last
   action is the code handed down, so a code is held for the parent's whole period.
3. Level 0's action goes to the environment.

Everything that changes while acting lives in the state object that `policy` takes and returns (the step
counter, each level's latent, last action, history and window reward); evaluation starts its own state, so it
cannot disturb training (the original shares it, D6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from hieros.agent.distributions import symexp, symlog
from hieros.agent.latents import blend
from hieros.agent.level import FLAGS, Level
from hieros.agent.world_model import IMAGE_OFFSET
from hieros.config import Config
from hieros.envs.base import ActSpace

ActingState = dict[str, Any]  # {"step": int, "levels": [{"latent", "action", "history", "reward_sum"}]}


def level_config(config: Config, index: int) -> Config:
    """Level 0 uses the config as given; higher levels see vectors, so their encoder and decoder are MLPs."""
    if index == 0:
        return config
    vectors = {"cnn_keys": "$^", "mlp_keys": ".*"}
    return Config(
        {**config, "encoder": Config({**config.encoder, **vectors}), "decoder": Config({**config.decoder, **vectors})}
    )


def reward_heads(config: Config, index: int, levels: int) -> dict[str, float]:
    """extrinsic everywhere, subgoal below the top level, novelty on levels >= 1 only in the paper preset."""
    heads = {"extrinsic": config.extrinsic_reward_weight}
    if config.use_subgoal and index < levels - 1:
        heads["subgoal"] = config.subgoal_reward_weight
    if config.novelty_reward_weight > 0 and not (config.novelty_only_higher_level and index == 0):
        heads["novelty"] = config.novelty_reward_weight
    return heads


class Hieros:
    trains = True

    def __init__(self, config: Config, obs_space: Mapping[str, Any], act_space: ActSpace, device: torch.device):
        self.config = config
        self.device = device
        self.act_space = act_space
        self.history = config.subactor_update_every if config.subactor_encode_intermediate else 1
        self.train_calls = 0
        rows, classes = config.subgoal_shape
        code = rows * classes
        count = config.max_hierarchy
        self.levels: list[Level] = []
        for i in range(count):
            heads = reward_heads(config, i, count)
            goal = 0
            if config.use_subgoal and i < count - 1:
                goal = config.dyn_deter if config.decompress_subgoal_for_input else code
            if i == 0:
                space, dim = obs_space, act_space.n if act_space.discrete else int(np.prod(act_space.shape))
                dist, level_rows = ("onehot" if act_space.discrete else "normal"), 1
            else:
                space, dim, dist, level_rows = self._encoded_space(), code, "onehot_rows", rows
            self.levels.append(
                Level(
                    level_config(config, i),
                    i,
                    space,
                    dim,
                    dist,
                    level_rows,
                    goal,
                    heads,
                    autoencoder=goal > 0 or "novelty" in heads,
                    device=device,
                )
            )

    def _encoded_space(self) -> dict[str, Any]:
        config = self.config
        return {
            "stoch": ((self.history * config.dyn_stoch * config.dyn_discrete,), np.dtype(np.uint8)),
            "deter": ((self.history * config.dyn_deter,), np.dtype(np.float32)),
            **{key: ((), np.dtype(np.float32 if key == "reward" else bool)) for key in FLAGS},
        }

    def act_period(self, index: int) -> int:
        return self.config.subactor_update_every**index

    def train_period(self, index: int) -> int:
        return self.config.subactor_train_every**index

    # --- acting -----------------------------------------------------------------------------------
    def initial_state(self, batch: int) -> ActingState:
        return {
            "step": 0,
            "levels": [
                {
                    "latent": level.initial_latent(batch),
                    "action": torch.zeros(batch, level.action_dim, device=self.device),
                    "history": [],
                    "reward_sum": np.zeros(batch),
                }
                for level in self.levels
            ],
        }

    def _encode(self, latent: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A latent as a higher level observes it (`encode_obs`): flat one-hot stoch and deter, symlogged again
        with `symlog_subactor_obs` (D8)."""
        deter = symlog(latent["deter"]) if self.config.symlog_subactor_obs else latent["deter"]
        return {"stoch": latent["stoch"].flatten(-2), "deter": deter}

    @torch.no_grad()
    def policy(self, obs: Mapping[str, np.ndarray], state: ActingState, mode: str) -> tuple[np.ndarray, ActingState]:
        training = mode == "train"
        step, levels = state["step"], state["levels"]
        due = [step % self.act_period(i) == 0 for i in range(len(self.levels))]
        for i in range(1, len(self.levels)):
            if due[i - 1]:
                history = levels[i]["history"]
                history.append(self._encode(levels[i - 1]["latent"]))
                del history[: -self.history]
        ended = np.asarray(obs["is_last"]) | np.asarray(obs["is_terminal"])
        code = None
        for i in reversed(range(len(self.levels))):
            level, current = self.levels[i], levels[i]
            if training:
                current["reward_sum"] = current["reward_sum"] + np.asarray(obs["reward"]) / self.act_period(i)
            if ended.any():
                self._mask(current, ended)
            if due[i] and (i == 0 or len(current["history"]) == self.history):
                level_obs = obs if i == 0 else self._observation(current["history"], obs)
                goal = decoded = None
                if level.actor_critic.goal_dim:  # below the top: the parent's held code, decoded by this level
                    decoded = level.autoencoder.decode(code)
                    goal = decoded if self.config.decompress_subgoal_for_input else code
                action, latent = level.act(level_obs, current["latent"], current["action"], goal, mode)
                if training:
                    self._record(level, level_obs, obs, action, current["reward_sum"], code, decoded)
                    current["reward_sum"] = np.zeros_like(current["reward_sum"])
                current["latent"], current["action"] = latent, action
            code = current["action"]
        state["step"] = step + 1
        action = levels[0]["action"]
        env_action = action.argmax(-1) if self.act_space.discrete else action
        return env_action.cpu().numpy(), state

    def _mask(self, current: dict[str, Any], ended: np.ndarray) -> None:
        """Zero the latent and the held action where an episode ended, as the original (L832-846)."""
        keep = torch.as_tensor(~ended, device=self.device)
        current["latent"] = {k: blend(keep, v, torch.zeros_like(v)) for k, v in current["latent"].items()}
        current["action"] = blend(keep, current["action"], torch.zeros_like(current["action"]))
        if not self.config.keep_terminal_reward:
            current["reward_sum"] = np.where(ended, 0.0, current["reward_sum"])

    def _observation(self, history: list[dict[str, torch.Tensor]], obs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """A higher level's observation: the history concatenated (oldest first) and the step's episode flags."""
        stacked = {key: torch.cat([entry[key] for entry in history], -1) for key in ("stoch", "deter")}
        return {**stacked, **{key: obs[key] for key in FLAGS}}

    def _record(
        self,
        level: Level,
        level_obs: Mapping[str, Any],
        obs: Mapping[str, np.ndarray],
        action: torch.Tensor,
        reward_sum: np.ndarray,
        code: torch.Tensor | None,
        decoded: torch.Tensor | None,
    ) -> None:
        not_last = torch.as_tensor(~np.asarray(obs["is_last"]), device=self.device)
        row = {key: _numpy(level_obs[key]) for key in level.obs_keys}
        if "stoch" in row:
            row["stoch"] = row["stoch"].astype(np.uint8)  # one-hots, stored exactly in a quarter of the bytes
        row.update({key: np.asarray(obs[key]) for key in ("is_first", "is_last", "is_terminal")})
        row["reward"] = reward_sum.astype(np.float32)
        row["action"] = _numpy(blend(not_last, action, torch.zeros_like(action)))
        if level.actor_critic.goal_dim:
            row["subgoal"], row["encoded_subgoal"] = _numpy(decoded), _numpy(code)
        level.record(row)

    # --- learning ---------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """Train every level due at this call whose replay holds a batch; metrics as level_<i>/<name>."""
        metrics: dict[str, float] = {}
        for i, level in enumerate(self.levels):
            if self.train_calls % self.train_period(i) == 0 and len(level.replay) >= self.config.batch_size:
                metrics.update({f"level_{i}/{k}": v for k, v in level.train_step().items()})
        self.train_calls += 1
        return metrics

    # --- subgoal visualisation --------------------------------------------------------------------
    @torch.no_grad()
    def subgoal_image(self, obs: Mapping[str, np.ndarray], state: ActingState, env: int = 0) -> np.ndarray | None:
        """[observation | level 1's subgoal | level 2's subgoal | ...] as one uint8 image, for environment `env`.

        Level i's held code is decoded by level i-1's autoencoder into a deter, paired with level i-1's current
        stoch, and decoded through the world models below it (each higher decoder predicts the last lower
        latent of its history) down to level 0's image decoder. None without images or without a hierarchy."""
        if len(self.levels) < 2 or "image" not in obs or self.levels[0].autoencoder is None:
            return None
        panels = [np.asarray(obs["image"][env])]
        for i in range(1, len(self.levels)):
            below = self.levels[i - 1]
            code = state["levels"][i]["action"][env : env + 1]
            deter = below.autoencoder.decode(code)
            if self.config.subgoal_compression.encoding_symlog:
                deter = symexp(deter)
            latent = {"stoch": state["levels"][i - 1]["latent"]["stoch"][env : env + 1], "deter": deter}
            for j in range(i - 1, 0, -1):
                latent = self._decode_lower(self.levels[j], latent)
            image = self.levels[0].world_model.decoder(self.levels[0].world_model.dynamics.feat(latent))
            pixels = (image["image"].mode()[0] + IMAGE_OFFSET[self.config.image_range]).clamp(0, 1) * 255
            panels.append(pixels.round().to(torch.uint8).cpu().numpy())
        return np.concatenate(panels, axis=1)

    def _decode_lower(self, level: Level, latent: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Level `level`'s decoder on its latent -> the newest lower-level latent of its predicted history."""
        config = self.config
        pred = level.world_model.decoder(level.world_model.dynamics.feat(latent))
        stoch = pred["stoch"].mode()[..., -config.dyn_stoch * config.dyn_discrete :]
        stoch = stoch.unflatten(-1, (config.dyn_stoch, config.dyn_discrete))
        stoch = torch.nn.functional.one_hot(stoch.argmax(-1), config.dyn_discrete).to(stoch.dtype)
        deter = pred["deter"].mode()[..., -config.dyn_deter :]
        return {"stoch": stoch, "deter": symexp(deter) if config.symlog_subactor_obs else deter}

    # --- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"train_calls": self.train_calls, "levels": [level.state_dict() for level in self.levels]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train_calls = state["train_calls"]
        for level, level_state in zip(self.levels, state["levels"], strict=True):
            level.load_state_dict(level_state)


def _numpy(value: Any) -> np.ndarray:
    return value.cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
