"""benchmark.toml: suites (tasks, seeds, presets, overrides) and methods (an agent plus overrides), validated.

Every mistake is a `SuiteError` with one line naming the file, the table and the key. Overrides are checked
against the real config (hieros.config is torch-free), so a typo fails here, before any run starts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hieros.config import ConfigError, build_config
from hieros.envs import EnvError, list_tasks

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "benchmark.toml"
SUITE_KEYS = {"description", "tasks", "seeds", "methods", "presets", "set", "normalization"}
METHOD_KEYS = {"description", "model_name", "base", "set"}
NORMALIZATIONS = ("human", "return/1000")
MODELS = ("hieros", "dreamer", "random")


class SuiteError(ValueError):
    """benchmark.toml is broken or names something unknown; one line."""


@dataclass(frozen=True)
class Method:
    name: str
    model_name: str
    overrides: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: list[str]
    seeds: int
    methods: list[str]
    presets: dict[str, list[str]]
    overrides: dict[str, Any]
    normalization: str
    description: str = ""

    def presets_for(self, task: str) -> list[str]:
        return self.presets[task.partition("_")[0]]


@dataclass
class Benchmark:
    path: Path
    suites: dict[str, Suite]
    methods: dict[str, Method]
    slurm: dict[str, Any] = field(default_factory=dict)

    def suite(self, name: str) -> Suite:
        if name not in self.suites:
            raise SuiteError(f"unknown suite {name!r}; suites in {self.path}: {', '.join(self.suites)}")
        return self.suites[name]

    def method(self, name: str) -> Method:
        if name not in self.methods:
            raise SuiteError(f"unknown method {name!r}; methods in {self.path}: {', '.join(self.methods)}")
        return self.methods[name]


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"score": {"window_frames": 1}} -> {"score.window_frames": 1}."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_keys(where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SuiteError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")


def _typed(where: str, table: Mapping[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = table.get(key, default)
    if value is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SuiteError(f"{where}: {key!r} must be a {kind.__name__}")
    return value


def _methods(path: Path, raw: Mapping[str, Any]) -> dict[str, Method]:
    methods: dict[str, Method] = {}

    def resolve(name: str, seen: tuple[str, ...] = ()) -> Method:
        if name in methods:
            return methods[name]
        where = f"{path} [methods.{name}]"
        if name in seen:
            raise SuiteError(f"{where}: 'base' goes round in a circle ({' -> '.join((*seen, name))})")
        table = raw[name]
        _check_keys(where, table, METHOD_KEYS)
        overrides = flatten(table.get("set", {}))
        if "base" in table:
            if table["base"] not in raw:
                raise SuiteError(f"{where}: base {table['base']!r} is not a method")
            base = resolve(table["base"], (*seen, name))
            model, overrides = base.model_name, {**base.overrides, **overrides}
        else:
            model = _typed(where, table, "model_name", str)
            if model not in MODELS:
                raise SuiteError(f"{where}: model_name {model!r} is not one of {', '.join(MODELS)}")
        methods[name] = Method(name, model, overrides, table.get("description", ""))
        return methods[name]

    for name in raw:
        resolve(name)
    return methods


def _suite(path: Path, name: str, table: Mapping[str, Any], methods: Mapping[str, Method]) -> Suite:
    where = f"{path} [suites.{name}]"
    _check_keys(where, table, SUITE_KEYS)
    tasks = _typed(where, table, "tasks", list)
    known = set(list_tasks())
    for task in tasks:
        if task not in known:
            raise SuiteError(f"{where}: unknown task {task!r}; `hieros-bench list` shows the tasks")
    seeds = _typed(where, table, "seeds", int, 1)
    names = _typed(where, table, "methods", list, [])
    for method in names:
        if method not in methods:
            raise SuiteError(f"{where}: unknown method {method!r}; methods: {', '.join(methods)}")
    presets = _typed(where, table, "presets", dict)
    for family in {task.partition("_")[0] for task in tasks}:
        if family not in presets:
            raise SuiteError(f"{where}: presets has no entry for the {family}_* tasks")
    normalization = _typed(where, table, "normalization", str, "human")
    if normalization not in NORMALIZATIONS:
        raise SuiteError(f"{where}: normalization {normalization!r} is not one of {', '.join(NORMALIZATIONS)}")
    overrides = flatten(table.get("set", {}))
    for family, names_ in presets.items():
        for method in names:
            try:
                build_config(names_, {**overrides, **methods[method].overrides})
            except ConfigError as error:
                raise SuiteError(f"{where} presets.{family} with method {method}: {error}") from None
    return Suite(name, tasks, seeds, names, presets, overrides, normalization, table.get("description", ""))


def load(path: str | Path | None = None) -> Benchmark:
    """Read and validate benchmark.toml (default: ./benchmark.toml, else the project's)."""
    file = Path(path) if path else (Path("benchmark.toml") if Path("benchmark.toml").exists() else DEFAULT_FILE)
    try:
        raw = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise SuiteError(f"{file}: not found; pass --suites FILE") from None
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(f"{file}: not valid TOML ({error})") from None
    _check_keys(str(file), raw, {"suites", "methods", "slurm"})
    methods = _methods(file, raw.get("methods", {}))
    try:
        suites = {name: _suite(file, name, table, methods) for name, table in raw.get("suites", {}).items()}
    except EnvError as error:
        raise SuiteError(f"{file}: {error}") from None
    return Benchmark(file, suites, methods, dict(raw.get("slurm", {})))
