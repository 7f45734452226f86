"""The results store as the report sees it: runs found and read through hieros.run_search (the store's layout, or
any folder of run directories), final scores by each run's declared protocol, and score normalisation.

Atari: human-normalised score (score - random) / (human - random), with the table in
analysis/data/atari_random_human.csv. DMC: return / 1000.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np

from hieros import metrics_file, run_search
from hieros.envs import task_domain
from hieros.run_file import ImportProvenance, Record, RunProtocol
from hieros.run_search import Sources

DATA = Path(__file__).with_name("data")
PROTOCOL_IDENTITY = ("game", "task", "mode")  # env protocol fields that name the task, not the protocol


class StoreError(ValueError):
    """The store is empty, corrupt or does not fit the request; the message is one line."""


def game_to_task(game: str) -> str:
    """'MsPacman' -> 'atari_ms_pacman', 'UpNDown' -> 'atari_up_n_down' (our task names)."""
    return "atari_" + re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()


@cache
def _reference_table() -> dict[str, tuple[str, float, float]]:
    with open(DATA / "atari_random_human.csv") as f:
        return {game_to_task(r["game"]): (r["game"], float(r["random"]), float(r["human"])) for r in csv.DictReader(f)}


def random_human() -> dict[str, tuple[float, float]]:
    """{task: (random, human)} for the 26 Atari100k games."""
    return {task: (low, high) for task, (_, low, high) in _reference_table().items()}


def find_game(name: str) -> str | None:
    """The Atari100k task of a game name as authors write it ('MsPacman', 'ms_pacman', 'james_bond', 'atari_pong'),
    or None: case and underscores are ignored."""
    return _game_keys().get(_game_key(name))


def _game_key(name: str) -> str:
    return name.removeprefix("atari_").replace("_", "").lower()


@cache
def _game_keys() -> dict[str, str]:
    return {_game_key(task): task for task in _reference_table()}


def display_name(task: str) -> str:
    """The published game name of an Atari task ('atari_ms_pacman' -> 'MsPacman'); other tasks unchanged."""
    return _reference_table()[task][0] if task in _reference_table() else task


def normalization(task: str) -> str:
    domain = task_domain(task)
    if domain == "atari":
        if task not in _reference_table():
            raise StoreError(f"no random/human scores for {task!r} in {DATA / 'atari_random_human.csv'}")
        return "human"
    if domain == "dmc":
        return "return/1000"
    raise StoreError(f"no score normalisation for task {task!r} (known: atari_*, dmc_*)")


# Atari100k games whose score can go below 0 (Pong and Boxing are bounded by the rules, PrivateEye's penalties
# are not); every other game only adds points.
SIGNED_SCORES = {"atari_pong": (-21.0, 21.0), "atari_boxing": (-100.0, 100.0), "atari_private_eye": (-np.inf, np.inf)}


def score_range(task: str) -> tuple[float, float]:
    """The scores a task's episode can have, (low, high) with +-inf where unbounded: DMC returns are in [0, 1000]
    (1000 steps of rewards in [0, 1]); Atari scores from 0 up, except SIGNED_SCORES."""
    if task_domain(task) == "dmc":
        return 0.0, 1000.0
    return SIGNED_SCORES.get(task, (0.0, np.inf))


def normalize(task: str, score: float | np.ndarray) -> float | np.ndarray:
    """Human-normalised score for Atari, return / 1000 for DMC."""
    if normalization(task) == "human":
        _, low, high = _reference_table()[task]
        return (score - low) / (high - low)
    return score / 1000.0


def protocol_key(protocol: RunProtocol, env: bool = True) -> str:
    """The protocol as a comparable string: the task's own name is left out, and the env settings with env=False."""
    parts = dataclasses.replace(protocol, env=env_key(protocol) if env else None).to_json()
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


def env_key(protocol: RunProtocol) -> str | None:
    """The env settings of a protocol without the task's name, comparable as a string; None if not declared."""
    if protocol.env is None:
        return None
    return json.dumps({k: v for k, v in protocol.env.items() if k not in PROTOCOL_IDENTITY}, sort_keys=True)


def describe_protocol(protocol: RunProtocol) -> str:
    """'final_train_window/10000 of 400000 frames (4 per step)' or 'published_final'."""
    score = protocol.score
    shown = score.name == "final_train_window" and score.window_frames is not None
    name = score.name + (f"/{score.window_frames}" if shown else "")
    budget = protocol.budget_frames
    return f"{name} of {budget} frames ({protocol.frames_per_step} per step)" if budget else score.name


