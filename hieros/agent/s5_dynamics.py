"""The S5WM sequence model: stochastic categorical latents on top of a stack of S5 blocks (reference §3.3-3.6).

Unlike the RSSM, the posterior depends on the current embedding only, the prior comes from the S5 output,
and the deterministic feature `deter` is a linear read-out of all S5 hidden states (`state_as_deter`).
Training runs the S5 stack as a parallel scan over the whole sequence; acting and imagination step it.
`s5.posterior_deter` (a switch of issue #36, off as in the paper) gives the posterior `deter` beside the
embedding, as the RSSM's: the step's latent then feeds the next step's input, so training steps the stack
through the sequence as acting does.

A latent state (hieros.agent.latents) here also carries `state`, the S5 hidden states (B, L, 2P) complex.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hieros.agent.distributions import symlog
from hieros.agent.latents import CategoricalLatents, State, blend
from hieros.agent.networks import MLP, init_weights
from hieros.agent.precision import full
from hieros.agent.s5 import S5Stack


class S5Dynamics(CategoricalLatents):
    def __init__(self, config: Any, embed_dim: int, action_dim: int):
        super().__init__(config)
        s5 = config.s5
        self.state_as_deter = s5.state_as_deter
        self.symlog_deter = s5.symlog_final_output
        self.posterior_deter = s5.posterior_deter
        latent = self.stoch * self.classes
        self.inp = MLP(latent + action_dim, None, 1, s5.model_dim, act=config.act)
        self.seq = S5Stack(
            s5.num_blocks,
            s5.model_dim,
            s5.state_dim,
            s5.init_blocks,
            s5.dropout,
            legacy_init_scale=s5.legacy_init_scale,
            dt_min=s5.dt_min,
            dt_max=s5.dt_max,
            clip_eigs=s5.clip_eigs,
        )
        self.seq_out = nn.Linear(s5.model_dim, self.deter_dim)
        self.state_out = nn.Linear(s5.num_blocks * 2 * s5.state_dim, self.deter_dim)
        # the prior and posterior layers are dyn_hidden wide, as the original's Seq2SeqDynamics (`hidden`)
        self.img_out = MLP(self.deter_dim, None, 1, config.dyn_hidden, act=config.act)
        self.img_stat = nn.Linear(config.dyn_hidden, latent)
        posterior_in = embed_dim + (self.deter_dim if self.posterior_deter else 0)
        self.obs_out = MLP(posterior_in, None, 1, config.dyn_hidden, act=config.act)
        self.obs_stat = nn.Linear(config.dyn_hidden, latent)
        self.initial_param = nn.Parameter(torch.zeros(1, self.deter_dim))
        self.apply(init_weights)  # as the original: every Linear and LayerNorm, those in the S5 blocks too

    # --- pieces ---------------------------------------------------------------------------------------
    def _deter(self, output: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        deter = self.state_out(states.real.flatten(-2)) if self.state_as_deter else self.seq_out(output)
        deter = full(deter)  # the state stays fp32 under --precision=bf16
        return symlog(deter) if self.symlog_deter else deter

    def _input(self, stoch: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        action = action / action.abs().clamp(min=1).detach()
        return self.inp(torch.cat([stoch.flatten(-2), action], -1))

    def initial(self, batch: int) -> State:
        deter = nn.functional.gelu(self.initial_param).expand(batch, -1)
        stoch = self.dist(self.logits(self.img_out, self.img_stat, deter)).mode()
        state = self.seq.initial_state(batch, device=deter.device)
        return {"stoch": stoch, "deter": deter, "state": state}

    # --- training: the whole sequence at once -----------------------------------------------------------
    def _posterior_logits(self, embed: torch.Tensor, deter: torch.Tensor) -> torch.Tensor:
        posterior_in = torch.cat([embed, deter], -1) if self.posterior_deter else embed
        return self.logits(self.obs_out, self.obs_stat, posterior_in)

    def observe(self, embed: torch.Tensor, action: torch.Tensor, is_first: torch.Tensor) -> tuple[State, State]:
        """Posterior and prior for (B, T) steps. Sequences start fresh (the replay marks is_first[:, 0])."""
        if self.posterior_deter:
            return self._observe_stepwise(embed, action, is_first)
        batch = is_first.shape[0]
        post_logits = self.logits(self.obs_out, self.obs_stat, embed)
        post_stoch = self.dist(post_logits).sample()
        init = self.initial(batch)
        prev_stoch = torch.cat([init["stoch"][:, None], post_stoch[:, :-1]], 1)
        first = is_first[..., None, None].to(post_stoch.dtype)
        prev_stoch = first * init["stoch"][:, None] + (1 - first) * prev_stoch
        action = self.shift_actions(action) * (1 - is_first[..., None].to(action.dtype))
        output, states = self.seq(self._input(prev_stoch, action), is_first, None)
        deter = self._deter(output, states)
        prior_logits = self.logits(self.img_out, self.img_stat, self.seq_out(output))
        prior = {"stoch": self.dist(prior_logits).sample(), "deter": deter, "state": states, "logit": prior_logits}
        post = {"stoch": post_stoch, "deter": deter, "state": states, "logit": post_logits}
        return post, prior

    def _observe_stepwise(
        self, embed: torch.Tensor, action: torch.Tensor, is_first: torch.Tensor
    ) -> tuple[State, State]:
        """`observe` one step at a time through `obs_step` (the posterior sees deter, so no parallel scan)."""
        action = self.shift_actions(action)  # step t's input pairs z_{t-1} with action[:, t], as the scan does
        prev = self.initial(is_first.shape[0])
        posts, priors = [], []
        for t in range(is_first.shape[1]):
            post, prior = self.obs_step(prev, action[:, t], embed[:, t], is_first[:, t])
            posts.append(post)
            priors.append(prior)
            prev = post
        return tuple({k: torch.stack([s[k] for s in steps], 1) for k in steps[0]} for steps in (posts, priors))

    # --- acting and imagination: one step ---------------------------------------------------------------
    def img_step(self, prev: State, action: torch.Tensor, sample: bool = True) -> State:
        output, state = self.seq.step(self._input(prev["stoch"], action), prev["state"])
        logits = self.logits(self.img_out, self.img_stat, self.seq_out(output))
        dist = self.dist(logits)
        stoch = dist.sample() if sample else dist.mode()
        return {"stoch": stoch, "deter": self._deter(output, state), "state": state, "logit": logits}

    def obs_step(
        self, prev: State, prev_action: torch.Tensor, embed: torch.Tensor, is_first: torch.Tensor
    ) -> tuple[State, State]:
        """One acting step: reset where is_first, predict the prior, then the posterior from the embedding."""
        init = self.initial(len(is_first))
        keep = (~is_first).to(embed.dtype)
        prev = {k: blend(keep, prev[k], init[k]) for k in ("stoch", "deter", "state")}
        prior = self.img_step(prev, prev_action * keep[:, None])
        logits = self._posterior_logits(embed, prior["deter"])
        post = {"stoch": self.dist(logits).sample(), "deter": prior["deter"], "state": prior["state"], "logit": logits}
        return post, prior
