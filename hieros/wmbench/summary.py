"""The bench's runs read back (torch-free): each method's last held-out measures over seeds, mean with a t interval,
as the table of `python -m hieros.wmbench table` and the curves of `plot`.

The report (`hieros-bench report --results results --suite wm_bench`) gives the scores' aggregates, P(X > Y) and
the calibrated verdicts; this module adds what only this bench records: the held-out losses and the open-loop
error per imagined step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hieros import metrics_file, run_file, rundir
from hieros.wmbench.methods import suite_of

CONFIDENCE = 0.95
TABLE_LOSSES = ("obs_loss", "reward_loss", "cont_loss", "kl", "prior_ent", "post_ent")
TABLE_OPEN_LOOP = ("reward_mse", "obs_mse", "latent_agree")


@dataclass
class RunData:
    """One finished run: its record and the last `train` and `openloop` records (by context)."""

    path: Path
    record: run_file.Record
    train: dict[str, Any]
    openloop: dict[int, dict[str, Any]] = field(default_factory=dict)


def load_runs(results: Path, dataset: str = "cartpole_state") -> dict[str, list[RunData]]:
    """{method: finished runs in seed order} of the dataset's suite under `results`."""
    out: dict[str, list[RunData]] = {}
    for path in rundir.find_runs(results):
        if path.relative_to(results).parts[0] != suite_of(dataset):
            continue
        record = run_file.read_stored_run(path)
        if record.status != "done":
            continue
        records = metrics_file.read_metrics(path)
        trains = [r for r in records if r.get("type") == "train"]
        if not trains:
            continue
        run = RunData(path, record, trains[-1])
        for r in records:
            if r.get("type") == "openloop" and r["env_step"] == trains[-1]["env_step"]:
                run.openloop[int(r["context"])] = r
        out.setdefault(record.method, []).append(run)
    for runs in out.values():
        runs.sort(key=lambda run: run.record.seed)
    return out


def interval(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the Student t interval); half-width NaN with fewer than two values."""
    from scipy.stats import t

    array = np.asarray([v for v in values if v is not None], np.float64)
    if not len(array):
        return float("nan"), float("nan")
    if len(array) < 2:
        return float(array.mean()), float("nan")
    half = t.ppf(0.5 + CONFIDENCE / 2, len(array) - 1) * array.std(ddof=1) / np.sqrt(len(array))
    return float(array.mean()), float(half)


def band(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of (runs, steps): mean and t half-width."""
    pairs = [interval(rows[:, i]) for i in range(rows.shape[1])]
    return np.array([m for m, _ in pairs]), np.array([h for _, h in pairs])


def _cell(values: Sequence[float], digits: int) -> str:
    mean, half = interval(values)
    if np.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" if np.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"


def markdown(runs: dict[str, list[RunData]], contexts: Sequence[int] = (), steps: Sequence[int] = (1, 4, 16)) -> str:
    """The bench's table: per method, the final held-out losses, the open-loop error at k in `steps` for each
    context, and the imagination policy's score; mean ± 95% t half-width over seeds."""
    if not contexts:
        contexts = sorted({c for method in runs.values() for run in method for c in run.openloop})
    lines = []
    head = ["method", "seeds", *[f"held-out {name}" for name in TABLE_LOSSES], "score (return)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, items in sorted(runs.items()):
        cells = [_cell([run.train.get(f"heldout/{name}") for run in items], 3) for name in TABLE_LOSSES]
        score = _cell([run.record.score.final for run in items], 1)
        lines.append(f"| {method} | {len(items)} | " + " | ".join(cells) + f" | {score} |")
    for context in contexts:
        head = ["method", *[f"{name} k={k}" for name in TABLE_OPEN_LOOP for k in steps]]
        lines += ["", f"Open-loop error k steps after {context} observed steps", ""]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for method, items in sorted(runs.items()):
            have = [run for run in items if context in run.openloop]
            cells = [
                _cell([run.openloop[context][name][k - 1] for run in have if k <= len(run.openloop[context][name])], 3)
                for name in TABLE_OPEN_LOOP
                for k in steps
            ]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
