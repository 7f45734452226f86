"""The held-out measures of a world model: its own loss terms, and how fast its imagination drifts.

Both run with no gradient, dropout off (the model in eval mode) and torch's random draws forked and seeded, so a
measurement neither changes the training that follows nor depends on it:

- `heldout_losses`: `WorldModel.loss` on held-out windows (observation, reward and continuation losses, the
  clipped dyn/rep KL terms, prior and posterior entropy, the total) and the unclipped KL(post || prior).
- `open_loop`: the model observes `context` steps of a held-out window, then imagines `horizon` steps with the
  window's actions (paired as training pairs them, `shift_actions`) and no further observation, sampling its
  latents as the actor's imagination does (hieros.openloop's measure, extended). Per imagined step k: squared
  error of the reward head's and of the decoder's prediction (mean over the observation's dimensions), the
  fraction of latent categoricals whose imagined prior's argmax is the posterior's, KL(post || imagined prior)
  and the imagined prior's entropy; beside each the teacher-forced value at the same step (reward and
  reconstruction from the posterior, the one-step prior of `observe`), and the variance over the windows of the
  reward and of the observation (the error of predicting the mean).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import numpy as np
import torch

from hieros.agent.distributions import kl_categorical
from hieros.agent.latents import State
from hieros.agent.optim import floats
from hieros.agent.world_model import WorldModel, preprocess
from hieros.wmbench.batches import model_inputs, split_batches

MEASURE_SEED = 12345  # torch's draws inside a measurement (forked: training's draws are untouched)
NOT_OBSERVED = ("action", "reward", "cont", "is_first", "is_last", "is_terminal")
OPEN_LOOP = ("reward_mse", "obs_mse", "latent_agree", "kl", "prior_ent")  # per step, open loop and teacher forced


@contextlib.contextmanager
def measuring(world_model: WorldModel) -> Iterator[None]:
    """No gradient, eval mode, torch's random state forked and seeded; the model's mode put back after."""
    training = world_model.training
    device = _device(world_model)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(MEASURE_SEED)
        world_model.eval()
        try:
            yield
        finally:
            world_model.train(training)


def _device(world_model: WorldModel) -> torch.device:
    return next(world_model.parameters()).device


def heldout_losses(
    world_model: WorldModel, windows: Mapping[str, np.ndarray], chunk: int, image_range: str
) -> dict[str, float]:
    """The model's loss terms on the held-out windows, averaged over sequences; `kl` unclipped."""
    totals: dict[str, float] = {}
    count = 0
    with measuring(world_model):
        for piece in split_batches(model_inputs(windows), chunk):
            data = preprocess(piece, _device(world_model), image_range)
            state = torch.get_rng_state()
            loss, post, aux = world_model.loss(data)
            torch.set_rng_state(state)  # the same draws again: observe's prior beside the loss's posterior
            _, prior = world_model.dynamics.observe(world_model.encoder(data), data["action"], data["is_first"])
            dist = world_model.dynamics.dist
            aux = {**aux, "model_loss": loss, "kl": kl_categorical(dist(post["logit"]), dist(prior["logit"])).mean()}
            aux["obs_loss"] = obs_loss(aux, piece)
            size = len(piece["reward"])
            for key, value in floats(aux).items():
                totals[key] = totals.get(key, 0.0) + value * size
            count += size
    return {key: value / count for key, value in totals.items()}


def obs_loss(terms: Mapping[str, torch.Tensor | float], data: Mapping[str, object]) -> torch.Tensor | float:
    """The observation loss: the decoder's loss terms summed over the observed keys (`vector_loss`, `image_loss`)."""
    return sum(terms[f"{key}_loss"] for key in data if key not in NOT_OBSERVED)


def imagine(world_model: WorldModel, post: State, action: torch.Tensor, context: int, horizon: int) -> State:
    """States (B, horizon, ...) imagined from the posterior at step context - 1 with the paired actions."""
    dynamics = world_model.dynamics
    paired = dynamics.shift_actions(action)
    state = {k: v[:, context - 1] for k, v in post.items()}
    states = []
    for t in range(context, context + horizon):
        state = dynamics.img_step(state, paired[:, t])
        states.append(state)
    return {k: torch.stack([s[k] for s in states], 1) for k in states[0]}


