"""One optimiser per module group, as in the original: AdamW, gradient-norm clipping, optional linear warm-up.

`step_together` backpropagates several optimizers' losses in one pass (the actor and the critics). Metrics stay
tensors inside an update (`Metrics`); `floats` reads them all with one host sync at its end. `compiled` is how the
agent's hot paths (world-model loss, imagination with its scoring, actor-critic losses, subgoal autoencoder loss,
acting step) honour --compile; with it the optimisers are fused AdamW."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import torch
from torch import nn

from hieros.agent.device import resolve_device
from hieros.agent.precision import exact

Metrics = dict[str, torch.Tensor]  # scalar tensors, read on the host once per update


F = TypeVar("F", bound=Callable[..., Any])
RECOMPILE_LIMIT = 64  # cache entries per compiled function: levels x batch shapes x modes, with room
COMPILE_BACKEND = "inductor"  # tests trace with "eager": the same guards and cache entries, no code generated


def compiled(function: F, config: Any) -> F:
    """`function` under torch.compile with --compile=true (inductor on CPU and CUDA), else itself.

    Random draws inside compiled graphs use eager's kernels and generator (inductor's fallback_random), so a
    compiled update samples what the eager one samples and the results agree to float rounding. On CPU the graphs
    call their kernels from C++ (inductor's cpp_wrapper), with no Python between kernels."""
    if not config.compile:
        return function
    import torch._inductor.config

    torch._inductor.config.fallback_random = True
    # Each level compiles the same methods on its own modules, and acting meets a batch per mode (train envs,
    # eval envs): dynamo keeps cache entries per (level shapes, batch, mode) for one code object. Past torch's
    # default limit of 8 it would run the rest eagerly without a word; past this larger one a run fails instead.
    torch._dynamo.config.recompile_limit = RECOMPILE_LIMIT
    torch._dynamo.config.fail_on_recompile_limit_hit = True
    options = {"cpp_wrapper": True} if resolve_device(config.device).type == "cpu" else {}
    if COMPILE_BACKEND != "inductor":
        options = {}
    return torch.compile(function, dynamic=False, backend=COMPILE_BACKEND, options=options or None)  # type: ignore[return-value]


def floats(metrics: Metrics) -> dict[str, float]:
    """The metrics as Python floats, with one device-to-host copy for all of them."""
    if not metrics:
        return {}
    values = torch.stack([value.detach().float().reshape(()) for value in metrics.values()]).tolist()
    return dict(zip(metrics, values, strict=True))


class Optimizer:
    def __init__(
        self,
        name: str,
        parameters: Iterable[nn.Parameter],
        lr: float,
        eps: float,
        clip: float,
        weight_decay: float,
        warmup: int = 0,
        fused: bool = False,
    ):
        """`fused` (with --compile=true): AdamW as one fused kernel, equal to the default to float rounding;
        the default, foreach, is bit-identical to the per-parameter loop."""
        self.name = name
        self.parameters = [p for p in parameters if p.requires_grad]
        self.opt = torch.optim.AdamW(
            self.parameters, lr=lr, eps=eps, weight_decay=weight_decay, foreach=not fused, fused=fused or None
        )
        self.lr = lr
        self.clip = clip
        self.warmup = warmup
        self.updates = 0

    def step(self, loss: torch.Tensor) -> Metrics:
        """Backpropagate `loss`, clip, step; returns the loss and gradient norm for logging."""
        return step_together([(self, loss)])

    def _clip_and_step(self) -> torch.Tensor:
        norm = torch.nn.utils.clip_grad_norm_(self.parameters, self.clip)
        if self.warmup:
            for group in self.opt.param_groups:
                group["lr"] = self.lr * min(1.0, (self.updates + 1) / self.warmup)
        self.opt.step()
        self.updates += 1
        return norm

    def state_dict(self) -> dict[str, Any]:
        return {"opt": self.opt.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["opt"])
        self.updates = state["updates"]


def step_together(steps: list[tuple[Optimizer, torch.Tensor]]) -> Metrics:
    """Each optimizer's loss backpropagated in one pass, then each clipped and stepped on its own.

    The optimizers' parameters must be disjoint and each loss must reach only its own optimizer's parameters
    (the actor's and the critics' losses do), so every gradient is what its loss alone would give."""
    for optimizer, _ in steps:
        optimizer.opt.zero_grad(set_to_none=True)
    metrics: Metrics = {}
    with exact(steps[0][1]):  # fp32 gradients of the fp32 master weights, also under --precision=bf16
        torch.autograd.backward([loss for _, loss in steps])
        for optimizer, loss in steps:
            metrics[f"{optimizer.name}_loss"] = loss.detach()
            metrics[f"{optimizer.name}_grad_norm"] = optimizer._clip_and_step()
    return metrics
