"""Import published per-seed results into the store, and export ours, in the two formats authors publish.

- danijar/dreamerv3 score files: json.gz lists of {task, method, seed, xs, ys}; xs in env frames, one
  training-episode return (or bin mean) per point. Imported as runs whose metrics are those episodes; a NaN
  (a bin without an episode) is stored as a null score and exported as NaN again.
- per-game lists of final scores per run: {"Alien": [run1, run2, ...]} (IRIS, TWM, STORM, SPR, SimPLe).
  Imported as runs with only a final score (score protocol `published_final`).
Imported runs are ordinary run directories (status done) whose provenance names the source file and its sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from analysis.store import StoreError, game_to_task, load_store, random_human
from hieros import rundir

ATARI100K_BUDGET = 400_000
WINDOW = {"name": "final_train_window", "window_frames": 10_000}


def _record(suite: str, method: str, task: str, seed: int, protocol: dict, source: dict) -> dict[str, Any]:
    return {
        "schema": rundir.SCHEMA, "suite": suite, "method": method, "task": task, "seed": seed, "status": "done",
        "config": {}, "config_hash": f"imported:{source['sha256'][:12]}", "protocol": protocol,
        "provenance": {"imported": True, **source},
        "progress": {"env_steps": 0, "frames": protocol.get("budget_frames", 0), "grad_steps": 0,
                     "wall_seconds": 0.0, "peak_rss_mb": 0.0, "peak_gpu_mb": None},
        "score": {"final": None}, "error": None,
    }


def _seed_number(seed: Any, index: int) -> int:
    try:
        return int(seed)
    except (TypeError, ValueError):
        return index


def import_file(path: str | Path, method: str, results: str | Path, suite: str = "atari100k",
                budget_frames: int = ATARI100K_BUDGET) -> int:
    """Write one run directory per (task, seed) of a published file; returns the number of runs."""
    path, results = Path(path), Path(results)
    try:
        data = path.read_bytes()
        text = gzip.decompress(data) if path.suffix == ".gz" else data
        content = json.loads(text)
    except (OSError, json.JSONDecodeError, gzip.BadGzipFile) as error:
        raise StoreError(f"{path}: cannot read it as JSON ({error})") from None
    source = {"source_file": path.name, "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(content, list):
        return _import_curves(content, method, results, suite, budget_frames, source)
    if isinstance(content, dict):
        return _import_finals(content, method, results, suite, budget_frames, source)
    raise StoreError(f"{path}: neither a danijar score list nor a per-game dict of scores")


def _import_curves(items: list, method: str, results: Path, suite: str, budget: int, source: dict) -> int:
    protocol = {"score": WINDOW, "budget_frames": budget, "budget_steps": budget // 4, "frames_per_step": 4}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not {"task", "seed", "xs", "ys"} <= set(item):
            raise StoreError(f"{source['source_file']}: record {index} lacks task/seed/xs/ys")
        seed = _seed_number(item["seed"], index)
        run = rundir.run_path(results, suite, method, item["task"], seed)
        record = _record(suite, method, item["task"], seed, protocol,
                         {**source, "source_method": item.get("method"), "source_seed": item["seed"]})
        run.mkdir(parents=True, exist_ok=True)
        (run / rundir.METRICS_FILE).unlink(missing_ok=True)
        writer = rundir.MetricsWriter(run)
        for x, y in zip(item["xs"], item["ys"], strict=True):
            writer.write({"type": "episode", "mode": "train", "env_step": int(x) // 4, "frames": x, "score": y})
        writer.close()
        record["score"]["final"] = rundir.final_score(rundir.read_metrics(run), WINDOW, budget)
        rundir.write_run(run, record)
    return len(items)


def _import_finals(games: dict, method: str, results: Path, suite: str, budget: int, source: dict) -> int:
    protocol = {"score": {"name": "published_final"}, "budget_frames": budget, "budget_steps": budget // 4,
                "frames_per_step": 4}
    count = 0
    for game, scores in games.items():
        task = game_to_task(game)
        if task not in random_human():
            raise StoreError(f"{source['source_file']}: unknown game {game!r}")
        if not isinstance(scores, list) or not all(isinstance(s, int | float) for s in scores):
            raise StoreError(f"{source['source_file']}: {game} must map to a list of numbers")
        for seed, score in enumerate(scores, start=1):
            run = rundir.run_path(results, suite, method, task, seed)
            record = _record(suite, method, task, seed, protocol, source)
            record["score"]["final"] = float(score)
            rundir.write_run(run, record)
            count += 1
    return count


def export_runs(results: str | Path, out: str | Path, suite: str | None = None,
                method: str | None = None) -> int:
    """Write runs with curves as a danijar json.gz; imported runs keep their original method and seed."""
    items = []
    for name, entry in sorted(load_store(results, suite).items()):
        if method and name != method:
            continue
        for run in entry.all_runs():
            provenance = run.record["provenance"]
            episodes = rundir.episodes(rundir.read_metrics(run.path), "train")
            if not episodes:
                continue
            items.append({"task": run.record["task"], "method": provenance.get("source_method") or name,
                          "seed": provenance.get("source_seed", run.record["seed"]),
                          "xs": [e["frames"] for e in episodes],
                          "ys": [math.nan if e["score"] is None else e["score"] for e in episodes]})
    if not items:
        raise StoreError(f"no runs with training curves to export under {results}")
    payload = json.dumps(items).encode()
    rundir.atomic_write_bytes(out, gzip.compress(payload, mtime=0))
    return len(items)
