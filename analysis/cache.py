"""A disk cache of the shipped baselines' own bootstrap estimates, so that a report beside every baseline does not
resample 100 runs per game of SPR, DrQ(eps) and CURL each time.

An entry is a pure function of its key: the method's name (it seeds the method's generator), its (runs, tasks)
scores, the bootstrap's replicates, seed and confidence, the profile's taus, and the source of the code that
computes them (analysis/stats.py, analysis/bootstrap.py) with numpy's version. A change to any of them is another
key, so a cached report has the same bytes as an uncached one. Entries are JSON (floats round-trip exactly),
written atomically; an unreadable entry is recomputed. The directory is $HIEROS_BENCH_CACHE, else
$XDG_CACHE_HOME/hieros-bench, else ~/.cache/hieros-bench; `hieros-bench report --no-cache` bypasses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hieros import rundir

_SOURCES = ("stats.py", "bootstrap.py")


def directory() -> Path:
    if os.environ.get("HIEROS_BENCH_CACHE"):
        return Path(os.environ["HIEROS_BENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hieros-bench"


@cache
def _code() -> bytes:
    here = Path(__file__).parent
    return b"".join(hashlib.sha256((here / name).read_bytes()).digest() for name in _SOURCES) + np.__version__.encode()


def key(name: str, scores: np.ndarray, **settings: Any) -> str:
    """The entry's name for method `name` with `scores` and the bootstrap's settings (arrays or JSON values)."""
    digest = hashlib.sha256(_code())
    digest.update(name.encode() + b"\0" + np.ascontiguousarray(scores, np.float64).tobytes())
    digest.update(repr(scores.shape).encode())
    for field, value in sorted(settings.items()):
        data = (
            np.ascontiguousarray(value, np.float64).tobytes()
            if isinstance(value, np.ndarray)
            else json.dumps(value).encode()
        )
        digest.update(field.encode() + b"\0" + data)
    return digest.hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return np.array(value["array"]) if set(value) == {"array"} else {k: _decode(v) for k, v in value.items()}
    return value


def load(entry: str) -> dict[str, Any] | None:
    """The cached estimates of `entry`, or None if there are none (or they cannot be read)."""
    try:
        return _decode(json.loads((directory() / f"{entry}.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(entry: str, estimates: dict[str, Any]) -> None:
    """Keep `estimates` under `entry`; a cache that cannot be written is skipped (it only saves time)."""
    with contextlib.suppress(OSError):
        rundir.atomic_write_bytes(directory() / f"{entry}.json", json.dumps(_encode(estimates)).encode())
