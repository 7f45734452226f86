"""Independent pieces of a report's work in several processes (fork), or in this one.

`run(work, n, workers)` returns [work(0), ..., work(n - 1)]. `work` may be a closure: forked workers inherit it,
so nothing but the indices and the results is pickled. Where fork is not available (Windows), or with one
worker, the pieces run here in order. Results must not depend on which process computed them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

_work: Callable[[int], Any] | None = None


def cpus() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _call(index: int) -> Any:
    assert _work is not None
    return _work(index)


def run(work: Callable[[int], Any], n: int, workers: int, order: Sequence[int] | None = None) -> list[Any]:
    """[work(i) for i in range(n)], in up to `workers` forked processes; `order` is the order to start them in
    (longest first balances the load)."""
    global _work
    order = list(order) if order is not None else list(range(n))
    if workers <= 1 or n <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [work(i) for i in range(n)]
    _work = work
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, n)) as pool:
            done = pool.map(_call, order, chunksize=1)
    finally:
        _work = None
    results: list[Any] = [None] * n
    for i, result in zip(order, done, strict=True):
        results[i] = result
    return results
