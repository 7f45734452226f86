"""Actor and critics trained in imagination (reference §4.5).

From every posterior state of a batch (B*T starts) the actor imagines `imag_horizon` states in the world model.
Each reward head (extrinsic, subgoal, novelty) has its own critic, slow target critic and return normaliser;
the actor maximises the weighted sum of their advantages plus an entropy bonus. Below the top level of the
hierarchy, actor and critics also see the subgoal `goal` (N, G) of their imagination start, held for the horizon.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch
from torch import nn

from hieros.agent.distributions import BoundedNormal, TwoHotSymlog
from hieros.agent.latents import State
from hieros.agent.networks import MLP, ActionHead
from hieros.agent.optim import Metrics, Optimizer, compiled, step_together

RewardFn = Callable[[torch.Tensor, State], torch.Tensor]


class Scores(NamedTuple):
    """An imagined rollout's states scored before any update, (H, N) each."""

    reward: dict[str, torch.Tensor]  # per reward head
    discount: torch.Tensor  # discount times the continue head's mean
    value: dict[str, torch.Tensor]  # per head, its critic's value


class ReturnNorm(nn.Module):
    """EMA of the 5% and 95% return quantiles; scale = max(1, q95 - q5)."""

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = alpha
        self.register_buffer("quantiles", torch.zeros(2))
        self.register_buffer("levels", torch.tensor([0.05, 0.95]), persistent=False)

    def update(self, returns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = returns.detach().flatten().to(self.quantiles.dtype)
        q = torch.quantile(flat, self.levels.to(flat.dtype))
        self.quantiles.mul_(1 - self.alpha).add_(self.alpha * q)
        offset, high = self.quantiles
        return offset, torch.clamp(high - offset, min=1.0)


def lambda_return(
    reward: torch.Tensor, value: torch.Tensor, discount: torch.Tensor, lam: float, index: str
) -> torch.Tensor:
    """Lambda-returns R_0..R_{H-2} for (H, N) inputs, bootstrapped with V_{H-1}.

    index "current" (the original, D10): R_t = r_t + g_t ((1 - lam) V_{t+1} + lam R_{t+1}).
    index "next" (DreamerV3):            R_t = r_{t+1} + g_{t+1} ((1 - lam) V_{t+1} + lam R_{t+1}).
    """
    if index == "current":
        r, g = reward[:-1], discount[:-1]
    else:
        r, g = reward[1:], discount[1:]
    returns = [value[-1]]
    for t in reversed(range(len(r))):
        returns.append(r[t] + g[t] * ((1 - lam) * value[t + 1] + lam * returns[-1]))
    return torch.stack(returns[::-1][:-1])


def condition(feat: torch.Tensor, goal: torch.Tensor | None) -> torch.Tensor:
    """The actor and critic input: the feature, with the subgoal (N, G) appended below the top level."""
    if goal is None:
        return feat
    return torch.cat([feat, goal.expand(*feat.shape[:-1], -1)], -1)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Let gradients pass through `module` without computing its parameter gradients."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


class ActorCritic(nn.Module):
    def __init__(
        self,
        config: Any,
        feat_dim: int,
        action_dim: int,
        dist: str,
        heads: dict[str, float],
        rows: int = 1,
        goal_dim: int = 0,
    ):
        """`dist`: onehot | onehot_rows (`rows` categoricals, the higher levels' codes) | normal."""
        super().__init__()
        self.config = config
        self.heads = heads
        self.goal_dim = goal_dim
        self.actor = ActionHead(
            feat_dim + goal_dim,
            action_dim,
            config.actor_layers,
            config.units,
            dist=dist,
            unimix=config.action_unimix_ratio,
            min_std=config.actor_min_std,
            max_std=config.actor_max_std,
            rows=rows,
        )
        self.critics = nn.ModuleDict(
            {
                name: MLP(feat_dim + goal_dim, 255, config.value_layers, config.units, act=config.act, outscale=0.0)
                for name in heads
            }
        )
        self.slow_critics = copy.deepcopy(self.critics).requires_grad_(False)
        self.norms = nn.ModuleDict({name: ReturnNorm() for name in heads})
        self.actor_opt = Optimizer(
            "actor",
            self.actor.parameters(),
            config.actor_lr,
            config.ac_opt_eps,
            config.actor_grad_clip,
            config.weight_decay,
            fused=config.compile,
        )
        self.critic_opts = {
            name: Optimizer(
                f"value_{name}",
                critic.parameters(),
                config.value_lr,
                config.ac_opt_eps,
                config.value_grad_clip,
                config.weight_decay,
                fused=config.compile,
            )
            for name, critic in self.critics.items()
        }
        # --compile compiles one imagined step and the scoring, each once for all H steps (regional), rather
        # than the H-step rollout as one graph: the same kernels, an H-th of the code to build
        self._policy_step = compiled(self.policy_step, config)
        self._imagine_step = compiled(self.imagine_step, config)
        self._score = compiled(self.score, config)
        self._losses = compiled(self.losses, config)

    def policy(self, feat: torch.Tensor, goal: torch.Tensor | None = None) -> Any:
        return self.actor(condition(feat, goal))

    def policy_step(
        self, world_model: nn.Module, state: State, goal: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The actor's input at an imagined `state` (the goal appended) and the action it samples there."""
        feat = condition(world_model.actor_feat(state), goal)
        return feat, self.actor(feat.detach()).sample()

    def imagine_step(
        self, world_model: nn.Module, state: State, action: torch.Tensor, goal: torch.Tensor | None
    ) -> tuple[State, torch.Tensor, torch.Tensor]:
        """One imagined step from `state` under `action`: the next state, its actor input and action."""
        if "state" in state:  # the S5 hidden state is detached at every imagined step, as in the original
            state = {**state, "state": state["state"].detach()}
        state = world_model.dynamics.img_step(state, action)
        return (state, *self.policy_step(world_model, state, goal))

    def imagine(
        self, world_model: nn.Module, start: State, goal: torch.Tensor | None
    ) -> tuple[torch.Tensor, State, torch.Tensor]:
        """Roll the actor out in the model: feats (H, N, F+G) with the goal appended, states (H, N, ...),
        actions (H, N, A)."""
        state = {k: v.flatten(0, 1) for k, v in start.items()}
        feat, action = self._policy_step(world_model, state, goal)
        feats, states, actions = [feat], [state], [action]
        for _ in range(self.config.imag_horizon - 1):
            state, feat, action = self._imagine_step(world_model, state, action, goal)
            feats.append(feat)
            states.append(state)
            actions.append(action)
        stacked = {k: torch.stack([s[k] for s in states]) for k in states[0]}
        return torch.stack(feats), stacked, torch.stack(actions)

    def score(self, world_model: nn.Module, feats: torch.Tensor, states: State, rewards: dict[str, RewardFn]) -> Scores:
        """Score imagined states (H, N, ...): each head's reward, the discount from the continue head, and each
        critic's value."""
        dyn_feat = world_model.dynamics.feat(states)
        discount = self.config.discount * world_model.cont_dist(dyn_feat).mean
        reward = {name: fn(dyn_feat, states) for name, fn in rewards.items()}
        value = {name: TwoHotSymlog(self.critics[name](feats)).mode() for name in self.heads}
        return Scores(reward, discount, value)

    def rollout(
        self, world_model: nn.Module, start: State, rewards: dict[str, RewardFn], goal: torch.Tensor | None
    ) -> tuple[torch.Tensor, State, torch.Tensor, Scores]:
        """`imagine`, then `score` the imagined states (with --compile, each step and the scoring compiled)."""
        feats, states, actions = self.imagine(world_model, start, goal)
        return feats, states, actions, self._score(world_model, feats, states, rewards)

    def train_step(
        self, world_model: nn.Module, start: State, rewards: dict[str, RewardFn], goal: torch.Tensor | None = None
    ) -> tuple[Metrics, State]:
        """Imagine, then update the actor and each critic (one backward pass for all); all use the values from
        before the updates.

        Returns the metrics and the imagined states (H, N, ...), detached."""
        update_slow(self.critics, self.slow_critics, self.config.slow_target_fraction)
        with self.imagining(world_model):
            feats, states, actions, scores = self.rollout(world_model, start, rewards, goal)
        losses, metrics = self._losses(feats, actions, scores.reward, scores.discount, scores.value)
        actor = [(self.actor_opt, losses.pop("actor"))]
        metrics.update(step_together(actor + [(self.critic_opts[name], loss) for name, loss in losses.items()]))
        return metrics, {k: v.detach() for k, v in states.items()}

    @contextlib.contextmanager
    def imagining(self, world_model: nn.Module) -> Iterator[None]:
        """The autograd mode of a rollout: no gradients for REINFORCE; for dynamics backpropagation, gradients
        reach the actions through the model but not the model's or the critics' weights."""
        with contextlib.ExitStack() as stack:
            if self.config.imag_gradient == "reinforce":
                stack.enter_context(torch.no_grad())
            else:
                stack.enter_context(frozen(world_model))
                stack.enter_context(frozen(self.critics))
            yield

    def losses(
        self,
        feats: torch.Tensor,
        actions: torch.Tensor,
        reward: dict[str, torch.Tensor],
        discount: torch.Tensor,
        values: dict[str, torch.Tensor],
    ) -> tuple[dict[str, torch.Tensor], Metrics]:
        """The actor's loss ("actor") and each critic's (by head name) from an imagined rollout of (H, N) steps,
        and metrics; one graph for torch.compile (`_losses` is its compiled form with --compile).

        Lambda-returns per head, normalised by each head's return quantiles, give the advantages; the actor
        maximises their weighted sum (REINFORCE or the dynamics' gradients) plus an entropy bonus; each critic
        regresses the returns and its slow copy's values. All use the values from before any update."""
        config = self.config
        reinforce = config.imag_gradient == "reinforce"
        weight = torch.cumprod(torch.cat([torch.ones_like(discount[:1]), discount[:-1]]), 0).detach()[:-1]
        metrics: Metrics = {}
        targets, advantage = {}, 0.0
        for name, scale in self.heads.items():
            target = lambda_return(
                reward[name], values[name], discount, config.discount_lambda, config.return_reward_index
            )
            offset, spread = self.norms[name].update(target) if config.return_norm else (0.0, 1.0)
            base = values[name][:-1]
            if reinforce:
                adv = (target - base) / (spread if config.advantage_norm else 1.0)
            else:
                adv = (target - offset) / spread - (base - offset) / spread
            advantage = advantage + scale * adv
            targets[name] = target.detach()
            metrics[f"imag_{name}_reward_mean"] = reward[name].mean()
            metrics[f"{name}_return_mean"] = target.mean().detach()
        dist = self.actor(feats.detach())
        if reinforce:
            advantage = advantage / sum(self.heads.values())
            objective = dist.log_prob(self._logprob_actions(dist, actions))[:-1] * advantage.detach()
        else:
            objective = advantage
        entropy = dist.entropy()
        objective = objective + config.actor_entropy * entropy[:-1]
        metrics["actor_entropy"] = entropy.mean().detach()  # over all H imagined states, as the original logs it
        losses = {"actor": -(weight * objective).mean()}
        for name, target in targets.items():
            losses[name] = critic_loss(self.critics[name], self.slow_critics[name], feats[:-1].detach(), target, weight)
        return losses, metrics

    def _logprob_actions(self, dist: Any, actions: torch.Tensor) -> torch.Tensor:
        """The actions whose log-prob REINFORCE takes. Plain REINFORCE: the sampled actions, detached. The
        original (D17, `reinforce_original_logprob`): the action its world model saw, a / max(|a|, 1) (its img_step
        rescales in place), still carrying the reparameterised sample's gradient (its ContDist.sample is
        rsample). For a Normal actor that makes the mean's gradient vanish unless the action was clipped; one-hot
        log-probs read only the argmax, so both give the same for discrete actions."""
        if not self.config.reinforce_original_logprob or not isinstance(dist, BoundedNormal):
            return actions.detach()
        noise = ((actions - dist.mean) / dist.std).detach()
        return (dist.mean + dist.std * noise) * (1 / actions.abs().clamp(min=1)).detach()

    def state_dict_all(self) -> dict[str, Any]:
        return {
            "model": self.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opts": {k: o.state_dict() for k, o in self.critic_opts.items()},
        }

    def load_state_dict_all(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["model"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        for name, opt in self.critic_opts.items():
            opt.load_state_dict(state["critic_opts"][name])


def critic_loss(
    critic: nn.Module, slow_critic: nn.Module, feat: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """A critic's loss: the two-hot log-prob of its target and of the slow critic's value (DreamerV3's slow
    regulariser), weighted per step."""
    dist = TwoHotSymlog(critic(feat))
    with torch.no_grad():
        slow = TwoHotSymlog(slow_critic(feat)).mode()
    loss = -(dist.log_prob(target) + dist.log_prob(slow))
    return (weight * loss).mean()


@torch.no_grad()
def update_slow(fast: nn.Module, slow: nn.Module, rate: float) -> None:
    """The slow critics move `rate` of the way to the critics, parameter by parameter."""
    for fast_param, slow_param in zip(fast.parameters(), slow.parameters(), strict=True):
        slow_param.mul_(1 - rate).add_(rate * fast_param)
