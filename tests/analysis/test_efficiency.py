"""Sample-efficiency curves (analysis.efficiency): IQM at points along training, checked by hand on a store."""

import numpy as np
import pytest

from analysis import efficiency, stats
from analysis.store import normalize
from analysis.summary_file import read_summary

TASKS = ("atari_breakout", "atari_frostbite", "atari_pong")


def test_iqm_at_each_point_is_the_iqm_of_the_binned_scores(tmp_path, stores):
    """40 training episodes a run, one per 10k-frame bin, score = seed * episode: the curve has 10 points, every
    40k frames, each the IQM over runs and tasks of that bin's normalised scores, its interval around it."""
    for method, scale in (("alpha", 1.0), ("beta", 2.0)):
        for task in TASKS:
            for seed in (1, 2, 3):
                stores.write_run(tmp_path, method, task, seed, [scale * seed * k for k in range(1, 41)])
    assert stores.run_report(tmp_path, "--reps", "200", "--no-sampler", "--published", "none") == 0
    curve = read_summary(tmp_path / "report").efficiency
    assert set(curve) == {"alpha", "beta"}
    alpha = curve["alpha"]
    assert alpha.frames == [40_000.0 * k for k in range(1, 11)]
    for p, frames in enumerate(alpha.frames):
        episode = frames / 10_000  # the episode that ends in the bin (frames - 10k, frames]
        cells = np.array([[normalize(t, seed * episode) for t in sorted(TASKS)] for seed in (1, 2, 3)])
        assert alpha.value[p] == pytest.approx(float(stats.iqm(cells)))
        assert alpha.low[p] <= alpha.value[p] <= alpha.high[p]
    assert (tmp_path / "report" / "efficiency.png").stat().st_size > 0
    assert "![efficiency](efficiency.png)" in (tmp_path / "report" / "report.md").read_text()


def test_points_are_evenly_spaced_and_end_at_the_last_bin():
    assert efficiency.points(40).tolist() == [3, 7, 11, 15, 19, 23, 27, 31, 35, 39]
    assert efficiency.points(9).tolist() == list(range(9))
    assert efficiency.points(1).tolist() == [0]


def test_the_bootstrap_metric_is_the_iqm_of_each_point():
    rng = np.random.default_rng(0)
    cube = rng.normal(size=(4, 3, 5))
    metric = efficiency.iqm_per_point(cube.shape)
    values = metric(cube.reshape(4, -1))["IQM"]
    assert values == pytest.approx([float(stats.iqm(cube[:, :, p])) for p in range(5)])
    counts = np.ones((2, 4, 15))
    assert metric(cube.reshape(4, -1), counts)["IQM"] == pytest.approx(np.stack([values, values]))
