"""Where the agent's tensors live: `--device=auto` is the first CUDA device if there is one, else the CPU."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """auto | cpu | cuda | cuda:N (checked before a run by agent_api.check_run) as a torch.device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
