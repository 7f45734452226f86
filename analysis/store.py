"""Read the results store (through hieros.rundir) into per-method score tables, and normalise scores.

Atari: human-normalised score (score - random) / (human - random) with the cited random/human table.
DMC: return / 1000.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hieros import rundir

DATA = Path(__file__).with_name("data")


class StoreError(ValueError):
    """The store is empty, corrupt or does not fit the request; one line."""


def game_to_task(game: str) -> str:
    """"MsPacman" -> "atari_ms_pacman"; "UpNDown" -> "atari_up_n_down"."""
    return "atari_" + re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()


@cache
def random_human() -> dict[str, tuple[float, float]]:
    """{task: (random, human)} from analysis/data/atari_random_human.csv."""
    with open(DATA / "atari_random_human.csv") as f:
        return {game_to_task(r["game"]): (float(r["random"]), float(r["human"])) for r in csv.DictReader(f)}


def normalize(task: str, score: float) -> float:
    if task.startswith("atari_"):
        low, high = random_human()[task]
        return (score - low) / (high - low)
    if task.startswith("dmc_"):
        return score / 1000.0
    raise StoreError(f"no normalisation for task {task!r}")


@dataclass
class Run:
    path: Path
    record: dict[str, Any]

    @property
    def final(self) -> float | None:
        return self.record["score"].get("final") if "score" in self.record else None

    @property
    def protocol_key(self) -> str:
        protocol = self.record["protocol"]
        return f"{protocol.get('score')} budget={protocol.get('budget_frames')}"


@dataclass
class Method:
    """All runs of one method in one suite, keyed by task then seed."""

    suite: str
    name: str
    runs: dict[str, dict[int, Run]] = field(default_factory=dict)

    @property
    def tasks(self) -> list[str]:
        return sorted(self.runs)

    def seeds(self) -> set[int]:
        return {seed for by_seed in self.runs.values() for seed in by_seed}

    def all_runs(self) -> list[Run]:
        return [run for task in self.tasks for _, run in sorted(self.runs[task].items())]

    def scores(self, tasks: list[str]) -> np.ndarray:
        """Normalised final scores (runs, tasks) of finished runs, in seed order.

        The array is rectangular: with --allow-partial, a task with more finished runs than another is cut to
        the smallest count (the coverage check reports it first)."""
        columns = []
        for task in tasks:
            finals = [r.final for _, r in sorted(self.runs.get(task, {}).items()) if r.final is not None]
            columns.append([normalize(task, s) for s in finals])
        count = min(len(c) for c in columns)
        return np.array([c[:count] for c in columns], dtype=np.float64).T

    def raw_means(self) -> dict[str, float]:
        out = {}
        for task, by_seed in self.runs.items():
            finals = [r.final for r in by_seed.values() if r.final is not None]
            if finals:
                out[task] = float(np.mean(finals))
        return out


def load_store(results: str | Path, suite: str | None = None) -> dict[str, Method]:
    """{method: Method} for one suite (the only one, or `suite`); an empty store is a StoreError."""
    paths = [p for p in rundir.find_runs(results) if p.relative_to(results).parts[0] != "report"]
    if not paths:
        raise StoreError(f"no runs under {results}; run `hieros-bench run SUITE` or `hieros-bench import FILE`")
    suites = sorted({p.relative_to(results).parts[0] for p in paths})
    if suite is None:
        if len(suites) > 1:
            raise StoreError(f"{results} holds several suites ({', '.join(suites)}); choose one with --suite")
        suite = suites[0]
    elif suite not in suites:
        raise StoreError(f"no suite {suite!r} under {results}; it holds {', '.join(suites)}")
    methods: dict[str, Method] = {}
    for path in paths:
        suite_name, method, task, seed_dir = path.relative_to(results).parts
        if suite_name != suite:
            continue
        entry = methods.setdefault(method, Method(suite, method))
        entry.runs.setdefault(task, {})[int(seed_dir[5:])] = Run(path, rundir.read_run(path))
    return methods
