"""World-model update parity: our `WorldModel.train_step` against the original's `WorldModel._train`.

Same weights, same batch, same uniform draws for the categorical samples and, since both sides draw from
torch's generator in the same order (posterior sample, S5 dropout masks block by block, prior sample), the same
dropout masks: the update runs in train mode with the preset's S5 dropout, as in training. Compared: every loss
term, the gradient of the total (after clipping), the posterior handed to imagination, and every parameter after
the optimiser step.

Name map, ours -> original (besides `dynamics.*`, parity.world_model):
  encoder.cnn.layers.i / encoder.mlp.hidden.i -> encoder._cnn.layers.i(.norm) / encoder._mlp.layers.i
  decoder.cnn.linear, .layers.i, .final       -> heads.decoder._cnn._linear_layer, .layers.i(.norm), .layers.<last>
  decoder.mlp.hidden.i, decoder.heads.<key>   -> heads.decoder._mlp.layers.i, heads.decoder._mlp.mean_layer.<key>
  reward|cont .hidden.i, .out                 -> heads.reward|cont .layers.i, .mean_layer
"""

from __future__ import annotations

import importlib
import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from hieros.agent.rssm import RSSM
from hieros.agent.world_model import IMAGE_OFFSET, WorldModel, preprocess
from hieros.config import Config, build_config
from parity.compare import TOLERANCE, Row, row, rows_for, worst
from parity.configs import original_config
from parity.original import Original, categorical_sampler, copy_into, double_inputs, precision, renamed, to_double
from parity.rssm import rssm_map
from parity.world_model import s5wm_map

GROUP = "world model update"
RULES = [
    ("encoder.cnn.layers.", "encoder._cnn.layers."),
    ("encoder.mlp.hidden.", "encoder._mlp.layers."),
    ("decoder.cnn.linear.", "heads.decoder._cnn._linear_layer."),
    ("decoder.cnn.layers.", "heads.decoder._cnn.layers."),
    ("decoder.mlp.hidden.", "heads.decoder._mlp.layers."),
    ("decoder.heads.", "heads.decoder._mlp.mean_layer."),
    ("reward.hidden.", "heads.reward.layers."),
    ("reward.out.", "heads.reward.mean_layer."),
    ("cont.hidden.", "heads.cont.layers."),
    ("cont.out.", "heads.cont.mean_layer."),
]
NOISE_FLOOR = 1e-4
# fp32 parameters after an Adam step differ where float32 noise meets Adam's per-entry normalisation (see
# after_step); the equality check of the step is the fp64 run, at the usual 1e-5
FP32_STEP_TOLERANCE = 1e-3
FLAGS = {"reward": ((), np.float32), "is_first": ((), bool), "is_last": ((), bool), "is_terminal": ((), bool)}


def wm_map(ours: WorldModel, theirs: torch.nn.Module, grad: bool = False) -> dict[str, torch.Tensor]:
    """{original name: our tensor or gradient} for the whole world model (S5WM or RSSM dynamics)."""
    names = dict(theirs.named_parameters())
    last = max(
        (int(m.group(1)) for n in names if (m := re.match(r"heads\.decoder\._cnn\.layers\.(\d+)\.", n))), default=None
    )
    rules = [*RULES, ("decoder.cnn.final.", f"heads.decoder._cnn.layers.{last}.")]
    if isinstance(ours.dynamics, RSSM):
        out = {f"dynamics.{name}": value for name, value in rssm_map(ours.dynamics, grad).items()}
    else:
        out = s5wm_map(ours.dynamics, "dynamics.", grad)
    for target, value in renamed(ours, rules, "world-model", grad, skip=("dynamics.",)).items():
        if target not in names:  # the original wraps its channel LayerNorms: layers.i.norm.weight
            head, _, leaf = target.rpartition(".")
            target = f"{head}.norm.{leaf}"
        out[target] = value
    return out


