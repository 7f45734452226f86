"""What state a run is in, read from its run directory through hieros.rundir, and runner.log, the runner's own log.

States: pending (no run.json yet), running (its lock is held), interrupted (run.json says running but nobody
holds the lock: the worker was killed or stopped; a rerun resumes it), failed (run.json says so, or the last
attempt in runner.log failed before the run wrote a run.json: hieros.rundir.failed_to_start), done.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.plan import RunSpec
from hieros import run_search, rundir, runlock
from hieros.config import config_mismatch
from hieros.run_file import Record
from hieros.rundir import ATTEMPT_MARK, EXIT_MARK, RUNNER_LOG  # runner.log's format, defined with the run directory


def run_state(run_dir: Path, locked: bool | None = None, stored: bool = True) -> tuple[str, Record | None]:
    """(state, run record or None); a corrupt run.json, or one of another run (run_file.read_stored_run; a run
    outside the store layout, `stored=False`, as hieros.run_search reads it), raises RunFileError.

    `locked=False` reads the state as if nobody held the lock (for the holder of the lock itself)."""
    locked = runlock.is_locked(run_dir) if locked is None else locked
    if not (run_dir / rundir.RUN_FILE).exists():
        return ("running" if locked else "failed" if rundir.failed_to_start(run_dir) else "pending"), None
    record = run_search.read(run_search.Found(run_dir, stored))
    if locked:
        return "running", record
    if record.status == "running":
        return "interrupted", record
    return record.status, record


def runs_held(results: Path) -> int:
    """How many runs in the store (any suite, method, task, seed) some process is running now."""
    return sum(runlock.is_locked(lock.parent) for lock in results.glob(f"*/*/*/seed_*/{runlock.LOCK_FILE}"))


def config_conflict(spec: RunSpec, record: Record | None) -> str | None:
    """Why an existing run directory may not be continued by this spec (another task, seed, method, suite or a
    config that computes differently; the keys that differ are named), or None."""
    if record is None:
        return None
    for key in ("suite", "method", "task", "seed"):
        if getattr(record, key) != getattr(spec, key):
            held = getattr(record, key)
            return f"{spec.run_dir} holds a run of {key} {held!r}, this sweep's is {getattr(spec, key)!r}"
    why = config_mismatch(record.config, spec.config)
    if why is None:
        return None
    return f"{spec.run_dir} was made with config {record.config_hash}, this sweep's is {spec.config_hash}: {why}"


def begin_attempt(run_dir: Path, attempt: int, command: str) -> tuple[Any, int]:
    """Open runner.log for appending, write the attempt's header; (file, offset where its output starts)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = rundir.open_for_append(run_dir / RUNNER_LOG)  # the worker writes into it; closed by end_attempt
    log.write(f"{ATTEMPT_MARK}{attempt} {time.strftime('%Y-%m-%dT%H:%M:%S')}: {command}\n".encode())
    log.flush()
    return log, log.tell()


def end_attempt(log: Any, code: int, wall: float) -> None:
    log.write(f"{EXIT_MARK}{describe_exit(code)} after {wall:.1f} s\n".encode())
    log.close()


def describe_exit(code: int) -> str:
    """'code 1', 'killed by SIGKILL'."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"code {code}"


def output_tail(run_dir: Path, offset: int = 0, lines: int = 20) -> str:
    """The last lines a worker wrote to runner.log after `offset` (0: after the last attempt's header)."""
    file = run_dir / RUNNER_LOG
    if not file.exists():
        return ""
    data = file.read_bytes()
    if offset == 0:
        offset = data.rfind(ATTEMPT_MARK.encode())
        offset = 0 if offset < 0 else data.find(b"\n", offset) + 1
    text = data[offset:].decode(errors="replace")
    kept = [line for line in text.splitlines() if line.strip() and not line.startswith(EXIT_MARK)]
    return "\n".join(kept[-lines:])


def attempt_error(run_dir: Path, offset: int, code: int) -> str:
    """One line on why an attempt ended: the signal that killed it, else the error its output ends with."""
    if code < 0:
        return describe_exit(code)
    return error_line(output_tail(run_dir, offset)) or describe_exit(code)


def error_line(tail: str) -> str:
    """The one line that says what went wrong: the `error: ...` line, else the last line (a traceback's)."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    return lines[-1] if lines else ""


@dataclass
class Outcome:
    spec: RunSpec
    state: str  # done | failed | interrupted | elsewhere (another process runs it) | pending | submitted
    attempts: int = 0
    wall: float = 0.0
    error: str = ""  # one line
