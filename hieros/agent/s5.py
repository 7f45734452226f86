"""S5 sequence model as used by HIEROS's S5WM: a resettable diagonal SSM and the double-S5 residual block.

The SSM follows the S5 paper (Smith et al., 2023) as ported in the original HIEROS `resettable_s5`:
HiPPO-LegS DPLR initialisation tiled over `init_blocks` diagonal blocks, all P complex modes kept (the output
takes the real part, no conjugate-symmetry halving), zero-order-hold discretisation and an unconstrained Λ.
Training runs a log-depth parallel scan in which a reset (`is_first`) restarts the state from zero; acting and
imagination use `step`, which computes the same recurrence one step at a time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

from hieros.agent.precision import exact, full

# Standard deviation of a unit normal truncated to [-2, 2].
_TRUNC_STD = 0.87962566103423978


def hippo_legs_normal(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition S = V diag(Λ) Vᴴ of the normal part of the n×n HiPPO-LegS matrix.

    S = A + p pᵀ with p_k = sqrt(k + 1/2) is −I/2 plus a skew-symmetric matrix, so Re Λ = −1/2 for every mode
    and V is unitary. Returns Λ (n,) complex128 and V (n, n) complex128.
    """
    k = np.arange(n)
    q = np.sqrt(2 * k + 1.0)
    hippo = -(np.tril(np.outer(q, q)) - np.diag(k))
    p = np.sqrt(k + 0.5)
    normal = hippo + np.outer(p, p)
    skew = normal - np.diag(np.diag(normal))
    lambda_imag, v = np.linalg.eigh(-1j * skew)
    return np.mean(np.diag(normal)) + 1j * lambda_imag, v


def _lecun_normal(shape: tuple[int, ...], fan_in: int, legacy_scale: bool) -> torch.Tensor:
    """JAX `lecun_normal`: a [-2, 2]-truncated normal rescaled to std sqrt(1/fan_in).

    With `legacy_scale` the truncation constant multiplies instead of divides, as in the original's port
    (defect D10), which gives ≈0.774× the intended std.
    """
    factor = _TRUNC_STD if legacy_scale else 1.0 / _TRUNC_STD
    sample = nn.init.trunc_normal_(torch.empty(shape, dtype=torch.float64), 0.0, 1.0, -2.0, 2.0)
    return sample * factor / math.sqrt(fan_in)


def resettable_scan(
    lambda_bar: torch.Tensor,
    bu: torch.Tensor,
    reset: torch.Tensor | None = None,
    state: torch.Tensor | None = None,
) -> torch.Tensor:
    """All states of x_t = Λ̄ ⊙ x_{t−1} + bu_t, restarting from zero where `reset` is true.

    lambda_bar (P,), bu (B, T, P) complex; reset (B, T) bool or 0/1; state (B, P) is x_{−1} (zeros if None).
    A reset is folded in as a zero transition (x_t = bu_t there); the scan is Hillis-Steele over log2(T)
    levels, each one a few batched tensor ops. Returns xs (B, T, P).
    """
    a = lambda_bar.expand_as(bu)
    if reset is not None:
        a = torch.where(reset.to(torch.bool).unsqueeze(-1), torch.zeros_like(a), a)
    b = bu
    if state is not None:
        b = torch.cat([b[:, :1] + a[:, :1] * state.unsqueeze(1), b[:, 1:]], dim=1)
    length = bu.shape[1]
    offset = 1
    while offset < length:
        b = torch.cat([b[:, :offset], a[:, offset:] * b[:, :-offset] + b[:, offset:]], dim=1)
        if 2 * offset < length:
            a = torch.cat([a[:, :offset], a[:, offset:] * a[:, :-offset]], dim=1)
        offset *= 2
    return b


