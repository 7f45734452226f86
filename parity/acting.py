"""Acting parity: the original's whole `Hieros.policy` against our `Hieros.policy`, step by step, with 3 levels.

Both agents start from the same weights (each of the original's levels gets ours as its own `_create_subactor`
makes it, lazily, at policy steps 1 and 2, with torch's generator restored after its random initialisation), see
the same observations (two episodes: the first ends terminal, the second by a time limit) and draw from the same
uniforms (torch reseeded before every step on both sides; the categorical sampler patched as everywhere,
parity.original). At every step and level they are compared on: whether
the level acts (every 4^i steps once its history of 4 lower latents is full), the features its actor reads and the
held code of the level above that it is conditioned on, its action probabilities, the action it picks, and the
latent it carries to the next step (deter, stoch, the S5 state), also across the episode boundary, where both zero
the latents and held codes. In "eval" mode both act by the mode of their action distributions.

The original runs as its train.py sets it up (`set_eval()` before acting, one environment); its levels' replays
are real and written to a temporary folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hieros.agent.build import make_learning_agent
from hieros.config import Config, build_config
from hieros.envs.base import ActSpace
from parity.compare import Row, expected_difference, row, worst
from parity.configs import original_config
from parity.level import full_map
from parity.original import Original, categorical_sampler, copy_into, precision, to_double
from parity.subgoal import original_hieros_module
from parity.training import FLAGS

GROUP = "acting"
EPISODE = 70  # steps per episode; two episodes
LEVELS = 3


def observations(space: dict[str, tuple], episodes: int = 2, length: int = EPISODE) -> list[dict[str, np.ndarray]]:
    """One environment's observations: `episodes` episodes of `length` steps; the first ends terminal, the others
    by a time limit (is_last without is_terminal)."""
    rng = np.random.default_rng(11)
    out = []
    for episode in range(episodes):
        for k in range(length):
            obs = {
                key: rng.integers(0, 255, (1, *shape), dtype=np.uint8)
                if dtype == np.uint8
                else rng.normal(size=(1, *shape)).astype(np.float32)
                for key, (shape, dtype) in space.items()
            }
            last = k == length - 1
            obs.update(
                reward=rng.normal(size=1).astype(np.float32),
                is_first=np.array([k == 0]),
                is_last=np.array([last]),
                is_terminal=np.array([last and episode == 0]),
            )
            out.append(obs)
    return out


def _probs(dist: Any) -> torch.Tensor:
    """The action probabilities of either side's distribution, flat over the last axes of one action."""
    inner = getattr(dist, "_dist", dist)  # the original's FlattenDist wraps its OneHotDist
    return inner.probs.detach().reshape(inner.probs.shape[0], -1).clone()


def _record_ours(level: Any, index: int, calls: list[dict]) -> None:
    policy = level.actor_critic.policy

    def recording(feat: torch.Tensor, goal: torch.Tensor | None) -> Any:
        dist = policy(feat, goal)
        calls.append({"level": index, "feat": feat.clone(), "goal": goal, "probs": _probs(dist)})
        return dist

    level.actor_critic.policy = recording


def _record_theirs(subactor: Any, index: int, calls: list[dict]) -> None:
    def hook(module: Any, inputs: tuple, dist: Any) -> None:
        feat, goal = inputs[0], inputs[1] if len(inputs) > 1 else None
        goal = goal.reshape(goal.shape[0], -1).clone() if module._use_subgoal else None
        calls.append({"level": index, "feat": feat.clone(), "goal": goal, "probs": _probs(dist)})

    subactor._task_behavior.actor.register_forward_hook(hook)


