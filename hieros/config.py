"""Configuration: a `defaults` block plus named presets in configs.yaml, merged in order, then CLI overrides.

    python -m hieros.train --configs atari100k debug --task=atari_pong --replay=uniform --s5.num_blocks=2

Every key can be set as `--key=value` (or `--key value`); nested keys use dots. A value is parsed by the
type of the key's default: ints accept `1e5`, bools accept true/false, lists are comma separated (or YAML),
strings stay strings. Unknown keys, bad values and unknown presets raise `ConfigError` with a one-line
message that names the closest valid choices.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hieros import config_hash
from hieros.cli_errors import suggest
from hieros.config_schema import ConfigError, Spec, check, flag_text, split_spec
from hieros.json_values import is_number

if TYPE_CHECKING:
    from hieros.run_file import Record

CONFIGS_FILE = Path(__file__).with_name("configs.yaml")
__all__ = [
    "Config",
    "ConfigError",
    "build_config",
    "config_mismatch",
    "flat_defaults",
    "recorded_hash",
    "run_config_hash",
]  # ConfigError lives in config_schema, which checks values
# What a model name sets, after presets and flags: the config that runs (and run.json records) says it.
MODEL_IMPLIES: dict[str, dict[str, Any]] = {
    "dreamer": {"dynamics_model": "rssm", "max_hierarchy": 1, "novelty_reward_weight": 0.0},
}


class Config(dict):
    """A nested dict with attribute access (`config.s5.num_blocks`). Treat it as read-only."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def flat(self, prefix: str = "") -> dict[str, Any]:
        """All leaves as {"a.b": value}."""
        out: dict[str, Any] = {}
        for key, value in self.items():
            if isinstance(value, Mapping):
                out.update(Config(value).flat(f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self))

    def hash(self) -> str:
        """A stable 12-hex-digit hash of the values that change the computation (hieros.config_hash): runs of
        one method across tasks and seeds share it; key order and a value's type spelling do not matter."""
        return config_hash.digest(self.flat())


def recorded_flat(recorded: Mapping[str, Any], path: Path = CONFIGS_FILE) -> dict[str, Any]:
    """A config as a run recorded it, flat, with the keys that did not exist then at today's defaults (a key is
    added with the default that keeps the earlier behaviour)."""
    return {**flat_defaults(path), **Config(_wrap(recorded)).flat()}


def recorded_hash(recorded: Mapping[str, Any]) -> str:
    """The hash today's code gives a config that a run recorded (run.json's `config`), whatever hash it stored."""
    return config_hash.digest(recorded_flat(recorded))


def run_config_hash(record: Record) -> str:
    """The hash by which a run record's config is compared today: recomputed from its `config` where it holds one
    (a store written before a change of hashing stays one config), else the hash it stored (imported runs)."""
    return recorded_hash(record.config) if record.config else record.config_hash


def config_mismatch(recorded: Mapping[str, Any], config: Config) -> str | None:
    """None when a recorded config computes what `config` does, else the keys that differ ('a: 1 -> 2, ...')."""
    old = recorded_flat(recorded)
    if config_hash.digest(old) == config.hash():
        return None
    return config_hash.differences(old, config.flat())


@functools.lru_cache(maxsize=4)
def _flat_default_items(path: Path) -> tuple[tuple[str, Any], ...]:
    return tuple(Config(_wrap(load_blocks(path)["defaults"])).flat().items())


def flat_defaults(path: Path = CONFIGS_FILE) -> dict[str, Any]:
    """Every key of the `defaults` block at its default, flat ({"a.b": value}); a fresh copy."""
    return copy.deepcopy(dict(_flat_default_items(path)))


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Config({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [_wrap(v) for v in value]
    return value


def load_blocks(path: Path = CONFIGS_FILE) -> dict[str, dict[str, Any]]:
    with open(path) as f:
        blocks = yaml.safe_load(f)
    if not isinstance(blocks, dict) or "defaults" not in blocks:
        raise ConfigError(f"{path} must be a mapping with a 'defaults' block")
    return blocks


def preset_names(path: Path = CONFIGS_FILE) -> list[str]:
    return [name for name in load_blocks(path) if name != "defaults"]


def merge(base: dict[str, Any], update: Mapping[str, Any], where: str | None = None) -> None:
    """Merge `update` into `base` in place: a mapping into a dict recursively, any other value replaces (a copy).

    With `where` (what `update` is, for the error: a preset), only the keys `base` has, and a group only by a
    mapping; without it (the original's configs, parity/original.py) a new key is added and a group replaced."""
    for key, value in update.items():
        if where is not None and key not in base:
            raise ConfigError(f"{where}: unknown key {key!r}{suggest(key, list(base))}")
        if isinstance(base.get(key), dict) and isinstance(value, Mapping):
            merge(base[key], value, where)
        elif isinstance(base.get(key), dict) and where is not None:
            raise ConfigError(f"{where}: key {key!r} is a group, give it a mapping")
        else:
            base[key] = copy.deepcopy(value)


def parse_value(text: str, default: Any, key: str) -> Any:
    """Parse a CLI string into the type of `default`."""
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ConfigError(f"--{key}: expected true or false, got {text!r}")
    if isinstance(default, int):
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"--{key}: expected an integer, got {text!r}") from None
        if not number.is_integer():
            raise ConfigError(f"--{key}: expected an integer, got {text!r}")
        return int(number)
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"--{key}: expected a number, got {text!r}") from None
    if isinstance(default, list):
        stripped = text.strip()
        items = yaml.safe_load(stripped) if stripped.startswith("[") else stripped.split(",")
        if stripped == "":
            items = []
        if not isinstance(items, list):
            raise ConfigError(f"--{key}: expected a comma-separated list, got {text!r}")
        if default:
            items = [item if not isinstance(item, str) else parse_value(item, default[0], key) for item in items]
        return items
    if default is None:
        return yaml.safe_load(text)
    return text


