"""Published per-seed results read as runs of the store, in the formats authors publish them (`parse`), and
imported (`import_file`, through analysis/transfer.py's `store_runs`).

- danijar/dreamerv3 score files: a json.gz list of {task, method, seed, xs, ys}, xs in env frames, one training
  episode return (or a bin mean, in older files) per point. Imported as runs whose metrics are those points as
  train episode records, with the score protocol final_train_window (window 10k frames for Atari100k), so that
  metrics_file.final_score reproduces the authors' final score. A NaN point is stored as a null score and exported as
  NaN again; import then export gives back the same records and values.
- per-game lists of final scores per run, {"Alien": [run1, run2, ...]} (IRIS, TWM, STORM, SPR, SimPLe): runs
  with only a final score, protocol {"name": "published_final"}.
- HarmonyDream's evaluation curves, {"steps": [frames, ...], "score": {"alien": [[one value per step] per seed]}}:
  each seed's value at the budget is its final score (published_final), the protocol of its paper.
Every record is checked before a run is written. An export's gzip header carries the comment `hieros-bench export`
(analysis/export.py), and each of its records what the import needs to give the same scores (transfer.EXPORTED:
the suite, the frame budget, frames per step and the score window; danijar's readers ignore keys they do not know):
an import uses them where a record has them, and refuses an import flag that contradicts one.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from pathlib import Path
from typing import Any

from analysis.store import StoreError, display_name, find_game, random_human
from analysis.transfer import (
    DEFAULT_SUITE,
    FORMATS,
    FRAMES_PER_STEP,
    TOLD_NOTHING,
    WINDOW_FRAMES,
    Given,
    Imported,
    budget_of,
    imported_protocol,
    imported_record,
    known_task,
    store_runs,
)
from hieros import metrics_file, rundir
from hieros.json_values import is_number
from hieros.run_file import ImportProvenance, Record, RunProtocol, ScoreProtocol

MAX_UNPACKED = 1 << 30  # bytes a gzipped file may unpack to (published score files are megabytes): no gzip bomb


def _read(path: Path) -> tuple[Any, str]:
    try:
        data = path.read_bytes()
        content = json.loads(_gunzip(path, data) if data[:2] == b"\x1f\x8b" else data)
    except (OSError, ValueError, EOFError, zlib.error) as error:
        raise StoreError(f"{path}: cannot read it as JSON or gzipped JSON ({error})") from None
    return content, hashlib.sha256(data).hexdigest()


def _gunzip(path: Path, data: bytes) -> bytes:
    """The gzip members of `data` unpacked, refused in one line past MAX_UNPACKED bytes (before they are held)."""
    limit = MAX_UNPACKED
    out, rest = bytearray(), data
    while rest:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += member.decompress(rest, limit + 1 - len(out))
        if len(out) > limit or member.unconsumed_tail:
            raise StoreError(f"{path}: unpacks to more than {limit >> 20} MiB; a score file is far smaller")
        if not member.eof:
            raise EOFError("the gzip stream ends early")
        rest = member.unused_data
    return bytes(out)


def import_file(
    path: str | Path,
    method: str,
    results: str | Path,
    suite: str | None = None,
    given: Given = TOLD_NOTHING,
    force: bool = False,
) -> Imported:
    """Write one run directory per (task, seed) of a published file, every record checked first. `suite`: the
    store's suite to import into (None: the one an export names, else DEFAULT_SUITE)."""
    path, results = Path(path), Path(results)
    runs, sha256 = parse(path, method, suite, given)
    placed = [
        (rundir.run_path(results, record.suite, method, record.task, record.seed), record, episodes)
        for record, episodes in runs
    ]
    return store_runs(results, results / runs[0][0].suite / method, sha256, placed, force)


def _finals_protocol(suite: str | None, given: Given) -> RunProtocol:
    """published_final at the budget and frames per step the import was told, else the suite's and 4."""
    budget = budget_of(given.budget_frames, suite or DEFAULT_SUITE)
    return imported_protocol(ScoreProtocol("published_final"), budget, given.frames_per_step or FRAMES_PER_STEP)


