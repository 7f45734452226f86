"""The argument types of the analysis subcommands (report, import, export, plot, seeds): a number above 0 and at
most a bound, a number inside an interval, a list of names, a name; each a one-line argparse error otherwise."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_SEED = 2**32 - 1  # NumPy's seeds are 32 bits


def positive(kind: type, most: float = math.inf) -> Callable[[str], int | float]:
    """A finite number above 0 and at most `most`."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        if value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most}, not {text}")
        return value

    return parse


def within(low: float, high: float) -> Callable[[str], float]:
    """A number in the open interval (low, high)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"must be above {low:g} and below {high:g}, not {text}")
        return value

    return parse


def names(text: str) -> list[str]:
    """A comma-separated list of at least one name (an empty one would read as all of them)."""
    names = [name for name in text.split(",") if name]
    if not names:
        raise argparse.ArgumentTypeError(f"name at least one, not {text!r} (leave the option out for all)")
    return names


def name(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("name one, not '' (leave the option out for all)")
    return text
