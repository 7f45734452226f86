"""The results as tidy pandas DataFrames, for notebooks: `finals, curves = analysis.load("results")`.

`finals`: one row per run with a final score, columns method, task, run, frames, score, normalized, source:
`score` is the raw final score by the run's own protocol (exactly the report's), `normalized` the human-normalised
score (Atari) or return / 1000 (DMC), `frames` the budget the score is at, `source` "ours", the imported file, or
the shipped baseline's origin (repo@commit:path). `curves`: one row per training episode of the runs that have
them, columns method, task, run, frames, score. Every number of the report can be recomputed from these, e.g. a
method's (runs, tasks) array in rliable's layout:

    finals[finals.method == "hieros"].pivot(index="run", columns="task", values="normalized").to_numpy()

pandas is imported only here, when a notebook asks for frames.
"""

from __future__ import annotations

from typing import Any

from analysis import baselines
from analysis.store import Method, Run, normalize
from hieros.run_search import Sources

FINAL_COLUMNS = ["method", "task", "run", "frames", "score", "normalized", "source"]
CURVE_COLUMNS = ["method", "task", "run", "frames", "score"]


def _source(run: Run) -> str:
    return run.source.source_file if run.source else "ours"


def _methods(results: Sources, suite: str | None, requested: str | list[str] | None) -> dict[str, Method]:
    names = requested.split(",") if isinstance(requested, str) else requested
    ours = baselines.store_methods(results, suite, names)
    return {**ours, **baselines.beside(ours, names)}


def load(
    results: Sources = "results", suite: str | None = None, baselines: str | list[str] | None = None
) -> tuple[Any, Any]:
    """(finals, curves) DataFrames of one suite of the store (or of any run directories and folders of them, as
    `hieros-bench report RUN_DIR...`) and the shipped baselines beside it (`baselines`: None for the report's
    default, "all", "none", or names, as `hieros-bench report --baselines`)."""
    import pandas as pd

    finals: list[tuple[Any, ...]] = []
    curves: list[tuple[Any, ...]] = []
    for name, method in _methods(results, suite, baselines).items():
        for run in method.all_runs():
            if run.final is not None:
                finals.append(
                    (
                        name,
                        run.task,
                        run.seed,
                        run.record.protocol.budget_frames,
                        run.final,
                        float(normalize(run.task, run.final)),
                        _source(run),
                    )
                )
            if run.path.is_dir():
                curves += [
                    (name, run.task, run.seed, e["frames"], e["score"])
                    for e in run.metrics
                    if e.get("type") == "episode" and e.get("mode") == "train"
                ]
    return pd.DataFrame(finals, columns=FINAL_COLUMNS), pd.DataFrame(curves, columns=CURVE_COLUMNS)
