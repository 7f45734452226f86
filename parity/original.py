"""The original HIEROS code (Snagnar/Hieros), imported from a checkout the user gives, never from this repository.

A checkout is a plain tree of that repository (`git archive <commit>` of a clone or of the search tool's mirror):
`hieros/` (tools, networks, models, hieros), `resettable_s5/` and `embodied/`. Its modules import each other by
bare name (`import tools`), so both the root and `hieros/` go on sys.path. Its config is built the way its
train.py builds it: `configs.yaml` blocks merged in order, then flags over the top-level keys.

Three changes are made to the original at run time, each only while a check runs: `categorical_sampler` makes the
categorical sampler its one-hot distributions inherit from torch draw by the inverse CDF of one uniform per row,
the way ours does, so that both sides turn the same uniform draws into the same samples; `precision(fp64=True)`
lets its `as_complex` (which fixes complex64) keep complex128 in the double-precision runs; and on a machine
without CUDA, `cpu_timing` lets its `TimeRecording` time with `time.perf_counter` instead of CUDA events.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from hieros.config import merge

ENV_VAR = "HIEROS_ORIGINAL"
HOW_TO_GET = (
    "give a checkout of Snagnar/Hieros with --original PATH or $HIEROS_ORIGINAL: git clone "
    "https://github.com/Snagnar/Hieros && git -C Hieros archive 72567d3 -- . ':!documentation' | tar -x -C DIR "
    "(the paper-era modules; HEAD ab4c593 for whole training calls); docs/parity.md has the environment"
)
REQUIRED = (
    "hieros/tools.py",
    "hieros/networks.py",
    "hieros/models.py",
    "hieros/configs.yaml",
    "resettable_s5/s5_model.py",
)


class CheckoutError(Exception):
    """The original code is not where we were told, or does not import; the message says what to do."""


def checkout_path(given: str | None) -> Path:
    """The checkout named by the flag or the environment variable, checked for the files we import."""
    text = given or os.environ.get(ENV_VAR)
    if not text:
        raise CheckoutError(f"no checkout of the original code: {HOW_TO_GET}")
    root = Path(text).expanduser().resolve()
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        raise CheckoutError(f"{root} is not a checkout of Snagnar/Hieros (missing {', '.join(missing)}): {HOW_TO_GET}")
    return root


class Original:
    """The original's modules, imported from `root` once per process."""

    def __init__(self, root: Path):
        self.root = root
        for path in (str(root), str(root / "hieros")):
            if path not in sys.path:
                sys.path.insert(0, path)
        try:
            self.tools = importlib.import_module("tools")
            self.networks = importlib.import_module("networks")
            self.models = importlib.import_module("models")
            self.s5_model = importlib.import_module("resettable_s5.s5_model")
        except ImportError as error:
            raise CheckoutError(
                f"the original code at {root} does not import ({error}); install its dependencies "
                "as docs/parity.md says (nox -s parity does)"
            ) from None
        loaded = Path(self.tools.__file__).resolve()
        if not loaded.is_relative_to(root):
            raise CheckoutError(f"`import tools` found {loaded}, not the checkout's; run in a fresh process")

    def config(self, blocks: list[str], flags: Mapping[str, Any]) -> argparse.Namespace:
        """The original's config: `defaults` and the named blocks of its configs.yaml merged in order
        (dicts merge, anything else replaces), then `flags` over it (a dict value merges into a dict key)."""
        from ruamel.yaml import YAML

        text = (self.root / "hieros" / "configs.yaml").read_text()
        configs = YAML(typ="safe", pure=True).load(text)
        merged: dict[str, Any] = {}
        for name in ["defaults", *blocks]:
            merge(merged, configs[name])
        merge(merged, copy.deepcopy(dict(flags)))
        return argparse.Namespace(**merged)


