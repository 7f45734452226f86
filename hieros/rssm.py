"""The GRU RSSM of DreamerV3 (the `dynamics_model=rssm` ablation and the `dreamer` baseline, reference §3.8).

Same interface as S5Dynamics: the posterior sees [deter, embed], the deterministic state is the GRU state,
and training steps through time (the recurrence has no parallel form).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hieros.distributions import OneHotDist
from hieros.networks import MLP, init_uniform, init_weights
from hieros.s5_dynamics import State, _blend, kl_terms


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


class RSSM(nn.Module):
    def __init__(self, config: Any, embed_dim: int, action_dim: int):
        super().__init__()
        self.stoch, self.classes = config.dyn_stoch, config.dyn_discrete
        self.deter_dim = config.dyn_deter
        self.unimix = config.unimix_ratio
        self.action_shift = config.action_shift
        latent = self.stoch * self.classes
        self.img_in = MLP(latent + action_dim, None, 1, config.dyn_hidden, act=config.act)
        self.cell = LayerNormGRUCell(config.dyn_hidden, self.deter_dim)
        self.img_out = MLP(self.deter_dim, None, 1, config.dyn_hidden, act=config.act)
        self.img_stat = nn.Linear(config.dyn_hidden, latent)
        self.obs_out = MLP(self.deter_dim + embed_dim, None, 1, config.dyn_hidden, act=config.act)
        self.obs_stat = nn.Linear(config.dyn_hidden, latent)
        self.initial_param = nn.Parameter(torch.zeros(1, self.deter_dim))
        self.apply(init_weights)
        init_uniform(self.img_stat, 1.0)
        init_uniform(self.obs_stat, 1.0)

    def _dist(self, logits: torch.Tensor) -> OneHotDist:
        return OneHotDist(logits, unimix=self.unimix, rows_reduce="sum")

    def _logits(self, layer: nn.Module, stat: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        return stat(layer(x)).unflatten(-1, (self.stoch, self.classes))

    def initial(self, batch: int) -> State:
        deter = torch.tanh(self.initial_param).expand(batch, -1)
        stoch = self._dist(self._logits(self.img_out, self.img_stat, deter)).mode()
        return {"stoch": stoch, "deter": deter}

    def feat(self, state: State) -> torch.Tensor:
        return torch.cat([state["stoch"].flatten(-2), state["deter"]], -1)

    @property
    def feat_dim(self) -> int:
        return self.stoch * self.classes + self.deter_dim

    def img_step(self, prev: State, action: torch.Tensor, sample: bool = True) -> State:
        action = action / action.abs().clamp(min=1).detach()
        deter = self.cell(self.img_in(torch.cat([prev["stoch"].flatten(-2), action], -1)), prev["deter"])
        logits = self._logits(self.img_out, self.img_stat, deter)
        dist = self._dist(logits)
        return {"stoch": dist.sample() if sample else dist.mode(), "deter": deter, "logit": logits}

    def obs_step(self, prev: State, prev_action: torch.Tensor, embed: torch.Tensor,
                 is_first: torch.Tensor) -> tuple[State, State]:
        init = self.initial(len(is_first))
        keep = (~is_first).to(embed.dtype)
        prev = {k: _blend(keep, prev[k], init[k]) for k in ("stoch", "deter")}
        prior = self.img_step(prev, prev_action * keep[:, None])
        logits = self._logits(self.obs_out, self.obs_stat, torch.cat([prior["deter"], embed], -1))
        post = {"stoch": self._dist(logits).sample(), "deter": prior["deter"], "logit": logits}
        return post, prior

    def observe(self, embed: torch.Tensor, action: torch.Tensor, is_first: torch.Tensor) -> tuple[State, State]:
        if self.action_shift:
            action = torch.cat([torch.zeros_like(action[:, :1]), action[:, :-1]], 1)
        state = self.initial(len(is_first))
        posts, priors = [], []
        for t in range(is_first.shape[1]):
            state, prior = self.obs_step(state, action[:, t], embed[:, t], is_first[:, t])
            posts.append(state)
            priors.append(prior)
        stack = lambda states: {k: torch.stack([s[k] for s in states], 1) for k in states[0]}  # noqa: E731
        return stack(posts), stack(priors)

    def entropy(self, state: State) -> torch.Tensor:
        return self._dist(state["logit"]).entropy()

    def kl_loss(self, post: State, prior: State, free: float, clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
        return kl_terms(self._dist, post["logit"], prior["logit"], free, clip)
