"""The paper's comparison of time-balanced (ETBS) and uniform replay sampling, with the real selectors of
hieros.replay (numpy only; no torch).

The replay grows by one item per environment step; after each insertion training draws `train_ratio /
batch_length` sequences (the fractional part carried over), as the agent does. We count how often each item was
sampled over the whole run (against its insertion time) and how old the items were when they were drawn.
Uniform over a growing buffer samples old items about ln(N / i) times more often than new ones; ETBS flattens
that. Defaults come from the atari100k preset of hieros/configs.yaml. Seeded and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis import figures
from hieros.replay import Selector, TimeBalanced, Uniform

SMOOTH = 200  # items in the box filter of the smoothed count curve
AGE_BINS = 40


@dataclass(frozen=True)
class Setup:
    temperatures: tuple[float, ...]
    items: int
    train_ratio: float
    batch_length: int
    seed: int = 0
    capacity: int | None = None  # also draw the original's capacity-scaled ETBS (defect D4) with this capacity
    paper: bool = False  # the paper's figure: only ETBS scaled to the final buffer, labelled as the paper labels it

    @property
    def per_insert(self) -> float:
        return self.train_ratio / self.batch_length


def preset_setup(
    temperatures: list[float] | None = None,
    items: int = 4000,
    train_ratio: float | None = None,
    batch_length: int | None = None,
    seed: int = 0,
    capacity: int | None = None,
) -> Setup:
    """A Setup whose unset values come from the atari100k preset."""
    from hieros.config import build_config

    config = build_config(["atari100k"])
    return Setup(
        tuple(temperatures or [config.replay_temperature]),
        items,
        train_ratio or config.train_ratio,
        batch_length or config.batch_length,
        seed,
        capacity,
    )


# The HIEROS paper's sampler figure, as the original's sampler_visualization.py draws it: 1000 steps of 4
# insertions and 16 draws, ETBS at temperatures 0.99 (labelled 1.0), 0.7 and 0.3, each scaled to the final buffer
# (its `length` is the number of items at the end), beside uniform; counts smoothed over +-100 items.
PAPER_TEMPERATURES = (0.99, 0.7, 0.3)
PAPER_ITEMS = 4000
PAPER_PER_INSERT = 4


def paper_setup(seed: int = 0) -> Setup:
    """The Setup of the paper's figure (PAPER_*): batch_length 1 so that train_ratio is the draws per insertion."""
    return Setup(PAPER_TEMPERATURES, PAPER_ITEMS, float(PAPER_PER_INSERT), 1, seed, capacity=PAPER_ITEMS, paper=True)


def preset_capacity() -> int | None:
    """The capacity by which the atari100k preset scales ETBS (the original's D4), or None if it does not."""
    from hieros.config import build_config

    config = build_config(["atari100k"])
    return int(config.replay_size) if config.replay_capacity_scaling else None


def simulate(selector: Selector, items: int, per_insert: float) -> tuple[np.ndarray, np.ndarray]:
    """(times each item was sampled (items,), number of samples of each age (items,)); age 0 = the newest item."""
    drawn, ages = [], []
    owed = 0.0
    for size in range(1, items + 1):
        owed += per_insert
        count = int(owed)
        owed -= count
        if count:
            index = selector.sample(size, count)
            drawn.append(index)
            ages.append(size - 1 - index)
    if not drawn:
        return np.zeros(items, np.int64), np.zeros(items, np.int64)
    return (np.bincount(np.concatenate(drawn), minlength=items), np.bincount(np.concatenate(ages), minlength=items))


def smooth(values: np.ndarray, width: int = SMOOTH) -> np.ndarray:
    """Centred box filter: mean of values[i - width // 2 : i + width // 2], truncated at the edges."""
    cumsum = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    index = np.arange(len(values))
    low, high = np.maximum(0, index - width // 2), np.minimum(len(values), index + width // 2)
    return (cumsum[high] - cumsum[low]) / (high - low)


def selectors(setup: Setup) -> dict[str, Selector]:
    """Uniform, ETBS scaled by the current size at each temperature, and optionally the original's scaling."""
    out: dict[str, Selector] = {"uniform": Uniform(seed=setup.seed)}
    if setup.paper:  # the paper labels its tau=0.99 curve 1.0
        for tau in setup.temperatures:
            label = f"ETBS τ={1.0 if tau == 0.99 else tau:.1f}"
            out[label] = TimeBalanced(temperature=tau, seed=setup.seed, capacity=setup.capacity)
        return out
    for tau in setup.temperatures:
        out[f"ETBS tau={tau:g}"] = TimeBalanced(temperature=tau, seed=setup.seed)
        if setup.capacity:
            out[f"ETBS tau={tau:g}, original (capacity {setup.capacity:,})"] = TimeBalanced(
                temperature=tau, seed=setup.seed, capacity=setup.capacity
            )
    return out


def run(setup: Setup) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{label: (counts (items,), ages (items,))} for every selector of the setup."""
    return {label: simulate(selector, setup.items, setup.per_insert) for label, selector in selectors(setup).items()}


def draw(results: dict[str, tuple[np.ndarray, np.ndarray]], setup: Setup) -> tuple[Any, figures.Table]:
    """Left: samples per item against insertion time (smoothed; raw counts faint). Right: age distribution. Two
    paper columns wide, the legend below."""
    plt = figures.pyplot()
    labels = list(results)
    palette = figures.colors(labels)
    height = 2.4 + figures.LEGEND_ROW * figures.legend_rows(labels, figures.PAGE)
    fig, (left, right) = plt.subplots(1, 2, figsize=(figures.PAGE, height), layout="constrained")
    items = np.arange(setup.items)
    edges = np.linspace(0, setup.items, AGE_BINS + 1)
    for label, (counts, ages) in results.items():
        left.plot(items, counts, color=palette[label]["color"], alpha=0.15, linewidth=0.4)
        left.plot(items, smooth(counts), **palette[label], linewidth=1.2)
        share = np.add.reduceat(ages, edges[:-1].astype(int)) / max(ages.sum(), 1)
        right.stairs(share, edges, **palette[label], linewidth=1.2)
    scaled = "; ETBS scaled to the final buffer" if setup.paper else f", {setup.items} steps"
    left.set(
        xlabel="insertion time of the item (env steps; 0 = oldest)",
        ylabel="times sampled",
        title=f"samples per item ({setup.per_insert:g} per env step{scaled})",
    )
    right.set(
        xlabel="age when sampled (env steps since insertion)",
        ylabel="fraction of samples",
        title="age distribution of samples",
        yscale="log",
    )
    for ax in (left, right):
        ax.locator_params(axis="x", nbins=5)
    handles = [plt.Line2D([], [], **palette[label]) for label in labels]
    figures.legend_below(fig, handles, labels, figures.PAGE)
    header = ["item", *(f"count {k}" for k in results), *(f"age_count {k}" for k in results)]
    rows = np.column_stack([items, *(c for c, _ in results.values()), *(a for _, a in results.values())])
    return fig, (header, rows.tolist())


def sampler_figure(out: Path, setup: Setup) -> list[Path]:
    """Write sampler.png, sampler.pdf and sampler.csv into `out`; returns the paths."""
    fig, table = draw(run(setup), setup)
    return figures.save(fig, table, out, "sampler")
