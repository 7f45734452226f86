"""analysis.load: the store and the baselines as tidy DataFrames from which the report's numbers follow."""

import numpy as np
import pytest

import analysis
from analysis import stats
from analysis.report import Options, compute


def test_finals_and_curves_of_a_store_with_the_default_baselines(tmp_path, stores):
    stores.small_store(tmp_path)  # alpha and beta, 3 tasks x 3 seeds, 3 training episodes a run
    finals, curves = analysis.load(tmp_path)
    assert list(finals.columns) == ["method", "task", "run", "frames", "score", "normalized", "source"]
    ours = finals[finals.source == "ours"]
    assert len(ours) == 2 * 3 * 3 and set(ours.frames) == {400_000}
    assert len(curves) == 2 * 3 * 3 * 3 and set(curves.method) == {"alpha", "beta"}
    iris = finals[(finals.method == "IRIS") & (finals.task == "atari_pong")]
    assert len(iris) == 5 and iris.source.iloc[0].startswith("eloialonso/iris@")
    # the report's IQM of alpha, recomputed from the frame in rliable's layout
    summary = compute(Options(tmp_path, tmp_path / "out", reps=100, sampler=False)).summary
    alpha = ours[ours.method == "alpha"].pivot(index="run", columns="task", values="normalized")
    assert stats.iqm(alpha[sorted(stores.TASKS)].to_numpy()) == pytest.approx(
        summary.methods["alpha"].aggregates["IQM"].value
    )
    dreamer = finals[finals.method == "DreamerV3"]
    per_game = dreamer.groupby("task").normalized.mean()
    assert np.median(per_game) == pytest.approx(0.494, abs=5e-4)  # danijar's protocol: 8 runs have no row


def test_baselines_alone_and_none(tmp_path, stores):
    finals, curves = analysis.load(tmp_path / "empty", baselines="all")
    assert finals.method.nunique() == 13 and curves.empty
    stores.small_store(tmp_path / "s")
    finals, _ = analysis.load(tmp_path / "s", baselines="none")
    assert set(finals.method) == {"alpha", "beta"}
