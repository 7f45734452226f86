"""S5 parity: our S5SSM/S5Block against the original's `S5SSM`/`ReworkedDoubleS5Block` with the same weights.

Name map, ours -> original (per block; k = 1, 2):
  ssm{k}.lambda_re + i lambda_im -> s5_{k}.seq.Lambda (P,) complex
  ssm{k}.b_tilde (P, H, 2)        -> s5_{k}.seq.B (P, H, 2)
  ssm{k}.c_tilde (H, P, 2)        -> s5_{k}.seq.C (H, P) complex
  ssm{k}.d, ssm{k}.log_step       -> s5_{k}.seq.D, s5_{k}.seq.log_step
  norm{k} (k = 1, 2, 3)           -> attn_norm_{k};  linear{k} -> linear_{k}
"""

from __future__ import annotations

from typing import Any

import torch

from hieros.agent.s5 import S5SSM, S5Block
from parity.compare import Row, row, rows_for, worst
from parity.original import copy_into, grads_of

GROUP = "S5"


def original_block(original: Any, model_dim: int, state_dim: int, init_blocks: int, dropout: float = 0.0) -> Any:
    """The block the original's S5WM builds (Seq2SeqDynamics with double_arch, ff_layers 0, resettable)."""
    return original.s5_model.ReworkedDoubleS5Block(
        model_dim,
        state_dim,
        False,
        init_blocks,
        attn_dropout=dropout,
        attn_act="SiLU",
        attn_linear=True,
        ff_layers=0,
        ff_act="SiLU",
        ff_dropout=dropout,
        resettable=True,
        squash_output=False,
        norm="LayerNorm",
    )


def _value(tensor: torch.Tensor, grad: bool) -> torch.Tensor:
    return tensor.grad if grad else tensor


def ssm_map(ssm: S5SSM, grad: bool = False) -> dict[str, torch.Tensor]:
    """Our SSM's parameters (or gradients) in the original's names and types. A complex parameter's
    gradient in PyTorch is d/dRe + i d/dIm, which is how ours (two real parameters) combine."""
    v = lambda tensor: _value(tensor, grad)  # noqa: E731
    return {
        "Lambda": torch.complex(v(ssm.lambda_re), v(ssm.lambda_im)),
        "B": v(ssm.b_tilde),
        "C": torch.view_as_complex(v(ssm.c_tilde).contiguous()),
        "D": v(ssm.d),
        "log_step": v(ssm.log_step),
    }


def block_map(ours: S5Block, prefix: str = "", grad: bool = False) -> dict[str, torch.Tensor]:
    """{original parameter name: our tensor (or its gradient)} for one block."""
    out: dict[str, torch.Tensor] = {}
    for k, ssm in ((1, ours.ssm1), (2, ours.ssm2)):
        out.update({f"{prefix}s5_{k}.seq.{name}": value for name, value in ssm_map(ssm, grad).items()})
    for k in (1, 2, 3):
        norm = getattr(ours, f"norm{k}")
        out[f"{prefix}attn_norm_{k}.weight"] = _value(norm.weight, grad)
        out[f"{prefix}attn_norm_{k}.bias"] = _value(norm.bias, grad)
    for k in (1, 2):
        out[f"{prefix}linear_{k}.weight"] = _value(getattr(ours, f"linear{k}").weight, grad)
    return out


def check(original: Any, model_dim: int, state_dim: int, init_blocks: int, label: str) -> list[Row]:
    """Init of Λ, the parallel scan with resets (outputs, all states, gradients) and the recurrent step."""
    torch.manual_seed(0)
    ours = S5Block(model_dim, state_dim, init_blocks, legacy_init_scale=True)
    theirs = original_block(original, model_dim, state_dim, init_blocks)
    rows = [
        row(
            GROUP,
            f"{label}: Λ at init (HiPPO-LegS, deterministic)",
            torch.complex(ours.ssm1.lambda_re, ours.ssm1.lambda_im),
            theirs.s5_1.seq.Lambda,
        )
    ]
    copy_into(theirs, block_map(ours))
    batch, length = 3, 33
    x = torch.randn(batch, length, model_dim)
    reset = torch.rand(batch, length) < 0.1
    reset[:, 0] = True
    y, states = ours(x, reset)
    y_o = theirs(x, reset=reset[..., None].float())
    rows.append(row(GROUP, f"{label}: parallel scan with resets, output", y, y_o))
    rows.append(row(GROUP, f"{label}: parallel scan with resets, states (B, T, 2P)", states, theirs._state))
    weights = torch.randn_like(y)
    (y * weights).sum().backward()
    (y_o * weights).sum().backward()
    rows.append(
        worst(
            GROUP,
            f"{label}: gradient of every parameter",
            rows_for(GROUP, "grad", block_map(ours, grad=True), grads_of(theirs)),
        )
    )
    state = states[:, 10].detach()
    step_in = torch.randn(batch, model_dim)
    with torch.no_grad():
        out, nxt = ours.step(step_in, state)
        out_o, nxt_o = theirs.step(step_in, state.clone())
    rows.append(row(GROUP, f"{label}: recurrent step, output", out, out_o))
    rows.append(row(GROUP, f"{label}: recurrent step, next state", nxt, nxt_o))
    return rows


def init_scale(original: Any, model_dim: int, state_dim: int, init_blocks: int) -> list[Row]:
    """B and C at init: the spread of the original's draws against ours with `legacy_init_scale` (statistical:
    independent draws, so the tolerance is the sampling error of a standard deviation over P*H draws)."""
    torch.manual_seed(1)
    draws = 4
    ours = [S5SSM(model_dim, state_dim, init_blocks, legacy_init_scale=True) for _ in range(draws)]
    theirs = [
        original.s5_model.S5(model_dim, state_dim, block_count=init_blocks, bcInit="dense", resettable=True).seq
        for _ in range(draws)
    ]

    def spread(values: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([torch.view_as_real(v) if v.is_complex() else v for v in values]).double().std()

    b = (spread([s.b_tilde.detach() for s in ours]), spread([s.B.detach() for s in theirs]))
    c = (spread([s.c_tilde.detach() for s in ours]), spread([s.C.detach() for s in theirs]))
    tolerance = 0.03
    note = f"std, {draws} draws of P x H"
    return [
        Row(
            GROUP,
            "B at init, spread (legacy_init_scale)",
            abs(b[0] - b[1]).item(),
            abs(b[0] / b[1] - 1).item(),
            tolerance,
            note,
        ),
        Row(
            GROUP,
            "C at init, spread (legacy_init_scale)",
            abs(c[0] - c[1]).item(),
            abs(c[0] / c[1] - 1).item(),
            tolerance,
            note,
        ),
    ]