def make_batch(
    space: dict[str, tuple], batch: int, length: int, actions: int, deter: int, resets: bool = True
) -> dict[str, np.ndarray]:
    """A replay batch with episode starts at t = 0 and, with `resets`, inside the sequences too."""
    rng = np.random.default_rng(4)
    data: dict[str, np.ndarray] = {}
    for key, (shape, dtype) in space.items():
        data[key] = (
            rng.integers(0, 255, (batch, length, *shape), dtype=np.uint8)
            if dtype == np.uint8
            else rng.normal(size=(batch, length, *shape)).astype(np.float32)
        )
    is_first = (rng.random((batch, length)) < 0.1) & resets
    is_first[:, 0] = True
    is_terminal = np.roll(is_first, -1, axis=1) & (rng.random((batch, length)) < 0.5)
    data.update(
        reward=rng.normal(size=(batch, length)).astype(np.float32),
        is_first=is_first,
        is_last=np.roll(is_first, -1, axis=1),
        is_terminal=is_terminal,
        action=np.eye(actions, dtype=np.float32)[rng.integers(0, actions, (batch, length))],
        subgoal=np.zeros((batch, length, deter), np.float32),
    )
    return data


def centred_images(preprocess: Any) -> Any:
    """Wrap the dreamer mode's preprocess (images / 255) to give images / 255 - 0.5, as HIEROS mode does."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = preprocess(*args, **kwargs)
        return {**out, "image": out["image"] - 0.5} if "image" in out else out

    return wrapped


def capture_grads(optimizer: torch.optim.Optimizer, module: torch.nn.Module, into: dict[str, torch.Tensor]) -> None:
    """Record every parameter's (clipped) gradient when the optimiser steps."""
    step = optimizer.step

    def recording(*args: Any, **kwargs: Any) -> Any:
        into.update({n: p.grad.detach().clone() for n, p in module.named_parameters() if p.grad is not None})
        return step(*args, **kwargs)

    optimizer.step = recording


def _update(original: Original, config: Config, space: dict[str, tuple], actions: int, fp64: bool) -> tuple:
    """Both world models built from the same init and stepped once on the same batch and draws. With RSSM
    dynamics the original is its dreamer mode (models_dreamer), on a batch without episode starts inside the
    sequences (D18: that mode never resets its latent there; the RSSM rows show it), its images centred as ours
    unless ours are in [0, 1] too (`image_range: unit`, D19)."""
    dreamer = config.dynamics_model == "rssm"
    models = importlib.import_module("models_dreamer") if dreamer else original.models
    with precision(original, fp64):
        torch.manual_seed(0)
        ours = WorldModel(config, {**space, **FLAGS}, actions)
        ospace = {key: SimpleNamespace(shape=shape) for key, (shape, _) in space.items()}
        theirs = models.WorldModel(ospace, None, 0, original_config(original, config, actions))
        if dreamer and config.image_range == "centered":  # D19: its images are in [0, 1]
            theirs.preprocess = centred_images(theirs.preprocess)
        if fp64:
            ours.double()
            to_double(theirs)
            theirs.preprocess = double_inputs(theirs.preprocess)
        copy_into(theirs, wm_map(ours, theirs))
        data = make_batch(space, 2, 12, actions, config.dyn_deter, resets=not dreamer)
        batch = preprocess({k: v for k, v in data.items() if k != "subgoal"}, torch.device("cpu"), config.image_range)
        if fp64:
            batch = {k: v.double() if v.is_floating_point() else v for k, v in batch.items()}
            if dreamer and "image" in batch:  # its preprocess scales images in the default dtype, float64 here
                batch["image"] = (
                    torch.as_tensor(data["image"], dtype=torch.float64) / 255.0 - IMAGE_OFFSET[config.image_range]
                )
        grads_o: dict[str, torch.Tensor] = {}  # ours keeps its clipped gradients after the step; it zeroes them
        capture_grads(theirs._model_opt._opt, theirs, grads_o)
        with categorical_sampler():
            torch.manual_seed(21)
            post, metrics = ours.train_step(batch)
            torch.manual_seed(21)
            # dreamer mode takes the replay's arrays as they are (its preprocess does `1.0 - is_terminal`)
            post_o, _, metrics_o = theirs._train(
                dict(data) if dreamer else {k: torch.as_tensor(v) for k, v in data.items()}
            )
    return ours, theirs, post, post_o, metrics, metrics_o, grads_o


