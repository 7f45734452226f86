"""run.json, a run's record, as frozen dataclasses: `Record` (identity, status, config, attempts, error) with its
`RunProtocol` (env settings, budget, `ScoreProtocol`), its provenance (`Provenance` of a run made here, or
`ImportProvenance`), its `Progress` and its `Score`.

`Record.from_json(data, where)` checks a file's object: a key missing or unknown, or a value of the wrong kind,
is a one-line RunFileError naming the key and the file; keys an earlier writer left out (FILLED) take the value
they stood for. `to_json()` gives the object written (keys in the order of the fields; an OMITTED field is
written only when it is not None). `read_run`, `read_stored_run` and `write_run` read and write the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from hieros import code_version
from hieros.json_values import is_number
from hieros.rundir import RUN_FILE, RunFileError, atomic_write_json

SCHEMA_NAME = "hieros-bench/run"
SCHEMA_VERSION = 1  # version 1 is the only one shipped; FILLED lists the keys its earlier writers left out
SCHEMA = f"{SCHEMA_NAME}/{SCHEMA_VERSION}"
STATUSES = ("running", "done", "failed")

_KINDS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": is_number,
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _kinds(text: str) -> dict[str, tuple[str, ...]]:
    """{key: JSON kinds} of 'key:kind|kind key:kind ...' (kinds from _KINDS)."""
    return {key: tuple(kinds.split("|")) for key, kinds in (pair.split(":") for pair in text.split())}


class _Part:
    """A JSON object of run.json as a frozen dataclass: KINDS names each key (a field) and the JSON kinds it holds."""

    KINDS: ClassVar[Mapping[str, tuple[str, ...]]]
    PATH: ClassVar[str] = ""  # where the object sits in run.json, as 'protocol.'
    OMITTED: ClassVar[frozenset[str]] = frozenset()  # written only when not None; None when the file has no such key
    FILLED: ClassVar[Mapping[str, Any]] = {}  # keys earlier writers left out, with the value they stood for

    @classmethod
    def from_json(cls, data: Any, where: str | Path) -> Self:
        """This part of a run.json's object (at PATH), checked; `where` names the file in an error."""
        return cls(**cls._checked(data, where, cls.PATH))

    @classmethod
    def _checked(cls, data: Any, where: str | Path, path: str) -> dict[str, Any]:
        """`data`'s values by key, each checked against KINDS (`path`: where it sits, as 'protocol.')."""
        if not isinstance(data, dict):
            raise RunFileError(f"{where}: {path.rstrip('.') or 'the record'} is {data!r}, not a JSON object")
        unknown = [key for key in data if key not in cls.KINDS]
        if unknown:
            raise RunFileError(f"{where}: unknown key {path}{unknown[0]} (known: {', '.join(cls.KINDS)})")
        out = {}
        for key, kinds in cls.KINDS.items():
            if key in data:
                value = data[key]
            elif key in cls.OMITTED or key in cls.FILLED:
                value = cls.FILLED.get(key)
            else:
                raise RunFileError(f"{where}: key {path}{key} missing")
            if not any(_KINDS[kind](value) for kind in kinds) and not (value is None and key in cls.OMITTED):
                raise RunFileError(f"{where}: {path}{key} is {value!r}, not {' or '.join(kinds)}")
            out[key] = value
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this part, as written to run.json."""
        out = {}
        for key in self.KINDS:
            value = getattr(self, key)
            if value is None and key in self.OMITTED:
                continue
            out[key] = value.to_json() if isinstance(value, _Part | ImportProvenance) else value
        return out


@dataclasses.dataclass(frozen=True)
class ScoreProtocol(_Part):
    """How the run's final score is computed from its metrics (name: one of rundir.SCORE_PROTOCOLS)."""

    name: str
    window_frames: int | None = None  # the final window of final_train_window, in env frames

    PATH: ClassVar = "protocol.score."
    KINDS: ClassVar = _kinds("name:str window_frames:int")
    OMITTED: ClassVar = frozenset({"window_frames"})


@dataclasses.dataclass(frozen=True)
class RunProtocol(_Part):
    """What a run is measured by: env settings (None when not known, as for imports), budget, score protocol;
    a world-model benchmark run adds what its step is, its settings and its dataset's identity."""

    env: Mapping[str, Any] | None
    frames_per_step: int
    budget_frames: int
    budget_steps: int
    score: ScoreProtocol
    step: str | None = None
    wmbench: Mapping[str, Any] | None = None
    dataset: Mapping[str, Any] | None = None

    KINDS: ClassVar = _kinds(
        "env:object|null frames_per_step:int budget_frames:int budget_steps:int score:object step:str "
        "wmbench:object dataset:object"
    )
    OMITTED: ClassVar = frozenset({"step", "wmbench", "dataset"})
    PATH: ClassVar = "protocol."

    @classmethod
    def of(
        cls, env: Mapping[str, Any] | None, frames_per_step: int, budget_frames: int, score: ScoreProtocol
    ) -> RunProtocol:
        """A protocol of `budget_frames` frames, `frames_per_step` a step (budget_steps follows)."""
        return cls(
            None if env is None else dict(env), frames_per_step, budget_frames, budget_frames // frames_per_step, score
        )

    @classmethod
    def from_json(cls, data: Any, where: str | Path) -> RunProtocol:
        """The protocol of a run.json's object, checked."""
        values = cls._checked(data, where, cls.PATH)
        return cls(**{**values, "score": ScoreProtocol.from_json(values["score"], where)})


