"""benchmark.toml: suites (tasks, seeds, presets, budget, score protocol, overrides) and methods, validated.

Every mistake is a `SuiteError` with one line naming the file, the table and the key. Overrides are checked
against the real config (hieros.config is torch-free), so a typo fails here, before any run starts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.comparisons import SeedPlan
from hieros.cli_errors import suggest
from hieros.config import ConfigError, build_config
from hieros.envs import known_task, task_domain

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = PROJECT / "benchmark.toml"
TOP_KEYS = {"suites", "methods", "slurm", "local"}
SUITE_KEYS = {"description", "tasks", "seeds", "seeds_of", "methods", "presets", "budget_frames", "score", "set"}
METHOD_KEYS = {"description", "model_name", "base", "set"}
SCORE_KEYS = {"name", "window_frames"}
# [slurm]: the job array's resources (submitit parameters); "" or 0 leaves a key to the cluster's default.
SLURM_KEYS = {
    "partition": str,
    "account": str,
    "qos": str,
    "constraint": str,
    "gpus_per_node": int,
    "cpus_per_task": int,
    "mem_gb": int,
    "timeout_min": int,
    "array_parallelism": int,
    "runs_per_task": int,
    "setup": list,
    "python": str,
}
SLURM_DEFAULTS = {
    "partition": "",
    "account": "",
    "qos": "",
    "constraint": "",
    "gpus_per_node": 1,
    "cpus_per_task": 8,
    "mem_gb": 32,
    "timeout_min": 1440,
    "array_parallelism": 64,
    "runs_per_task": 1,
    "setup": [],
    "python": "python",
}
# [local]: the local process pool.
LOCAL_KEYS = {"runs_per_gpu": int}
LOCAL_DEFAULTS = {"runs_per_gpu": 1}
AT_LEAST_ONE = {"runs_per_task"}  # counts where 0 is no cluster default but a mistake


class SuiteError(ValueError):
    """benchmark.toml is broken, names something unknown, or the command line asks for something it lacks."""


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
    presets: dict[str, list[str]]  # task domain (atari, dmc) -> presets; "*" for every domain
    overrides: dict[str, Any]  # config keys, flat ("score.window_frames"), incl. budget and score protocol
    description: str = ""
    seeds_of: dict[str, int] = field(default_factory=dict)  # a method's own planned seeds, where not `seeds`

    def seeds_for(self, method: str) -> int:
        """The seeds the suite plans for `method` (1..N)."""
        return self.seeds_of.get(method, self.seeds)

    def presets_for(self, task: str) -> list[str]:
        return self.presets.get(task_domain(task), self.presets.get("*", []))


@dataclass
class Benchmark:
    path: Path
    suites: dict[str, Suite]
    methods: dict[str, Method]
    slurm: dict[str, Any] = field(default_factory=lambda: dict(SLURM_DEFAULTS))
    local: dict[str, Any] = field(default_factory=lambda: dict(LOCAL_DEFAULTS))

    def suite(self, name: str) -> Suite:
        if name not in self.suites:
            raise SuiteError(
                f"unknown suite {name!r}{suggest(name, self.suites)}; suites in {self.path}: {', '.join(self.suites)}"
            )
        return self.suites[name]

    def method(self, name: str) -> Method:
        if name not in self.methods:
            raise SuiteError(
                f"unknown method {name!r}{suggest(name, self.methods)}; methods in {self.path}: "
                f"{', '.join(self.methods)}"
            )
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
        raise SuiteError(
            f"{where}: unknown key {unknown[0]!r}{suggest(unknown[0], allowed)}; allowed: {', '.join(sorted(allowed))}"
        )


def _typed(where: str, table: Mapping[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = table.get(key, default)
    if value is None:
        raise SuiteError(f"{where}: {key!r} is missing")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SuiteError(f"{where}: {key!r} must be {'an' if kind is int else 'a'} {_KINDS[kind]}, not {value!r}")
    return value


_KINDS = {int: "integer", str: "string", list: "list", dict: "table"}


def _strings(where: str, key: str, value: list[Any]) -> list[str]:
    if not all(isinstance(v, str) for v in value):
        raise SuiteError(f"{where}: {key!r} must be a list of strings")
    return value


# Config keys that say which run a run is: the runner sets them from the suite, method, task and seed, so a
# `set` in benchmark.toml or `--set` may not (`--set seed=5` would make every "seed" of a sweep the same run).
IDENTITY_KEYS = ("seed", "task", "logdir", "suite", "method", "model_name")


def check_identity_keys(given: Mapping[str, Any], source: str) -> None:
    """Refuse a `set` (named by `source`) that sets a key of the run's identity."""
    for key in IDENTITY_KEYS:
        if key in given:
            raise SuiteError(
                f"{source} sets {key}, which says which run this is; the runner sets it: choose seeds with "
                "--seeds / --seed-list, tasks with --tasks, methods (and their model_name) in benchmark.toml"
            )