def parse(
    path: Path, method: str, suite: str | None, given: Given = TOLD_NOTHING
) -> tuple[list[tuple[Record, list[dict[str, Any]]]], str]:
    """The checked runs (record, train episodes) of a published file in any of its formats, and its sha256."""
    content, sha256 = _read(path)
    source = {"source_file": path.name, "sha256": sha256}
    if content in ([], {}):
        raise StoreError(f"{path}: it holds no runs")
    if isinstance(content, list) and all(isinstance(i, dict) and {"task", "xs", "ys"} <= set(i) for i in content):
        runs = _curves(content, method, suite or _file_suite(content, path.name), given, source)
    elif isinstance(content, dict) and all(isinstance(v, list) for v in content.values()):
        runs = _finals(content, method, suite or DEFAULT_SUITE, _finals_protocol(suite, given), source)
    elif isinstance(content, dict) and set(content) == {"steps", "score"}:
        protocol = _finals_protocol(suite, given)
        at_budget = _at_budget(content, protocol.budget_frames, source["source_file"])
        runs = _finals(at_budget, method, suite or DEFAULT_SUITE, protocol, source, FORMATS[3])
    else:
        raise StoreError(
            f"{path}: neither a danijar score list [{{task, method, seed, xs, ys}}], per-game lists "
            "of final scores {Game: [run, ...]}, nor evaluation curves {steps, score: {game: [[...]]}}"
        )
    return runs, sha256


def _numbers(values: Any, nullable: bool) -> bool:
    """Whether `values` is a list of finite numbers (NaN and None too, where `nullable`)."""
    return isinstance(values, list) and all(
        (nullable and v is None) or (is_number(v) and (math.isfinite(v) or (nullable and math.isnan(v))))
        for v in values
    )


def _file_suite(items: list[dict[str, Any]], name: str) -> str:
    """The suite an export's records name (EXPORTED), else DEFAULT_SUITE."""
    named = sorted({str(item["suite"]) for item in items if "suite" in item})
    if len(named) > 1:
        raise StoreError(f"{name}: its runs are of several suites ({', '.join(named)}); import it with --suite")
    return named[0] if named else DEFAULT_SUITE


def _setting(item: dict[str, Any], key: str, given: int | None, where: str) -> int | None:
    """A run's `key` (EXPORTED) as its record states it, else as the import was told; both, they must agree."""
    value = item.get(key)
    if value is None:
        return given
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise StoreError(f"{where}: {key} must be a positive integer, not {value!r}")
    flag = "--" + key.replace("_", "-")
    if given is not None and given != value:
        raise StoreError(f"{where} was made with {key} {value}, not {flag} {given}; leave {flag} out")
    return value


def _curve_protocol(item: dict[str, Any], suite: str, given: Given, where: str) -> RunProtocol:
    """The final_train_window protocol of one run of a curve file: its record's own settings, else the flags,
    else the defaults."""
    budget = budget_of(_setting(item, "budget_frames", given.budget_frames, where), suite)
    steps = _setting(item, "frames_per_step", given.frames_per_step, where) or FRAMES_PER_STEP
    window = _setting(item, "window_frames", given.window_frames, where) or WINDOW_FRAMES
    return imported_protocol(ScoreProtocol("final_train_window", window), budget, steps)


def _seed(item: dict[str, Any], index: int, where: str) -> int:
    seed = item.get("seed", index)
    if (isinstance(seed, str) and seed.isdigit()) or (isinstance(seed, float) and seed.is_integer()):
        seed = int(seed)  # danijar's files write seeds as strings
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StoreError(f"{where} has a seed that is not an integer >= 0 ({seed!r})")
    return seed


