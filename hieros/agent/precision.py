"""--precision: each update under bfloat16 autocast with fp32 master weights, and the fp32 islands inside it.

With --precision=bf16 a level's update (the world-model loss, the imagination, the actor, critic and autoencoder
losses) runs under torch.autocast(bfloat16) on CPU or CUDA: linear layers and convolutions compute in bf16 from
the fp32 weights. What needs fp32 range or precision stays fp32:
- every distribution casts its parameters to fp32 when built, so the two-hot and symlog heads, the categorical
  KL, the one-hot samples, the returns and all losses are fp32;
- the S5 SSMs (their scans are complex64) and the deterministic state;
- the backward pass, gradient clipping and the AdamW step.
Acting stays fp32, as in the original, whose mixed precision (fp16 with a gradient scaler, `precision: 16`) also
covered only the updates. bf16 has fp32's exponent range, so no loss scaling is needed.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

LOW_PRECISION = {"bf16": torch.bfloat16}  # --precision -> the autocast dtype of the updates


def updates(config: Any, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The context an update runs in: bf16 autocast with --precision=bf16, else nothing."""
    dtype = LOW_PRECISION.get(config.precision)
    return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()


def exact(tensor: torch.Tensor) -> contextlib.AbstractContextManager[Any]:
    """fp32 for the block: autocast off on `tensor`'s device if an update turned it on."""
    device = tensor.device.type
    if torch.is_autocast_enabled(device):
        return torch.autocast(device, enabled=False)
    return contextlib.nullcontext()


def full(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` in fp32 if autocast made it bf16 or fp16; fp32 and fp64 (the parity runs) pass unchanged."""
    return tensor.float() if tensor.dtype in (torch.bfloat16, torch.float16) else tensor