@dataclasses.dataclass(frozen=True)
class Progress(_Part):
    """How far the run got: agent steps, env frames, updates, wall seconds (the run's own clock, across resumes),
    peak memory, training episodes and the last one's score, and seconds by phase (training runs)."""

    env_steps: int = 0
    frames: int = 0
    grad_steps: int = 0
    wall_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    peak_gpu_mb: float | None = None
    episodes: int = 0
    last_score: float | None = None
    phase_seconds: Mapping[str, float] | None = None

    PATH: ClassVar = "progress."
    KINDS: ClassVar = _kinds(
        "env_steps:int frames:int grad_steps:int wall_seconds:number peak_rss_mb:number "
        "peak_gpu_mb:number|null episodes:int last_score:number|null phase_seconds:object"
    )
    OMITTED: ClassVar = frozenset({"phase_seconds"})
    FILLED: ClassVar = {"episodes": 0, "last_score": None}  # imports before a4fa280 wrote neither


@dataclasses.dataclass(frozen=True)
class Score(_Part):
    """The final score by the run's protocol (None until it is done, or when it has none), and the episodes of
    the kind it counted (training episodes of a training run, evaluation episodes of a wmbench run)."""

    final: float | None = None
    train_episodes: int | None = None
    eval_episodes: int | None = None

    PATH: ClassVar = "score."
    KINDS: ClassVar = _kinds("final:number|null train_episodes:int eval_episodes:int")
    OMITTED: ClassVar = frozenset({"train_episodes", "eval_episodes"})


@dataclasses.dataclass(frozen=True)
class Provenance(_Part):
    """Where and with what a run was made here: code, packages, machine, torch's CPU threads, command, times."""

    git_commit: str | None
    git_dirty: bool | None
    python: str
    packages: Mapping[str, str | None]
    host: str
    platform: str
    device: str
    threads: int | None
    cpus: int | None
    command: list[str]
    started: str
    ended: str | None = None

    PATH: ClassVar = "provenance."
    KINDS: ClassVar = _kinds(
        "git_commit:str|null git_dirty:bool|null python:str packages:object host:str platform:str "
        "device:str threads:int|null cpus:int|null command:array started:str ended:str|null"
    )
    FILLED: ClassVar = {"threads": None, "cpus": None}  # runs before 629fb64 and 8688b83 recorded neither

    @classmethod
    def here(cls, device: str, threads: int | None = None) -> Provenance:
        """This process's provenance (`threads`: torch's CPU threads, None without torch), not yet ended."""
        commit, dirty = code_version.code_state()
        return cls(
            git_commit=commit,
            git_dirty=dirty,
            python=platform.python_version(),
            packages=code_version.package_versions(),
            host=socket.gethostname(),
            platform=platform.platform(),
            device=device,
            threads=threads,
            cpus=os.cpu_count(),
            command=[sys.executable, *sys.argv],
            started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )


@dataclasses.dataclass(frozen=True)
class ImportProvenance:
    """Where an imported run came from (written with "imported": true): its source file and that file's sha256
    ("shipped" for a shipped baseline), the file's format, and the format's own notes on the run (`details`: as
    step_convention, source_run, tag, source_index; written as keys of the provenance, kept as given)."""

    source_file: str
    sha256: str
    format: str
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    CORE: ClassVar = ("imported", "source_file", "sha256", "format")

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this provenance, as written to run.json."""
        return {
            "imported": True,
            "source_file": self.source_file,
            "sha256": self.sha256,
            "format": self.format,
            **self.details,
        }

    def source_name(self, method: str, seed: int) -> tuple[str, Any, int]:
        """(method, seed, index) of the run in its source file: an export's own (details source_method, source_seed,
        source_index), else `method`, `seed` and 0."""
        details = self.details
        return details.get("source_method") or method, details.get("source_seed", seed), details.get("source_index", 0)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str | Path) -> ImportProvenance:
        """The provenance of an imported run's object (it holds "imported": true), checked."""
        for key in cls.CORE[1:]:
            if not isinstance(data.get(key), str):
                raise RunFileError(f"{where}: provenance.{key} is {data.get(key)!r}, not str (an imported run's)")
        details = {key: value for key, value in data.items() if key not in cls.CORE}
        return cls(data["source_file"], data["sha256"], data["format"], details)


