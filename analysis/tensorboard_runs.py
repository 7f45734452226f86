"""Other agents' runs from their TensorBoard event files (CleanRL's runs/<name>/, sheeprl's
logs/runs/<algo>/<env>/<run>/version_0/, our own <run>/tensorboard/), read with the tensorboard package: every
record of every file checked whole by its record reader (a file cut short, or corrupt, is refused rather than read
up to the damage, as TensorBoard itself would show it), then the scalars read by its EventAccumulator, which also
drops the events a resumed writer purged.

A folder of event files is one run (TensorBoard's own convention: a run is a directory); a path may hold many.
What each run is comes from analysis/foreign_runs.py; the config files beside a run (sheeprl's config.yaml,
Lightning's hparams.yaml) and the run.json of our own runs say it where its name does not.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from analysis.store import StoreError
from analysis.trackers import ForeignRun, flatten, tag_for
from hieros import run_file, rundir
from hieros.run_file import Record

EVENTS = "events.out.tfevents."
CONFIG_FILES = ("config.yaml", "hparams.yaml")  # sheeprl's hydra config beside its run, Lightning's hparams


def event_files(path: Path) -> list[Path]:
    """The event files at or under `path`, sorted."""
    if path.is_file():
        return [path] if path.name.startswith(EVENTS) else []
    return sorted(p for p in path.rglob(f"{EVENTS}*") if p.is_file())


def read(path: Path, tag: str | None) -> tuple[list[ForeignRun], str, str]:
    """(the runs under `path`, the tag read, the sha256 of every event file's path and bytes); each file checked
    whole first."""
    files = event_files(path)
    if not files:
        raise StoreError(f"{path}: no TensorBoard event files ({EVENTS}*) in it")
    digest = hashlib.sha256()
    for file in files:
        _check_whole(file)
        digest.update(file.relative_to(path).as_posix().encode() if path.is_dir() else file.name.encode())
        digest.update(file.read_bytes())
    root = path if path.is_dir() else path.parent
    folders = sorted({file.parent for file in files})
    scalars = {folder: _scalars(folder if path.is_dir() else path) for folder in folders}
    chosen = None
    runs = []
    for folder in folders:
        where = str(folder if path.is_dir() else path)
        found = tag_for(sorted(scalars[folder]), tag or chosen, where)
        chosen = chosen or found  # every run of one import under one tag
        name = folder.relative_to(root).as_posix() if folder != root else folder.name
        runs.append(
            ForeignRun(
                name=name,
                where=where,
                points=scalars[folder][found],
                config=_config(folder, root),
                names=[p.name for p in (folder, *folder.parents) if p.is_relative_to(root)],
                record=_our_record(folder),
            )
        )
    return runs, chosen or "", digest.hexdigest()


def _check_whole(file: Path) -> None:
    """Every record of an event file read by tensorboard's record reader (length and crc32c of each checked): a
    file cut short or corrupt is refused in one line, and so is an empty one."""
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow

    reader = pywrap_tensorflow.PyRecordReader_New(str(file), 0, None, None)
    count = 0
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            break
        except errors.DataLossError:
            raise StoreError(
                f"{file}: cut short or corrupt after {count} records (a run still writing it, or a copy that "
                "stopped early); copy it again whole, or leave it out"
            ) from None
        count += 1
    if count == 0:
        raise StoreError(f"{file}: empty, no events in it; leave it out (its writer logged nothing)")


def _scalars(source: Path) -> dict[str, list[tuple[float, float]]]:
    """{tag: [(step, value)]} of every scalar in a folder of event files (or one file), all of them kept."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(str(source), size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()[event_accumulator.SCALARS]
    }


def _config(folder: Path, root: Path) -> dict[str, Any]:
    """The config beside a run or in a folder above it (up to the folder given), flattened; {} without one."""
    for place in (folder, *folder.parents):
        for name in CONFIG_FILES:
            file = place / name
            if file.is_file():
                try:
                    content = yaml.safe_load(file.read_text())
                except (OSError, yaml.YAMLError) as error:
                    first = str(error).splitlines()[0]
                    raise StoreError(f"{file}: cannot read it as YAML ({first}); fix or remove it") from None
                if isinstance(content, dict):
                    return flatten(content)
        if place == root or not place.is_relative_to(root):
            break
    return {}


def _our_record(folder: Path) -> Record | None:
    """The run.json of one of our runs whose tensorboard/ folder this is, else None."""
    if folder.name == "tensorboard" and (folder.parent / rundir.RUN_FILE).is_file():
        return run_file.read_run(folder.parent)
    return None
