"""The world model of one level: encoder, dynamics (S5WM or RSSM), decoder, reward and continue heads, loss.

Loss (reference §3.7): sum over heads of -log p(target), mean over (B, T), plus dyn_scale * KL(sg(q) || p) and
rep_scale * KL(q || sg(p)) with free nats per element. One AdamW with gradient clipping and warm-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from hieros.agent.distributions import Bernoulli, TwoHotSymlog, symlog
from hieros.agent.latents import State
from hieros.agent.networks import MLP, MultiDecoder, MultiEncoder
from hieros.agent.optim import Metrics, Optimizer, compiled
from hieros.agent.s5_dynamics import S5Dynamics


def make_dynamics(config: Any, embed_dim: int, action_dim: int) -> nn.Module:
    if config.dynamics_model == "s5":
        return S5Dynamics(config, embed_dim, action_dim)
    from hieros.agent.rssm import RSSM

    return RSSM(config, embed_dim, action_dim)


IMAGE_OFFSET = {"centered": 0.5, "unit": 0.0}  # config key image_range -> what is subtracted from pixels / 255


def preprocess(
    batch: dict[str, np.ndarray], device: torch.device, image_range: str = "centered"
) -> dict[str, torch.Tensor]:
    """Replay or env arrays -> float tensors: images to [-0.5, 0.5] (or [0, 1]), cont = 1 - is_terminal."""
    out = {}
    for key, value in batch.items():
        tensor = torch.as_tensor(value, device=device)
        if key == "image":
            tensor = tensor.float() / 255.0 - IMAGE_OFFSET[image_range]
        elif key.startswith("is_"):
            tensor = tensor.bool()
        else:
            tensor = tensor.float()
        out[key] = tensor
    if "is_terminal" in out:
        out["cont"] = 1.0 - out["is_terminal"].float()
    return out


class WorldModel(nn.Module):
    def __init__(self, config: Any, obs_space: dict[str, tuple], action_dim: int):
        super().__init__()
        self.config = config
        shapes = {k: tuple(v[0]) for k, v in obs_space.items() if not k.startswith("is_") and k != "reward"}
        enc, dec = config.encoder, config.decoder
        self.encoder = MultiEncoder(
            shapes,
            enc.cnn_keys,
            enc.mlp_keys,
            enc.cnn_depth,
            enc.kernel_size,
            enc.minres,
            enc.mlp_layers,
            enc.mlp_units,
            enc.symlog_inputs,
        )
        self.dynamics = make_dynamics(config, self.encoder.out_dim, action_dim)
        feat = self.dynamics.feat_dim
        self.decoder = MultiDecoder(
            shapes,
            feat,
            dec.cnn_keys,
            dec.mlp_keys,
            dec.cnn_depth,
            dec.kernel_size,
            dec.minres,
            dec.mlp_layers,
            dec.mlp_units,
        )
        self.reward = MLP(feat, 255, config.reward_layers, config.units, act=config.act, outscale=0.0)
        self.cont = MLP(feat, 1, config.cont_layers, config.units, act=config.act, outscale=1.0)
        self.optimizer = Optimizer(
            "model",
            self.parameters(),
            config.model_lr,
            config.opt_eps,
            config.grad_clip,
            config.weight_decay,
            config.warmup_steps,
            fused=config.compile,
        )
        self._loss = compiled(self.loss, config)

    def reward_dist(self, feat: torch.Tensor) -> TwoHotSymlog:
        return TwoHotSymlog(self.reward(feat))

    def cont_dist(self, feat: torch.Tensor) -> Bernoulli:
        return Bernoulli(self.cont(feat).squeeze(-1))

    def actor_feat(self, state: State, entropy: torch.Tensor | None = None) -> torch.Tensor:
        """The actor and critic input: [z, deter] plus symlog of predicted reward, continue and entropy."""
        feat = self.dynamics.feat(state)
        parts = [feat]
        config = self.config
        if config.reward_actor_input:
            parts.append(symlog(self.reward_dist(feat).mode())[..., None])
        if config.cont_actor_input:
            parts.append(symlog(self.cont_dist(feat).mean)[..., None])
        if config.stochasticity_actor_input:
            entropy = self.dynamics.entropy(state) if entropy is None else entropy
            parts.append(symlog(entropy)[..., None])
        return torch.cat(parts, -1)

    @property
    def actor_feat_dim(self) -> int:
        config = self.config
        extra = config.reward_actor_input + config.cont_actor_input + config.stochasticity_actor_input
        return self.dynamics.feat_dim + int(extra)

    def train_step(self, data: dict[str, torch.Tensor]) -> tuple[State, Metrics]:
        """One update on a (B, T) batch; returns the detached posterior (imagination starts) and metrics.

        The model is in train mode (S5 dropout on) only for this teacher-forced pass, as the original's
        `WorldModel._train`; acting, imagination and evaluation see it in eval mode."""
        self.train()
        loss, post, aux = self._loss(data)
        metrics = self.optimizer.step(loss)
        self.eval()
        metrics.update(aux)
        return {k: v.detach() for k, v in post.items()}, metrics

    def loss(self, data: dict[str, torch.Tensor]) -> tuple[torch.Tensor, State, Metrics]:
        """The training loss of a (B, T) batch, the posterior, and the parts of the loss as metrics (one graph
        for torch.compile: `_loss` is its compiled form with --compile)."""
        config = self.config
        embed = self.encoder(data)
        post, prior = self.dynamics.observe(embed, data["action"], data["is_first"])
        dyn, rep = self.dynamics.kl_loss(post, prior, config.kl_free, config.dyn_loss_clip)
        feat = self.dynamics.feat(post)
        losses = {f"{key}_loss": -dist.log_prob(data[key]).mean() for key, dist in self.decoder(feat).items()}
        losses["reward_loss"] = -config.reward_scale * self.reward_dist(feat).log_prob(data["reward"]).mean()
        losses["cont_loss"] = -config.cont_scale * self.cont_dist(feat).log_prob(data["cont"]).mean()
        loss = sum(losses.values()) + config.dyn_scale * dyn + config.rep_scale * rep
        with torch.no_grad():
            aux = {
                **{k: v.detach() for k, v in losses.items()},
                "dyn_loss": dyn.detach(),
                "rep_loss": rep.detach(),
                "prior_ent": self.dynamics.entropy(prior).mean(),
                "post_ent": self.dynamics.entropy(post).mean(),
            }
        return loss, post, aux

    def state_dict_all(self) -> dict[str, Any]:
        return {"model": self.state_dict(), "opt": self.optimizer.state_dict()}

    def load_state_dict_all(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["opt"])