def _provenance(data: Any, where: str | Path) -> Provenance | ImportProvenance:
    if isinstance(data, dict) and data.get("imported") is True:
        return ImportProvenance.from_json(data, where)
    return Provenance.from_json(data, where)


@dataclasses.dataclass(frozen=True)
class Record(_Part):
    """A run's record, run.json (schema SCHEMA): identity, status, resolved config and its hash, protocol,
    provenance, progress, final score, attempts (process starts) and the last error's traceback."""

    suite: str
    method: str
    task: str
    seed: int
    status: str
    config: Mapping[str, Any]  # the resolved config (hieros.config.Config.to_dict); {} for imports
    config_hash: str
    protocol: RunProtocol
    provenance: Provenance | ImportProvenance
    progress: Progress = Progress()
    score: Score = Score()
    attempts: int = 1
    error: str | None = None

    KINDS: ClassVar = _kinds(
        "suite:str method:str task:str seed:int status:str config:object config_hash:str protocol:object "
        "provenance:object progress:object score:object attempts:int error:str|null"
    )
    FILLED: ClassVar = {"attempts": 1}  # imports before a4fa280 wrote none

    @property
    def imported(self) -> bool:
        """Whether the run was imported (from published scores or another tool's logs), not made here."""
        return isinstance(self.provenance, ImportProvenance)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of run.json, schema first."""
        return {"schema": SCHEMA, **super().to_json()}

    @classmethod
    def from_json(cls, data: Any, where: str | Path) -> Record:
        """The record of run.json's object, checked; one line naming `where` (the file) and the key if not."""
        if not isinstance(data, dict):
            raise RunFileError(f"{where}: not a JSON object")
        _check_schema(data.get("schema"), where)
        values = cls._checked({k: v for k, v in data.items() if k != "schema"}, where, cls.PATH)
        if values["status"] not in STATUSES:
            raise RunFileError(f"{where}: status {values['status']!r} is not one of {', '.join(STATUSES)}")
        return cls(
            **{
                **values,
                "protocol": RunProtocol.from_json(values["protocol"], where),
                "provenance": _provenance(values["provenance"], where),
                "progress": Progress.from_json(values["progress"], where),
                "score": Score.from_json(values["score"], where),
            }
        )


def _check_schema(schema: Any, where: str | Path) -> None:
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_NAME + "/"):
        raise RunFileError(f"{where}: not a hieros-bench run file (schema {schema!r})")
    try:
        version = int(schema.rsplit("/", 1)[1])
    except ValueError:
        raise RunFileError(f"{where}: malformed schema {schema!r}") from None
    if version > SCHEMA_VERSION:
        raise RunFileError(f"{where}: written by a newer hieros-bench (schema {schema}); upgrade to read it")


def _run_file(path: str | Path) -> Path:
    path = Path(path)
    return path / RUN_FILE if path.is_dir() or path.suffix != ".json" else path


def read_run(path: str | Path) -> Record:
    """Read and check run.json (given the run directory or the file)."""
    file = _run_file(path)
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise RunFileError(f"{file}: missing") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise RunFileError(f"{file}: corrupt JSON ({e.msg} at line {e.lineno}); delete the run to redo it") from None
    return Record.from_json(data, file)


def read_stored_run(run_dir: Path) -> Record:
    """read_run of a run in the store, RESULTS/<suite>/<method>/<task>/seed_<n>/, refused in one line naming it
    unless it names this method and task and ran this seed: a run whose config ran another seed than its
    folder's (a store written with `--set seed=` before the runner refused it ran one seed under several
    folders) would count one run as several."""
    record = read_run(run_dir)
    method, task, folder = run_dir.parts[-3:]
    seed = int(folder.removeprefix("seed_"))
    ran = record.config.get("seed", record.seed)  # imports record no config
    if (record.method, record.task) != (method, task):
        raise RunFileError(
            f"{run_dir}: run.json names {record.method}/{record.task}/seed_{record.seed}; "
            "it was moved or copied by hand"
        )
    if record.seed != seed or ran != seed:
        raise RunFileError(
            f"{run_dir}: it ran seed {ran} (run.json), not its folder's {seed}, so it repeats any other run of "
            f"seed {ran} (a store written with --set seed=, or copied by hand); move it aside or delete it"
        )
    return record


def write_run(run_dir: str | Path, record: Record) -> None:
    """Write the record as run_dir/run.json, atomically, once it reads back (a field of the wrong kind is refused)."""
    file = Path(run_dir) / RUN_FILE
    data = record.to_json()
    Record.from_json(data, file)
    atomic_write_json(file, data)
