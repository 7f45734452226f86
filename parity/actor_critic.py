"""Actor-critic parity: lambda-returns, return normalisation, and a whole imagination update of level 0 (ours:
`ActorCritic.train_step`; the original: `ImagBehavior._train`), with the same world model, start states and
random draws. With `--model_name=dreamer` (RSSM dynamics) the original is its dreamer mode,
`models_dreamer.ImagBehavior` on `models_dreamer.WorldModel`, the actor-critic its `Dreamer` trains.

Name map, ours -> original (dreamer mode: one critic, `value.*` and `_slow_value.*`):
  actor.net.hidden.i, actor.net.out             -> actor._pre_layers.i, actor._dist_layer
  critics.<head>.hidden.i, critics.<head>.out   -> _value_heads.<head>.layers.i, _value_heads.<head>.mean_layer
  slow_critics.<head>.*                         -> _slow_values.<head>.*
"""

from __future__ import annotations

import argparse
import importlib
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from hieros.agent.actor_critic import ActorCritic, ReturnNorm, lambda_return
from hieros.agent.world_model import WorldModel, preprocess
from hieros.config import Config, build_config
from parity.compare import Row, row, rows_for, worst
from parity.configs import original_config
from parity.original import Original, categorical_sampler, copy_into, precision, renamed, to_double
from parity.training import FLAGS, FP32_STEP_TOLERANCE, after_step, capture_grads, make_batch, wm_map

GROUP = "actor-critic"


def ac_map(ours: ActorCritic, grad: bool = False, dreamer: bool = False) -> dict[str, torch.Tensor]:
    rules = [("actor.net.hidden.", "actor._pre_layers."), ("actor.net.out.", "actor._dist_layer.")]
    for head in ours.heads:
        value, slow = ("value", "_slow_value") if dreamer else (f"_value_heads.{head}", f"_slow_values.{head}")
        rules += [
            (f"critics.{head}.hidden.", f"{value}.layers."),
            (f"critics.{head}.out.", f"{value}.mean_layer."),
            (f"slow_critics.{head}.hidden.", f"{slow}.layers."),
            (f"slow_critics.{head}.out.", f"{slow}.mean_layer."),
        ]
    return renamed(ours, rules, "actor-critic", grad)


@torch.no_grad()
def random_heads(world_model: WorldModel, actor_critic: ActorCritic) -> None:
    """Random output layers for the reward head and the critics (slow critics copied), which start at zero and would
    make every reward, value and advantage 0."""
    for head in (world_model.reward.out, *(critic.out for critic in actor_critic.critics.values())):
        head.weight.normal_(0.0, 0.1)
    actor_critic.slow_critics.load_state_dict(actor_critic.critics.state_dict())


def _emas(theirs: torch.nn.Module) -> dict[str, Any]:
    """The original's return normalisers by head: HIEROS mode keeps one per head, dreamer mode one."""
    emas = theirs.reward_ema
    return emas if isinstance(emas, dict) else {"extrinsic": emas}


def returns(original: Original) -> list[Row]:
    """lambda-returns (ours, index "current") against `tools.lambda_return`, and five updates of the return
    normaliser against `RewardEMA`."""
    torch.manual_seed(6)
    horizon, n = 16, 40
    reward, value = torch.randn(horizon, n, 1), torch.randn(horizon, n, 1) * 3
    discount = 0.997 * (torch.rand(horizon, n, 1) > 0.05).float()
    ours = lambda_return(reward, value, discount, 0.95, "current")
    theirs = original.tools.lambda_return(
        reward[:-1], value[:-1], discount[:-1], bootstrap=value[-1], lambda_=0.95, axis=0
    )
    theirs = torch.stack(theirs, dim=1)  # it returns one (H-1, 1) tensor per start, as its callers stack them
    rows = [row(GROUP, "lambda-returns (H 16, lambda 0.95)", ours, theirs)]
    norm, ema = ReturnNorm(), original.models.RewardEMA(device="cpu")
    found = []
    for k in range(5):
        target = torch.randn(horizon - 1, n, 1) * (k + 1) + k
        offset, scale = norm.update(target)
        offset_o, scale_o = ema(target)
        found += [row(GROUP, "offset", offset, offset_o), row(GROUP, "scale", scale, scale_o)]
    rows.append(worst(GROUP, "return normalisation, offset and scale over 5 updates", found))
    return rows


def _schedules(original: Original, config: argparse.Namespace) -> None:
    """The keys the original's SubActor turns into schedule functions of its step (step 0 here)."""
    for key in ("actor_entropy", "actor_state_entropy", "imag_gradient_mix"):
        value = getattr(config, key)
        setattr(config, key, lambda value=value: original.tools.schedule(value, 0))


