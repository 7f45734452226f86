"""summary.json, a report's numbers, as frozen dataclasses: `Summary` (what was reported, its statistics, checks and
notes) with a `MethodSummary` per method (its runs, `Interval` aggregates and a `Game` per task), the published
means beside them (`PublishedMeans`), each method's `EfficiencyCurve`, P(X > Y) of each pair (`Interval`), the
calibrated tests (`Comparisons`, a `Comparison` each), and the optional sections: the `Ladder` (`Rung`s), the
`Calibration` and the train metrics (`EndValue`s).

Each type's fields are the keys of its JSON object, in the order written; their annotations are the schema
(analysis/summary_schema.py): `Summary.from_json(data, where)` checks a file's object against them, a key missing
or unknown, or a value of the wrong kind, is a one-line SummaryFileError naming the key and the file. `to_json()`
gives the object written (an OMITTED field only when it is not None). A `float` field is NaN where a number is
missing (an interval of one run), written as null; `float | None` is a number or nothing (a test without a Welch
p). `read_summary` reads the file; `schema_table` is docs/architecture.md's table of the types.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from analysis import summary_schema
from analysis.summary_schema import Part, SummaryFileError

SCHEMA_NAME = "hieros-bench/report"
SCHEMA_VERSION = 1
SCHEMA = f"{SCHEMA_NAME}/{SCHEMA_VERSION}"
SUMMARY_FILE = "summary.json"


@dataclasses.dataclass(frozen=True)
class Interval(Part):
    """A point estimate with its 95% interval: an aggregate (stratified bootstrap), P(X > Y), a ladder's score."""

    value: float
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class MeanInterval(Part):
    """A mean over runs with its 95% Student t interval."""

    mean: float
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class Game(Part):
    """A method on one task: the runs' mean raw score with its t interval (inside the task's possible scores), the
    runs with a score, their final scores, and the mean and interval normalised."""

    mean: float
    low: float
    high: float
    runs: int
    scores: list[float]
    normalized: MeanInterval


@dataclasses.dataclass(frozen=True)
class SourceFile(Part):
    """A file a method's runs were imported from."""

    file: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class BaselineSource(Part):
    """Where a shipped baseline's scores come from (analysis/data/atari100k_baselines.csv)."""

    origin: str
    protocol: str
    note: str


@dataclasses.dataclass(frozen=True)
class MethodSummary(Part):
    """Everything the tables show of one method: imported or a shipped baseline, its sources, protocols, config
    hashes and seeds, its runs per task (the fewest and the most), cells without a score and the finished runs
    that have none, its tasks, its aggregates (Median, IQM, Mean, Optimality Gap; Superhuman on Atari) and games."""

    imported: bool
    baseline: BaselineSource | None
    sources: list[SourceFile]
    protocols: list[str]
    config_hashes: list[str]
    seeds: list[int]
    runs_per_task: int
    runs_per_task_max: int
    missing_cells: int
    unscored: list[str]
    tasks: list[str]
    aggregates: Mapping[str, Interval]
    games: Mapping[str, Game]


@dataclasses.dataclass(frozen=True)
class Statistics(Part):
    """How the intervals were made: bootstrap replicates and seed, confidence, and in words the aggregates', each
    task's and the performance profile's (runs or average)."""

    reps: int
    seed: int
    confidence: float
    aggregates: str
    per_task: str
    profile: str


@dataclasses.dataclass(frozen=True)
class Check(Part):
    """A problem of the store the report went ahead with (kind: partial, mixed or failed)."""

    kind: str
    message: str


@dataclasses.dataclass(frozen=True)
class PublishedMeans(Part):
    """A method's published means beside ours (no intervals): per game, its aggregates as published with their
    facts (n_games, n_seeds), the aggregates recomputed from its means on the report's tasks, its sources."""

    intervals: bool
    games: Mapping[str, float]
    aggregates: Mapping[str, float]
    facts: Mapping[str, int]
    from_means: Mapping[str, float]
    sources: list[str]


@dataclasses.dataclass(frozen=True)
class EfficiencyCurve(Part):
    """A method's sample-efficiency curve: the IQM of normalised training scores at these frames, 95% intervals."""

    frames: list[float]
    value: list[float]
    low: list[float]
    high: list[float]


@dataclasses.dataclass(frozen=True)
class Comparison(Part):
    """The calibrated test of X against Y: the verdict (better, worse, level, inconclusive), P(X > Y) on the tested
    runs, the p values of the difference and of equivalence (raw and Holm-adjusted), whether exact, the tested
    runs of X and Y, the tasks, Welch's p beside (none where it has no spread) and the power at the margin."""

    x: str
    y: str
    verdict: str
    improvement: float
    p: float
    p_adjusted: float
    p_equivalence: float
    p_equivalence_adjusted: float
    exact: bool
    runs: list[int]
    tasks: int
    welch_p: float | None
    power: float | None


