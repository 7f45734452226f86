"""The bench's figure: open-loop error against imagination step per model (torch-free).

One row per context (observed steps before imagining), one column per measure (reward MSE, observation MSE,
latent agreement with the posterior, KL(post || imagined prior)); per method the mean over seeds of its last
measurement with a 95% Student t band, the teacher-forced value dashed in the same colour and, for the errors,
the variance of the target (the error of predicting the mean) dotted in grey. Written as PNG and PDF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hieros.rundir import atomic_write_bytes
from hieros.wmbench.summary import RunData, band

PANELS = {
    "reward_mse": ("reward MSE", "reward_var"),
    "obs_mse": ("observation MSE", "obs_var"),
    "latent_agree": ("latent argmax agreement", None),
    "kl": ("KL(post || prior)", None),
}


def figure(runs: dict[str, list[RunData]], out: Path, name: str = "openloop") -> list[Path]:
    """Draw the figure into `out` (PNG and PDF); the paths written."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    contexts = sorted({c for items in runs.values() for run in items for c in run.openloop})
    if not contexts:
        raise ValueError("no finished wm_bench run with open-loop measurements")
    fig, axes = plt.subplots(len(contexts), len(PANELS), figsize=(4 * len(PANELS), 3.2 * len(contexts)), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, context in enumerate(contexts):
        for col, (measure, (title, variance)) in enumerate(PANELS.items()):
            ax = axes[row][col]
            for index, (method, items) in enumerate(sorted(runs.items())):
                have = [run.openloop[context] for run in items if context in run.openloop]
                if not have:
                    continue
                colour = colours[index % len(colours)]
                values = np.array([r[measure] for r in have], np.float64)
                steps = np.arange(1, values.shape[1] + 1)
                mean, half = band(values)
                low = np.maximum(mean - half, mean / 10) if measure.endswith("mse") else mean - half  # log axis
                ax.plot(steps, mean, color=colour, label=f"{method} ({len(have)} seeds)")
                ax.fill_between(steps, low, mean + half, color=colour, alpha=0.15, linewidth=0)
                forced, _ = band(np.array([r[f"{measure}_forced"] for r in have], np.float64))
                ax.plot(steps, forced, color=colour, linestyle="--", linewidth=1)
                if variance and index == 0:
                    ax.plot(steps, band(np.array([r[variance] for r in have]))[0], color="grey", linestyle=":")
            ax.set_title(f"{title}, context {context}", fontsize=10)
            ax.set_xlabel("imagined step k")
            ax.xaxis.get_major_locator().set_params(integer=True)
            if measure.endswith("mse"):
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    labels = [*labels, "solid: open loop, dashed: teacher forced, dotted: variance of the target"]
    handles = [*handles, plt.Line2D([], [], color="none")]
    columns = min(len(labels), 4)
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=9, frameon=False)
    legend_rows = -(-len(labels) // columns)
    fig.tight_layout(rect=(0, 0.3 * legend_rows / fig.get_figheight(), 1, 1))
    paths = []
    for suffix in ("png", "pdf"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=suffix, dpi=120)
        path = out / f"{name}.{suffix}"
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths
