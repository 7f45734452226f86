"""A config's identity as a hash of canonical values, and the keys in which two configs differ.

The hash covers what changes the computation of a run: it leaves out the run's identity (task, seed, where it is
written) and keys that only record or pace its output without changing a number it computes (TensorBoard files,
W&B, videos, checkpoint spacing: resume is exact). Values are compared by meaning, not by spelling: `32`, `32.0`
and `"32"` are one value, as are `true` and `"True"`, so a change of a key's declared type is not a new config.
Works on flat mappings ({"a.b": value}); hieros.config fills in a recorded config's missing keys before it hashes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

# Keys that name or steer a run without changing what it computes.
IDENTITY_KEYS = ("task", "seed", "logdir", "suite", "method", "stop_after")
# Keys that write or space a run's records without changing a number it computes.
RECORDING_KEYS = ("tensorboard", "wandb", "video_every", "save_every")
OUTSIDE_HASH = IDENTITY_KEYS + RECORDING_KEYS

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def canonical(value: Any) -> Any:
    """The value by meaning: numbers (and strings that spell one) as their shortest exact text, booleans (and
    their spellings) as 'true'/'false', None as 'null', lists element-wise."""
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return _number(value)
    text = str(value)
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower()
    if _NUMBER.fullmatch(text.strip()):
        return _number(float(text))
    return text


def _number(value: float) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    return repr(value)


def computing_values(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"a.b": canonical value} of every key that changes what a run computes."""
    return {key: canonical(value) for key, value in flat.items() if key.split(".")[0] not in OUTSIDE_HASH}


def digest(flat: Mapping[str, Any]) -> str:
    """12 hex digits of the canonical computing values; key order does not matter."""
    text = json.dumps(computing_values(flat), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def differences(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 6) -> str:
    """'a: 1 -> 2, b.c: x -> (absent)': the computing keys whose canonical values differ, at most `limit` named."""
    before, after = computing_values(old), computing_values(new)
    changed = [
        f"{key}: {_show(old, key)} -> {_show(new, key)}"
        for key in sorted(set(before) | set(after))
        if before.get(key, _ABSENT) != after.get(key, _ABSENT)
    ]
    more = f" (and {len(changed) - limit} more)" if len(changed) > limit else ""
    return ", ".join(changed[:limit]) + more


_ABSENT = object()


def _show(values: Mapping[str, Any], key: str) -> str:
    """A value as a flag takes it: true/false, lists comma separated, '' for an empty string."""
    if key not in values:
        return "(absent)"
    value = values[key]
    if isinstance(value, list | tuple):
        return ",".join(_show({"v": item}, "v") for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if value == "" else str(value)
