"""What JSON holds, as every file of ours writes and reads it: a number is an int or a float but never a bool
(Python's True is 1, JSON's true is not), and NaN or infinity, which JSON has not, is written as null."""

from __future__ import annotations

import math
from typing import Any


def is_number(value: Any) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def finite(value: Any) -> Any:
    """A float that is NaN or infinite as None; any other value as it is."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def finite_tree(value: Any) -> Any:
    """`finite` of every value in nested dicts and lists (a report's summary.json)."""
    if isinstance(value, dict):
        return {k: finite_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_tree(v) for v in value]
    return finite(value)
