"""The allowed values of every config key, declared in configs.yaml beside its default and doc, checked in one place.

A key's comment in the `defaults` block starts with its spec, then its doc:

    dynamics_model: s5       # {s5|rssm} s5 (S5WM) | rssm (GRU RSSM, the ablation)
    replay_temperature: 0.3  # [0, 1] ETBS temperature ...
    model_lr: 1.0e-4         # (0, inf) world model learning rate

    {a|b|c}                     one of these values, read with the key's type
    [lo, hi] (lo, hi) [lo, inf)  a number in the interval; for a list key, each element
    <regex>                     a regular expression that compiles
    <task>                      a task name of the registry (hieros.envs.check_task)
    <device>                    auto | cpu | cuda | cuda:N
    -                           any value of the key's type

A list key also keeps the length of its default. `check(config)` raises ConfigError naming the first bad value;
build_config calls it, so every way of making a config (the CLI, presets, hieros-bench --set) is checked alike.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hieros.json_values import is_number

INTERVAL = re.compile(r"^([\[(])\s*(-?inf|-?[\d.]+(?:e-?\d+)?)\s*,\s*(-?inf|-?[\d.]+(?:e-?\d+)?)\s*([\])])$")
NAMED = ("regex", "task", "device")
DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
# Set by bench/ for a run it gave a GPU: `--device=auto` must then find one (hieros.agent.device.gpu_evidence).
EXPECT_GPU_ENV = "HIEROS_EXPECT_GPU"


class ConfigError(ValueError):
    """A user mistake in presets or overrides; the message is one line and says what to do."""


class SpecError(ValueError):
    """A spec in configs.yaml that cannot be read (a mistake in the file, not the user's)."""


@dataclass(frozen=True)
class Spec:
    """The allowed values of one key: `choices`, an interval (`low`, `high` with open/closed ends), or `named`."""

    text: str
    choices: tuple[Any, ...] = ()
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    named: str = ""

    def allows(self, value: Any) -> bool:
        if isinstance(value, list):
            return all(self.allows(v) for v in value)
        if self.choices:
            return any(value == c and type(value) is type(c) for c in self.choices)
        if self.named:
            return self.named != "device" or bool(DEVICE.match(str(value)))
        if not is_number(value) or math.isnan(value):
            return not (math.isfinite(self.low) or math.isfinite(self.high))
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def words(self) -> str:
        """The allowed values as the error message says them."""
        if self.choices:
            return "one of " + " | ".join(flag_text(c) for c in self.choices)
        if self.named == "device":
            return "auto | cpu | cuda | cuda:N"
        return f"a number in {self.text}"


def flag_text(value: Any) -> str:
    """A value as it is typed on the command line: lists comma separated, bools lower case."""
    if isinstance(value, list):
        return ",".join(flag_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def _typed(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        return text.lower() == "true"
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return text


def split_spec(comment: str, default: Any, key: str) -> tuple[Spec | None, str]:
    """(spec, doc) of a key's comment; a comment without a leading spec gives (None, comment)."""
    head, _, rest = comment.partition(" ")
    if head == "-":
        return Spec("-"), rest.strip()
    if comment.startswith("{"):
        inside, _, rest = comment[1:].partition("}")
        element = default[0] if isinstance(default, list) and default else default
        return Spec(f"{{{inside}}}", choices=tuple(_typed(c.strip(), element) for c in inside.split("|"))), rest.strip()
    if comment.startswith("<"):
        name, _, rest = comment[1:].partition(">")
        if name not in NAMED:
            raise SpecError(f"configs.yaml: {key}: unknown spec <{name}> (known: {', '.join(NAMED)})")
        return Spec(f"<{name}>", named=name), rest.strip()
    if comment.startswith(("[", "(")):
        end = min(i for i in (comment.find("]"), comment.find(")")) if i >= 0)
        match = INTERVAL.match(comment[: end + 1])
        if match:
            opening, low, high, closing = match.groups()
            return Spec(
                match[0], low=float(low), high=float(high), low_open=opening == "(", high_open=closing == ")"
            ), comment[end + 1 :].strip()
    return None, comment


def check(config: Mapping[str, Any], specs: Mapping[str, Spec], defaults: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first value of the flat `config` outside its key's spec (or its default's length)."""

    for key, value in config.items():
        spec, default = specs.get(key), defaults.get(key)
        if isinstance(default, list) and default and isinstance(value, list) and len(value) != len(default):
            raise ConfigError(
                f"--{key}={flag_text(value)}: give {len(default)} values like the default {flag_text(default)}"
            )
        if spec is None or value is None:
            continue
        if not spec.allows(value):
            raise ConfigError(f"--{key}={flag_text(value)} is not valid: use {spec.words()}")
        if spec.named == "regex":
            try:
                re.compile(value)
            except re.error as error:
                raise ConfigError(f"--{key}={value!r} is not a regular expression ({error})") from None
        if spec.named == "task":
            from hieros.envs import known_task

            known_task(value, ConfigError, "--task")
