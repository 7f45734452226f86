"""From a suite, methods, tasks and seeds to RunSpecs: one (method, task, seed), its run directory and exact command."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.suites import Benchmark, Suite, SuiteError, check_identity_keys, suggest
from hieros import checkpoint, rundir
from hieros.cli_errors import DEBUG_ENV
from hieros.config import Config, ConfigError, build_config
from hieros.config_schema import EXPECT_GPU_ENV


@dataclass(frozen=True)
class RunSpec:
    suite: str
    method: str
    task: str
    seed: int
    run_dir: Path
    command: tuple[str, ...]
    config_hash: str
    budget_frames: int
    config: Config = field(default_factory=Config, compare=False, repr=False)

    @property
    def name(self) -> str:
        """CleanRL's run naming: task__method__seed."""
        return f"{self.task}__{self.method}__{self.seed}"


def format_value(value: Any) -> str:
    """A TOML value as the `--key=value` text hieros.config parses back into the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(format_value(v) for v in value)
    return str(value)


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """`--set key=value` pairs (the values are parsed by the config, typed by each key's default)."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise SuiteError(f"--set {item!r}: write it as key=value, e.g. --set steps=20000")
        out[key.removeprefix("--")] = value
    return out


MAX_SEED = 2**32 - 1  # NumPy's seeds are 32 bits
MAX_SEEDS = 1000  # seeds in one sweep: plans, dry runs and status stay bounded


def parse_seeds(seeds: int | None, seed_list: str | None, default: int) -> list[int]:
    """--seeds N (1..N), --seed-list 1,2,7, or the suite's default 1..N."""
    if seed_list is not None:
        try:
            out = [int(s) for s in seed_list.split(",") if s.strip()]
        except ValueError:
            raise SuiteError(f"--seed-list {seed_list!r}: give integers like 1,2,3") from None
        if not out or min(out) < 0 or len(set(out)) != len(out):
            raise SuiteError(f"--seed-list {seed_list!r}: give distinct non-negative integers like 1,2,3")
        if max(out) > MAX_SEED or len(out) > MAX_SEEDS:
            raise SuiteError(f"--seed-list: give at most {MAX_SEEDS} seeds, each at most {MAX_SEED}")
        return out
    if seeds is not None and seeds < 1:
        raise SuiteError(f"--seeds {seeds}: give at least 1")
    if seeds is not None and seeds > MAX_SEEDS:
        raise SuiteError(
            f"--seeds {seeds}: at most {MAX_SEEDS} seeds in one sweep (rliable's intervals are tight "
            f"long before that); split a larger study into sweeps with --seed-list"
        )
    return list(range(1, (seeds or default) + 1))


def parse_list(text: str | None, option: str, known: Sequence[str]) -> list[str] | None:
    """A comma-separated subset of `known` (--tasks, --method), or None when not given; an empty one is refused
    rather than read as all of them."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise SuiteError(f"{option} {text!r}: name at least one, or leave {option} out for all of them")
    for item in items:
        if item not in known:
            raise SuiteError(
                f"{option}: {item!r} is not in this suite{suggest(item, known)}; it has {', '.join(known)}"
            )
    return items


def plan(
    benchmark: Benchmark,
    suite: Suite,
    methods: Sequence[str],
    seeds: Sequence[int] | Mapping[str, Sequence[int]],
    results: Path,
    tasks: Sequence[str] | None = None,
    extra: Mapping[str, str] | None = None,
    trust_pickle: bool = False,
) -> list[RunSpec]:
    """Every (method, task, seed) as a RunSpec; each config is built here, so a bad override fails before any run.
    `seeds`: one list for every method, or each method's own (the suite's plan, bench.suites.Suite.seeds_for).
    With `trust_pickle` each run may resume from a pickled checkpoint of an earlier version (hieros.checkpoint)."""
    specs = []
    check_identity_keys(extra or {}, "--set")
    for method_name in methods:
        method = benchmark.method(method_name)
        overrides = {**suite.overrides, **method.overrides, **(extra or {})}
        for task in tasks or suite.tasks:
            presets = suite.presets_for(task)
            try:
                config = build_config(presets, {**overrides, "model_name": method.model_name})
            except ConfigError as error:
                raise SuiteError(f"{method_name} on {task}: {error}") from None
            for seed in seeds[method_name] if isinstance(seeds, Mapping) else seeds:
                run_dir = rundir.run_path(results, suite.name, method_name, task, seed)
                command = (
                    sys.executable,
                    "-m",
                    "hieros.train",
                    "--configs",
                    *presets,
                    f"--task={task}",
                    f"--seed={seed}",
                    f"--logdir={run_dir}",
                    f"--suite={suite.name}",
                    f"--method={method_name}",
                    f"--model_name={method.model_name}",
                    *(f"--{k}={format_value(v)}" for k, v in overrides.items()),
                    *((checkpoint.TRUST_FLAG,) if trust_pickle else ()),
                )
                specs.append(
                    RunSpec(suite.name, method_name, task, seed, run_dir, command, config.hash(), config.steps, config)
                )
    return specs


COMPILE_CACHE = ".cache/inductor"  # inside the results store, beside the runs


def worker_env(threads: int, gpu: str | None, expect_gpu: bool = False, results: Path | None = None) -> dict[str, str]:
    """The environment variables a run gets on top of the runner's: its thread budget and GPU slot (`gpu`, or
    `expect_gpu` where the scheduler picks it): a run given a GPU fails in one line if torch cannot use it,
    rather than train at CPU speed (hieros.agent.device). With `results`, torch.compile's cache lives in the
    store (COMPILE_CACHE), so a requeued or later run of a --compile=true config finds its graphs built."""
    # HIEROS_DEBUG: a crash's full traceback goes to the run's runner.log, not a one-line summary
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1", DEBUG_ENV: "1"}
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    if gpu is not None or expect_gpu:
        env[EXPECT_GPU_ENV] = "1"
    if results is not None and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        env["TORCHINDUCTOR_CACHE_DIR"] = str(Path(results).resolve() / COMPILE_CACHE)
    return env


def shell_line(spec: RunSpec, env: Mapping[str, str]) -> str:
    """The run as one copy-pasteable shell line."""
    return " ".join(
        [*(f"{k}={shlex.quote(v)}" for k, v in env.items() if k != "PYTHONUNBUFFERED"), shlex.join(spec.command)]
    )
