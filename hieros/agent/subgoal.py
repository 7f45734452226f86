"""Subgoals (reference §4.3-4.4): the subgoal autoencoder of a level and the two intrinsic rewards.

A level's subgoal space is its own deterministic state `deter` (D values). The autoencoder compresses it into a
rows x classes one-hot code (8x8 in the paper); a higher level's action is such a code, and the receiving level
decodes it back to a D-vector, the subgoal it is rewarded for reaching.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hieros.agent.distributions import OneHotDist, kl_categorical, symlog
from hieros.agent.networks import MLP
from hieros.agent.optim import Metrics, Optimizer, compiled
from hieros.agent.precision import full


class SubgoalAutoencoder(nn.Module):
    """deter (..., D) -> one-hot code (..., rows * classes), straight-through -> reconstruction (..., D).

    The encoder symlogs its input and the reconstruction targets symlog(deter). With `legacy_output_activation`
    (the original, defect D8) both the code logits and the reconstruction are the last LayerNorm+GELU hidden
    layer of an MLP (so reconstructions cannot go below about -0.17); without it each MLP ends in a Linear.
    Loss: mean squared reconstruction error + kl_scale * mean KL(code distribution || uniform) per row.
    """

    def __init__(self, config: Any, deter_dim: int):
        super().__init__()
        sc = config.subgoal_compression
        self.rows, self.classes = config.subgoal_shape
        self.unimix = config.unimix_ratio
        self.kl_scale = sc.kl_scale
        code = self.rows * self.classes
        legacy = sc.legacy_output_activation
        self.encoder = MLP(
            deter_dim, None if legacy else code, sc.layers, code, sc.act, symlog_inputs=sc.encoding_symlog
        )
        self.decoder = MLP(code, None if legacy else deter_dim, sc.layers, deter_dim, sc.act)
        self.encoding_symlog = sc.encoding_symlog
        self.optimizer = Optimizer(
            "subgoal_autoencoder",
            self.parameters(),
            sc.lr,
            sc.opt_eps,
            sc.grad_clip,
            config.weight_decay,
            fused=config.compile,
        )
        self._losses = compiled(self.losses, config)

    def _dist(self, deter: torch.Tensor) -> OneHotDist:
        logits = self.encoder(deter).unflatten(-1, (self.rows, self.classes))
        return OneHotDist(logits, unimix=self.unimix, rows_reduce="mean")

    def encode(self, deter: torch.Tensor) -> torch.Tensor:
        """The code (..., rows * classes): the argmax one-hot per row, gradients straight through."""
        return self._dist(deter).mode().flatten(-2)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return full(self.decoder(code))

    def forward(self, deter: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(deter))

    def target(self, deter: torch.Tensor) -> torch.Tensor:
        return symlog(deter) if self.encoding_symlog else deter

    def train_step(self, deter: torch.Tensor) -> Metrics:
        loss, losses = self._losses(deter)
        return {**self.optimizer.step(loss), **losses}

    def losses(self, deter: torch.Tensor) -> tuple[torch.Tensor, Metrics]:
        """The loss on states `deter` (..., D) and its two terms; one graph for torch.compile (`_losses` is its
        compiled form with --compile)."""
        dist = self._dist(deter)
        recon = self.decode(dist.mode().flatten(-2))
        recon_loss = ((self.target(deter) - recon) ** 2).mean()
        uniform = OneHotDist(torch.zeros_like(dist.logits), rows_reduce="mean")
        kl = kl_categorical(dist, uniform).mean()  # the mean over rows and samples
        return recon_loss + self.kl_scale * kl, {
            "subgoal_autoencoder_reconstruction_loss": recon_loss.detach(),
            "subgoal_autoencoder_kl_loss": kl.detach(),
        }


def subgoal_reward(deter: torch.Tensor, goal: torch.Tensor, symlog_state: bool = True) -> torch.Tensor:
    """HIEROS's cosine-max reward: symlog(max(0, <g, f> / max(|g|, |f|)^2)) with f = symlog(deter).

    deter (..., D) states reached, goal (..., D) decoded subgoals broadcast against it; returns (...) in
    [0, ln 2]. It is 1 before the symlog only where f equals g, and it also punishes overshooting the goal norm.
    """
    state = symlog(deter) if symlog_state else deter
    goal = goal.expand_as(state)
    norm = torch.maximum(goal.norm(dim=-1) + 1e-12, state.norm(dim=-1) + 1e-12)
    cosine = (goal * state).sum(-1) / norm**2
    return symlog(cosine.clamp(min=0.0))


def novelty_reward(autoencoder: SubgoalAutoencoder, deter: torch.Tensor, raw_target: bool = True) -> torch.Tensor:
    """symlog of the autoencoder's mean squared reconstruction error of `deter` (..., D) -> (...).

    With `raw_target` (the original, D8) the reconstruction of symlog(deter) is compared with the raw deter."""
    with torch.no_grad():
        recon = autoencoder(deter)
    target = deter if raw_target else autoencoder.target(deter)
    return symlog(((target - recon) ** 2).mean(-1))
