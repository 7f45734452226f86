"""Published per-run Atari100k final scores of other methods, shipped with the package, with their sources.

`analysis/data/atari100k_baselines.csv` holds one row per (method, game, run): `method,game,run,score`, the raw
final score of that run by its source's own protocol; `analysis/data/atari100k_baselines_sources.csv` holds one row
per method: where its file comes from (repo@commit:path), that protocol, and what the file does (not) reproduce.
Both are generated from the authors' files as published (`shared/data/atari100k_raw`, never copied into the
project) by `python -m analysis.baselines RAW_DIR`; a test regenerates them and compares the bytes.

Protocols kept as each source has it:
- danijar/dreamerv3 curves: the mean of the training episodes that end in the final 10k frames (390k, 400k]; a
  seed with no such episode has no score for that game (hieros.metrics_file.final_score).
- HarmonyDream's evaluation curves: the value at 400k frames.
- CURL: human-normalised scores, turned back into raw ones with the standard random and human table.
- the per-game lists of the others: the authors' final score per run as given.

`analysis/data/atari100k_baseline_curves.csv` holds, for the baselines whose files are training curves (danijar's
score lists: DreamerV3, DreamerV3-2023), one row per (method, game, run, 10k-frame bin): `method,game,run,frames,
score`, the mean score of the training episodes ending in (frames - 10k, frames], empty where none ends there; the
last bin is the run's final score. Same script, same byte check.

`load(names)` gives each baseline as an analysis.store.Method of in-memory runs (protocol `published_final`,
marked imported), so the report treats it exactly as an imported file: intervals, verdicts, P(X > Y); a baseline
with curves has each bin as a training episode at its end frame, so its sample-efficiency curve (analysis.
efficiency, which bins by the same 10k frames) is its own.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from analysis import curves, score_files, transfer
from analysis.store import DATA, Method, Run, StoreError, display_name, find_game, load_store, random_human, suites_in
from hieros import run_search, rundir
from hieros.envs import task_domain
from hieros.run_file import ImportProvenance, Record, RunProtocol, Score, ScoreProtocol
from hieros.run_search import Sources

TABLE = DATA / "atari100k_baselines.csv"
SOURCES_TABLE = DATA / "atari100k_baselines_sources.csv"
CURVES_TABLE = DATA / "atari100k_baseline_curves.csv"
BUDGET_FRAMES = 400_000
WINDOW_FRAMES = 10_000


@dataclass(frozen=True)
class Source:
    file: str  # relative to the raw directory
    origin: str  # repo@commit:path
    reader: str  # curl (human-normalised records), or any format hieros-bench import reads
    protocol: str
    note: str = ""


# The methods the HIEROS paper compared with (SimPLe, TWM, IRIS, DreamerV3, STORM), then the strongest since.
SOURCES: dict[str, Source] = {
    "DreamerV3": Source(
        "dreamerv3/atari100k-dreamerv3.json.gz",
        "danijar/dreamerv3@e3f0224:scores/atari100k-dreamerv3.json.gz",
        "import",
        "mean of the training episodes ending in (390k, 400k] frames; none there: no score",
        "DreamerV3 2024 (Nature); reproduces its published mean 1.25 and median 0.49",
    ),
    "DreamerV3-2023": Source(
        "dreamerv3/v1_2023/atari100k_dreamerv3.json.gz",
        "danijar/dreamerv3@423291a:scores/data/atari100k_dreamerv3.json.gz",
        "import",
        "mean training-episode return of the 10k-frame bin at 400k frames; an empty bin: no score",
        "DreamerV3 arXiv v1 (the version HIEROS compared with); its bins do not reproduce the v1 table "
        "(Alien 1096 here, 959 there), and no seed has a ChopperCommand value in its last bin",
    ),
    "IRIS": Source("iris/IRIS.json", "eloialonso/iris@24326aa:results/data/IRIS.json", "import", "final score per run"),
    "TWM": Source("twm/scores.json", "jrobine/twm@e6a8e59:results/scores.json", "import", "final score per run"),
    "STORM": Source(
        "storm/storm.json",
        "weipu-zhang/STORM@1c50658:results/storm.json",
        "import",
        "final score per run",
        "released in 2025; does not reproduce the paper's table (docs/report.md)",
    ),
    "SimPLe": Source(
        "iris/SimPLe.json", "eloialonso/iris@24326aa:results/data/SimPLe.json", "import", "final score per run"
    ),
    "SPR": Source(
        "iris/SPR.json",
        "eloialonso/iris@24326aa:results/data/SPR.json",
        "import",
        "final score per run (the 100 runs of Agarwal et al. 2021)",
    ),
    "DrQ(eps)": Source(
        "iris/DrQ(eps).json",
        "eloialonso/iris@24326aa:results/data/DrQ(eps).json",
        "import",
        "final score per run (the 100 runs of Agarwal et al. 2021)",
    ),
    "CURL": Source(
        "iris/CURL_10_evals.json",
        "eloialonso/iris@24326aa:results/data/CURL_10_evals.json",
        "curl",
        "human-normalised score per run (HNS, 100 runs) x (human - random) + random",
    ),
    "DIAMOND": Source(
        "diamond/DIAMOND.json", "eloialonso/diamond@5bcd159:results/data/DIAMOND.json", "import", "final score per run"
    ),
    "REM": Source("rem/REM.json", "leor-c/REM@34828c3:results/data/REM.json", "import", "final score per run"),
    "Simulus": Source(
        "simulus/Simulus.json",
        "leor-c/Simulus@c1e75e9:results/data/atari/Simulus.json",
        "import",
        "final score per run",
    ),
    "HarmonyDream": Source(
        "harmonydream/harmony.json",
        "thuml/HarmonyDream@0a22e33:dreamerv3-jax/scores/harmony.json",
        "import",
        "evaluation score at 400k frames",
    ),
}
DEFAULT = ("SimPLe", "TWM", "IRIS", "DreamerV3", "STORM", "DIAMOND", "Simulus")


def _curl(path: Path) -> dict[str, list[float | None]]:
    """CURL's records {game, seed, HNS}: raw scores per game in seed order."""
    out: dict[str, list[float | None]] = {}
    for record in sorted(json.loads(path.read_text()), key=lambda r: (r["game"], float(r["seed"]))):
        task = find_game(record["game"])
        if task is None:
            raise StoreError(f"{path}: unknown game {record['game']!r}")
        low, high = random_human()[task]
        out.setdefault(task, []).append(record["HNS"] * (high - low) + low)
    return out