def original_agent(
    original: Original, config: Config, space: dict, actions: int, traindir: Path, ours: Any, fp64: bool = False
) -> Any:
    """The original's Hieros for the same run (`ours`: our agent), each level's weights copied from ours as the
    level is created (in double precision with `fp64`); every actor call it makes is appended to its `calls`."""
    embodied = __import__("embodied")
    module = original_hieros_module(original)
    oconfig = original_config(original, config, actions)
    oconfig.traindir = traindir
    oconfig.data_loaders = 0
    oconfig.subgoal_shape = tuple(oconfig.subgoal_shape)  # its train.py's argparse makes YAML lists tuples
    obs_space = {key: embodied.Space(dtype, shape) for key, (shape, dtype) in {**space, **FLAGS}.items()}
    act_space = {"action": embodied.Space(np.float32, (actions,), 0.0, 1.0)}
    theirs = module.Hieros(obs_space, act_space, oconfig, module.make_replay(oconfig, traindir / "replay"))
    theirs.calls = []
    create = theirs._create_subactor

    def adopt(index: int) -> None:
        subactor = theirs._subactors[index]
        if fp64:  # before the copy, which casts to the original's dtypes (complex64 S5 parameters otherwise)
            to_double(subactor)
        copy_into(subactor, full_map(ours.levels[index], subactor))
        _record_theirs(subactor, index, theirs.calls)

    def create_and_copy() -> None:
        draws = torch.get_rng_state()  # its initialisation (then overwritten by ours) must not shift the step's draws
        create()
        torch.set_rng_state(draws)
        adopt(len(theirs._subactors) - 1)

    theirs._create_subactor = create_and_copy
    adopt(0)
    theirs.requires_grad_()
    theirs.set_eval()  # as its train.py does before acting
    return theirs


