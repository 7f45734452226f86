"""From a suite, methods and seeds to RunSpecs: one (method, task, seed), its run directory and exact command."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.suites import Benchmark, Suite, SuiteError
from hieros import rundir
from hieros.config import ConfigError, build_config


@dataclass(frozen=True)
class RunSpec:
    suite: str
    method: str
    task: str
    seed: int
    run_dir: Path
    command: tuple[str, ...]
    config_hash: str

    @property
    def name(self) -> str:
        """CleanRL-style: task__method__seed."""
        return f"{self.task}__{self.method}__{self.seed}"


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(format_value(v) for v in value)
    return str(value)


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """`--set key=value` pairs."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise SuiteError(f"--set {item!r}: write it as key=value, e.g. --set steps=20000")
        out[key.removeprefix("--")] = value
    return out


def plan(benchmark: Benchmark, suite: Suite, methods: Sequence[str], seeds: Sequence[int], results: Path,
         tasks: Sequence[str] | None = None, extra: Mapping[str, str] | None = None) -> list[RunSpec]:
    """Every (method, task, seed) of the suite as a RunSpec, validated against the config."""
    if tasks:
        unknown = [t for t in tasks if t not in suite.tasks]
        if unknown:
            raise SuiteError(f"--tasks: {unknown[0]!r} is not in suite {suite.name} ({', '.join(suite.tasks)})")
    specs = []
    for method_name in methods:
        method = benchmark.method(method_name)
        overrides = {**suite.overrides, **method.overrides, **(extra or {})}
        for task in tasks or suite.tasks:
            presets = suite.presets_for(task)
            try:
                config = build_config(presets, {**overrides, "model_name": method.model_name})
            except ConfigError as error:
                raise SuiteError(f"{method_name} on {task}: {error}") from None
            for seed in seeds:
                run_dir = rundir.run_path(results, suite.name, method_name, task, seed)
                command = (sys.executable, "-m", "hieros.train", "--configs", *presets, f"--task={task}",
                           f"--seed={seed}", f"--logdir={run_dir}", f"--suite={suite.name}",
                           f"--method={method_name}", f"--model_name={method.model_name}",
                           *(f"--{k}={format_value(v)}" for k, v in overrides.items()))
                specs.append(RunSpec(suite.name, method_name, task, seed, run_dir, command, config.hash()))
    return specs