def _runs(path: Path, source: Source) -> dict[str, list[tuple[float | None, np.ndarray | None]]]:
    """{task: (final score, training curve in 10k-frame bins or None) per run, in the file's seed order} by the
    source's protocol."""
    if source.reader == "curl":
        return {task: [(score, None) for score in finals] for task, finals in _curl(path).items()}
    runs, _ = score_files.parse(path, "baseline", "atari100k", transfer.Given(BUDGET_FRAMES, 4, WINDOW_FRAMES))
    out: dict[str, list[tuple[float | None, np.ndarray | None]]] = {}
    for record, episodes in sorted(runs, key=lambda run: (run[0].task, run[0].seed)):
        curve = None
        if record.protocol.score.name == "final_train_window":  # training episodes: a curve
            curve = curves.binned(*curves.run_points(episodes, "score"), curve_edges())
        out.setdefault(record.task, []).append((record.score.final, curve))
    return out


def curve_edges() -> np.ndarray:
    """The bins of the shipped curves: 10k frames each up to the budget (those of a final_train_window run)."""
    return curves.edges(BUDGET_FRAMES, WINDOW_FRAMES)


def _number(value: float | None) -> str:
    return "" if value is None or np.isnan(value) else repr(round(float(value), 6))


def build(raw: Path) -> tuple[str, str, str]:
    """(scores table, sources table, curves table) as CSV text, from the authors' files under `raw`."""
    scores, sources, curve_rows = io.StringIO(), io.StringIO(), io.StringIO()
    rows, about = csv.writer(scores, lineterminator="\n"), csv.writer(sources, lineterminator="\n")
    points = csv.writer(curve_rows, lineterminator="\n")
    rows.writerow(["method", "game", "run", "score"])
    about.writerow(["method", "origin", "protocol", "note"])
    points.writerow(["method", "game", "run", "frames", "score"])
    for name, source in SOURCES.items():
        path = raw / source.file
        if not path.is_file():
            raise StoreError(f"{path}: not found; give the folder of the published files (shared/data/atari100k_raw)")
        by_task = _runs(path, source)
        for task in sorted(by_task):
            for run, (score, curve) in enumerate(by_task[task], start=1):
                rows.writerow([name, display_name(task), run, _number(score)])
                for frames, value in zip(curve_edges()[1:], [] if curve is None else curve, strict=False):
                    points.writerow([name, display_name(task), run, int(frames), _number(value)])
        about.writerow([name, source.origin, source.protocol, source.note])
    return scores.getvalue(), sources.getvalue(), curve_rows.getvalue()


