"""Export: finished runs of the store as one danijar/dreamerv3 score file (json.gz of {task, method, seed, xs, ys}),
each record with what an import needs to give the same scores again (analysis.transfer.EXPORTED), marked as ours
in its gzip header so a later export may replace it and nothing else."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

from analysis.outdir import check_file
from analysis.store import StoreError, load_store
from hieros import metrics_file, rundir
from hieros.run_file import ImportProvenance, Record

# the gzip header of an export: no time, best compression, and this comment, which marks the file as ours
EXPORT_HEADER = b"\x1f\x8b\x08\x10\x00\x00\x00\x00\x02\xffhieros-bench export\x00"


def export_runs(
    results: str | Path, out: str | Path, suite: str | None = None, method: str | None = None, force: bool = False
) -> int:
    """Write finished runs that have training curves as a danijar json.gz; returns the number of runs written.
    An existing `out` is replaced only when it is an earlier export (EXPORT_HEADER) or with `force`.

    Imported runs keep their original method name, seed and order."""
    out = check_file(out, {"the results store": Path(results)})
    if out.exists() and not force and not _is_export(out):
        raise StoreError(f"{out}: it exists and is not an export of hieros-bench; choose another --out, or --force")
    methods = load_store(results, suite)
    if method and method not in methods:
        raise StoreError(f"no method {method!r} in the store; it holds {', '.join(sorted(methods))}")
    items = []
    for name, entry in sorted(methods.items()):
        if method and name != method:
            continue
        for run in entry.all_runs():
            episodes = metrics_file.episodes(run.metrics, "train")
            if run.record.status != "done" or not episodes:
                continue
            provenance = run.record.provenance
            named, seed, order = (
                provenance.source_name(name, run.seed)
                if isinstance(provenance, ImportProvenance)
                else (name, run.seed, 0)
            )
            items.append(
                (
                    (name, order, run.task, run.seed),
                    {
                        "task": run.task,
                        "method": named,
                        "seed": seed,
                        "xs": [e["frames"] for e in episodes],
                        "ys": [math.nan if e["score"] is None else e["score"] for e in episodes],
                        **_exported(run.record, run.path),
                    },
                )
            )
    if not items:
        raise StoreError(f"no finished runs with training curves to export under {results}")
    payload = json.dumps([item for _, item in sorted(items, key=lambda pair: pair[0])], separators=(",", ":"))
    rundir.atomic_write_bytes(out, _gzip_export(payload.encode()))
    return len(items)


def _exported(record: Record, path: Path) -> dict[str, Any]:
    """What an import needs beyond danijar's keys to give a run its score again (EXPORTED); a run scored otherwise
    than by its training episodes, which is all a danijar file holds, is refused."""
    protocol = record.protocol
    if protocol.score.name != "final_train_window":
        raise StoreError(
            f"{path}: its score is by the {protocol.score.name} protocol, and a danijar file holds training episodes "
            "only; export the methods scored by final_train_window (--method)"
        )
    return {
        "suite": record.suite,
        "budget_frames": protocol.budget_frames,
        "frames_per_step": protocol.frames_per_step,
        "window_frames": protocol.score.window_frames,
    }


def _gzip_export(data: bytes) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    return EXPORT_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _is_export(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(EXPORT_HEADER)) == EXPORT_HEADER