def _methods(path: Path, raw: Mapping[str, Any]) -> dict[str, Method]:
    methods: dict[str, Method] = {}

    def resolve(name: str, seen: tuple[str, ...] = ()) -> Method:
        if name in methods:
            return methods[name]
        where = f"{path} [methods.{name}]"
        if name in seen:
            raise SuiteError(f"{where}: 'base' goes round in a circle ({' -> '.join((*seen, name))})")
        table = _typed(f"{path} [methods]", raw, name, dict)
        _check_keys(where, table, METHOD_KEYS)
        overrides = flatten(_typed(where, table, "set", dict, {}))
        check_identity_keys(overrides, f"{where} set")
        if "base" in table and "model_name" in table:
            raise SuiteError(f"{where}: give either 'base' or 'model_name', not both")
        if "base" in table:
            base_name = _typed(where, table, "base", str)
            if base_name not in raw:
                raise SuiteError(f"{where}: base {base_name!r} is not a method{suggest(base_name, raw)}")
            base = resolve(base_name, (*seen, name))
            model, overrides = base.model_name, {**base.overrides, **overrides}
        else:
            model = _typed(where, table, "model_name", str)
        try:
            build_config([], {**overrides, "model_name": model})
        except ConfigError as error:
            raise SuiteError(f"{where} set: {error}") from None
        methods[name] = Method(name, model, overrides, _typed(where, table, "description", str, ""))
        return methods[name]

    for name in raw:
        resolve(name)
    return methods


def _presets(where: str, table: Mapping[str, Any], tasks: list[str]) -> dict[str, list[str]]:
    """`presets = [...]` for every task, or `presets = {atari = [...], dmc = [...]}` per task domain."""
    raw = table.get("presets", [])
    if isinstance(raw, list):
        return {"*": _strings(where, "presets", raw)}
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: 'presets' must be a list, or a table of lists per task domain (atari, dmc)")
    presets = {key: _strings(where, f"presets.{key}", _typed(where, raw, key, list)) for key in raw}
    for domain in sorted({task_domain(t) for t in tasks}):
        if domain not in presets:
            raise SuiteError(f"{where}: 'presets' has no entry for the {domain}_* tasks")
    return presets


