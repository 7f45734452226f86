"""What the S5WM dynamics and the RSSM share: 32x32 categorical latents, features and the balanced KL.

A latent state is a dict: stoch (B, S, K) one-hot, deter (B, D), logit (B, S, K) where sampled, and whatever
the sequence model carries (the S5 states).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hieros.agent.distributions import OneHotDist, kl_categorical

State = dict[str, torch.Tensor]


class CategoricalLatents(nn.Module):
    def __init__(self, config: Any):
        super().__init__()
        self.stoch, self.classes = config.dyn_stoch, config.dyn_discrete
        self.deter_dim = config.dyn_deter
        self.unimix = config.unimix_ratio
        self.action_shift = config.action_shift

    def dist(self, logits: torch.Tensor) -> OneHotDist:
        return OneHotDist(logits, unimix=self.unimix, rows_reduce="sum")

    def logits(self, layer: nn.Module, stat: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        return stat(layer(x)).unflatten(-1, (self.stoch, self.classes))

    def feat(self, state: State) -> torch.Tensor:
        """The world model's feature: [flattened stoch, deter]."""
        return torch.cat([state["stoch"].flatten(-2), state["deter"]], -1)

    @property
    def feat_dim(self) -> int:
        return self.stoch * self.classes + self.deter_dim

    def entropy(self, state: State) -> torch.Tensor:
        return self.dist(state["logit"]).entropy()

    def kl_loss(self, post: State, prior: State, free: float, clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(dyn, rep): KL(sg(q) || p) and KL(q || sg(p)) summed over latents, free nats per (b, t) element."""
        dyn = kl_categorical(self.dist(post["logit"].detach()), self.dist(prior["logit"]))
        rep = kl_categorical(self.dist(post["logit"]), self.dist(prior["logit"].detach()))
        if clip:
            return dyn.clamp(min=free).mean(), rep.clamp(min=free).mean()
        return dyn.mean(), rep.mean()

    def shift_actions(self, action: torch.Tensor) -> torch.Tensor:
        """D2: with `action_shift`, pair z_{t-1} with a_{t-1} (the action that led to o_t) instead of a_t."""
        if not self.action_shift:
            return action
        return torch.cat([torch.zeros_like(action[:, :1]), action[:, :-1]], 1)


def blend(keep: torch.Tensor, value: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
    """Per batch element: `value` where keep is 1, `initial` where it is 0 (resets at episode starts)."""
    shape = (-1,) + (1,) * (value.dim() - 1)
    keep = keep.reshape(shape).to(value.dtype)
    return keep * value + (1 - keep) * initial
