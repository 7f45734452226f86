"""A run's lock file (`<run dir>/.lock`): one process at a time runs a run, and the runner sees which are taken.

An exclusive flock, held for the life of the process that runs the run (the OS drops it when that process dies,
so a killed run is never left looking taken). A supervisor in bench/ may take it before it starts the training
process and hand the locked descriptor down (`hold_lock`, LOCK_FD_ENV); the child adopts it (`lock_run`).

Shared filesystems: where flock is not supported (some NFS and Lustre mounts answer ENOSYS or EOPNOTSUPP), the
lock is a POSIX record lock (fcntl), which such mounts serve through their lock daemon; it belongs to the process
that took it, so a handed-down lock lives as long as the supervisor does. Where neither works, LockUnsupported
says so in one line. The lock file holds who took it (host, pid, time), so a message about a taken run names
the holder.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import time
from pathlib import Path

LOCK_FILE = ".lock"
_HELD_LOCKS: dict[Path, int] = {}  # runs this process runs (lock_run)
_HANDED: dict[Path, int] = {}  # locks this process took for a child (hold_lock)
# A supervisor (bench/) takes the lock before it starts `hieros.train` and hands the locked descriptor down
# (subprocess pass_fds) with its number in this variable: one lock, held from before the start until both are gone.
LOCK_FD_ENV = "HIEROS_RUN_LOCK_FD"


# errors of a filesystem that has no flock, where a POSIX record lock may still work
_NO_FLOCK = {errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOLCK, errno.EINVAL}
_TAKEN = {errno.EAGAIN, errno.EACCES}  # what a POSIX lock held by another process answers


class LockUnsupported(OSError):
    """The results store's filesystem supports no file lock at all; the message says what to do."""


def hold_lock(run_dir: str | Path) -> int | None:
    """Lock the run for a child process to inherit; the descriptor, or None if another process holds the lock.

    Pass it to the child with `pass_fds` and LOCK_FD_ENV; close it when the child has exited."""
    path = Path(run_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _lock(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644), path)  # never a link out of the run
    if fd is not None:
        _HANDED[path.resolve()] = fd
    return fd


def _lock(fd: int, path: Path) -> int | None:
    """Take an exclusive lock on `fd` without waiting (flock, else a POSIX lock): `fd` with the holder written
    in the file, or None (and `fd` closed) if another holds it."""
    try:
        _try(fd, exclusive=True)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError as error:
        os.close(fd)
        raise LockUnsupported(
            error.errno,
            f"{path}: this filesystem supports neither flock nor POSIX locks ({os.strerror(error.errno or 0)}); "
            "put the results store (--results) on one that does: a local disk, NFS with its lock daemon, "
            "Lustre mounted with -o flock",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{socket.gethostname()} pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
    return fd


def _try(fd: int, exclusive: bool) -> None:
    """flock `fd` without waiting, or where flock is missing, a POSIX lock; BlockingIOError if another holds it."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        raise
    except OSError as error:
        if error.errno not in _NO_FLOCK:
            raise
    try:
        fcntl.lockf(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in _TAKEN:
            raise BlockingIOError(error.errno, "taken") from None
        raise


def holder(run_dir: str | Path) -> str:
    """Who took the run's lock last, as its lock file says ('unknown' if it says nothing)."""
    path = Path(run_dir) / LOCK_FILE
    held = _HELD_LOCKS.get(path.resolve(), _HANDED.get(path.resolve()))
    try:  # through the held descriptor: closing another one of this file would drop this process's POSIX lock
        data = os.pread(held, 512, 0) if held is not None else path.read_bytes()[:512]
    except OSError:
        data = b""
    text = data.decode(errors="replace").strip()
    return text.splitlines()[0][:200] if text else "unknown"


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
    fd = _inherited_lock(path)  # taken by the supervisor, which holds it as long as this process lives
    if fd is None:
        fd = _lock(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644), path)
    if fd is None:
        return False
    _HELD_LOCKS[path] = fd
    return True


def is_locked(run_dir: str | Path) -> bool:
    """Whether some process holds the run's lock (without taking it)."""
    path = Path(run_dir) / LOCK_FILE
    if path.resolve() in _HELD_LOCKS or path.resolve() in _HANDED:  # also: closing a probe would drop a POSIX lock
        return True
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        _try(fd, exclusive=False)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def let_go(fd: int) -> None:
    """Close a descriptor hold_lock gave, once its child has exited."""
    for path, held in list(_HANDED.items()):
        if held == fd:
            del _HANDED[path]
    os.close(fd)


def release(run_dir: str | Path) -> None:
    """Let go of the run's lock if this process holds it (a new run whose start failed)."""
    fd = _HELD_LOCKS.pop((Path(run_dir) / LOCK_FILE).resolve(), None)
    if fd is not None:
        os.close(fd)