def _protocol(where: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """budget_frames and score = {name, window_frames} as the config keys they stand for."""
    out: dict[str, Any] = {}
    if "budget_frames" in table:
        budget = _typed(where, table, "budget_frames", int)
        if budget <= 0:
            raise SuiteError(f"{where}: 'budget_frames' must be positive, not {budget}")
        out["steps"] = budget
    score = _typed(where, table, "score", dict, {})
    _check_keys(f"{where} score", score, SCORE_KEYS)
    if "name" in score:
        out["score.protocol"] = _typed(f"{where} score", score, "name", str)
    if "window_frames" in score:
        out["score.window_frames"] = _typed(f"{where} score", score, "window_frames", int)
    return out


def _suite(path: Path, name: str, table: Mapping[str, Any], methods: Mapping[str, Method]) -> Suite:
    where = f"{path} [suites.{name}]"
    if "normalization" in table:
        raise SuiteError(
            f"{where}: 'normalization' is no longer read (reports normalise Atari by the random and "
            "human scores and DMC by return/1000, docs/report.md); remove it"
        )
    _check_keys(where, table, SUITE_KEYS)
    tasks = _strings(where, "tasks", _typed(where, table, "tasks", list))
    for task in tasks:
        known_task(task, SuiteError, where)
    if not tasks or len(set(tasks)) != len(tasks):
        raise SuiteError(f"{where}: 'tasks' must be a non-empty list without repeats")
    seeds = _typed(where, table, "seeds", int, 1)
    if seeds < 1:
        raise SuiteError(f"{where}: 'seeds' must be at least 1, not {seeds}")
    names = _strings(where, "methods", _typed(where, table, "methods", list))
    for method in names:
        if method not in methods:
            raise SuiteError(
                f"{where}: unknown method {method!r}{suggest(method, methods)}; methods: {', '.join(methods)}"
            )
    presets = _presets(where, table, tasks)
    protocol = _protocol(where, table)
    overrides = flatten(_typed(where, table, "set", dict, {}))
    check_identity_keys(overrides, f"{where} set")
    both = sorted(set(protocol) & set(overrides))
    if both:
        raise SuiteError(f"{where}: {both[0]!r} is given twice (by 'set' and by 'budget_frames' or 'score')")
    overrides = {**protocol, **overrides}
    for domain, preset_names in presets.items():
        for method in names:
            try:
                build_config(preset_names, {**overrides, **methods[method].overrides})
            except ConfigError as error:
                raise SuiteError(f"{where} presets.{domain} with method {method}: {error}") from None
    seeds_of = _typed(where, table, "seeds_of", dict, {})
    for method, count in seeds_of.items():
        if method not in names:
            raise SuiteError(f"{where}: seeds_of names {method!r}, which is not one of the suite's methods")
        if type(count) is not int or count < 1:
            raise SuiteError(f"{where}: seeds_of.{method} must be a whole number of at least 1, not {count!r}")
    description = _typed(where, table, "description", str, "")
    return Suite(name, tasks, seeds, names, presets, overrides, description, dict(seeds_of))


def _settings(
    path: Path, raw: Mapping[str, Any], name: str, kinds: dict[str, type], defaults: dict[str, Any]
) -> dict[str, Any]:
    where = f"{path} [{name}]"
    table = _typed(str(path), raw, name, dict, {})
    _check_keys(where, table, set(kinds))
    out = dict(defaults)
    for key in table:
        out[key] = _typed(where, table, key, kinds[key])
        if kinds[key] is int and out[key] < 0:
            raise SuiteError(f"{where}: {key!r} must not be negative")
        if key in AT_LEAST_ONE and out[key] < 1:
            raise SuiteError(f"{where}: {key!r} must be at least 1, not {out[key]}")
        if kinds[key] is list:
            _strings(where, key, out[key])
    return out


def load(path: str | Path | None = None) -> Benchmark:
    """Read and validate a suite file (default: ./benchmark.toml if there is one, else the project's)."""
    file = Path(path) if path else (Path("benchmark.toml") if Path("benchmark.toml").exists() else DEFAULT_FILE)
    try:
        raw = tomllib.loads(file.read_text())
    except OSError as error:
        raise SuiteError(f"{file}: cannot read it ({error.strerror}); pass another with --suites FILE") from None
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(f"{file}: not valid TOML ({error})") from None
    _check_keys(str(file), raw, TOP_KEYS)
    methods = _methods(file, _typed(str(file), raw, "methods", dict, {}))
    suites = {
        name: _suite(file, name, _typed(f"{file} [suites]", raw.get("suites", {}), name, dict), methods)
        for name in _typed(str(file), raw, "suites", dict, {})
    }
    if not suites:
        raise SuiteError(f"{file}: no [suites.NAME] table")
    return Benchmark(
        file,
        suites,
        methods,
        _settings(file, raw, "slurm", SLURM_KEYS, SLURM_DEFAULTS),
        _settings(file, raw, "local", LOCAL_KEYS, LOCAL_DEFAULTS),
    )


def planned_seeds(suite: str | None) -> SeedPlan | None:
    """The seeds benchmark.toml asks of `suite`, or None where the suite file does not name it (or is broken: a
    report does not need it). What bench.cli hands the report (analysis.cli.register)."""
    try:
        benchmark = load()
    except (SuiteError, OSError):
        return None
    if suite not in benchmark.suites:
        return None
    return SeedPlan(benchmark.suites[suite].seeds, dict(benchmark.suites[suite].seeds_of))
