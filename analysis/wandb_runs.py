"""Other agents' runs from Weights & Biases: an offline run directory (`wandb/offline-run-<time>-<id>/`, as
`WANDB_MODE=offline` leaves it for `wandb sync`) and the exports of runs that W&B's UI and API give.

- Offline runs. wandb 0.31 has no Python reader of its run files (the .wandb transaction log; the reader went with
  the move to wandb-core), so the run's history is read from that log here: LevelDB's log format (a 7-byte file
  header `:W&B`, magic 0xBEE1, version 0; then 32 KiB blocks of chunks, each with its crc32 (zlib's, seeded with
  the chunk's type), length and type: full, first, middle, last), every chunk's checksum checked, and each record
  parsed with wandb's own protobuf schema (`wandb.proto.wandb_internal_pb2.Record`): the run's name and config,
  and its history rows. A run resumed into a second offline directory (same run id) continues the first from the
  resumed row's step on.
- Exports. The UI's "Export panel > CSV" of a line plot: the x axis column first, then per run
  `<run name> - <metric>` (with `__MIN` / `__MAX` columns, ignored). The API's history
  (`run.history()` / `run.scan_history()`, written with pandas' to_csv or to_json(orient="records"), or as JSON
  lines): rows with `_step`, one run per file, or several told apart by a `run`, `name`, `run_name` or `run_id`
  column; and a JSON list of runs `[{"name", "config", "history": [rows]}]` (each run's `name`, `config` and
  `history(pandas=False)`).

- Online (optional; the tests use a stand-in for wandb.Api and never go online): `wandb://ENTITY/PROJECT[/RUN_ID][?KEY=VALUE&...]`,
  the project's runs whose config has each KEY at VALUE (openrlbenchmark's `env_id=...&exp_name=...`), read with
  `wandb.Api()` as openrlbenchmark does: each run's name and config, and `scan_history(keys=[tag, x axis])`.

The x axis is --x-axis, else `global_step` where the rows have it (CleanRL logs it beside every metric; so does
W&B's TensorBoard sync), else `_step`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from analysis.store import StoreError
from analysis.trackers import ForeignRun, flatten, tag_for
from hieros.json_values import is_number

HEADER = struct.Struct("<4sHB")  # ident, magic, version
CHUNK = struct.Struct("<IHB")  # crc32, length, type
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
X_AXES = ("global_step", "_step")  # the default x axis: the first the rows have
RUN_COLUMNS = ("run", "name", "run_name", "run_id")
PANEL = " - "  # "<run name> - <metric>" in a panel's CSV
ONLINE = "wandb://"  # a W&B project (or run) online, read with wandb.Api


def offline_files(path: Path) -> list[Path]:
    """The run-<id>.wandb files at or under `path` (a .wandb file, an offline run folder, a wandb/ folder), once
    each (wandb/latest-run links to one of them), in time order (their folders' names)."""
    if path.is_file():
        return [path] if path.suffix == ".wandb" else []
    found = {p.resolve(): p for p in sorted(path.rglob("run-*.wandb")) if "latest-run" not in p.parts}
    return sorted(found.values(), key=lambda p: p.parent.name)


def read_offline(path: Path, tag: str | None, x_axis: str | None) -> tuple[list[ForeignRun], str, str]:
    """(runs, the tag read, sha256 of the files) of the offline W&B runs at or under `path`."""
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError:
        raise StoreError(
            f"{path}: reading a W&B offline run needs the wandb package: pip install 'hieros-bench[wandb]'"
        ) from None
    files = offline_files(path)
    if not files:
        raise StoreError(f"{path}: no W&B offline run (wandb/offline-run-*/run-*.wandb) in it")
    digest, by_id = hashlib.sha256(), {}
    for file in files:
        data = file.read_bytes()
        digest.update(data)
        run_id, name, config, rows = _history(file, data, wandb_internal_pb2.Record)
        name, config, earlier = by_id.get(run_id, (name, config, []))
        first = rows[0]["_step"] if rows else math.inf
        by_id[run_id] = (name, config, [r for r in earlier if r.get("_step", -1) < first] + rows)
    runs, chosen = [], None
    for run_id, (name, config, rows) in by_id.items():
        where = f"{path} (W&B run {name or run_id})"
        run, chosen = _from_rows(name or run_id, where, rows, config, tag or chosen, x_axis)
        runs.append(run)
    return runs, chosen or "", digest.hexdigest()


def _records(file: Path, data: bytes) -> list[bytes]:
    """The records of a .wandb log, every chunk's checksum checked; a file cut short or corrupt in one line."""
    if len(data) < HEADER.size or HEADER.unpack_from(data)[:2] != (b":W&B", 0xBEE1):
        raise StoreError(f"{file}: not a W&B run file (no :W&B header); give the offline run's folder")
    records, pending, position = [], b"", HEADER.size
    while position + CHUNK.size <= len(data):
        room = BLOCK - position % BLOCK
        if room < CHUNK.size:  # a block's tail too short for a chunk header is padding
            position += room
            continue
        crc, length, kind = CHUNK.unpack_from(data, position)
        body = data[position + CHUNK.size : position + CHUNK.size + length]
        position += CHUNK.size + length
        if kind == 0 and length == 0:
            continue  # padding
        if len(body) < length or crc != zlib.crc32(body, zlib.crc32(bytes([kind]))):
            raise StoreError(
                f"{file}: cut short or corrupt after {len(records)} records (a run still writing it, or a copy "
                "that stopped early); copy it again whole, or leave it out"
            )
        pending = body if kind in (FULL, FIRST) else pending + body
        if kind in (FULL, LAST):
            records.append(pending)
            pending = b""
    if pending or data[position:].strip(b"\0"):  # a record begun and not ended, or a chunk header cut
        raise StoreError(
            f"{file}: cut short or corrupt after {len(records)} records (its last record is incomplete); copy it "
            "again whole, or leave it out"
        )
    if not records:
        raise StoreError(f"{file}: empty, no records in it; leave it out")
    return records


def _history(file: Path, data: bytes, record_type: Any) -> tuple[str, str, dict[str, Any], list[dict[str, Any]]]:
    """(run id, run name, flattened config, history rows) of one .wandb file."""
    run_id, name, config, rows, ended = file.stem.removeprefix("run-"), "", {}, [], False
    for raw in _records(file, data):
        record = record_type()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        ended = ended or kind == "exit"
        if kind == "run":
            run_id, name = record.run.run_id or run_id, record.run.display_name
            config.update({item.key: json.loads(item.value_json) for item in record.run.config.update})
        elif kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            rows.append(
                {item.key or ".".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
    if not ended:  # a file cut at a record boundary reads whole: only the run's exit record tells
        raise StoreError(
            f"{file}: cut short or corrupt after its {len(rows)} history rows (no exit record: the run had not "
            "ended when it was copied); copy it again once the run has ended, or leave it out"
        )
    return run_id, name, flatten(config), rows


def _from_rows(
    name: str, where: str, rows: list[dict[str, Any]], config: dict[str, Any], tag: str | None, x_axis: str | None
) -> tuple[ForeignRun, str]:
    """A run from its history rows: (x, value) of the rows that have both."""
    keys = sorted({key for row in rows for key in row})
    chosen = tag_for([k for k in keys if not k.startswith("_") and k not in X_AXES], tag, where)
    axis = x_axis or next((a for a in X_AXES if a in keys), "_step")
    if axis not in keys:
        raise StoreError(f"{where}: no x axis {axis!r} in its rows; its keys: {', '.join(keys[:12])}; see --x-axis")
    points = [(_number(row[axis]), _number(row[chosen])) for row in rows if axis in row and chosen in row]
    kept = [(x, y) for x, y in points if x is not None and y is not None]
    return ForeignRun(name, where, kept, config, x_axis=axis), chosen


def _number(value: Any) -> float | None:
    """A cell as a number (CSV cells are text; an empty one is missing)."""
    if isinstance(value, str):
        try:
            value = float(value) if value.strip() else None
        except ValueError:
            return None
    return value if is_number(value) else None


def is_export(path: Path) -> bool:
    """Whether a file is a W&B export this module reads (a .csv, or JSON of history rows or runs)."""
    if path.suffix == ".csv":
        return True
    if path.suffix not in (".json", ".jsonl"):
        return False
    try:
        content = _json(path)
    except StoreError:
        return path.suffix == ".jsonl"
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(item, dict) and ("_step" in item or "history" in item) for item in content)
    )


def _json(path: Path) -> Any:
    try:
        text = path.read_text()
        return (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".jsonl"
            else (json.loads(text))
        )
    except (OSError, ValueError) as error:
        raise StoreError(f"{path}: cannot read it as JSON ({error})") from None


def read_export(path: Path, tag: str | None, x_axis: str | None) -> tuple[list[ForeignRun], str, str]:
    """(runs, the tag read, sha256 of the file) of a W&B export (see the module)."""
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    if path.suffix == ".csv":
        rows = _csv(path)
        columns = list(rows[0])
        if any(PANEL in c for c in columns[1:]):
            return (*_panel(path, rows, columns, tag), sha256)
        runs = _grouped(path, rows)
    else:
        content = _json(path)
        if isinstance(content, list) and content and all(isinstance(i, dict) and "history" in i for i in content):
            runs = [
                (str(i.get("name") or n), i["history"], flatten(i.get("config") or {})) for n, i in enumerate(content)
            ]
        elif isinstance(content, list) and content and all(isinstance(i, dict) for i in content):
            runs = _grouped(path, content)
        else:
            raise StoreError(f"{path}: neither W&B history rows [{{_step, ...}}] nor runs [{{name, history}}]")
    out, chosen = [], None
    for name, rows, config in runs:
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise StoreError(f"{path}: the history of run {name!r} is not a list of rows")
        run, chosen = _from_rows(name, f"{path} (run {name})", rows, config, tag or chosen, x_axis)
        out.append(run)
    return out, chosen or "", sha256


def _csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise StoreError(f"{path}: cannot read it as CSV ({error})") from None
    if not rows:
        raise StoreError(f"{path}: no rows in it; export the runs' history or a panel with data")
    return rows


def _grouped(path: Path, rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]], dict[str, Any]]]:
    """History rows as runs: told apart by a run column where there is one, else the file is one run."""
    column = next((c for c in RUN_COLUMNS if c in rows[0]), None)
    if column is None:
        return [(path.stem, rows, {})]
    runs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        runs.setdefault(str(row[column]), []).append(row)
    return [(name, own, {}) for name, own in runs.items()]


