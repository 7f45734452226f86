"""One whole training call of each level of the 3-level agent: our `Level.train_step` against the original's
`SubActor._train` (world model, then actor and critics in imagination with the level's rewards, then the subgoal
autoencoder on the imagined states), from the same weights, batch and draws. The agent's `train` is these calls,
each level on its own batch from its own replay.

The original trains this call only from 77fbc14 on (HEAD), where the autoencoder's input is detached; at the
paper-era commit the call fails (its autoencoder backpropagates into the imagined states), which the row records. Give
a HEAD checkout to compare (docs/parity.md). Names: the world model, actor-critic and autoencoder maps of
parity.training, parity.actor_critic and parity.subgoal under `_wm.`, `_task_behavior.` and `subgoal_autoencoder.`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hieros.agent.level as level_module
from hieros.agent.build import make_learning_agent
from hieros.config import Config, build_config
from hieros.envs.base import ActSpace
from parity.actor_critic import ac_map, random_heads
from parity.compare import Row, row
from parity.configs import original_config
from parity.original import Original, categorical_sampler, copy_into, double_inputs, precision, to_double
from parity.subgoal import ae_map, original_hieros_module
from parity.training import FLAGS, FP32_STEP_TOLERANCE, after_step, capture_grads, make_batch, wm_map

GROUP = "level-0 training call"


def _subactor(
    original: Original, config: Config, space: dict[str, tuple], actions: int, index: int, traindir: Path
) -> Any:
    """Level `index` as the original's Hieros builds it: level 0 without a novelty critic when
    novelty_only_higher_level; higher levels with MLP encoders, one-hot-row actions, and no subgoal at the top."""
    embodied = __import__("embodied")
    oconfig = original_config(original, config, actions)
    oconfig.traindir = traindir
    oconfig.data_loaders = 0
    module = original_hieros_module(original)
    subgoal_shape = tuple(oconfig.subgoal_shape)
    if index == 0:
        if oconfig.novelty_only_higher_level:
            oconfig.novelty_reward_weight = 0
        oconfig.action_shape = None
        obs_space = {key: embodied.Space(dtype, shape) for key, (shape, dtype) in {**space, **FLAGS}.items()}
        act_space = {"action": embodied.Space(np.float32, (actions,), -1.0, 1.0)}
    else:  # as Hieros._create_subactor
        oconfig.encoder.update(mlp_keys=".*", cnn_keys="$^")
        oconfig.decoder.update(mlp_keys=".*", cnn_keys="$^")
        oconfig.num_actions = int(np.prod(subgoal_shape))
        oconfig.use_subgoal = index < config.max_hierarchy - 1
        oconfig.actor_dist = "onehot_categorical"
        oconfig.action_shape = subgoal_shape
        obs_space = {key: embodied.Space(np.float32, shape) for key, (shape, _) in space.items()}
        act_space = {"action": embodied.Space(np.float32, subgoal_shape)}
    replay = module.make_replay(oconfig, traindir / "replay")
    return module.SubActor(
        f"Subactor-{index}",
        obs_space,
        act_space,
        subgoal_shape,
        oconfig,
        replay,
        compute_subgoal=index < config.max_hierarchy - 1,
    )


def level_batch(
    config: Config, space: dict[str, tuple], width: int, index: int, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A (2, 10) batch for level `index` as the original's replay gives it (codes as rows x classes) and as ours
    does (codes flat): above level 0, a lower level's latents as observations and one-hot-row codes as actions."""
    data = make_batch(space, 2, 10, width, config.dyn_deter)
    rows, classes = config.subgoal_shape
    if index:
        data["stoch"] = (np.random.default_rng(7 + seed).random(data["stoch"].shape) < 0.1).astype(np.uint8)
        data["action"] = np.eye(classes, dtype=np.float32)[
            np.random.default_rng(6 + seed).integers(0, classes, (2, 10, rows))
        ].reshape(2, 10, rows * classes)
    rng = np.random.default_rng(5 + seed)
    data["subgoal"] = rng.normal(size=data["subgoal"].shape).astype(np.float32)
    data["encoded_subgoal"] = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, (2, 10, rows))]
    return data, {**data, "encoded_subgoal": data["encoded_subgoal"].reshape(2, 10, rows * classes)}


