"""A report's numbers of each method and against the baselines, for analysis.report's `compute`: each game's mean
with its Student t interval (`_games`), a method's summary entry (`method_summary`), the published entries
(`published_summary`), where ours lies against a baseline (`verdict`, `baseline_verdicts`), and the pairs for
P(X > Y) (`improvement_pairs`, `asked_pairs` for --compare).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from analysis import baselines, bootstrap
from analysis.published import published
from analysis.store import Method, StoreError, describe_protocol, normalize, score_range
from analysis.summary_file import (
    BaselineSource,
    Game,
    Interval,
    MeanInterval,
    MethodSummary,
    PublishedMeans,
    SourceFile,
)
from hieros.config import run_config_hash


def verdict(point: float, low: float, high: float) -> str:
    """Where `point` lies against the interval [low, high]."""
    if np.isnan(low) or np.isnan(high) or np.isnan(point):
        return "n/a"
    return "inside" if low <= point <= high else ("above" if point > high else "below")


def _games(method: Method, tasks: list[str]) -> dict[str, Game]:
    games = {}
    for task in tasks:
        raw = method.finals(task)
        floor, ceiling = score_range(task)  # the mean cannot leave it, so the interval keeps its coverage inside
        low, high = np.clip(bootstrap.t_interval(raw), floor, ceiling).tolist()
        mean = float(raw.mean()) if len(raw) else float("nan")
        normalized = MeanInterval(*(float(normalize(task, v)) for v in (mean, low, high)))
        games[task] = Game(mean, low, high, len(raw), raw.tolist(), normalized)
    return games


def is_shipped(method: Method) -> bool:
    """Whether a method is a shipped baseline (analysis.baselines), not runs of the store."""
    runs = method.all_runs()
    return bool(runs) and runs[0].source is not None and runs[0].source.format == "baseline"


def method_summary(
    name: str, method: Method, tasks: list[str], scores: np.ndarray, estimates: dict[str, Any]
) -> MethodSummary:
    """Everything the tables show of one method, with its aggregate intervals from `estimates`."""
    runs = method.all_runs()
    sources = sorted({(r.source.source_file, r.source.sha256) for r in runs if r.source})
    shipped = is_shipped(method)
    return MethodSummary(
        imported=method.imported,
        baseline=BaselineSource(**baselines.sources()[name]) if shipped else None,
        sources=[] if shipped else [SourceFile(f, s) for f, s in sources],
        protocols=sorted({describe_protocol(r.record.protocol) for r in runs}),
        config_hashes=sorted({run_config_hash(r.record) for r in runs}),
        seeds=method.scored_seeds(tasks),
        runs_per_task=int(np.isfinite(scores).sum(axis=0).min()),
        runs_per_task_max=int(np.isfinite(scores).sum(axis=0).max()),
        missing_cells=int(np.isnan(scores).sum()),
        unscored=[
            f"{r.task} seed {r.seed}" for r in runs if r.record.status == "done" and r.final is None and r.task in tasks
        ],
        tasks=tasks,
        aggregates={k: Interval(**v) for k, v in estimates.items() if k != "profile"},
        games=_games(method, tasks),
    )


def published_summary(names: list[str], tasks: list[str]) -> dict[str, PublishedMeans]:
    """The published means of `names` on `tasks`, with their aggregates recomputed where they cover every task."""
    table = published()
    out = {}
    for name in names:
        if name not in table:
            raise StoreError(f"--published {name!r} is not in the published table; known: {', '.join(table)}")
        entry = table[name]
        games = {t: entry.means[t] for t in tasks if t in entry.means}
        recomputed = {}
        if len(games) == len(tasks):
            means = np.array([normalize(t, games[t]) for t in tasks])
            recomputed = {
                "Mean": float(means.mean()),
                "Median": float(np.median(means)),
                "Superhuman": float((means > 1).sum()),
            }
        out[name] = PublishedMeans(False, games, entry.aggregates, entry.facts, recomputed, entry.sources)
    return out


def baseline_verdicts(
    methods: Mapping[str, MethodSummary], published: Mapping[str, PublishedMeans]
) -> dict[str, dict[str, dict[str, str]]]:
    """{ours: {baseline: {task: inside|above|below|n/a}}}: our mean against an imported baseline's interval, or a
    published mean (no interval) against our interval, read as where ours lies."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for ours, mine in methods.items():
        if mine.imported:
            continue
        out[ours] = {}
        for base, theirs in methods.items():
            if theirs.imported:
                out[ours][base] = {t: _versus(g, theirs.games[t]) for t, g in mine.games.items() if t in theirs.games}
        for base, entry in published.items():
            out[ours][base] = {
                t: _mirror(verdict(entry.games[t], g.low, g.high)) for t, g in mine.games.items() if t in entry.games
            }
    return out


def _mirror(found: str) -> str:
    """A baseline's value against our interval, read as where ours lies against the baseline."""
    return {"above": "below", "below": "above"}.get(found, found)


def _versus(ours: Game, base: Game) -> str:
    if np.isnan(base.low):  # a single baseline run has no interval: use ours
        return _mirror(verdict(base.mean, ours.low, ours.high))
    return verdict(ours.mean, base.low, base.high)


def improvement_pairs(methods: Mapping[str, Method]) -> list[tuple[str, str]]:
    """(X, Y) pairs for P(X > Y): each of our methods against the later ones and every imported one (shipped
    baselines too); all pairs of the store's imported methods when it has none of ours."""
    ours = [name for name, m in methods.items() if not m.imported]
    if not ours:
        names = [name for name, m in methods.items() if not is_shipped(m)]
        return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    others = [m for m in methods if m not in ours]
    return [(a, b) for i, a in enumerate(ours) for b in ours[i + 1 :] + others]


def asked_pairs(
    asked: list[list[str]], methods: Mapping[str, Any], known: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The --compare A B pairs the report does not already hold in either order (any two methods, baselines
    included); a name the report lacks is a one-line StoreError."""
    out: list[tuple[str, str]] = []
    for x, y in asked:
        for name in (x, y):
            if name not in methods:
                raise StoreError(f"--compare: {name!r} is not a method of this report; it has {', '.join(methods)}")
        if x != y and not {(x, y), (y, x)} & set(known + out):
            out.append((x, y))
    return out
