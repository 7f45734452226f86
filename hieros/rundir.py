"""The run directory: the one contract between the agent (writer), the runner and the reports (readers).

    results/<suite>/<method>/<task>/seed_<n>/
        run.json        identity, status, resolved config and hash, provenance, progress, protocol, final score:
                        its types, reader and writer in hieros.run_file
        metrics.jsonl   one JSON object a line, each with `type`, `env_step` (agent steps) and `frames` (env frames):
                        written and read by hieros.metrics_file
        ckpt/           the latest checkpoint (written by hieros.checkpoint)
        .lock           held by the process that runs the run (hieros.runlock)

This module imports neither torch nor anything of the agent, so bench/ and analysis/ can read runs cheaply.
Every write is atomic (temp file, fsync, rename); readers check what they read and raise `RunFileError` with one
line that names the file.
"""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from hieros import runlock

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
CKPT_DIR = "ckpt"

# Score protocols: how one run's final score is computed from its metrics.
#   final_train_window: mean score of training episodes that end in the last `window_frames` frames of the
#                       budget (danijar/dreamerv3's convention: 10k frames for Atari100k); if none ends there,
#                       the last training episode.
#   final_eval:         mean score of the episodes of the last evaluation.
#   published_final:    an imported published score per run, stored in run.json (there is no curve).
SCORE_PROTOCOLS = ("final_train_window", "final_eval", "published_final")


class RunFileError(Exception):
    """A run file is missing, corrupt or from a newer schema; the message names the file."""


# A suite, method or task name as a folder of the store: no separators, no "..", nothing hidden.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def check_name(what: str, name: Any) -> str:
    """`name` if it can be a folder of the store, else a one-line RunFileError (never a path built from it)."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or ".." in name:
        raise RunFileError(
            f"{what} {name!r} cannot name a folder of the results store: use letters, digits and "
            "_ . + - (starting with a letter or digit, no '..')"
        )
    return name


def run_path(results: str | Path, suite: str, method: str, task: str, seed: int) -> Path:
    """RESULTS/<suite>/<method>/<task>/seed_<seed>, every part checked (check_name; a seed is an integer >= 0)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise RunFileError(f"seed {seed!r} is not an integer >= 0")
    return (
        Path(results)
        / check_name("suite", suite)
        / check_name("method", method)
        / check_name("task", task)
        / f"seed_{seed}"
    )


def move_aside(run_dir: Path) -> Path:
    """Keep a run that is to be replaced as seed_<n>.old-<time> next to it; readers (find_runs) skip such folders."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = run_dir.with_name(f"{run_dir.name}.old-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = run_dir.with_name(f"{run_dir.name}.old-{stamp}-{number}")
    shutil.move(str(run_dir), str(target))
    return target


ASIDE_DIR = "aside"  # records of attempts that died before their first checkpoint: attempt_<n>-<time>/
RECORD_NAMES = (METRICS_FILE, "tensorboard", "subgoals", "videos", "wandb")


def set_aside_records(run_dir: str | Path) -> Path | None:
    """Move the records a run starting from step 0 would otherwise append to (metrics, TensorBoard events,
    pictures, a copy of run.json) into aside/attempt_<n>-<time>/; the folder, or None when there were none."""
    run_dir = Path(run_dir)
    present = [run_dir / name for name in RECORD_NAMES if (run_dir / name).exists()]
    if not any(p.is_dir() or p.stat().st_size for p in present):
        return None
    attempt = len(list((run_dir / ASIDE_DIR).glob("attempt_*"))) + 1
    target = run_dir / ASIDE_DIR / f"attempt_{attempt}-{time.strftime('%Y%m%d-%H%M%S')}"
    target.mkdir(parents=True)
    if (run_dir / RUN_FILE).exists():
        shutil.copy2(run_dir / RUN_FILE, target / RUN_FILE)
    for path in present:
        shutil.move(str(path), str(target / path.name))
    return target


def run_dirs_holding(results: str | Path, name: str) -> list[Path]:
    """Run directories under `results` (<suite>/<method>/<task>/seed_<n>/) that hold the file `name`, sorted;
    folders moved aside (seed_<n>.old-<time>) are not runs."""
    root = Path(results)
    return sorted(p.parent for p in root.glob(f"*/*/*/seed_*/{name}") if p.parent.name[5:].isdigit())


def find_runs(results: str | Path) -> list[Path]:
    """Every run directory under `results` holding a run.json, sorted."""
    return run_dirs_holding(results, RUN_FILE)


# runner.log: the runner's log of a run's attempts (written by bench.state), each a header line, the worker's
# output, and a footer line with its exit code or signal.
RUNNER_LOG = "runner.log"
ATTEMPT_MARK = "=== attempt "
EXIT_MARK = "=== exit "


def failed_to_start(run_dir: str | Path) -> bool:
    """Whether the last attempt in runner.log ended in an error (before the run wrote its run.json)."""
    file = Path(run_dir) / RUNNER_LOG
    if not file.exists():
        return False
    footers = [line for line in file.read_text(errors="replace").splitlines() if line.startswith(EXIT_MARK)]
    return bool(footers) and not footers[-1].startswith((f"{EXIT_MARK}code 0 ", f"{EXIT_MARK}code 130 "))


def failed_before_record(results: str | Path) -> list[Path]:
    """Run directories the runner started whose last attempt failed before the run wrote its run.json, and that
    no process runs now: the store holds no record of them, only their runner.log."""
    return [
        path
        for path in run_dirs_holding(results, RUNNER_LOG)
        if not (path / RUN_FILE).exists() and failed_to_start(path) and not runlock.is_locked(path)
    ]


def discard_new_run(run_dir: str | Path) -> None:
    """Remove a run directory this process made and locked whose start failed (it has no run.json)."""
    path = Path(run_dir)
    if (path / RUN_FILE).exists():
        return
    runlock.release(path)
    shutil.rmtree(path, ignore_errors=True)


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # the user's, read once at start (reading it means setting it)


def open_own(path: str | Path, flags: int) -> int:
    """os.open of a run directory's own file, never through a symbolic link: a link in a shared store must not
    let a run write (append, truncate, create) a file outside it. The OSError of a link says so."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o666)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OSError(
                error.errno, "a symbolic link, and a run writes only its own files: remove it", str(path)
            ) from None
        raise


def open_for_append(path: str | Path) -> BinaryIO:
    """A run directory's own file opened for appending (created if missing), never through a link (`open_own`)."""
    return os.fdopen(open_own(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same directory, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # as open() would make it, not mkstemp's owner-only 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """atomic_write_bytes of `obj` as indented JSON and a newline."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode())


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
