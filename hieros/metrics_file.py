"""metrics.jsonl, a run's record of what happened: one JSON object a line, each with `type`, `env_step` (agent
steps) and `frames` (env frames); appended while the run goes, rolled back to a checkpoint's offset on resume,
and read by the reports, which score a run from it by its declared protocol (`final_score`).

Like hieros.rundir, it imports neither torch nor anything of the agent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hieros.json_values import finite
from hieros.rundir import METRICS_FILE, SCORE_PROTOCOLS, RunFileError, open_for_append

if TYPE_CHECKING:
    from hieros.run_file import ScoreProtocol


def check_metrics_reach(run_dir: str | Path, offset: int) -> None:
    """Refuse to resume when metrics.jsonl is shorter than the checkpoint's offset into it: records were lost after
    the checkpoint was written, and continuing would leave a gap (or pad the file with zeros)."""
    file = Path(run_dir) / METRICS_FILE
    size = file.stat().st_size if file.exists() else 0
    if size < offset:
        raise RunFileError(
            f"{file}: {size} bytes, shorter than the {offset} its checkpoint recorded, so records "
            f"were lost; move the run aside (hieros-bench run --force) and run it again"
        )


class MetricsWriter:
    """Appends JSON lines to metrics.jsonl; `truncate(offset)` rolls back to a checkpoint's offset on resume."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open_for_append(self.path)  # kept open for the life of the run

    @property
    def offset(self) -> int:
        self._file.flush()
        return self._file.tell()

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps({k: finite(v) for k, v in record.items()}, separators=(",", ":")) + "\n"
        self._file.write(line.encode())

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def state_dict(self) -> int:
        """The offset of a checkpoint: the file synced to disk up to it."""
        self.sync()
        return self.offset

    def load_state_dict(self, offset: int) -> None:
        self.truncate(offset)

    def truncate(self, offset: int) -> None:
        self._file.flush()
        self._file.truncate(offset)
        self._file.seek(offset)

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of metrics.jsonl. A torn last line (a killed writer) is ignored; any other bad line raises."""
    file = Path(run_dir) / METRICS_FILE
    if not file.exists():
        return []
    lines = file.read_bytes().split(b"\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise RunFileError(f"{file}:{number}: corrupt line; delete the run to redo it") from None
        if not isinstance(record, dict) or not isinstance(record.get("env_step"), int):
            raise RunFileError(f"{file}:{number}: record without an integer env_step")
        if records and record["env_step"] < records[-1]["env_step"]:
            raise RunFileError(
                f"{file}:{number}: env_step goes back from {records[-1]['env_step']} to "
                f"{record['env_step']}, so two attempts' records are mixed; move the run aside and "
                f"run it again"
            )
        records.append(record)
    return records


def episodes(records: Iterable[Mapping[str, Any]], mode: str = "train") -> list[Mapping[str, Any]]:
    return [r for r in records if r.get("type") == "episode" and r.get("mode") == mode]


def final_score(records: list[Mapping[str, Any]], score_protocol: ScoreProtocol, budget_frames: int) -> float | None:
    """A run's final score by its declared protocol (see SCORE_PROTOCOLS); None if it has none: no evaluation,
    or no training episode that ends inside the final window (danijar/dreamerv3's convention: that run has no
    score for its task, rather than an earlier episode's)."""
    name = score_protocol.name
    if name == "final_train_window":
        start = budget_frames - (score_protocol.window_frames or 0)
        window = [
            e["score"]
            for e in episodes(records, "train")
            if start < e["frames"] <= budget_frames and e["score"] is not None
        ]
        return float(sum(window) / len(window)) if window else None
    if name == "final_eval":
        evals = episodes(records, "eval")
        if not evals:
            return None
        last = max(e["eval_index"] for e in evals)
        scores = [e["score"] for e in evals if e["eval_index"] == last]
        return float(sum(scores) / len(scores))
    if name == "published_final":
        return None
    raise RunFileError(f"unknown score protocol {name!r}; known: {', '.join(SCORE_PROTOCOLS)}")
