"""Reports, statistics and published results around the agent's runs; `analysis.load` gives them as DataFrames."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load(
    results: str | Path = "results", suite: str | None = None, baselines: str | list[str] | None = None
) -> tuple[Any, Any]:
    """(finals, curves) pandas DataFrames of the store and the shipped baselines (analysis.frames.load)."""
    from analysis import frames

    return frames.load(results, suite, baselines)
