"""Subgoal parity: the subgoal autoencoder (codes, reconstructions, one update) against the original's
`SubgoalAutoencoder`, and the subgoal and novelty rewards against the original's `SubActor._subgoal_reward` and
`SubActor._novelty_reward` (called on a stand-in for the SubActor that holds just what those methods read).

Name map, ours -> original: encoder.hidden.i -> _encoder.layers.i; decoder.hidden.i -> _decoder.layers.i
(with `legacy_output_activation`, the original's D8, neither MLP has an output layer).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import torch

from hieros.agent.subgoal import SubgoalAutoencoder, novelty_reward, subgoal_reward
from hieros.config import Config, build_config
from parity.compare import Row, row, rows_for, worst
from parity.configs import original_config
from parity.original import Original, categorical_sampler, copy_into, precision, renamed, to_double
from parity.training import FP32_STEP_TOLERANCE, after_step, capture_grads

GROUP = "subgoals"


def ae_map(ours: SubgoalAutoencoder, grad: bool = False) -> dict[str, torch.Tensor]:
    rules = [("encoder.hidden.", "_encoder.layers."), ("decoder.hidden.", "_decoder.layers.")]
    # with legacy_output_activation false ours has output layers the original does not: no rule, an error
    return renamed(ours, rules, "subgoal-autoencoder", grad)


def original_hieros_module(original: Original) -> ModuleType:
    """The original's hieros/hieros.py, under another name (ours is the package `hieros`)."""
    name = "original_hieros_module"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, original.root / "hieros" / "hieros.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _pair(original: Original, config: Config, fp64: bool) -> tuple[SubgoalAutoencoder, Any, Any]:
    torch.manual_seed(0)
    ours = SubgoalAutoencoder(config, config.dyn_deter)
    oconfig = original_config(original, config, 4)
    sc = oconfig.subgoal_compression
    theirs = original.models.SubgoalAutoencoder(
        input_shape=[config.dyn_deter],
        layers=sc["layers"],
        bottleneck_shape=oconfig.subgoal_shape,
        activation=sc["act"],
        norm=sc["norm"],
        encoding_symlog=sc["encoding_symlog"],
        decoding_symlog=sc["decoding_symlog"],
        kl_scale=sc["kl_scale"],
        unimix_ratio=oconfig.unimix_ratio,
        config=oconfig,
    )
    if fp64:
        ours.double()
        to_double(theirs)
    copy_into(theirs, ae_map(ours))
    return ours, theirs, oconfig


def _update(original: Original, config: Config, deter: torch.Tensor, fp64: bool) -> tuple:
    with precision(original, fp64):
        ours, theirs, _ = _pair(original, config, fp64)
        deter = deter.to(torch.get_default_dtype())
        grads_o: dict[str, torch.Tensor] = {}
        capture_grads(theirs._model_opt._opt, theirs, grads_o)
        metrics = ours.train_step(deter)
        metrics_o = theirs._train(deter.clone())
    return ours, theirs, metrics, metrics_o, grads_o


def check(original: Original, presets: list[str], label: str) -> list[Row]:
    """Codes and reconstructions, one update (losses, gradients, parameters after the step in fp32 and fp64),
    and both intrinsic rewards on imagined states (H, N, D) with decoded subgoals (B, T, D)."""
    config = build_config(presets)
    torch.manual_seed(12)
    deter = torch.randn(6, 20, config.dyn_deter) * 2
    with torch.no_grad():
        ours, theirs, oconfig = _pair(original, config, False)
        rows = [
            row(GROUP, f"{label}: autoencoder code", ours.encode(deter), theirs.encode(deter).flatten(-2)),
            row(GROUP, f"{label}: autoencoder reconstruction", ours(deter), theirs(deter)),
        ]
    rows += _rewards(original, ours, theirs, oconfig, deter, label)
    ours, theirs, metrics, metrics_o, grads_o = _update(original, config, deter, False)
    for key in (
        "subgoal_autoencoder_loss",
        "subgoal_autoencoder_reconstruction_loss",
        "subgoal_autoencoder_kl_loss",
        "subgoal_autoencoder_grad_norm",
    ):
        rows.append(row(GROUP, f"{label}: {key}", torch.as_tensor(metrics[key]), torch.as_tensor(metrics_o[key])))
    rows.append(
        worst(
            GROUP,
            f"{label}: autoencoder gradient, every parameter",
            rows_for(GROUP, "grad", ae_map(ours, grad=True), grads_o),
        )
    )
    rows.append(
        after_step(
            GROUP,
            f"{label}: autoencoder",
            ae_map(ours),
            dict(theirs.named_parameters()),
            grads_o,
            tolerance=FP32_STEP_TOLERANCE,
        )
    )
    ours, theirs, *_, grads_o = _update(original, config, deter, True)
    rows.append(
        after_step(
            GROUP,
            f"{label}: autoencoder, fp64",
            ae_map(ours),
            dict(theirs.named_parameters()),
            grads_o,
            noise_floor=None,
        )
    )
    return rows


@torch.no_grad()
def _rewards(
    original: Original, ours: SubgoalAutoencoder, theirs: Any, oconfig: Any, deter: torch.Tensor, label: str
) -> list[Row]:
    """The original's reward methods read `_config`, `_compute_subgoal`/`_compute_novelty`, `get_subgoal` and
    `subgoal_autoencoder` from their SubActor; a namespace with those stands in for it."""
    actor_class = original_hieros_module(original).SubActor
    stand_in = SimpleNamespace(
        _config=oconfig, _compute_subgoal=True, _compute_novelty=True, subgoal_autoencoder=theirs
    )
    stand_in.get_subgoal = functools.partial(actor_class.get_subgoal, stand_in)
    imagined = deter[:, :12]  # (H, N, D) with N = B * T below
    goal = torch.randn(3, 4, deter.shape[-1])  # decoded subgoals (B, T, D) of the imagination starts
    rows = []
    with categorical_sampler():
        reward_o = actor_class._subgoal_reward(stand_in, {"deter": imagined}, goal).squeeze(-1)
        novelty_o = actor_class._novelty_reward(stand_in, {"deter": imagined}).squeeze(-1)
    symlog_state = ours.encoding_symlog
    rows.append(
        row(
            GROUP,
            f"{label}: subgoal reward (cosine-max)",
            subgoal_reward(imagined, goal.flatten(0, 1), symlog_state),
            reward_o,
        )
    )
    rows.append(row(GROUP, f"{label}: novelty reward", novelty_reward(ours, imagined, raw_target=True), novelty_o))
    return rows