@dataclasses.dataclass(frozen=True)
class Comparisons(Part):
    """The tested family: its level, margin, correction, how it was chosen and its size, the tests in words, the
    suite's planned seeds (a method's own in planned_seeds_of; omitted by reports before it), whether every seed
    was tested, each method's seeds beyond its plan, and the pairs."""

    alpha: float
    margin: float
    correction: str
    family: str
    size: int
    test: str
    equivalence: str
    planned_seeds: int | None
    planned_seeds_of: Mapping[str, int] | None
    all_seeds: bool
    beyond_plan: Mapping[str, list[int]]
    pairs: Mapping[str, Comparison]

    OMITTED: ClassVar = frozenset({"planned_seeds_of"})


@dataclasses.dataclass(frozen=True)
class Rung(Part):
    """A rung of the ablation ladder: its method, the rung it is compared with, its runs per task, its score, and
    P(rung > compared) and P(rung > random) each with its test (none where there is no such comparison)."""

    method: str
    reference: str | None
    runs: int
    score: Interval
    vs_reference: Interval | None
    vs_floor: Interval | None
    test_reference: Comparison | None = None
    test_floor: Comparison | None = None


@dataclasses.dataclass(frozen=True)
class Ladder(Part):
    """--ladder: the aggregate the rungs are scored by, and the rungs."""

    metric: str
    rungs: list[Rung]


@dataclasses.dataclass(frozen=True)
class Calibration(Part):
    """--calibrate: simulated experiments and their bootstrap replicates, the coverage per method and aggregate."""

    trials: int
    reps: int
    coverage: Mapping[str, Mapping[str, float]]


@dataclasses.dataclass(frozen=True)
class EndValue(Part):
    """A --metric at the end of training: the mean over runs with its t interval, the runs, each run's value."""

    mean: float
    low: float
    high: float
    runs: int
    values: list[float]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Summary(Part):
    """summary.json: the suite, its tasks and how they were chosen, each task's normalisation, the statistics, the
    checks, the methods, published means and the baselines left out, the efficiency curves, where ours lies against
    each baseline per task ({ours: {baseline: {task: verdict}}}), P(X > Y) per pair, the tests, the optional
    ladder, calibration and train metrics ({metric: {task: {method: EndValue}}}), and the notes."""

    suite: str
    tasks: list[str]
    task_selection: str
    normalization: Mapping[str, str]
    statistics: Statistics
    checks: list[Check]
    methods: Mapping[str, MethodSummary]
    published: Mapping[str, PublishedMeans]
    left_out: list[str]
    efficiency: Mapping[str, EfficiencyCurve]
    verdicts: Mapping[str, Mapping[str, Mapping[str, str]]]
    improvement: Mapping[str, Interval]
    tests: Comparisons
    ladder: Ladder | None = None
    calibration: Calibration | None = None
    train_metrics: Mapping[str, Mapping[str, Mapping[str, EndValue]]] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    OMITTED: ClassVar = frozenset({"ladder", "calibration", "train_metrics"})

    def to_json(self) -> dict[str, Any]:
        """The JSON object of summary.json, schema first."""
        return {"schema": SCHEMA, **super().to_json()}

    def text(self) -> str:
        """summary.json's text."""
        return json.dumps(self.to_json(), indent=1) + "\n"

    @classmethod
    def from_json(cls, data: Any, where: str | Path, path: str = "") -> Self:
        """The summary of summary.json's object, checked; one line naming `where` (the file) and the key if not."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            schema = data.get("schema") if isinstance(data, dict) else None
            raise SummaryFileError(f"{where}: not a {SCHEMA} summary (schema {schema!r})")
        return super().from_json({k: v for k, v in data.items() if k != "schema"}, where, path)


def read_summary(path: str | Path) -> Summary:
    """Read and check summary.json (given the report's folder or the file)."""
    file = Path(path)
    file = file / SUMMARY_FILE if file.is_dir() else file
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise SummaryFileError(f"{file}: missing") from None
    except json.JSONDecodeError as e:
        raise SummaryFileError(f"{file}: corrupt JSON ({e.msg} at line {e.lineno})") from None
    return Summary.from_json(data, file)


def schema_table() -> str:
    """docs/architecture.md's table of summary.json's types: each type, what it holds, its fields and their kinds."""
    return summary_schema.schema_table(Summary, f'`schema` "{SCHEMA}" (first)')
