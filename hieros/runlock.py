"""A run's lock file (`<run dir>/.lock`): one process at a time runs a run, and the runner sees which are taken.

An exclusive flock, held for the life of the process that runs the run (the OS drops it when that process dies,
so a killed run is never left looking taken). A supervisor in bench/ may take it before it starts the training
process and hand the locked descriptor down (`hold_lock`, LOCK_FD_ENV); the child adopts it (`lock_run`).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = ".lock"
_HELD_LOCKS: dict[Path, int] = {}
# A supervisor (bench/) takes the lock before it starts `hieros.train` and hands the locked descriptor down
# (subprocess pass_fds) with its number in this variable: one lock, held from before the start until both are gone.
LOCK_FD_ENV = "HIEROS_RUN_LOCK_FD"


def hold_lock(run_dir: str | Path) -> int | None:
    """Lock the run for a child process to inherit; the descriptor, or None if another process holds the lock.

    Pass it to the child with `pass_fds` and LOCK_FD_ENV; close it when the child has exited."""
    path = Path(run_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return _flock(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644))  # never a link out of the run


def _flock(fd: int) -> int | None:
    """Take an exclusive lock on `fd` without waiting: `fd`, or None (and `fd` closed) if another holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _inherited_lock(path: Path) -> int | None:
    """The descriptor named by LOCK_FD_ENV if it is this lock file (same inode), else None."""
    number = os.environ.get(LOCK_FD_ENV, "")
    if not number.isdigit():
        return None
    try:
        held, wanted = os.fstat(int(number)), os.stat(path)
    except OSError:
        return None
    return int(number) if (held.st_dev, held.st_ino) == (wanted.st_dev, wanted.st_ino) else None


def lock_run(run_dir: str | Path) -> bool:
    """Take the run's lock for the life of this process (released by the OS when it exits); False if held.

    A lock handed down by a supervisor (see hold_lock) is adopted."""
    path = (Path(run_dir) / LOCK_FILE).resolve()
    if path in _HELD_LOCKS:
        return True
    fd = _inherited_lock(path)
    fd = _flock(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644) if fd is None else fd)
    if fd is None:
        return False
    _HELD_LOCKS[path] = fd
    return True


def is_locked(run_dir: str | Path) -> bool:
    """Whether some process holds the run's lock (without taking it)."""
    path = Path(run_dir) / LOCK_FILE
    if path.resolve() in _HELD_LOCKS:
        return True
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def release(run_dir: str | Path) -> None:
    """Let go of the run's lock if this process holds it (a new run whose start failed)."""
    fd = _HELD_LOCKS.pop((Path(run_dir) / LOCK_FILE).resolve(), None)
    if fd is not None:
        os.close(fd)