@cache
def _table() -> dict[str, dict[str, list[float | None]]]:
    out: dict[str, dict[str, list[float | None]]] = {}
    with open(TABLE) as f:
        for row in csv.DictReader(f):
            out.setdefault(row["method"], {}).setdefault(find_game(row["game"]) or row["game"], []).append(
                float(row["score"]) if row["score"] else None
            )
    return out


@cache
def _curve_table() -> dict[str, dict[str, dict[int, list[tuple[int, float]]]]]:
    """{method: {task: {run: [(bin end frame, mean score), ...]}}} of the shipped curves, empty bins left out."""
    out: dict[str, dict[str, dict[int, list[tuple[int, float]]]]] = {}
    with open(CURVES_TABLE) as f:
        for row in csv.DictReader(f):
            runs = out.setdefault(row["method"], {}).setdefault(find_game(row["game"]) or row["game"], {})
            points = runs.setdefault(int(row["run"]), [])
            if row["score"]:
                points.append((int(row["frames"]), float(row["score"])))
    return out


def field(task: str, frames: float | None = None) -> list[float]:
    """The shipped baselines' runs on `task` (an Atari100k game), all methods pooled: every final score, or, with
    `frames` before the budget, the score of each run with a curve in the 10k-frame bin holding `frames` (runs
    with nothing there left out); [] for a task no baseline has."""
    if frames is None or frames >= BUDGET_FRAMES:
        return [float(v) for runs in _table().values() for v in runs.get(task, []) if v is not None]
    bins = curve_edges()
    end = int(bins[np.searchsorted(bins, frames, side="left")]) if frames > 0 else WINDOW_FRAMES
    curved = [points for runs in _curve_table().values() for points in runs.get(task, {}).values()]
    return [v for points in curved for f, v in points if f == end]


def percentile(score: float, task: str, frames: float | None = None) -> tuple[float, int] | None:
    """(the share of the field's runs on `task` (at `frames`, as `field`) that `score` beats, ties counting
    half; the field's size), or None without a field."""
    runs = np.asarray(field(task, frames))
    if not len(runs):
        return None
    return float(((runs < score).sum() + 0.5 * (runs == score).sum()) / len(runs)), len(runs)


@cache
def sources() -> dict[str, dict[str, str]]:
    """{method: {origin, protocol, note}} of every shipped baseline."""
    with open(SOURCES_TABLE) as f:
        return {row.pop("method"): row for row in csv.DictReader(f)}


def names() -> list[str]:
    """Every shipped baseline, in the order of the table."""
    return list(sources())


