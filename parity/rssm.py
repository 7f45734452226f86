"""RSSM parity: our RSSM against the original's two GRU RSSMs, `networks_dreamer.RSSM` (its `--model_name=dreamer`
mode, NM512's port) and `networks.RSSM` (the `dynamics_model: rssm` ablation of HIEROS).

Name map, ours -> original: img_in.hidden.* -> _inp_layers.*; cell.linear -> _cell._layer; cell.norm ->
_cell._norm; img_out.hidden.* -> _img_out_layers.*; img_stat -> _ims_stat_layer; obs_out.hidden.* ->
_obs_out_layers.*; obs_stat -> _obs_stat_layer; initial_param -> W.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

from hieros.agent.rssm import RSSM
from hieros.config import build_config
from parity.compare import Row, row, rows_for, worst
from parity.configs import original_config
from parity.original import Original, categorical_sampler, copy_into, grads_of, renamed

GROUP = "RSSM"
RULES = [
    ("img_in.hidden.", "_inp_layers."),
    ("cell.linear.", "_cell._layer."),
    ("cell.norm.", "_cell._norm."),
    ("img_out.hidden.", "_img_out_layers."),
    ("img_stat.", "_ims_stat_layer."),
    ("obs_out.hidden.", "_obs_out_layers."),
    ("obs_stat.", "_obs_stat_layer."),
    ("initial_param", "W"),
]


def rssm_map(ours: RSSM, grad: bool = False) -> dict[str, torch.Tensor]:
    return renamed(ours, RULES, "RSSM", grad)


def _original_rssm(original: Original, module: str, config: Any, embed_dim: int) -> torch.nn.Module:
    networks = importlib.import_module(module)
    c = config
    return networks.RSSM(
        c.dyn_stoch,
        c.dyn_deter,
        c.dyn_hidden,
        c.dyn_input_layers,
        c.dyn_output_layers,
        c.dyn_rec_depth,
        c.dyn_shared,
        c.dyn_discrete,
        c.act,
        c.norm,
        c.dyn_mean_act,
        c.dyn_std_act,
        c.dyn_temp_post,
        c.dyn_min_std,
        c.dyn_cell,
        c.unimix_ratio,
        c.initial,
        c.num_actions,
        embed_dim,
        c.device,
    )


def check(
    original: Original,
    presets: list[str],
    module: str,
    label: str,
    resets: bool,
    embed_dim: int = 40,
    actions: int = 5,
    horizon: int = 5,
) -> list[Row]:
    """observe (posterior and prior samples and logits, deter), gradients through observe, and imagination.
    `resets`: episode starts inside the sequences (besides t = 0)."""
    config = build_config(presets, {"dynamics_model": "rssm"})
    torch.manual_seed(0)
    ours = RSSM(config, embed_dim, actions)
    theirs = _original_rssm(original, module, original_config(original, config, actions), embed_dim)
    copy_into(theirs, rssm_map(ours))
    torch.manual_seed(3)
    batch, length = 3, 14
    is_first = torch.zeros(batch, length, dtype=torch.bool)
    is_first[:, 0] = True
    if resets:
        is_first[:, [5, 9]] = True
    embed = torch.randn(batch, length, embed_dim)
    action = torch.nn.functional.one_hot(torch.randint(actions, (batch, length)), actions).float()
    with categorical_sampler():
        torch.manual_seed(11)
        post, prior = ours.observe(embed, action, is_first)
        torch.manual_seed(11)
        post_o, prior_o = theirs.observe(embed.clone(), action.clone(), is_first.float().clone())
    tag = f"{label}, {'resets inside the sequences' if resets else 'one episode per sequence'}"
    rows = [row(GROUP, f"{tag}: observe, {key}", post[key], post_o[key]) for key in ("stoch", "logit", "deter")]
    rows += [row(GROUP, f"{tag}: observe, prior {key}", prior[key], prior_o[key]) for key in ("stoch", "logit")]
    weights = [torch.randn_like(t) for t in (post["deter"], post["logit"], prior["logit"])]

    def objective(p: dict[str, torch.Tensor], q: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = (p["deter"], p["logit"], q["logit"])
        return sum((t * w).sum() for t, w in zip(parts, weights, strict=True))

    objective(post, prior).backward()
    objective(post_o, prior_o).backward()
    rows.append(
        worst(
            GROUP,
            f"{tag}: observe, gradient of every parameter",
            rows_for(GROUP, "grad", rssm_map(ours, grad=True), grads_of(theirs)),
        )
    )
    found = _imagination(ours, theirs, post, post_o, actions, horizon)
    rows.append(worst(GROUP, f"{tag}: imagination over {horizon} steps", found))
    return rows


def _imagination(
    ours: RSSM,
    theirs: torch.nn.Module,
    post: dict[str, torch.Tensor],
    post_o: dict[str, torch.Tensor],
    actions: int,
    horizon: int,
) -> list[Row]:
    """Both RSSMs imagine `horizon` steps of the same random actions from their last posteriors; each step's rows."""
    batch = post["deter"].shape[0]
    with torch.no_grad(), categorical_sampler():
        state = {k: post[k][:, -1].detach() for k in ("stoch", "deter")}
        state_o = {k: post_o[k][:, -1].detach().clone() for k in ("stoch", "deter", "logit")}
        found = []
        for t in range(horizon):
            act = torch.nn.functional.one_hot(torch.randint(actions, (batch,)), actions).float()
            torch.manual_seed(100 + t)
            state = ours.img_step(state, act)
            torch.manual_seed(100 + t)
            state_o = theirs.img_step(state_o, act.clone())
            found += [row(GROUP, key, state[key], state_o[key]) for key in ("stoch", "logit", "deter")]
    return found


def init_spread(original: Original, module: str, label: str) -> list[Row]:
    """The prior and posterior stat layers at init: their weight spread, ours against the original's (random on
    both sides, so statistical: the sampling error of a std over the layer's entries)."""
    config = build_config(["atari100k"], {"dynamics_model": "rssm"})
    torch.manual_seed(4)
    ours = RSSM(config, 512, 6)
    theirs = _original_rssm(original, module, original_config(original, config, 6), 512)
    rows = []
    for mine, name in ((ours.img_stat, "_ims_stat_layer"), (ours.obs_stat, "_obs_stat_layer")):
        a, b = mine.weight.detach().std(), getattr(theirs, name).weight.detach().std()
        rows.append(
            Row(
                GROUP,
                f"{label}: {name} weight spread at init",
                abs(a - b).item(),
                abs(a / b - 1).item(),
                0.03,
                "std over 262k entries",
            )
        )
    return rows
