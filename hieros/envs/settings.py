"""The checked reading of an environment's settings: the `env.<suite>` block of the config over defaults.

Every value is checked, so a typo fails at once with a one-line EnvError that names the key and its valid
values; the result is JSON-able for the protocol stored with each run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from hieros.envs.base import EnvError

# A setting's check: whether a value is valid, and the valid values in words for the error message.
Check = tuple[Callable[[Any], bool], str]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def one_of(*allowed: Any) -> Check:
    """Exactly one of `allowed` (booleans are not mistaken for 0 and 1)."""
    return (lambda v: any(v == a and type(v) is type(a) for a in allowed), " | ".join(map(str, allowed)))


def integer(low: int) -> Check:
    """An integer no smaller than `low`."""
    return (lambda v: _is_int(v) and v >= low, f"an integer >= {low}")


BOOLEAN: Check = (lambda v: isinstance(v, bool), "true | false")
SIZE: Check = (
    lambda v: isinstance(v, list | tuple) and len(v) == 2 and all(_is_int(x) and x > 0 for x in v),
    "[height, width] with positive integers",
)


def read_settings(
    config: Mapping[str, Any] | None, suite: str, defaults: Mapping[str, Any], checks: Mapping[str, Check]
) -> dict[str, Any]:
    """The `env.<suite>` block of the config over the defaults, every value checked and made JSON-able."""
    block = ((config or {}).get("env") or {}).get(suite) or {}
    unknown = sorted(set(block) - set(defaults))
    if unknown:
        raise EnvError(f"env.{suite}: unknown key {unknown[0]!r}; keys: {', '.join(defaults)}")
    merged = {**defaults, **block}
    for key, (valid, words) in checks.items():
        if not valid(merged[key]):
            raise EnvError(f"env.{suite}.{key}={merged[key]!r} is not valid; use {words}")
    return {key: _plain(value) for key, value in merged.items()}


def _plain(value: Any) -> Any:
    """A JSON-able copy of a checked value: sequences as lists, NumPy integers as ints."""
    if isinstance(value, list | tuple):
        return [_plain(x) for x in value]
    return int(value) if _is_int(value) else value