def _latent_rows(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> list[tuple]:
    """Copies, flat per environment: the original later updates its S5 state in place (img_step writes the new
    layer states into the previous latent's tensor) and masks it in place at episode ends."""
    return [
        (ours[key].reshape(ours[key].shape[0], -1).clone(), theirs[key].reshape(theirs[key].shape[0], -1).clone())
        for key in ("deter", "stoch", "state")
    ]


def alias_history_at_episode_ends(ours: Any, state_of: Callable[[], dict]) -> None:
    """Make ours do what the original's in-place masking does to a higher level's history (D20): the entry a level
    appended at the step an episode ends holds views of the lower latent (`encode_obs` detaches and reshapes, it does
    not copy), which `SubActor.__call__` then zeroes in place, so the entry's stoch (and its deter unless that was
    symlogged into a new tensor) reads 0 from then on. Ours keeps the entry as it was appended."""
    mask = ours._mask

    def aliasing(current: dict, ended: np.ndarray) -> None:
        mask(current, ended)
        levels, step = state_of()["levels"], state_of()["step"]
        below = next(i for i, level in enumerate(levels) if level is current)
        if below + 1 < len(levels) and step % ours.act_period(below) == 0 and levels[below + 1]["history"]:
            entry, keep = levels[below + 1]["history"][-1], torch.as_tensor(~ended)[:, None]
            keys = ("stoch",) if ours.config.symlog_subactor_obs else ("stoch", "deter")
            levels[below + 1]["history"][-1] = {k: v * keep.to(v.dtype) if k in keys else v for k, v in entry.items()}

    ours._mask = aliasing


def run(
    original: Original, config: Config, space: dict, mode: str, actions: int = 4, alias: bool = True
) -> dict[str, Any]:
    """Both agents over the two episodes; per step and level what each did. `alias`: ours reproduces the
    original's D20 (alias_history_at_episode_ends)."""
    trace: dict[str, Any] = {"acted": [], "latent": [[] for _ in range(LEVELS)], "action": [[] for _ in range(LEVELS)]}
    with precision(original, False), tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        ours = make_learning_agent(config, {**space, **FLAGS}, ActSpace(discrete=True, n=actions))
        with torch.no_grad():  # zero-initialised heads would leave the actors uniform
            for level in ours.levels:
                level.actor_critic.actor.net.out.weight.normal_(0.0, 0.3)
        theirs = original_agent(original, config, space, actions, Path(tmp), ours)
        calls_ours: list[dict] = []
        for index, level in enumerate(ours.levels):
            _record_ours(level, index, calls_ours)
        state, state_o = ours.initial_state(1), None
        if alias:
            alias_history_at_episode_ends(ours, lambda: state)
        with categorical_sampler():
            for t, obs in enumerate(observations(space)):
                before, before_o = len(calls_ours), len(theirs.calls)
                torch.manual_seed(1000 + t)
                _, state = ours.policy({k: v.copy() for k, v in obs.items()}, state, mode)
                torch.manual_seed(1000 + t)
                _, state_o = theirs.policy({k: v.copy() for k, v in obs.items()}, state_o, mode)
                new, new_o = calls_ours[before:], theirs.calls[before_o:]
                trace["acted"].append(([c["level"] for c in new], [c["level"] for c in new_o]))
                for call, call_o in zip(new, new_o, strict=False):
                    trace.setdefault("calls", []).append((call, call_o))
                for i in range(LEVELS):
                    if i < len(state_o) and state_o[i] is not None:
                        latent_o, action_o = state_o[i]
                        trace["latent"][i] += _latent_rows(state["levels"][i]["latent"], latent_o)
                        trace["action"][i].append((state["levels"][i]["action"].clone(), action_o.clone()))
    return trace


def _pairs_row(label: str, pairs: list, what: str) -> Row:
    if not pairs:
        return Row(GROUP, label, float("inf"), float("inf"), note=f"no {what} to compare")
    ours, theirs = (torch.cat([p[k].reshape(1, -1) for p in pairs]) for k in (0, 1))
    return row(GROUP, label, ours, theirs.to(ours.dtype), note=f"{len(pairs)} {what}")


def check(
    original: Original,
    presets: list[str],
    label: str,
    mode: str = "train",
    overrides: dict[str, str] | None = None,
    alias: bool = True,
) -> list[Row]:
    """Every row of one acting run (`mode` "train" samples, "eval" takes modes)."""
    config = build_config(presets, {"max_hierarchy": str(LEVELS), **(overrides or {})})
    space = {"image": ((64, 64, 3), np.uint8)}
    trace = run(original, config, space, mode, alias=alias)
    steps = len(trace["acted"])
    mismatched = sum(sorted(a) != sorted(b) for a, b in trace["acted"])
    first = {i: next((t for t, (a, _) in enumerate(trace["acted"]) if i in a), None) for i in range(LEVELS)}
    rows = [
        Row(
            GROUP,
            f"{label}: which levels act at each of {steps} steps",
            float(mismatched),
            float(mismatched) / steps,
            0.0,
            f"steps that differ; first acts at steps {', '.join(str(first[i]) for i in range(LEVELS))}",
        )
    ]
    calls = trace.get("calls", [])
    for i in range(LEVELS):
        mine = [(c["feat"], c_o["feat"]) for c, c_o in calls if c["level"] == i and c_o["level"] == i]
        goals = [(c["goal"], c_o["goal"]) for c, c_o in calls if c["level"] == i and c["goal"] is not None]
        probs = [(c["probs"], c_o["probs"]) for c, c_o in calls if c["level"] == i and c_o["level"] == i]
        rows.append(_pairs_row(f"{label}, level {i}: actor input features", mine, "actor calls"))
        if i < LEVELS - 1:
            held = f"{label}, level {i}: held code of level {i + 1} it is conditioned on"
            rows.append(_pairs_row(held, goals, "calls"))
        rows.append(_pairs_row(f"{label}, level {i}: action probabilities", probs, "actor calls"))
        picked = f"{label}, level {i}: action picked (held between its steps)"
        rows.append(_pairs_row(picked, trace["action"][i], "steps"))
        latents = trace["latent"][i]
        rows.append(
            worst(
                GROUP,
                f"{label}, level {i}: latent carried to the next step (deter, stoch, S5 state)",
                [row(GROUP, "", a, b.to(a.dtype)) for a, b in latents],
            )
        )
    return rows


def checks(original: Original) -> list[Row]:
    """Acting in training (sampled) and evaluation (modes), the paper's sizes and the debug preset, and the two
    differences of ours shown to be the only ones (each row fails if its difference goes away)."""
    rows: list[Row] = []
    for presets, label in ((["atari100k"], "atari100k"), (["atari100k", "debug"], "atari100k debug")):
        rows += check(original, presets, f"{label}, train")
        rows += check(original, presets, f"{label}, eval", mode="eval")
    debug = ["atari100k", "debug"]
    rows.append(
        expected_difference(
            GROUP,
            "atari100k debug, train, ours without the original's history aliasing: every quantity above",
            check(original, debug, "no aliasing", alias=False),
            "D20, the original zeroes in place the newest history entry's stoch at an episode end; fixed outright",
        )
    )
    rows.append(
        expected_difference(
            GROUP,
            "atari100k debug, eval, subgoal_eval_code onehot: every quantity above",
            check(original, debug, "onehot codes", mode="eval", overrides={"subgoal_eval_code": "onehot"}),
            "D21, the original hands down class probabilities in evaluation; the atari100k preset does too",
        )
    )
    return rows
