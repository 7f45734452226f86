"""Published Atari100k per-game means and aggregates, with their sources (analysis/data/atari100k_published_means.csv).

These have no per-run scores, so they have no confidence intervals; the report marks them as such.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache

from analysis.store import DATA, game_to_task

AGGREGATE_NAMES = {"mean_hns": "Mean", "median_hns": "Median", "iqm": "IQM", "optimality_gap": "Optimality Gap"}


@dataclass
class Published:
    method: str
    means: dict[str, float] = field(default_factory=dict)  # task -> raw score
    aggregates: dict[str, float] = field(default_factory=dict)  # Mean/Median/IQM -> value
    sources: set[str] = field(default_factory=set)


@cache
def published() -> dict[str, Published]:
    out: dict[str, Published] = {}
    with open(DATA / "atari100k_published_means.csv") as f:
        for row in csv.DictReader(f):
            entry = out.setdefault(row["method"], Published(row["method"]))
            entry.sources.add(row["source"])
            if row["game"].startswith("AGG:"):
                name = AGGREGATE_NAMES.get(row["game"][4:])
                if name:
                    entry.aggregates[name] = float(row["score"])
            else:
                entry.means[game_to_task(row["game"])] = float(row["score"])
    return out
