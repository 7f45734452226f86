"""One whole training call of the 3-level agent: our `Hieros.train_step` against the original's `Hieros.train`
(HEAD), twice, from the same weights, with each level's own batch and the same draws.

The first call trains every level (level i trains every 4^i calls), the second only level 0; both sides must
pick the same levels, give the same losses, and leave every parameter of every level equal. Each level's weights,
batch and reward heads are set up as in parity.level (which checks one level's call alone); here the levels run
in one call, in the original's order, from one seed, so the order of the levels' random draws and the schedule are
checked too (ours draws one unused sample fewer per imagination, which is drawn here: _draw_the_last_imagination_step).
The original's levels are made by its own `_create_subactor`.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hieros.agent.level as level_module
from hieros.agent.build import make_learning_agent
from hieros.config import Config, build_config
from hieros.envs.base import ActSpace
from parity.acting import original_agent
from parity.actor_critic import random_heads
from parity.compare import Row, decided_by_fp64, row, worst
from parity.level import full_map, level_batch
from parity.original import Original, categorical_sampler, double_inputs, precision
from parity.training import FLAGS, FP32_STEP_TOLERANCE, after_step, capture_grads

GROUP = "3-level training call"
LEVELS = 3
IMAGE = {"image": ((64, 64, 3), np.uint8)}


class _Batches:
    """A replay that holds `size` rows and always gives `data` (ours: `sample`; the original: its dataset)."""

    def __init__(self, data: dict[str, Any], size: int):
        self.data, self.size = data, size

    def __len__(self) -> int:
        return self.size

    def sample(self, batch_size: int) -> dict[str, Any]:
        return self.data


def _draw_the_last_imagination_step(level: Any, config: Config) -> None:
    """The original's imagination makes one more prior step than ours, the step after the last action, whose state
    it discards: one categorical sample (one uniform per stoch row and start) that ours does not draw. Results are
    equal (parity.actor_critic), but every later draw of the call would be shifted, so ours draws it here too."""
    train_step = level.actor_critic.train_step

    def aligned(world_model: Any, start: dict[str, torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        out = train_step(world_model, start, *args, **kwargs)
        torch.rand(start["deter"].shape[:2].numel(), config.dyn_stoch, 1)
        return out

    level.actor_critic.train_step = aligned


def _agents(original: Original, config: Config, traindir: Path, fp64: bool, actions: int = 4) -> tuple[Any, Any]:
    torch.manual_seed(0)
    ours = make_learning_agent(config, {**IMAGE, **FLAGS}, ActSpace(discrete=True, n=actions))
    for level in ours.levels:
        random_heads(level.world_model, level.actor_critic)
    theirs = original_agent(original, config, IMAGE, actions, traindir, ours, fp64)
    for _ in range(LEVELS - 1):
        theirs._create_subactor()
    for i, (level, subactor) in enumerate(zip(ours.levels, theirs._subactors, strict=True)):
        space = IMAGE if i == 0 else {k: v for k, v in ours._encoded_space().items() if k not in FLAGS}
        data, ours_data = level_batch(config, space, actions if i == 0 else level.action_dim, i, seed=10 * i)
        level.replay = _Batches(ours_data, config.batch_size)
        _draw_the_last_imagination_step(level, config)
        subactor._replay = _Batches(data, config.batch_size)
        subactor._dataset = itertools.repeat({k: torch.as_tensor(v) for k, v in data.items()})
        if fp64:
            for module in (level.world_model, level.actor_critic, level.autoencoder):
                if module is not None:
                    module.double()
            subactor._wm.preprocess = double_inputs(subactor._wm.preprocess)
    if fp64:
        for subactor in theirs._subactors:
            for ema in subactor._task_behavior.reward_ema.values():
                ema.values, ema.range = ema.values.double(), ema.range.double()
    return ours, theirs


def _grads(theirs: Any) -> list[dict[str, torch.Tensor]]:
    """Per level, every parameter's clipped gradient as its optimisers step (refreshed at every step)."""
    grads: list[dict[str, torch.Tensor]] = []
    for subactor in theirs._subactors:
        into: dict[str, torch.Tensor] = {}
        behavior = subactor._task_behavior
        for opt in (
            subactor._wm._model_opt,
            behavior._actor_opt,
            *behavior._value_opts.values(),
            subactor.subgoal_autoencoder._model_opt,
        ):
            capture_grads(opt._opt, subactor, into)
        grads.append(into)
    return grads


def _imagined(ours: Any, theirs: Any, into: dict[tuple[str, int], torch.Tensor]) -> None:
    """Keep each side's imagined stoch samples of every level's last actor-critic update."""
    for i, (level, subactor) in enumerate(zip(ours.levels, theirs._subactors, strict=True)):
        update, update_o = level.actor_critic.train_step, subactor._task_behavior._train

        def ours_(*args: Any, update: Any = update, i: int = i, **kwargs: Any) -> Any:
            out = update(*args, **kwargs)
            into["ours", i] = out[1]["stoch"].detach().clone()
            return out

        def theirs_(*args: Any, update: Any = update_o, i: int = i, **kwargs: Any) -> Any:
            out = update(*args, **kwargs)
            into["theirs", i] = out[1]["stoch"].detach().clone()
            return out

        level.actor_critic.train_step, subactor._task_behavior._train = ours_, theirs_