@contextlib.contextmanager
def categorical_sampler() -> Iterator[None]:
    """torch's OneHotCategorical.sample by the inverse CDF of one uniform per row (ours: OneHotDist.sample)."""
    cls = torch.distributions.OneHotCategorical
    original = cls.sample

    def sample(self: Any, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        if tuple(sample_shape) != ():
            raise ValueError("the parity sampler draws one sample per distribution (sample_shape ())")
        probs = self.probs.detach()
        cdf = probs.cumsum(-1)
        u = torch.rand_like(cdf[..., :1]) * cdf[..., -1:]
        index = (cdf <= u).sum(-1).clamp(max=cdf.shape[-1] - 1)
        return torch.nn.functional.one_hot(index, cdf.shape[-1]).to(probs.dtype)

    cls.sample = sample
    try:
        yield
    finally:
        cls.sample = original


def load(given: str | None) -> Original:
    return Original(checkout_path(given))


@contextlib.contextmanager
def precision(original: Original, fp64: bool) -> Iterator[None]:
    """fp32 as is; fp64: double the default dtype, and let the original's `as_complex`, which fixes complex64 for
    the S5 input matrix, keep complex128. Either way the original's timers work without CUDA (`cpu_timing`)."""
    previous, as_complex = torch.get_default_dtype(), original.s5_model.as_complex
    if fp64:
        torch.set_default_dtype(torch.float64)
        original.s5_model.as_complex = lambda t, dtype=torch.complex128: as_complex(t, dtype)
    try:
        with cpu_timing(original):
            yield
    finally:
        torch.set_default_dtype(previous)
        original.s5_model.as_complex = as_complex


@contextlib.contextmanager
def cpu_timing(original: Original) -> Iterator[None]:
    """The original's `tools.TimeRecording` times its updates with CUDA events, which a CPU build of torch cannot
    make ("Tried to instantiate dummy base class Event"). Without CUDA, while a check runs, it times with
    `time.perf_counter` instead, in seconds as before; it only reports times, so no compared number changes."""
    timer = original.tools.TimeRecording
    if torch.cuda.is_available():
        yield
        return
    saved = timer.__enter__, timer.__exit__

    def enter(self: Any) -> None:
        self._started, self.elapsed_time = time.perf_counter(), 0

    def exit_(self: Any, *args: Any) -> None:
        self.elapsed_time = time.perf_counter() - self._started
        if self._should_print:
            print(self._comment, self.elapsed_time)

    timer.__enter__, timer.__exit__ = enter, exit_
    try:
        yield
    finally:
        timer.__enter__, timer.__exit__ = saved


@torch.no_grad()
def to_double(module: torch.nn.Module) -> torch.nn.Module:
    """Every parameter and buffer in double precision, complex ones as complex128 (`Module.double()` would leave
    the original's complex S5 parameters in complex64); the module's optimisers keep their parameters."""
    for tensor in [*module.parameters(), *module.buffers()]:
        tensor.data = tensor.data.to(torch.complex128 if tensor.is_complex() else torch.float64)
    return module


def double_inputs(preprocess: Any) -> Any:
    """Wrap a preprocess function that returns float32 tensors to return float64 ones."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return {k: v.double() if v.is_floating_point() else v for k, v in preprocess(*args, **kwargs).items()}

    return wrapped


@torch.no_grad()
def copy_into(original_module: torch.nn.Module, named: dict[str, torch.Tensor]) -> None:
    """Set every named parameter of the original module from ours; every parameter must be named."""
    params = dict(original_module.named_parameters())
    missing = set(params) - set(named)
    if missing:
        raise KeyError(f"the name map leaves out {sorted(missing)}")
    for name, value in named.items():
        if params[name].shape != value.shape:
            raise ValueError(f"{name}: the original has shape {tuple(params[name].shape)}, ours {tuple(value.shape)}")
        params[name].copy_(value.detach().to(params[name].dtype))


def grads_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad for name, p in module.named_parameters() if p.grad is not None}


def renamed(
    module: torch.nn.Module, rules: list[tuple[str, str]], what: str, grad: bool = False, skip: tuple[str, ...] = ()
) -> dict[str, torch.Tensor]:
    """{original name: our parameter, or its gradient} by prefix rules [(our prefix, the original's prefix)];
    parameters under a `skip` prefix are left to another map, and a name that no rule matches is an error."""
    out = {}
    for name, param in module.named_parameters():
        if name.startswith(skip):
            continue
        rule = next((r for r in rules if name.startswith(r[0])), None)
        if rule is None:
            raise KeyError(f"the {what} name map has no rule for {name}")
        if grad and param.grad is None:
            continue
        out[rule[1] + name[len(rule[0]) :]] = param.grad if grad else param
    return out