class S5SSM(nn.Module):
    """One S5 SSM: u (…, H) real → y (…, H) real through a P-dimensional complex diagonal state.

    Parameters (real tensors, so optimisers and weight init treat them like any other):
    `lambda_re`, `lambda_im` (P,) = Λ; `b_tilde` (P, H, 2) = V⁻¹B₀ as (real, imag); `c_tilde` (H, P, 2) = C₀V;
    `d` (H,) feedthrough; `log_step` (P,) = log Δ.
    """

    def __init__(
        self,
        model_dim: int,
        state_dim: int,
        init_blocks: int = 1,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        legacy_init_scale: bool = False,
        clip_eigs: bool = False,
    ) -> None:
        super().__init__()
        if state_dim % init_blocks:
            raise ValueError(f"state_dim {state_dim} is not divisible by init_blocks {init_blocks}")
        lam, v = hippo_legs_normal(state_dim // init_blocks)
        lam = np.tile(lam, init_blocks)
        v = scipy.linalg.block_diag(*[v] * init_blocks)
        v = torch.from_numpy(v)
        b0 = _lecun_normal((state_dim, model_dim), state_dim, legacy_init_scale)
        b_tilde = v.conj().T @ b0.to(v.dtype)
        c0 = _lecun_normal((model_dim, state_dim, 2), state_dim * model_dim, legacy_init_scale)
        c_tilde = torch.view_as_complex(c0) @ v
        dtype = torch.get_default_dtype()
        self.lambda_re = nn.Parameter(torch.from_numpy(lam.real).to(dtype))
        self.lambda_im = nn.Parameter(torch.from_numpy(lam.imag).to(dtype))
        self.b_tilde = nn.Parameter(torch.view_as_real(b_tilde).to(dtype))
        self.c_tilde = nn.Parameter(torch.view_as_real(c_tilde).to(dtype))
        self.d = nn.Parameter(torch.rand(model_dim))
        log_min, log_max = math.log(dt_min), math.log(dt_max)
        self.log_step = nn.Parameter(torch.rand(state_dim) * (log_max - log_min) + log_min)
        self.clip_eigs = clip_eigs  # S5's clip_eigs: Re(Λ) <= -1e-4 whenever it is used, so every mode decays
        self._discretized: tuple[list[Any], tuple[torch.Tensor, torch.Tensor]] | None = None  # (key, result)

    @property
    def state_dim(self) -> int:
        return self.lambda_re.shape[0]

    @property
    def state_dtype(self) -> torch.dtype:
        return torch.view_as_complex(self.c_tilde).dtype

    def discretize(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero-order hold: Λ̄ = exp(ΛΔ) (P,), B̄ = ((Λ̄ − 1)/Λ) B̃ (P, H).

        Where no gradient reaches the parameters (acting, imagination), the result is kept until a parameter
        changes: a rollout of H steps discretises once instead of H times (the same tensors, so the same results)."""
        parameters = (self.lambda_re, self.lambda_im, self.log_step, self.b_tilde)
        if torch.compiler.is_compiling() or (torch.is_grad_enabled() and any(p.requires_grad for p in parameters)):
            return self._discretize()
        # a parameter is the same if it is the same object, with the same storage (kept alive here, so its address
        # cannot be reused) and version (bumped by every in-place update)
        key = [(p, p.untyped_storage(), p._version) for p in parameters]
        cached = self._discretized
        if cached is None or any(
            p is not q or s.data_ptr() != t.data_ptr() or u != v
            for (p, s, u), (q, t, v) in zip(cached[0], key, strict=True)
        ):
            cached = self._discretized = (key, self._discretize())
        return cached[1]

    def _discretize(self) -> tuple[torch.Tensor, torch.Tensor]:
        real = self.lambda_re.clamp(max=-1e-4) if self.clip_eigs else self.lambda_re
        lam = torch.complex(real, self.lambda_im)
        lambda_bar = torch.exp(lam * torch.exp(self.log_step))
        b_bar = ((lambda_bar - 1) / lam).unsqueeze(-1) * torch.view_as_complex(self.b_tilde)
        return lambda_bar, b_bar

    def _input(self, u: torch.Tensor, b_bar: torch.Tensor) -> torch.Tensor:
        return torch.complex(u @ b_bar.real.T, u @ b_bar.imag.T)

    def _output(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        c = self.c_tilde
        return x.real @ c[..., 0].T - x.imag @ c[..., 1].T + self.d * u

    def forward(
        self, u: torch.Tensor, reset: torch.Tensor | None = None, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Parallel form. u (B, T, H), reset (B, T) bool, state x_{−1} (B, P) → y (B, T, H), xs (B, T, P)."""
        with exact(u):
            u = full(u)
            lambda_bar, b_bar = self.discretize()
            xs = resettable_scan(lambda_bar, self._input(u, b_bar), reset, state)
            return self._output(xs, u), xs

    def step(self, u: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Recurrent form. u (B, H), state (B, P) → y (B, H), next state (B, P)."""
        with exact(u):
            u = full(u)
            lambda_bar, b_bar = self.discretize()
            x = lambda_bar * state + self._input(u, b_bar)
            return self._output(x, u), x


class S5Block(nn.Module):
    """The original's `ReworkedDoubleS5Block` with ff_layers=0 (reference §3.3).

    Twice: x = Dropout(GELU(Linear(S5(LN(x))))) + x, then LN3(x) + x. The block state is the concatenation of
    both SSM states, (…, 2P) complex. The LayerNorms use PyTorch's default eps 1e-5 as the original blocks do
    (the 1e-3 of the original applies to the S5WM's own input/output layers). The Linear and LayerNorm layers
    keep PyTorch's default init: the original S5WM re-initialises them with its global weight init.
    """

    def __init__(
        self,
        model_dim: int,
        state_dim: int,
        init_blocks: int = 1,
        dropout: float = 0.0,
        norm_eps: float = 1e-5,
        legacy_init_scale: bool = False,
        **ssm: Any,
    ) -> None:
        """`ssm`: S5SSM's time-scale range and eigenvalue clipping (dt_min, dt_max, clip_eigs), for both SSMs."""
        super().__init__()
        self.ssm1 = S5SSM(model_dim, state_dim, init_blocks, legacy_init_scale=legacy_init_scale, **ssm)
        self.ssm2 = S5SSM(model_dim, state_dim, init_blocks, legacy_init_scale=legacy_init_scale, **ssm)
        self.norm1 = nn.LayerNorm(model_dim, eps=norm_eps)
        self.norm2 = nn.LayerNorm(model_dim, eps=norm_eps)
        self.norm3 = nn.LayerNorm(model_dim, eps=norm_eps)
        self.linear1 = nn.Linear(model_dim, model_dim, bias=False)
        self.linear2 = nn.Linear(model_dim, model_dim, bias=False)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, reset: torch.Tensor | None = None, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Parallel form. x (B, T, H), reset (B, T) bool, state (B, 2P) → y (B, T, H), states (B, T, 2P)."""
        state1, state2 = (None, None) if state is None else state.chunk(2, dim=-1)
        y, xs1 = self.ssm1(self.norm1(x), reset, state1)
        x = self.dropout1(F.gelu(self.linear1(y))) + x
        y, xs2 = self.ssm2(self.norm2(x), reset, state2)
        x = self.dropout2(F.gelu(self.linear2(y))) + x
        return self.norm3(x) + x, torch.cat([xs1, xs2], dim=-1)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Recurrent form. x (B, H), state (B, 2P) → y (B, H), next state (B, 2P)."""
        state1, state2 = state.chunk(2, dim=-1)
        y, next1 = self.ssm1.step(self.norm1(x), state1)
        x = self.dropout1(F.gelu(self.linear1(y))) + x
        y, next2 = self.ssm2.step(self.norm2(x), state2)
        x = self.dropout2(F.gelu(self.linear2(y))) + x
        return self.norm3(x) + x, torch.cat([next1, next2], dim=-1)


class S5Stack(nn.Module):
    """`num_blocks` S5Blocks in sequence; the state is (B, L, 2P) complex, one row per block."""

    def __init__(
        self,
        num_blocks: int,
        model_dim: int,
        state_dim: int,
        init_blocks: int = 1,
        dropout: float = 0.0,
        norm_eps: float = 1e-5,
        legacy_init_scale: bool = False,
        **ssm: Any,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            S5Block(model_dim, state_dim, init_blocks, dropout, norm_eps, legacy_init_scale, **ssm)
            for _ in range(num_blocks)
        )

    @property
    def state_shape(self) -> tuple[int, int]:
        """(L, 2P): the per-sample state shape."""
        return len(self.blocks), 2 * self.blocks[0].ssm1.state_dim

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> torch.Tensor:
        """Zero state (B, L, 2P), the state every sequence restarts from at a reset."""
        dtype = self.blocks[0].ssm1.state_dtype
        return torch.zeros(batch_size, *self.state_shape, dtype=dtype, device=device)

    def forward(
        self, x: torch.Tensor, reset: torch.Tensor | None = None, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Parallel form. x (B, T, H), reset (B, T) bool, state (B, L, 2P) carried in where no reset came
        before t → y (B, T, H), states (B, T, L, 2P)."""
        states = []
        for i, block in enumerate(self.blocks):
            x, xs = block(x, reset, None if state is None else state[:, i])
            states.append(xs)
        return x, torch.stack(states, dim=2)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Recurrent form. x (B, H), state (B, L, 2P) → y (B, H), next state (B, L, 2P)."""
        states = []
        for i, block in enumerate(self.blocks):
            x, s = block.step(x, state[:, i])
            states.append(s)
        return x, torch.stack(states, dim=1)