def resolve(requested: list[str] | None) -> list[str]:
    """Baseline names from --baselines: None is the default set, ["all"] every one, ["none"] none."""
    if requested is None:
        return list(DEFAULT)
    if requested == ["none"]:
        return []
    if requested == ["all"]:
        return names()
    unknown = [n for n in requested if n not in sources()]
    if unknown:
        raise StoreError(f"--baselines: unknown baseline {unknown[0]!r}; shipped: {', '.join(names())}, or all, none")
    return list(dict.fromkeys(requested))


def store_methods(results: Sources, suite: str | None, requested: list[str] | None) -> dict[str, Method]:
    """The methods of one suite of the store (or of any folders of run directories, hieros.run_search); none when
    there are no runs but baselines were asked for (the field alone), else a StoreError saying what to do."""
    if not suites_in(results):
        if requested not in (None, ["none"]) and suite in (None, "atari100k"):
            return {}
        raise StoreError(
            f"no runs under {run_search.describe(results)}; run `hieros-bench run SUITE` or "
            "`hieros-bench import FILE`, or give --baselines all for the published field alone"
        )
    return load_store(results, suite)


def beside(ours: dict[str, Method], requested: list[str] | None) -> dict[str, Method]:
    """The baselines to compare `ours` (a store's methods) with: `requested` as resolve() reads it, where None is
    the default set only for an Atari100k store (Atari tasks at 400k frames) and none for any other."""
    atari100k = all(
        task_domain(r.task) == "atari" and r.record.protocol.budget_frames == BUDGET_FRAMES
        for m in ours.values()
        for r in m.all_runs()
        if not r.imported
    )
    if requested is None and not atari100k:
        return {}
    chosen = resolve(requested)
    if chosen and not all(task_domain(t) == "atari" for m in ours.values() for t in m.tasks):
        raise StoreError("the shipped baselines are Atari100k results; this suite is not Atari (give --baselines none)")
    clash = sorted(set(chosen) & set(ours))
    if clash:
        raise StoreError(
            f"the store has a method named {clash[0]}, as a shipped baseline; rename it on import "
            "or leave the baseline out with --baselines"
        )
    return load(chosen)


@dataclass
class ShippedRun(Run):
    """A shipped baseline's run: its record in memory, and its curve's bins as training episodes (none without)."""

    episodes: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def metrics(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.episodes


def load(requested: list[str]) -> dict[str, Method]:
    """{name: Method} of the requested baselines, runs in memory (seeds 1..N per game, as the table numbers them)."""
    table, about, curved = _table(), sources(), _curve_table()
    out = {}
    for name in requested:
        method = Method("atari100k", name)
        provenance = ImportProvenance(about[name]["origin"], "shipped", "baseline")
        # a curve's bins are the final window wide, as a final_train_window run's
        window = WINDOW_FRAMES if name in curved else None
        protocol = RunProtocol.of(None, 4, BUDGET_FRAMES, ScoreProtocol("published_final", window))
        for task, scores in table[name].items():
            for seed, score in enumerate(scores, start=1):
                record = Record(
                    suite="atari100k",
                    method=name,
                    task=task,
                    seed=seed,
                    status="done",
                    config={},
                    config_hash=f"baseline-{name}",
                    protocol=protocol,
                    provenance=provenance,
                    score=Score(score),
                )
                points = curved.get(name, {}).get(task, {}).get(seed, [])
                episodes = [
                    {"type": "episode", "mode": "train", "env_step": f // 4, "frames": f, "score": v} for f, v in points
                ]
                method.runs.setdefault(task, {})[seed] = ShippedRun(TABLE, record, episodes)
        out[name] = method
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.baselines", description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="the folder of the published files (shared/data/atari100k_raw)")
    args = parser.parse_args(argv)
    try:
        scores, about, curve_text = build(args.raw)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path, text in ((TABLE, scores), (SOURCES_TABLE, about), (CURVES_TABLE, curve_text)):
        rundir.atomic_write_bytes(path, text.encode())
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