@dataclass
class Run:
    """A run of the store: its directory and its record (run.json); its metrics read when first asked for."""

    path: Path
    record: Record

    @property
    def task(self) -> str:
        return self.record.task

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def imported(self) -> bool:
        return self.record.imported

    @property
    def source(self) -> ImportProvenance | None:
        """Where an imported run came from; None for a run made here."""
        provenance = self.record.provenance
        return provenance if isinstance(provenance, ImportProvenance) else None

    @cached_property
    def metrics(self) -> list[dict[str, Any]]:
        return metrics_file.read_metrics(self.path)

    @property
    def recorded_final(self) -> float | None:
        return self.record.score.final

    @cached_property
    def final(self) -> float | None:
        """The final score by the run's declared protocol, for finished runs (else None)."""
        if self.record.status != "done":
            return None
        protocol = self.record.protocol
        if protocol.score.name == "published_final":
            return self.recorded_final
        return metrics_file.final_score(self.metrics, protocol.score, protocol.budget_frames)


@dataclass
class Method:
    """All runs of one method in one suite: runs[task][seed]."""

    suite: str
    name: str
    runs: dict[str, dict[int, Run]] = field(default_factory=dict)

    @property
    def tasks(self) -> list[str]:
        return sorted(self.runs)

    @property
    def imported(self) -> bool:
        return any(run.imported for run in self.all_runs())

    def seeds(self) -> set[int]:
        return {seed for by_seed in self.runs.values() for seed in by_seed}

    def all_runs(self) -> list[Run]:
        return [run for task in self.tasks for _, run in sorted(self.runs[task].items())]

    def finals(self, task: str) -> np.ndarray:
        """Raw final scores of the task's finished runs, in seed order: (runs,)."""
        return np.array([r.final for _, r in sorted(self.runs.get(task, {}).items()) if r.final is not None])

    def _score(self, task: str, seed: int) -> float:
        run = self.runs.get(task, {}).get(seed)
        return np.nan if run is None or run.final is None else run.final

    def scored_tasks(self) -> list[str]:
        """Tasks on which at least one run has a final score."""
        return [t for t in self.tasks if any(r.final is not None for r in self.runs[t].values())]

    def scored_seeds(self, tasks: list[str]) -> list[int]:
        """Seeds with a final score on at least one of `tasks`: the rows of the (runs, tasks) array."""
        return sorted({s for t in tasks for s, r in self.runs.get(t, {}).items() if r.final is not None})

    def scores(self, tasks: list[str]) -> np.ndarray:
        """Normalised final scores (runs, tasks), one row per scored seed (rliable's layout); NaN where that seed
        has no score on a task (not run, not finished, or no episode in its final window)."""
        scored = set(self.scored_tasks())
        unscored = [t for t in tasks if t not in scored]
        if unscored:
            shown = ", ".join(unscored[:3]) + (f" and {len(unscored) - 3} more" if len(unscored) > 3 else "")
            raise StoreError(f"{self.name}: no run has a final score on {shown}; leave it out with --tasks")
        raw = np.array([[self._score(t, s) for t in tasks] for s in self.scored_seeds(tasks)], dtype=np.float64)
        return np.column_stack([normalize(t, raw[:, i]) for i, t in enumerate(tasks)])


def suites_in(results: Sources) -> list[str]:
    """The suites with at least one run at or under `results` (a store, a folder of run directories in any layout,
    a run directory, or several of them; hieros.run_search), sorted, a run that failed before its run.json
    included (so a suite whose every run failed is reported, and refused, not passed over); [] where none."""
    suites = set()
    for found in run_search.find(results):
        if found.recorded:
            record = None if found.layout_suite is not None else run_search.read(found)
            suites.add(run_search.suite_of(found, record) or run_search.NO_SUITE)
        elif found.layout_suite is not None and run_search.failed_start(found):
            suites.add(found.layout_suite)
    return sorted(suites)


def load_store(results: Sources, suite: str | None = None) -> dict[str, Method]:
    """{method: Method} of one suite (the only one at or under `results`, or `suite`); `results` as suites_in
    takes it. Two run directories of one run (suite, method, task and seed) are refused in one line naming both."""
    where = run_search.describe(results)
    if all(not path.is_dir() for path in run_search.paths_of(results)):
        raise StoreError(f"no results directory {where}")
    suites = suites_in(results)
    if not suites:
        raise StoreError(f"no runs under {where}; run `hieros-bench run SUITE` or `hieros-bench import FILE`")
    if suite is None:
        if len(suites) > 1:
            raise StoreError(f"{where} holds several suites ({', '.join(suites)}); choose one with --suite")
        suite = suites[0]
    elif suite not in suites:
        raise StoreError(f"no suite {suite!r} under {where}; it holds {', '.join(suites)}")
    methods: dict[str, Method] = {}
    for found in run_search.find(results):
        if not found.recorded or found.layout_suite not in (None, suite):
            continue
        record = run_search.read(found)
        suite_name, method, task, seed = run_search.identity(found, record)
        if suite_name != suite:
            continue
        by_seed = methods.setdefault(method, Method(suite, method)).runs.setdefault(task, {})
        if seed in by_seed:
            raise StoreError(
                f"{by_seed[seed].path} and {found.path} are both runs of {method} on {task} seed {seed}; "
                "give one of them (or move the other aside)"
            )
        by_seed[seed] = Run(found.path, record)
    return methods
