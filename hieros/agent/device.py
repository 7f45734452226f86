"""Where the agent's tensors live, and how the CUDA backend is set up for a run.

`--device=auto` is the first CUDA device if torch can use one, else the CPU, but never the CPU by accident: where
this machine shows a GPU (a driver under /proc/driver/nvidia, a /dev/nvidia0, CUDA_VISIBLE_DEVICES naming one, or
the runner saying it gave the run one: EXPECT_GPU_ENV) and torch cannot use it (a driver older than the wheel's
CUDA build, a CPU-only wheel), `auto` is an error that says so, rather than a run at CPU speed that hits its time
limit on a cluster (docs/atari100k.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from hieros.config_schema import EXPECT_GPU_ENV, ConfigError

# cuBLAS is deterministic only with a fixed workspace (CUDA docs, "Results reproducibility"); read when the first
# cuBLAS handle is made, so it is set before any CUDA work. ":4096:8" is the value torch's docs give.
CUBLAS_WORKSPACE = ":4096:8"
_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidia0")


def gpu_evidence() -> str | None:
    """What on this machine says a GPU is meant to be used (None if nothing does)."""
    if os.environ.get(EXPECT_GPU_ENV, "") not in ("", "0"):
        return f"the runner gave this run a GPU ({EXPECT_GPU_ENV}=1)"
    for path in _DRIVER_FILES:
        if Path(path).exists():
            return f"{path} exists"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible and visible not in ("-1", "NoDevFiles"):
        return f"CUDA_VISIBLE_DEVICES={visible}"
    return None


def resolve_device(name: str) -> torch.device:
    """auto | cpu | cuda | cuda:N as a torch.device; ConfigError where `auto` would fall back to the CPU on a
    machine that shows a GPU torch cannot use."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    evidence = gpu_evidence()
    if evidence is not None:
        build = (
            f"torch {torch.__version__} built for CUDA {torch.version.cuda}"
            if torch.version.cuda
            else (f"torch {torch.__version__} is a CPU-only build")
        )
        raise ConfigError(
            f"--device=auto: this machine shows a GPU ({evidence}) but torch cannot use it ({build}; a driver "
            "older than that CUDA, or no CUDA build); install a torch wheel that fits the driver, or pass "
            "--device=cpu to train on the CPU on purpose"
        )
    return torch.device("cpu")


def configure_backend(device: torch.device, deterministic: bool, tf32: bool) -> None:
    """Set torch's global switches for a run on `device`: deterministic algorithms (and cuBLAS's fixed
    workspace, which they need on CUDA), TF32 matmuls (`--tf32`; convolutions keep torch's default, TF32 on, as
    the original ran), cuDNN's autotuner (on, unless deterministic), and `device` as the current CUDA device,
    whose random generator checkpoints carry."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = not deterministic
    if device.type == "cuda":
        torch.cuda.set_device(device)
