"""Run directories in any layout: the store's `<suite>/<method>/<task>/seed_<n>/`, a run trained with
`python -m hieros.train` into its default `runs/<task>__<method>__<seed>__<time>/`, any `--logdir`, or a folder of
such folders. `status` and `report` read every run through here.

A run directory is a folder holding a run.json (or only a runner.log: a run the runner started that failed
before it wrote one). The search stops at a run directory (its aside/ copies of run.json are not runs), and
passes over hidden folders (staging, .submitit), runs moved aside (`seed_<n>.old-<time>`) and anything deeper
than MAX_DEPTH folders below the folder given; in a store, anything deeper than its layout (a store kept inside
it is read by giving its own folder).

Which run a run is comes from its run.json (suite, method, task, seed). A run found in the store layout (a
`seed_<n>` folder with its method and task folders inside the folder given) is read as the store reads it
(`run_file.read_stored_run`: it must be the run of its folder); any other is read with `run_file.read_run` and must
have run the seed its run.json names. A run trained outside a suite (run.json's suite is empty) belongs to the
suite NO_SUITE.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hieros import run_file, rundir, runlock

NO_SUITE = "runs"  # the suite of runs trained outside one (python -m hieros.train without --suite)
MAX_DEPTH = 6  # folders below the one given that are searched
STORE_DEPTH = 4  # <suite>/<method>/<task>/seed_<n>
MOVED_ASIDE = re.compile(r".+\.old-\d{8}-\d{6}(-\d+)?")
SEED_FOLDER = re.compile(r"seed_(\d+)")
RUN_MARKS = (rundir.RUN_FILE, rundir.RUNNER_LOG, rundir.METRICS_FILE, rundir.CKPT_DIR, runlock.LOCK_FILE)

Sources = str | Path | Sequence[str | Path]


@dataclass(frozen=True)
class Found:
    """A run directory: where it is (below the folder given, as given) and whether it lies in the store layout."""

    path: Path
    stored: bool  # <method>/<task>/seed_<n> inside the folder given: read as the store reads it

    @property
    def recorded(self) -> bool:
        """Whether it has a run.json (else only a runner.log)."""
        return (self.path / rundir.RUN_FILE).exists()

    @property
    def layout_suite(self) -> str | None:
        """The suite folder of a stored run (<suite>/<method>/<task>/seed_<n>), where its path has one."""
        parts = self.path.absolute().parts
        return parts[-4] if self.stored and len(parts) >= 4 else None


def paths_of(sources: Sources) -> list[Path]:
    """The folders (or run directories) to search: one or several; a run.json names its run directory."""
    listed = [sources] if isinstance(sources, str | Path) else list(sources)
    return [Path(p).parent if Path(p).name == rundir.RUN_FILE and Path(p).is_file() else Path(p) for p in listed]


def describe(sources: Sources) -> str:
    """The sources as a message names them: 'results', 'runs/a, runs/b'."""
    return ", ".join(str(p) for p in paths_of(sources))


def _is_run_dir(names: Iterable[str]) -> bool:
    return any(name in RUN_MARKS for name in names)


def find(sources: Sources) -> list[Found]:
    """Every run directory at or under the sources (with a run.json or a runner.log), each once, in path order;
    a source that does not exist holds none. In a store (a folder with runs at <suite>/<method>/<task>/seed_<n>)
    nothing deeper is its run: a store kept inside it is reported by giving its own folder."""
    found: dict[Path, Found] = {}
    for top in paths_of(sources):
        for here, _, stored in _walk(top):
            found.setdefault(here.absolute(), Found(here, stored))
    return sorted(found.values(), key=lambda f: f.path)


def _walk(top: Path) -> list[tuple[Path, int, bool]]:
    """(run directory, folders below `top`, in the store layout) of every run at or under `top`."""
    runs = []
    if not top.is_dir():
        return runs
    for folder, subfolders, files in os.walk(top):
        here = Path(folder)
        relative = here.relative_to(top).parts
        if _is_run_dir(set(files) | set(subfolders)):
            subfolders.clear()
            if {rundir.RUN_FILE, rundir.RUNNER_LOG} & set(files):
                stored = len(relative) >= 3 and SEED_FOLDER.fullmatch(relative[-1]) is not None
                runs.append((here, len(relative), stored))
            continue
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".")
            and name != rundir.ASIDE_DIR
            and not MOVED_ASIDE.fullmatch(name)
            and len(relative) < MAX_DEPTH
        )
    if any(depth == STORE_DEPTH and stored for _, depth, stored in runs):
        runs = [run for run in runs if run[1] <= STORE_DEPTH]
    return runs


def read(found: Found) -> run_file.Record:
    """The run's record, checked as its place allows (the module); a RunFileError names the run."""
    if found.stored:
        return run_file.read_stored_run(found.path)
    record = run_file.read_run(found.path)
    ran = record.config.get("seed", record.seed)  # imports record no config
    if ran != record.seed:
        raise rundir.RunFileError(
            f"{found.path}: it ran seed {ran} (its config), not the seed {record.seed} its run.json names, so "
            f"it repeats any other run of seed {ran}; move it aside or delete it"
        )
    return record


def suite_of(found: Found, record: run_file.Record | None) -> str | None:
    """The run's suite: its store folder's, else its run.json's (NO_SUITE where empty); None for a run without a
    run.json outside the store layout."""
    if found.layout_suite is not None:
        return found.layout_suite
    if record is None:
        return None
    return record.suite or NO_SUITE


def identity(found: Found, record: run_file.Record) -> tuple[str, str, str, int]:
    """(suite, method, task, seed) of a run with a record."""
    return suite_of(found, record) or NO_SUITE, record.method, record.task, record.seed


def failed_before_record(sources: Sources) -> list[Found]:
    """Stored runs the runner started whose last attempt failed before they wrote a run.json and that no process
    runs now (rundir.failed_before_record, in any folder of stores)."""
    return [found for found in find(sources) if found.stored and failed_start(found)]


def failed_start(found: Found) -> bool:
    """Whether a run without a run.json failed to start (runner.log) and no process runs it now."""
    return not found.recorded and rundir.failed_to_start(found.path) and not runlock.is_locked(found.path)
