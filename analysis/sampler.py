"""The paper's comparison of time-balanced (ETBS) and uniform replay sampling, with the real selectors of hieros.

A replay grows by one item per environment step; training draws `train_ratio / batch_length` sequences per
step. We insert items one at a time, draw as training would, and count how often each item was sampled
(against its insertion time) and how old the sampled items were. Seeded and deterministic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hieros.replay import TimeBalanced, Uniform


def simulate(selector: Uniform | TimeBalanced, items: int, per_insert: float) -> tuple[np.ndarray, np.ndarray]:
    """(count per item (items,), age histogram (items,)): ages are in items, 0 = the newest."""
    counts = np.zeros(items, np.int64)
    ages = np.zeros(items, np.int64)
    owed = 0.0
    for size in range(1, items + 1):
        owed += per_insert
        draw = int(owed)
        owed -= draw
        if draw:
            index = selector.sample(size, draw)
            np.add.at(counts, index, 1)
            np.add.at(ages, size - 1 - index, 1)
    return counts, ages


def smooth(values: np.ndarray, width: int = 200) -> np.ndarray:
    """The original's centred box filter: mean of values[i - w/2 : i + w/2], truncated at the edges."""
    cumsum = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    index = np.arange(len(values))
    low, high = np.maximum(0, index - width // 2), np.minimum(len(values), index + width // 2)
    return (cumsum[high] - cumsum[low]) / (high - low)


def sampler_figure(out: Path, temperatures: list[float], items: int = 4000, train_ratio: float = 1024,
                   batch_length: int = 64, seed: int = 0, capacity: int | None = None) -> list[Path]:
    """Write sampler.png, sampler.pdf and sampler.csv into `out`; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_insert = train_ratio / batch_length
    curves = {"uniform": simulate(Uniform(seed=seed), items, per_insert)}
    for tau in temperatures:
        label = f"ETBS tau={tau}" + (f" (capacity {capacity})" if capacity else "")
        curves[label] = simulate(TimeBalanced(temperature=tau, seed=seed, capacity=capacity), items, per_insert)
    out.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, (counts, ages) in curves.items():
        line = left.plot(smooth(counts), label=label)[0]
        left.plot(counts, color=line.get_color(), alpha=0.12, linewidth=0.5)
        right.plot(np.arange(items), np.cumsum(ages) / ages.sum(), label=label, color=line.get_color())
    left.set(xlabel="item (insertion order, oldest left)", ylabel="times sampled",
             title=f"samples per item ({per_insert:g} per insert, {items} items)")
    right.set(xlabel="age of the sampled item (items since insertion)", ylabel="cumulative fraction of samples",
              title="age distribution of samples", xscale="symlog")
    left.legend()
    fig.tight_layout()
    paths = [out / "sampler.png", out / "sampler.pdf", out / "sampler.csv"]
    fig.savefig(paths[0], dpi=120, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"CreationDate": None})
    plt.close(fig)
    header = ",".join(["item"] + [f"count {k}" for k in curves] + [f"age_hist {k}" for k in curves])
    table = np.column_stack([np.arange(items)] + [c for c, _ in curves.values()] + [a for _, a in curves.values()])
    np.savetxt(paths[2], table, fmt="%d", delimiter=",", header=header, comments="")
    return paths