def _check_points(xs: Any, ys: Any, where: str) -> None:
    """A run's curve: at least one point, frame counts that are finite, >= 0 and never go back, and as many
    scores (NaN or null where missing)."""
    if not _numbers(xs, nullable=False) or any(x < 0 for x in xs):
        raise StoreError(f"{where}: xs must be a list of frame counts (finite numbers >= 0)")
    if not _numbers(ys, nullable=True):
        raise StoreError(f"{where}: ys must be a list of numbers (NaN or null for a missing point)")
    if len(xs) != len(ys):
        raise StoreError(f"{where} has {len(xs)} xs but {len(ys)} ys")
    if not xs:
        raise StoreError(f"{where} has no points (empty xs and ys): a run without a curve; leave it out of the file")
    back = next((i for i in range(1, len(xs)) if xs[i] < xs[i - 1]), None)
    if back is not None:
        raise StoreError(f"{where}: its frames go back, from {xs[back - 1]} to {xs[back]} at point {back}")


def _curves(
    items: list[dict[str, Any]], method: str, suite: str, given: Given, source: dict[str, str]
) -> list[tuple[Record, list[dict[str, Any]]]]:
    runs, seen = [], set()
    for index, item in enumerate(items):
        where = f"{source['source_file']}: record {index}"
        protocol = _curve_protocol(item, suite, given, where)
        seed = _seed(item, index, where)
        known_task(item["task"], where)
        _check_points(item["xs"], item["ys"], where)
        if (item["task"], seed) in seen:
            several = len({str(i.get("method")) for i in items}) > 1
            hint = "; it holds several methods: import one method's export (export --method)" if several else ""
            raise StoreError(f"{source['source_file']}: {item['task']} seed {seed} appears twice{hint}")
        seen.add((item["task"], seed))
        episodes = [
            {
                "type": "episode",
                "mode": "train",
                "env_step": int(x) // protocol.frames_per_step,
                "frames": x,
                "score": None if y is None or math.isnan(y) else y,
            }
            for x, y in zip(item["xs"], item["ys"], strict=True)
        ]
        final = metrics_file.final_score(episodes, protocol.score, protocol.budget_frames)
        details = {"source_method": item.get("method"), "source_seed": item.get("seed"), "source_index": index}
        provenance = ImportProvenance(source["source_file"], source["sha256"], FORMATS[0], details)
        runs.append((imported_record(suite, method, item["task"], seed, protocol, provenance, final), episodes))
    return runs


def _at_budget(content: dict[str, Any], budget: int, name: str) -> dict[str, list[Any]]:
    """{game: [each seed's value at `budget` frames]} of evaluation curves {steps, score: {game: [[...]]}}."""
    steps, games = content["steps"], content["score"]
    if not _numbers(steps, nullable=False) or not steps or not isinstance(games, dict):
        raise StoreError(f"{name}: steps must be a list of frame counts and score a table of games")
    if budget not in steps:
        raise StoreError(
            f"{name}: its curves have no point at the budget, {budget} frames (give --budget-frames "
            f"as one of its steps, {steps[0]} to {steps[-1]})"
        )
    column = steps.index(budget)
    out = {}
    for game, curves in games.items():
        if not isinstance(curves, list) or not all(isinstance(c, list) and len(c) == len(steps) for c in curves):
            raise StoreError(f"{name}: {game} must map to one list of {len(steps)} values (one per step) per seed")
        out[game] = [curve[column] for curve in curves]
    return out


def _finals(
    games: dict[str, list[Any]],
    method: str,
    suite: str,
    protocol: RunProtocol,
    source: dict[str, str],
    kind: str = FORMATS[1],
) -> list[tuple[Record, list[dict[str, Any]]]]:
    runs = []
    for game, scores in games.items():
        task = find_game(game)
        if task is None:
            known = ", ".join(display_name(t) for t in random_human())
            raise StoreError(f"{source['source_file']}: unknown game {game!r}; known: {known}")
        if not _numbers(scores, nullable=False) or not scores:
            raise StoreError(f"{source['source_file']}: {game} must map to a list of finite numbers, one per run")
        runs += [
            (
                imported_record(
                    suite,
                    method,
                    task,
                    seed,
                    protocol,
                    ImportProvenance(
                        source["source_file"], source["sha256"], kind, {"source_game": game, "source_index": seed - 1}
                    ),
                    float(s),
                ),
                [],
            )
            for seed, s in enumerate(scores, start=1)
        ]
    return runs