def _step_errors(
    world_model: WorldModel, states: State, post: State, data: Mapping[str, torch.Tensor], obs_keys: list[str]
) -> dict[str, torch.Tensor]:
    """Per (sequence, step): the measures of OPEN_LOOP for `states` against the data and the posterior."""
    dynamics = world_model.dynamics
    feat = dynamics.feat(states)
    reward = world_model.reward_dist(feat).mode()
    decoded = world_model.decoder(feat)
    obs = sum(((decoded[k].mode() - data[k]) ** 2).flatten(2).mean(-1) for k in obs_keys) / len(obs_keys)
    dist = dynamics.dist
    return {
        "reward_mse": (reward - data["reward"]) ** 2,
        "obs_mse": obs,
        "latent_agree": (states["logit"].argmax(-1) == post["logit"].argmax(-1)).float().mean(-1),
        "kl": kl_categorical(dist(post["logit"]), dist(states["logit"])),
        "prior_ent": dist(states["logit"]).entropy(),
    }


def open_loop(
    world_model: WorldModel, windows: Mapping[str, np.ndarray], context: int, horizon: int, chunk: int, image_range: str
) -> dict[str, list[float]]:
    """Means over the windows per imagined step k = 1..horizon: each OPEN_LOOP measure open loop, the same
    teacher forced (`<name>_forced`), and the variance of the reward and of the observation (`reward_var`,
    `obs_var`). Windows are context + horizon steps, each inside one episode."""
    sums: dict[str, torch.Tensor] = {}
    count = 0
    later = slice(context, context + horizon)
    with measuring(world_model):
        for piece in split_batches(model_inputs(windows), chunk):
            data = preprocess(piece, _device(world_model), image_range)
            obs_keys = [k for k in piece if k not in NOT_OBSERVED]
            post, prior = world_model.dynamics.observe(world_model.encoder(data), data["action"], data["is_first"])
            imagined = imagine(world_model, post, data["action"], context, horizon)
            target = {k: v[:, later] for k, v in data.items()}
            posterior = {k: v[:, later] for k, v in post.items()}
            forced = _step_errors(world_model, posterior, posterior, target, obs_keys)
            forced.update(
                {
                    name: value
                    for name, value in _step_errors(
                        world_model, {k: v[:, later] for k, v in prior.items()}, posterior, target, obs_keys
                    ).items()
                    if name in ("latent_agree", "kl", "prior_ent")
                }
            )
            rows = {
                **_step_errors(world_model, imagined, posterior, target, obs_keys),
                **{f"{name}_forced": value for name, value in forced.items()},
            }
            for key, value in rows.items():
                sums[key] = sums.get(key, 0) + value.sum(0)
            # the variance over windows: sums of values and squares, combined at the end
            for name, value in (("reward", target["reward"]), ("obs", _flat_obs(target, obs_keys))):
                sums[f"{name}_sum"] = sums.get(f"{name}_sum", 0) + value.sum(0)
                sums[f"{name}_sq"] = sums.get(f"{name}_sq", 0) + (value**2).sum(0)
            count += len(piece["reward"])
    out = {key: (value / count) for key, value in sums.items() if not key.endswith(("_sum", "_sq"))}
    for name in ("reward", "obs"):
        mean, square = sums[f"{name}_sum"] / count, sums[f"{name}_sq"] / count
        variance = (square - mean**2) * count / max(count - 1, 1)
        out[f"{name}_var"] = variance if name == "reward" else variance.mean(-1)
    return {key: [float(x) for x in value.cpu().numpy()] for key, value in out.items()}


def _flat_obs(data: Mapping[str, torch.Tensor], obs_keys: list[str]) -> torch.Tensor:
    """The observations (B, T, D), every key flattened and concatenated."""
    return torch.cat([data[k].flatten(2) for k in obs_keys], -1)