def _panel(path: Path, rows: list[dict[str, str]], columns: list[str], tag: str | None) -> tuple[list[ForeignRun], str]:
    """The runs of a line plot's CSV: the x axis first, then `<run> - <metric>` per run."""
    axis = columns[0]
    metrics = {c.rpartition(PANEL)[2] for c in columns[1:] if PANEL in c and not c.endswith(("__MIN", "__MAX"))}
    chosen = tag_for(sorted(metrics), tag, str(path))
    runs = []
    for column in columns[1:]:
        name, _, metric = column.rpartition(PANEL)
        if metric == chosen:
            points = [(_number(row[axis]), _number(row[column])) for row in rows]
            kept = [(x, y) for x, y in points if x is not None and y is not None]
            runs.append(ForeignRun(name, f"{path} (run {name})", kept, x_axis=axis))
    return runs, chosen


def read_online(source: str, tag: str | None, x_axis: str | None, api: Any = None) -> tuple[list[ForeignRun], str, str]:
    """(runs, the tag read, sha256 of what was read) of `wandb://ENTITY/PROJECT[/RUN_ID][?KEY=VALUE&...]` through
    wandb's public API (`api`: a wandb.Api, made here where not given)."""
    path, _, query = source.removeprefix(ONLINE).partition("?")
    parts = [part for part in path.split("/") if part]
    if len(parts) not in (2, 3):
        raise StoreError(
            f"{source}: give {ONLINE}ENTITY/PROJECT, {ONLINE}ENTITY/PROJECT/RUN_ID, or a project with ?KEY=VALUE"
        )
    if api is None:
        try:
            import wandb
        except ImportError:
            raise StoreError(
                f"{source}: reading W&B online needs the wandb package: pip install 'hieros-bench[wandb]'"
            ) from None
    filters = {f"config.{key}": value for key, value in parse_qsl(query)}
    try:
        if api is None:
            api = wandb.Api(timeout=60)
        found = [api.run("/".join(parts))] if len(parts) == 3 else list(api.runs("/".join(parts), filters=filters))
        runs, chosen, digest = [], tag, hashlib.sha256()
        for run in found:
            summary = list(run.summary.keys())  # wandb's summary object: keys() is its interface
            metrics = [key for key in summary if not key.startswith("_") and key not in X_AXES]
            chosen = tag_for(metrics, chosen, f"{source} (run {run.name})")
            axis = x_axis or ("global_step" if "global_step" in summary else "_step")
            rows = list(run.scan_history(keys=[chosen, axis]))
            digest.update(json.dumps([run.id, rows], sort_keys=True, default=str).encode())
            kept = [
                (x, y)
                for row in rows
                if (x := _number(row.get(axis))) is not None and (y := _number(row.get(chosen))) is not None
            ]
            runs.append(
                ForeignRun(run.name, f"{source} (run {run.name})", kept, flatten(dict(run.config)), x_axis=axis)
            )
    except StoreError:
        raise
    except Exception as error:  # wandb's own errors: no API key, no such project, no network
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StoreError(
            f"{source}: W&B could not give its runs ({first}); run `wandb login`, check the path"
        ) from None
    if not runs:
        raise StoreError(f"{source}: no runs there{' with ' + query if query else ''}")
    return runs, chosen or "", digest.hexdigest()