def full_map(level: Any, theirs: Any) -> dict[str, torch.Tensor]:
    wm = wm_map(level.world_model, theirs._wm)  # _task_behavior._world_model is the same module as _wm
    return {
        **{f"_wm.{k}": v for k, v in wm.items()},
        **{f"_task_behavior.{k}": v for k, v in ac_map(level.actor_critic).items()},
        **{f"subgoal_autoencoder.{k}": v for k, v in ae_map(level.autoencoder).items()},
    }


def _call(original: Original, config: Config, space: dict[str, tuple], actions: int, index: int, fp64: bool) -> tuple:
    continuous = config.actor_dist != "onehot"
    act_space = ActSpace(discrete=False, shape=(actions,)) if continuous else ActSpace(discrete=True, n=actions)
    with precision(original, fp64), tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        agent = make_learning_agent(config, {**space, **FLAGS}, act_space)
        level = agent.levels[index]
        space = space if index == 0 else {k: v for k, v in agent._encoded_space().items() if k not in FLAGS}
        width = actions if index == 0 else level.action_dim
        random_heads(level.world_model, level.actor_critic)
        theirs = _subactor(original, config, space, actions, index, Path(tmp))
        if fp64:
            for module in (level.world_model, level.actor_critic, level.autoencoder):
                if module is not None:
                    module.double()
            to_double(theirs)
            theirs._wm.preprocess = double_inputs(theirs._wm.preprocess)
            for ema in theirs._task_behavior.reward_ema.values():
                ema.values, ema.range = ema.values.double(), ema.range.double()
        copy_into(theirs, full_map(level, theirs))
        data, ours_data = level_batch(config, space, width, index)
        level.replay.sample = lambda batch_size: ours_data
        grads_o: dict[str, torch.Tensor] = {}
        optimisers = (
            theirs._wm._model_opt,
            theirs._task_behavior._actor_opt,
            *theirs._task_behavior._value_opts.values(),
            theirs.subgoal_autoencoder._model_opt,
        )
        for opt in optimisers:
            capture_grads(opt._opt, theirs, grads_o)
        preprocess = level_module.preprocess
        if fp64:  # our Level reads its batch through preprocess, which returns float32
            level_module.preprocess = double_inputs(preprocess)
        try:
            with categorical_sampler():
                torch.manual_seed(31)
                metrics = level.train_step()
                torch.manual_seed(31)
                metrics_o = theirs._train({k: torch.as_tensor(v) for k, v in data.items()})
        finally:
            level_module.preprocess = preprocess
    return level, theirs, metrics, metrics_o, grads_o


def check(
    original: Original,
    presets: list[str],
    space: dict[str, tuple],
    label: str,
    overrides: dict[str, str] | None = None,
    actions: int = 4,
    index: int = 0,
) -> list[Row]:
    """Level `index` of the 3-level agent: one training call, the losses and every parameter after it."""
    config = build_config(presets, {"warmup_steps": "0", "max_hierarchy": "3", **(overrides or {})})
    label = f"level {index}, {label}"
    try:
        level, theirs, metrics, metrics_o, grads_o = _call(original, config, space, actions, index, False)
    except RuntimeError as error:  # the paper-era commit: the autoencoder backpropagates into imagined states
        known = ("backward through the graph a second time", "modified by an inplace operation")
        if not any(text in str(error) for text in known):
            raise
        return [
            Row(
                GROUP,
                f"{label}: the original's call",
                0.0,
                0.0,
                note=f"RuntimeError: {str(error)[:60]}...; "
                "fixed upstream in 77fbc14 (the autoencoder's input detached): give a HEAD checkout",
                outcome="original raises",
            )
        ]
    rows = []
    keys = ["model_loss", "actor_loss", *(f"value_{head}_loss" for head in level.heads), "subgoal_autoencoder_loss"]
    for key in keys:
        if key == "subgoal_autoencoder_loss" and level.autoencoder is None:
            continue
        rows.append(row(GROUP, f"{label}: {key}", torch.as_tensor(metrics[key]), torch.as_tensor(metrics_o[key])))
    params = dict(theirs.named_parameters())
    rows.append(after_step(GROUP, label, full_map(level, theirs), params, grads_o, tolerance=FP32_STEP_TOLERANCE))
    level, theirs, *_, grads_o = _call(original, config, space, actions, index, True)
    rows.append(
        after_step(
            GROUP,
            label + ", fp64",
            full_map(level, theirs),
            dict(theirs.named_parameters()),
            grads_o,
            noise_floor=None,
        )
    )
    return rows
