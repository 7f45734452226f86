"""Which code this process runs, for a run's provenance: the git commit and whether the tree was dirty (read once
per process), and the versions of the packages that change results."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "numpy", "gymnasium", "ale-py", "dm-control", "mujoco", "hieros-bench")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@functools.cache
def code_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the code this process runs, read once per process: a runner that trains run after run
    for hours keeps the code it imported, so a commit made meanwhile must not be recorded as theirs."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return _git("rev-parse", "HEAD"), bool(status) if status is not None else None


def package_versions() -> dict[str, str | None]:
    """{package: installed version, or None} of PACKAGES."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
