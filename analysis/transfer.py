"""Imported runs as run directories of the store: what an import was told (`Given`) and its defaults, the record
of an imported run (`imported_record`), the runs written whole (`store_runs`), and the original HIEROS code's log
directory (`import_original_logdir`). Published score files are read by analysis/score_files.py, other agents'
runs by analysis/foreign_runs.py; both store their runs here.

- the original HIEROS code's log directory (Snagnar/Hieros `train.py --logdir`): its scores.jsonl, one
  {"step", "episode/score"} (or "eval_episode/score") line per episode. Its `step` counts the reset step of
  every episode too, step = (agent steps + episodes begun) x action_repeat, so with one environment the k-th
  training episode ends at frames = step - k x frames_per_step. Imported as one run (--task, --seed) with the
  suite's final_train_window protocol.
Imported runs are ordinary run directories (status done) marked `provenance.imported`, naming the source file
and its sha256. A method that holds runs of ours or of another file is never overwritten; importing the same
file again rewrites its runs in place (each run swapped in whole).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import original_scores
from analysis.store import StoreError
from hieros import metrics_file, run_file, rundir
from hieros.run_file import ImportProvenance, Progress, Record, RunProtocol, Score, ScoreProtocol

BUDGETS = {"atari100k": 400_000}  # frames; other suites need --budget-frames
DEFAULT_SUITE = "atari100k"
FRAMES_PER_STEP = 4  # an import's defaults where neither the file nor a flag says
WINDOW_FRAMES = 10_000
EXPORTED = ("suite", "budget_frames", "frames_per_step", "window_frames")  # an export's keys beyond danijar's
FORMATS = ("danijar-json.gz", "per-game-lists", "hieros-original-logdir", "harmonydream-eval-curves")
ORIGINAL_SCORES = "scores.jsonl"


def imported_protocol(score: ScoreProtocol, budget: int, frames_per_step: int) -> RunProtocol:
    return RunProtocol.of(None, frames_per_step, budget, score)  # the authors' env settings are not known


def imported_record(
    suite: str,
    method: str,
    task: str,
    seed: int,
    protocol: RunProtocol,
    provenance: ImportProvenance,
    final: float | None,
) -> Record:
    """The record of an imported run: done, no config, its progress the whole budget, its final score."""
    return Record(
        suite=suite,
        method=method,
        task=task,
        seed=seed,
        status="done",
        config={},
        config_hash=f"imported-{provenance.sha256[:12]}",
        protocol=protocol,
        provenance=provenance,
        progress=Progress(env_steps=protocol.budget_steps, frames=protocol.budget_frames),
        score=Score(final),
    )


@dataclass(frozen=True)
class Imported:
    """What an import did: runs written, runs left as they were because they already hold this very file, and
    the method's folder in the store."""

    written: int
    unchanged: int
    folder: Path


@dataclass(frozen=True)
class Given:
    """What an import was told of the runs (its flags), None where not: a file's own values (EXPORTED) fill in."""

    budget_frames: int | None = None
    frames_per_step: int | None = None
    window_frames: int | None = None


TOLD_NOTHING = Given()  # an import without --budget-frames, --frames-per-step or --window-frames


def _write(run: Path, record: Record, episodes: list[dict[str, Any]]) -> None:
    """Build the run beside its place, then rename it into place, so a reader sees no run or the whole run."""
    staging = run.with_name(f".{run.name}.importing")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if episodes:
        writer = metrics_file.MetricsWriter(staging)
        for episode in episodes:
            writer.write(episode)
        writer.close()
    run_file.write_run(staging, record)
    os.replace(staging, run)


def store_runs(
    results: Path,
    folder: Path,
    sha256: str,
    runs: list[tuple[Path, Record, list[dict[str, Any]]]],
    force: bool,
    per_run: bool = False,
) -> Imported:
    """Write the runs, after checking every one. A run that already holds this very file is left as it is; any
    other run in the way (ours, or from another file; for a file import anywhere in the method's folder, so a
    method is one source) is refused, or with `force` moved aside as seed_<n>.old-<time>, as is every run to be
    rewritten. Nothing is deleted."""
    targets = {path for path, _, _ in runs}
    in_the_way = []
    for existing in rundir.find_runs(results):
        if not existing.is_relative_to(folder) or (per_run and existing not in targets):
            continue
        provenance = run_file.read_run(existing).provenance
        if force or not isinstance(provenance, ImportProvenance) or provenance.sha256 != sha256:
            in_the_way.append((existing, provenance))
    if in_the_way and not force:
        provenance = in_the_way[0][1]
        what = f"runs from {provenance.source_file}" if isinstance(provenance, ImportProvenance) else "runs of ours"
        raise StoreError(
            f"{folder} already holds {what}; import under another --method, or give --force to move "
            "them aside (seed_<n>.old-<time>)"
        )
    for existing, _ in in_the_way:
        rundir.move_aside(existing)
    todo = [(path, record, episodes) for path, record, episodes in runs if not (path / rundir.RUN_FILE).exists()]
    for path, record, episodes in todo:
        _write(path, record, episodes)
    return Imported(len(todo), len(runs) - len(todo), folder)


def budget_of(given: int | None, suite: str) -> int:
    budget = given or BUDGETS.get(suite)
    if budget is None:
        raise StoreError(f"the frame budget of suite {suite!r} is not known; give --budget-frames")
    return budget


def import_original_logdir(
    logdir: str | Path,
    method: str,
    results: str | Path,
    suite: str,
    task: str,
    seed: int = 1,
    given: Given = TOLD_NOTHING,
    force: bool = False,
) -> Imported:
    """One run from the original HIEROS code's log directory (its scores.jsonl, one environment)."""
    logdir, results = Path(logdir), Path(results)
    run = rundir.run_path(results, suite, method, known_task(task, "--task"), seed)
    budget = budget_of(given.budget_frames, suite)
    frames_per_step = given.frames_per_step or FRAMES_PER_STEP
    data, episodes = original_scores.read(logdir / ORIGINAL_SCORES, frames_per_step)
    sha256 = hashlib.sha256(data).hexdigest()
    window = given.window_frames or WINDOW_FRAMES
    protocol = imported_protocol(ScoreProtocol("final_train_window", window), budget, frames_per_step)
    provenance = ImportProvenance(
        f"{logdir.name}/{ORIGINAL_SCORES}", sha256, FORMATS[2], {"step_convention": original_scores.STEP_CONVENTION}
    )
    final = metrics_file.final_score(episodes, protocol.score, budget)
    record = dataclasses.replace(
        imported_record(suite, method, task, seed, protocol, provenance, final),
        # one config for every run of this import kind: the runs of a method are one setting, each from its own file
        config_hash=f"imported-{FORMATS[2]}",
        progress=Progress(env_steps=max(e["env_step"] for e in episodes), frames=max(e["frames"] for e in episodes)),
    )
    return store_runs(results, results / suite / method, sha256, [(run, record, episodes)], force, per_run=True)


def known_task(task: Any, where: str) -> str:
    """`task` if the registry knows it, else a one-line StoreError naming the closest."""
    from hieros.envs import known_task

    if not isinstance(task, str):
        raise StoreError(f"{where}: the task {task!r} is not a name")
    return known_task(task, StoreError, where)
