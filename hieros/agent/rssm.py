"""The GRU RSSM of DreamerV3 (the `dynamics_model=rssm` ablation and the `dreamer` baseline, reference §3.8).

Same interface as S5Dynamics: the posterior sees [deter, embed], the deterministic state is the GRU state,
and training steps through time (the recurrence has no parallel form).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hieros.agent.latents import CategoricalLatents, State, blend
from hieros.agent.networks import MLP, init_weights


class LayerNormGRUCell(nn.Module):
    """GRU with LayerNorm on the gates, tanh candidate and update bias -1 (NM512's `GRUCell`)."""

    def __init__(self, inputs: int, size: int, update_bias: float = -1.0):
        super().__init__()
        self.linear = nn.Linear(inputs + size, 3 * size, bias=False)
        self.norm = nn.LayerNorm(3 * size, eps=1e-3)
        self.update_bias = update_bias

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        reset, cand, update = self.norm(self.linear(torch.cat([x, state], -1))).chunk(3, -1)
        cand = torch.tanh(torch.sigmoid(reset) * cand)
        update = torch.sigmoid(update + self.update_bias)
        return update * cand + (1 - update) * state


class RSSM(CategoricalLatents):
    def __init__(self, config: Any, embed_dim: int, action_dim: int):
        super().__init__(config)
        latent = self.stoch * self.classes
        self.img_in = MLP(latent + action_dim, None, 1, config.dyn_hidden, act=config.act)
        self.cell = LayerNormGRUCell(config.dyn_hidden, self.deter_dim)
        self.img_out = MLP(self.deter_dim, None, 1, config.dyn_hidden, act=config.act)
        self.img_stat = nn.Linear(config.dyn_hidden, latent)
        self.obs_out = MLP(self.deter_dim + embed_dim, None, 1, config.dyn_hidden, act=config.act)
        self.obs_stat = nn.Linear(config.dyn_hidden, latent)
        self.initial_param = nn.Parameter(torch.zeros(1, self.deter_dim))
        self.apply(init_weights)  # the stat layers too, as both of the original's RSSMs (not NM512's later uniform)

    def initial(self, batch: int) -> State:
        deter = torch.tanh(self.initial_param).expand(batch, -1)
        stoch = self.dist(self.logits(self.img_out, self.img_stat, deter)).mode()
        return {"stoch": stoch, "deter": deter}

    def img_step(self, prev: State, action: torch.Tensor, sample: bool = True) -> State:
        action = action / action.abs().clamp(min=1).detach()
        deter = self.cell(self.img_in(torch.cat([prev["stoch"].flatten(-2), action], -1)), prev["deter"])
        logits = self.logits(self.img_out, self.img_stat, deter)
        dist = self.dist(logits)
        return {"stoch": dist.sample() if sample else dist.mode(), "deter": deter, "logit": logits}

    def obs_step(
        self, prev: State, prev_action: torch.Tensor, embed: torch.Tensor, is_first: torch.Tensor
    ) -> tuple[State, State]:
        init = self.initial(len(is_first))
        keep = (~is_first).to(embed.dtype)
        prev = {k: blend(keep, prev[k], init[k]) for k in ("stoch", "deter")}
        prior = self.img_step(prev, prev_action * keep[:, None])
        logits = self.logits(self.obs_out, self.obs_stat, torch.cat([prior["deter"], embed], -1))
        post = {"stoch": self.dist(logits).sample(), "deter": prior["deter"], "logit": logits}
        return post, prior

    def observe(self, embed: torch.Tensor, action: torch.Tensor, is_first: torch.Tensor) -> tuple[State, State]:
        action = self.shift_actions(action)
        state = self.initial(len(is_first))
        posts, priors = [], []
        for t in range(is_first.shape[1]):
            state, prior = self.obs_step(state, action[:, t], embed[:, t], is_first[:, t])
            posts.append(state)
            priors.append(prior)
        stack = lambda states: {k: torch.stack([s[k] for s in states], 1) for k in states[0]}  # noqa: E731
        return stack(posts), stack(priors)
