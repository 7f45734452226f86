"""Published Atari100k per-game means and aggregates with their sources (analysis/data/atari100k_published_means.csv).

Rows `game,method,score,source`; rows whose game starts with `AGG:` are aggregates (mean_hns, median_hns, iqm,
optimality_gap, n_superhuman) or facts about them (n_games, n_seeds). These baselines have no per-run scores, so
they have no intervals; the report says so wherever it shows them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache

from analysis.store import DATA, game_to_task

AGGREGATE_NAMES = {
    "median_hns": "Median",
    "iqm": "IQM",
    "mean_hns": "Mean",
    "optimality_gap": "Optimality Gap",
    "n_superhuman": "Superhuman",
}
FACTS = ("n_games", "n_seeds")


@dataclass
class Published:
    method: str
    means: dict[str, float] = field(default_factory=dict)  # task -> raw mean score
    aggregates: dict[str, float] = field(default_factory=dict)  # Median/IQM/Mean/Optimality Gap/Superhuman
    facts: dict[str, int] = field(default_factory=dict)  # n_games, n_seeds of the published aggregates
    sources: list[str] = field(default_factory=list)


@cache
def published() -> dict[str, Published]:
    """{method: Published} from the packaged table."""
    out: dict[str, Published] = {}
    with open(DATA / "atari100k_published_means.csv") as f:
        for row in csv.DictReader(f):
            entry = out.setdefault(row["method"], Published(row["method"]))
            if row["source"] not in entry.sources:
                entry.sources.append(row["source"])
            name = row["game"].removeprefix("AGG:")
            if name in AGGREGATE_NAMES:
                entry.aggregates[AGGREGATE_NAMES[name]] = float(row["score"])
            elif name in FACTS:
                entry.facts[name] = int(float(row["score"]))
            elif not row["game"].startswith("AGG:"):
                entry.means[game_to_task(row["game"])] = float(row["score"])
    return out
