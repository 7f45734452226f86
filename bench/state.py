"""What state a run is in, read from its run directory through hieros.rundir (never parsed by hand)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from bench.plan import RunSpec
from hieros import rundir

STATES = ("pending", "running", "interrupted", "failed", "done")


def run_state(run_dir: Path) -> tuple[str, dict[str, Any] | None]:
    """(state, run record or None). A run marked running whose lock nobody holds was interrupted."""
    locked = rundir.is_locked(run_dir)
    if not (run_dir / rundir.RUN_FILE).exists():
        return ("running" if locked else "pending"), None
    record = rundir.read_run(run_dir)
    if locked:
        return "running", record
    if record["status"] == "running":
        return "interrupted", record
    return record["status"], record


def config_conflict(spec: RunSpec, record: dict[str, Any] | None) -> str | None:
    """Why an existing run directory may not be continued with this spec's config, or None."""
    if record is None or record["config_hash"] == spec.config_hash:
        return None
    return (f"{spec.run_dir} was made with config {record['config_hash']}, this sweep's is {spec.config_hash}; "
            "use --force to move the old run aside, or another --results")


def move_aside(run_dir: Path) -> Path:
    """`--force`: keep the old run as seed_<n>.old-<unix time> next to it (readers skip such folders)."""
    target = run_dir.with_name(f"{run_dir.name}.old-{int(time.time())}")
    shutil.move(str(run_dir), str(target))
    return target