def _update(original: Original, config: Config, space: dict[str, tuple], actions: int, fp64: bool) -> tuple:
    """Both actor-critics (and world models) built from the same init, then one imagination update from the same
    posterior states with the same draws."""
    discrete = config.actor_dist == "onehot"
    dreamer = config.dynamics_model == "rssm"
    models = importlib.import_module("models_dreamer") if dreamer else original.models
    with precision(original, fp64):
        torch.manual_seed(0)
        wm = WorldModel(config, {**space, **FLAGS}, actions).eval()
        ours = ActorCritic(
            config,
            wm.actor_feat_dim,
            actions,
            "onehot" if discrete else "normal",
            {"extrinsic": config.extrinsic_reward_weight},
        )
        random_heads(wm, ours)
        oconfig = original_config(original, config, actions)
        oconfig.action_shape = None
        _schedules(original, oconfig)
        ospace = {key: SimpleNamespace(shape=shape) for key, (shape, _) in space.items()}
        wm_o = models.WorldModel(ospace, None, 0, oconfig).eval()
        if dreamer:  # as its Dreamer builds it
            theirs = models.ImagBehavior(oconfig, wm_o, oconfig.behavior_stop_grad)
        else:
            theirs = models.ImagBehavior(oconfig, wm_o, 0, use_subgoal=False, use_novelty=False)
        if fp64:
            wm.double(), ours.double(), to_double(theirs)
            for ema in _emas(theirs).values():
                ema.values, ema.range = ema.values.double(), ema.range.double()
        world = {f"_world_model.{k}": v for k, v in wm_map(wm, wm_o).items()}
        copy_into(theirs, {**ac_map(ours, dreamer=dreamer), **world})
        data = make_batch(space, 2, 8, actions, config.dyn_deter)
        with torch.no_grad(), categorical_sampler():
            batch = preprocess({k: v for k, v in data.items() if k != "subgoal"}, torch.device("cpu"))
            batch = {k: v.to(torch.get_default_dtype()) if v.is_floating_point() else v for k, v in batch.items()}
            torch.manual_seed(8)
            post, _ = wm.dynamics.observe(wm.encoder(batch), batch["action"], batch["is_first"])
        start = {k: v.detach() for k, v in post.items()}
        start_o = {k: v.clone() for k, v in start.items()}
        if not dreamer:
            start_o["entropy"] = wm.dynamics.entropy(start)  # its S5WM's observe returns it with the posterior
            start_o["encoded_subgoal"] = torch.zeros(*start["deter"].shape[:2], 64)
        grads_o: dict[str, torch.Tensor] = {}
        value_opts = [theirs._value_opt] if dreamer else list(theirs._value_opts.values())
        for opt in (theirs._actor_opt, *value_opts):
            capture_grads(opt._opt, theirs, grads_o)
        with categorical_sampler():
            torch.manual_seed(9)
            metrics, imagined = ours.train_step(wm, start, {"extrinsic": lambda feat, s: wm.reward_dist(feat).mode()})
            torch.manual_seed(9)
            reward_o = lambda f, s, a: wm_o.heads["reward"](wm_o.dynamics.get_feat(s)).mode()  # noqa: E731
            _, states_o, _, _, metrics_o = theirs._train(
                start_o, reward_o if dreamer else lambda f, s, a: {"extrinsic": reward_o(f, s, a)}
            )
        if dreamer:  # its one critic's optimiser is named "value"
            metrics_o = {key.replace("value_", "value_extrinsic_", 1): v for key, v in metrics_o.items()}
    return ours, theirs, imagined, states_o, metrics, metrics_o, grads_o


def check(
    original: Original,
    presets: list[str],
    space: dict[str, tuple],
    label: str,
    overrides: dict[str, str] | None = None,
    actions: int = 4,
) -> list[Row]:
    """One imagination update of a flat level (extrinsic critic only) from the same posterior states."""
    config = build_config(presets, {"s5.dropout": "0", "max_hierarchy": "1", **(overrides or {})})
    dreamer = config.dynamics_model == "rssm"
    ours, theirs, imagined, states_o, metrics, metrics_o, grads_o = _update(original, config, space, actions, False)
    rows = [
        row(GROUP, f"{label}: imagined deter", imagined["deter"], states_o["deter"]),
        row(GROUP, f"{label}: imagined stoch", imagined["stoch"], states_o["stoch"]),
    ]
    for key in ("actor_loss", "actor_grad_norm", "actor_entropy", "value_extrinsic_loss", "value_extrinsic_grad_norm"):
        rows.append(row(GROUP, f"{label}: {key}", torch.as_tensor(metrics[key]), torch.as_tensor(metrics_o[key])))
    rows.append(
        row(
            GROUP,
            f"{label}: return normaliser after the update",
            ours.norms["extrinsic"].quantiles,
            _emas(theirs)["extrinsic"].values,
        )
    )
    rows.append(
        worst(
            GROUP,
            f"{label}: gradients of actor and critic, every parameter",
            rows_for(GROUP, "grad", ac_map(ours, grad=True, dreamer=dreamer), grads_o),
        )
    )
    rows.append(
        after_step(
            GROUP,
            label,
            ac_map(ours, dreamer=dreamer),
            dict(theirs.named_parameters()),
            grads_o,
            tolerance=FP32_STEP_TOLERANCE,
        )
    )
    ours, theirs, *_, grads_o = _update(original, config, space, actions, True)
    rows.append(
        after_step(
            GROUP,
            label + ", fp64",
            ac_map(ours, dreamer=dreamer),
            dict(theirs.named_parameters()),
            grads_o,
            noise_floor=None,
        )
    )
    return rows


def dynamics_gradient_fails_in_the_original(original: Original) -> Row:
    """`imag_gradient: dynamics` (the paper-era DMC setting): the original steps its critics before the actor's
    backward, which runs through those critics, so PyTorch refuses it. This row records that it still does."""
    label = "dmc_proprio debug, imag_gradient dynamics"
    try:
        check(original, ["dmc_proprio", "debug"], {"vector": ((5,), np.float32)}, label)
    except RuntimeError as error:
        if "modified by an inplace operation" not in str(error):
            raise
        return Row(
            GROUP,
            f"{label}: the original's update",
            0.0,
            0.0,
            note="RuntimeError: a variable needed for gradient computation has been modified by an inplace operation",
            outcome="original raises",
        )
    return Row(
        GROUP,
        f"{label}: the original's update",
        float("inf"),
        float("inf"),
        note="expected the original to raise; it did not",
    )