def check(
    original: Original,
    presets: list[str],
    space: dict[str, tuple],
    label: str,
    overrides: dict[str, str] | None = None,
    actions: int = 4,
) -> list[Row]:
    config = build_config(presets, {"warmup_steps": "0", **(overrides or {})})
    ours, theirs, post, post_o, metrics, metrics_o, grads_o = _update(original, config, space, actions, False)
    rows = []
    for key in [k for k in space] + ["reward", "cont"]:
        rows.append(
            row(
                GROUP,
                f"{label}: {key} loss",
                torch.as_tensor(metrics[f"{key}_loss"]),
                torch.as_tensor(metrics_o[f"{key}_loss"]),
            )
        )
    for key in ("dyn_loss", "rep_loss", "prior_ent", "post_ent", "model_loss", "model_grad_norm"):
        rows.append(row(GROUP, f"{label}: {key}", torch.as_tensor(metrics[key]), torch.as_tensor(metrics_o[key])))
    rows.append(
        worst(
            GROUP,
            f"{label}: gradient of the total loss, every parameter",
            rows_for(GROUP, "grad", wm_map(ours, theirs, grad=True), grads_o),
        )
    )
    rows.append(row(GROUP, f"{label}: posterior for imagination, deter", post["deter"], post_o["deter"]))
    rows.append(row(GROUP, f"{label}: posterior for imagination, stoch", post["stoch"], post_o["stoch"]))
    rows.append(
        after_step(
            GROUP, label, wm_map(ours, theirs), dict(theirs.named_parameters()), grads_o, tolerance=FP32_STEP_TOLERANCE
        )
    )
    ours, theirs, *_, grads_o = _update(original, config, space, actions, True)
    rows.append(
        after_step(
            GROUP, label + ", fp64", wm_map(ours, theirs), dict(theirs.named_parameters()), grads_o, noise_floor=None
        )
    )
    if config.dynamics_model == "rssm" and "image" in space:  # D19: its dreamer mode's own [0, 1] images
        unit = build_config(presets, {"warmup_steps": "0", **(overrides or {}), "image_range": "unit"})
        ours, theirs, *_, grads_o = _update(original, unit, space, actions, False)
        rows.append(
            after_step(
                GROUP,
                label + ", image_range: unit (its dreamer mode's [0, 1])",
                wm_map(ours, theirs),
                dict(theirs.named_parameters()),
                grads_o,
                tolerance=FP32_STEP_TOLERANCE,
            )
        )
    return rows


def _real(x: torch.Tensor) -> torch.Tensor:
    x = x.detach()
    return torch.view_as_real(x) if x.is_complex() else x


def after_step(
    group: str,
    label: str,
    ours: dict[str, torch.Tensor],
    theirs: dict[str, torch.Tensor],
    grads: dict[str, torch.Tensor],
    noise_floor: float | None = NOISE_FLOOR,
    tolerance: float = TOLERANCE,
) -> Row:
    """Every parameter after an Adam(W) step, per tensor (normwise); the row is the worst tensor.

    In fp32, Adam's first step moves an entry by lr * g / (|g| + eps), about lr * sign(g) whatever the gradient's
    size, so an entry whose gradient is within float32 noise of zero (the gradients agree to ~1e-6 of their
    tensor's largest, the rows above) moves by +-lr on either side, and one near eps moves by a noisy fraction
    of lr. There, entries with |g| <= noise_floor * max |g| of their tensor are left out and counted, and the
    tolerance is FP32_STEP_TOLERANCE. The fp64 run (noise_floor None) compares every entry at 1e-5."""
    rows, skipped, total = [], 0, 0
    for name, value in ours.items():
        a, b = _real(value), _real(theirs[name])
        grad = _real(grads[name]).abs() if name in grads else torch.ones_like(b)
        keep = grad > noise_floor * grad.max() if noise_floor is not None else torch.ones_like(grad, dtype=torch.bool)
        skipped, total = skipped + int((~keep).sum()), total + keep.numel()
        max_abs = (a - b)[keep].abs().max().item() if keep.any() else 0.0
        scale = b.abs().max().item()
        rows.append(Row(group, name, max_abs, max_abs / scale if scale else 0.0))
    folded = worst(group, "", rows)
    note = (
        f"worst of {len(rows)} tensors; {skipped} of {total} entries with |g| <= {noise_floor:g} max|g| of "
        "their tensor left out"
        if noise_floor is not None
        else f"worst of {len(rows)} tensors, every entry"
    )
    return Row(
        group, f"{label}: every parameter after the optimiser step", folded.max_abs, folded.max_rel, tolerance, note
    )