def _check_type(key: str, value: Any, default: Any) -> None:
    """Presets must keep each key's type (an int key may take a float that is integral, like 1e5)."""
    if default is None or value is None:
        return
    if isinstance(default, bool) != isinstance(value, bool):
        raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")
    if is_number(default) and is_number(value):
        if isinstance(default, int) and not float(value).is_integer():
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return
    if isinstance(default, str) and isinstance(value, int):  # YAML reads `precision: 32` as a number
        return
    if not isinstance(value, type(default)):
        raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")


def _normalise(tree: dict[str, Any], defaults: Mapping[str, Any], prefix: str = "") -> None:
    """Coerce integral floats from YAML (`4e5`) into ints where the default is an int; check types."""
    for key, value in tree.items():
        default = defaults[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _normalise(value, default, f"{name}.")
            continue
        _check_type(name, value, default)
        if isinstance(default, int) and not isinstance(default, bool) and is_number(value):
            tree[key] = int(value)
        elif isinstance(default, float) and is_number(value):
            tree[key] = float(value)
        elif isinstance(default, str) and isinstance(value, int):
            tree[key] = str(value)


@functools.lru_cache(maxsize=4)
def _comments(path: Path) -> dict[str, str]:
    """{"a.b": comment} of every key in the `defaults` block (groups too, where commented)."""
    comments: dict[str, str] = {}
    parents: list[str] = []
    inside = False
    for line in path.read_text().splitlines():
        if re.match(r"\w", line):
            inside = line.startswith("defaults:")
            continue
        match = re.match(r"( *)([A-Za-z_]\w*):(.*)$", line) if inside else None
        if not match:
            continue
        depth = len(match[1]) // 2 - 1
        parents[depth:] = [match[2]]
        _, _, comment = match[3].partition(" #")
        comments[".".join(parents)] = comment.strip()
    return comments


@functools.lru_cache(maxsize=4)
def _keys(path: Path) -> tuple[dict[str, Spec | None], dict[str, str]]:
    """({"a.b": spec}, {"a.b": doc}) from the comments of the `defaults` block (config_schema says the syntax)."""
    defaults = flat_defaults(path)
    specs: dict[str, Spec | None] = {}
    docs: dict[str, str] = {}
    for key, comment in _comments(path).items():
        specs[key], docs[key] = split_spec(comment, defaults.get(key), key)
    return specs, docs


def key_docs(path: Path = CONFIGS_FILE) -> dict[str, str]:
    """{"a.b": one-line doc} of every key (and of groups where commented), without its spec."""
    return _keys(path)[1]


def key_specs(path: Path = CONFIGS_FILE) -> dict[str, Spec | None]:
    """{"a.b": allowed values} of every key, as declared at the start of its comment in configs.yaml."""
    return _keys(path)[0]


def build_config(
    presets: Sequence[str] = (), overrides: Mapping[str, Any] | None = None, path: Path = CONFIGS_FILE
) -> Config:
    """Merge `defaults`, then each preset in order, then overrides ({"a.b": value}; strings are parsed)."""
    blocks = load_blocks(path)
    defaults = blocks["defaults"]
    config = copy.deepcopy(defaults)
    for name in presets:
        if name not in blocks or name == "defaults":
            raise ConfigError(
                f"unknown preset {name!r}{suggest(name, list(blocks))}; presets: {', '.join(preset_names(path))}"
            )
        merge(config, blocks[name] or {}, f"preset {name!r}")
    _normalise(config, defaults)
    flat_defaults = Config(_wrap(defaults)).flat()
    for key, raw in (overrides or {}).items():
        if key not in flat_defaults:
            group = any(k.startswith(key + ".") for k in flat_defaults)
            hint = f" (it is a group: set its keys, e.g. --{key}.<key>=VALUE)" if group else ""
            raise ConfigError(f"unknown key --{key}{hint or suggest(key, list(flat_defaults))}")
        current = _lookup(config, key)
        default = flat_defaults[key] if flat_defaults[key] is not None else current
        value = parse_value(raw, default, key) if isinstance(raw, str) else raw
        _check_type(f"--{key}", value, default)
        _assign(config, key, value)
    _normalise(config, defaults)
    _apply_model(config, {key: _lookup(config, key) for key in (overrides or {})})
    resolved = _wrap(config)
    check(resolved.flat(), key_specs(path), flat_defaults)
    _check_rules(resolved)
    return resolved


def _apply_model(config: dict[str, Any], given: Mapping[str, Any]) -> None:
    """Set what the model implies (MODEL_IMPLIES), refusing a flag that contradicts it."""
    for key, value in MODEL_IMPLIES.get(config["model_name"], {}).items():
        if key in given and given[key] != value:
            raise ConfigError(
                f"--model_name={config['model_name']} implies --{key}={flag_text(value)}; drop "
                f"--{key}={flag_text(given[key])} (or use --model_name=hieros with the keys you want)"
            )
        _assign(config, key, value)


def _check_rules(config: Config) -> None:
    """What the values allow one by one but this version does not build."""
    if config.precision == "16":
        raise ConfigError(
            "--precision=16 (the original's fp16 with loss scaling) is not built in this version; use "
            "--precision=bf16 (mixed precision without loss scaling) or 32 (the paper's setting)"
        )
    if not config.hierarchical_world_models and config.max_hierarchy > 1:
        raise ConfigError(
            "--hierarchical_world_models=false (higher levels imagining in level 0's world model) is "
            "not built in this version; keep it true"
        )


def _lookup(tree: Mapping[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def _assign(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree[part]
    tree[leaf] = value