def _flips(imagined: dict[tuple[str, int], torch.Tensor]) -> dict[int, tuple[int, int]]:
    """{level: (imagined one-hot rows that differ, the imagination step of the first)} where any differ."""
    out = {}
    for (side, i), ours in imagined.items():
        if side != "ours" or ("theirs", i) not in imagined:
            continue
        differ = (ours != imagined["theirs", i].reshape(ours.shape)).any(-1)
        if differ.any():
            out[i] = (int(differ.sum()), int(differ.nonzero()[0, 0]))
    return out


def _calls(original: Original, config: Config, fp64: bool, calls: int) -> list[dict[str, Any]]:
    """Both agents through `calls` training calls; after each, what each trained and every parameter."""
    out = []
    preprocess = level_module.preprocess
    with precision(original, fp64), tempfile.TemporaryDirectory() as tmp:
        ours, theirs = _agents(original, config, Path(tmp), fp64)
        grads = _grads(theirs)
        imagined: dict[tuple[str, int], torch.Tensor] = {}
        _imagined(ours, theirs, imagined)
        if fp64:  # our Level reads its batch through preprocess, which returns float32
            level_module.preprocess = double_inputs(preprocess)
        try:
            for call in range(calls):
                for into in grads:
                    into.clear()
                imagined.clear()
                with categorical_sampler():
                    torch.manual_seed(31 + call)
                    metrics = ours.train_step()
                    torch.manual_seed(31 + call)
                    _, _, metrics_o = theirs.train()
                maps = [full_map(level, sub) for level, sub in zip(ours.levels, theirs._subactors, strict=True)]
                params = [dict(sub.named_parameters()) for sub in theirs._subactors]
                out.append(
                    {
                        "metrics": metrics,
                        "metrics_o": metrics_o,
                        "maps": [{k: v.detach().clone() for k, v in m.items()} for m in maps],
                        "params": [{k: v.detach().clone() for k, v in p.items()} for p in params],
                        "grads": [dict(g) for g in grads],
                        "flips": _flips(imagined),
                    }
                )
        finally:
            level_module.preprocess = preprocess
    return out


def _trained(metrics: dict[str, Any], prefix: str) -> list[int]:
    return sorted({i for i in range(LEVELS) for key in metrics if key.startswith(f"{prefix}{i}/")})


def _losses(name: str, result: dict[str, Any], levels: list[int]) -> Row:
    losses = []
    for i in levels:
        for key, value in result["metrics"].items():
            if key.startswith(f"level_{i}/") and key.endswith("_loss"):
                other = result["metrics_o"].get(f"Subactor-{i}/{key.split('/', 1)[1]}")
                if other is not None:
                    losses.append(row(GROUP, key, torch.as_tensor(value), torch.as_tensor(other)))
    return worst(GROUP, f"{name}: every loss of every level it trains", losses)


def _parameters(name: str, result: dict[str, Any], fp64: bool) -> Row:
    per_level = [
        after_step(
            GROUP,
            f"level {i}",
            result["maps"][i],
            result["params"][i],
            result["grads"][i],
            **({"noise_floor": None} if fp64 else {"tolerance": FP32_STEP_TOLERANCE}),
        )
        for i in range(LEVELS)
    ]
    folded = worst(GROUP, "", per_level)
    notes = "; ".join(f"level {i}: {r.note}" for i, r in enumerate(per_level))
    return Row(
        GROUP,
        f"{name}: every parameter of every level after the call",
        folded.max_abs,
        folded.max_rel,
        per_level[0].tolerance,
        notes,
    )


def _explained(fp32: Row, flips: dict[int, tuple[int, int]], fp64_equal: bool) -> Row:
    """An fp32 row that differs only because an imagined categorical sample fell within float32 noise of a class
    boundary and came out differently (then that trajectory diverges), while the same call in fp64 is equal."""
    if fp32.passed or not flips or not fp64_equal:
        return fp32
    where = ", ".join(f"level {i}: {n} rows from imagination step {t}" for i, (n, t) in sorted(flips.items()))
    return dataclasses.replace(
        fp32, outcome=f"explained: fp32 noise flips an imagined sample ({where}); the fp64 rows are equal"
    )


def check(original: Original, presets: list[str], label: str, calls: int = 2) -> list[Row]:
    """Two calls in fp32 (the levels trained, every loss, every parameter after) and in fp64 (every parameter)."""
    config = build_config(presets, {"warmup_steps": "0", "max_hierarchy": str(LEVELS)})
    fp32, fp64 = _calls(original, config, False, calls), _calls(original, config, True, calls)
    rows, fp64_rows = [], [_parameters(f"{label}, fp64, call {c}", r, True) for c, r in enumerate(fp64)]
    flips: dict[int, tuple[int, int]] = {}  # a flip in one call stays in that level's parameters after it
    for call, result in enumerate(fp32):
        flips.update(result["flips"])
        name = f"{label}, call {call}"
        ours_levels = _trained(result["metrics"], "level_")
        differ = float(ours_levels != _trained(result["metrics_o"], "Subactor-"))
        rows.append(Row(GROUP, f"{name}: the levels it trains", differ, differ, 0.0, f"ours {ours_levels}"))
        rows.append(_explained(_losses(name, result, ours_levels), flips, fp64_rows[call].passed))
        parameters = _explained(_parameters(name, result, False), flips, fp64_rows[call].passed)
        rows.append(decided_by_fp64(parameters, fp64_rows[call]))
    return rows + fp64_rows


def checks(original: Original) -> list[Row]:
    rows = []
    for presets, label in ((["atari100k", "debug"], "atari100k debug"), (["atari100k"], "atari100k")):
        rows += check(original, presets, label)
    return rows
