"""S5WM parity: our S5Dynamics against the original's `Seq2SeqDynamics` (observe, imagination, gradients).

Name map, ours -> original:
  inp.hidden.*      -> _inp_layers.*         (Linear no bias, LayerNorm eps 1e-3, act)
  seq.blocks.i.*    -> _seq_model.i.*        (parity.s5.block_map)
  seq_out, state_out -> _seq_output, _state_out
  img_out.hidden.*  -> _img_out_layers.*;   img_stat -> _ims_stat_layer
  obs_out.hidden.*  -> _obs_out_layers.*;   obs_stat -> _obs_stat_layer
  initial_param     -> W
Both sides draw their categorical samples from the same uniforms (parity.original.categorical_sampler).
"""

from __future__ import annotations

from typing import Any

import torch

from hieros.agent.s5_dynamics import S5Dynamics
from hieros.config import build_config
from parity.compare import Row, row, rows_for, worst
from parity.configs import original_config
from parity.original import Original, categorical_sampler, copy_into, grads_of, renamed
from parity.s5 import block_map

GROUP = "S5WM"
S5WM_RULES = [
    ("inp.hidden.", "_inp_layers."),
    ("seq_out.", "_seq_output."),
    ("state_out.", "_state_out."),
    ("img_out.hidden.", "_img_out_layers."),
    ("img_stat.", "_ims_stat_layer."),
    ("obs_out.hidden.", "_obs_out_layers."),
    ("obs_stat.", "_obs_stat_layer."),
    ("initial_param", "W"),
]


def s5wm_map(ours: S5Dynamics, prefix: str = "", grad: bool = False) -> dict[str, torch.Tensor]:
    out = {prefix + k: v for k, v in renamed(ours, S5WM_RULES, "S5WM", grad, skip=("seq.blocks.",)).items()}
    for i, block in enumerate(ours.seq.blocks):
        out.update(block_map(block, f"{prefix}_seq_model.{i}.", grad))
    return out


def _inputs(batch: int, length: int, embed_dim: int, actions: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    is_first = torch.rand(batch, length) < 0.1
    is_first[:, 0] = True
    return {
        "embed": torch.randn(batch, length, embed_dim),
        "action": torch.nn.functional.one_hot(torch.randint(actions, (batch, length)), actions).float(),
        "is_first": is_first,
    }


def check(
    original: Original,
    presets: list[str],
    overrides: dict[str, str],
    label: str,
    embed_dim: int = 48,
    actions: int = 5,
    horizon: int = 6,
) -> list[Row]:
    """observe (posterior, prior, deter, S5 states, entropy), H imagination steps, and the gradient of every
    parameter through observe, for one preset."""
    config = build_config(presets, {"s5.dropout": "0", **overrides})
    torch.manual_seed(0)
    ours = S5Dynamics(config, embed_dim, actions).eval()
    theirs = original.models.create_dynamics_model(
        original_config(original, config, actions), embed_dim, None, "cpu"
    ).eval()
    copy_into(theirs, s5wm_map(ours))
    data = _inputs(3, 17, embed_dim, actions)
    with categorical_sampler():
        torch.manual_seed(11)
        post, prior = ours.observe(data["embed"], data["action"], data["is_first"])
        torch.manual_seed(11)
        post_o, prior_o = theirs.observe(
            data["embed"].clone(), data["action"].clone(), data["is_first"].float().clone()
        )
    rows = [
        row(GROUP, f"{label}: observe, posterior sample", post["stoch"], post_o["stoch"]),
        row(GROUP, f"{label}: observe, posterior logits", post["logit"], post_o["logit"]),
        row(GROUP, f"{label}: observe, prior logits", prior["logit"], prior_o["logit"]),
        row(GROUP, f"{label}: observe, prior sample", prior["stoch"], prior_o["stoch"]),
        row(GROUP, f"{label}: observe, deter", post["deter"], post_o["deter"]),
        row(GROUP, f"{label}: observe, S5 states", post["state"], post_o["state"]),
        row(GROUP, f"{label}: observe, posterior entropy", ours.entropy(post), post_o["entropy"]),
    ]
    weights = [torch.randn_like(t) for t in (post["deter"], post["logit"], prior["logit"], prior["stoch"])]

    def objective(p: dict[str, torch.Tensor], q: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = (p["deter"], p["logit"], q["logit"], q["stoch"])
        return sum((t * w).sum() for t, w in zip(parts, weights, strict=True))

    objective(post, prior).backward()
    objective(post_o, prior_o).backward()
    rows.append(
        worst(
            GROUP,
            f"{label}: observe, gradient of every parameter",
            rows_for(GROUP, "grad", s5wm_map(ours, grad=True), grads_of(theirs)),
        )
    )
    rows += _imagine(ours, theirs, post, post_o, actions, horizon, label)
    return rows


@torch.no_grad()
def _imagine(
    ours: S5Dynamics, theirs: Any, post: dict, post_o: dict, actions: int, horizon: int, label: str
) -> list[Row]:
    flat = lambda state: {k: state[k].detach().flatten(0, 1) for k in ("stoch", "deter", "state")}  # noqa: E731
    state, state_o = flat(post), flat(post_o)
    torch.manual_seed(5)
    plan = torch.nn.functional.one_hot(torch.randint(actions, (horizon, len(state["deter"]))), actions).float()
    steps: dict[str, list[Row]] = {"deter": [], "logit": [], "stoch": [], "state": []}
    with categorical_sampler():
        for t in range(horizon):
            torch.manual_seed(100 + t)
            state = ours.img_step(state, plan[t])
            torch.manual_seed(100 + t)
            state_o = theirs.img_step(state_o, plan[t].clone())
            for key in steps:
                steps[key].append(row(GROUP, key, state[key], state_o[key]))
    return [worst(GROUP, f"{label}: imagination, {key} over {horizon} steps", found) for key, found in steps.items()]
