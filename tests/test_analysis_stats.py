"""The statistics on arrays small enough to check by hand, and the intervals' coverage in a simulation."""

import numpy as np
import pytest

from analysis import stats

# (runs=2, tasks=3)
SCORES = np.array([[0.0, 1.0, 4.0],
                   [2.0, 3.0, 8.0]])


def test_mean_median_iqm_optimality_gap_by_hand():
    assert stats.mean(SCORES) == pytest.approx(3.0)  # task means 1, 2, 6
    assert stats.median(SCORES) == pytest.approx(2.0)
    # six sorted scores 0 1 2 3 4 8; int(0.25*6) = 1 cut from each end: mean(1, 2, 3, 4) = 2.5
    assert stats.iqm(SCORES) == pytest.approx(2.5)
    # min(x, 1): 0 1 1 1 1 1 -> mean 5/6 -> gap 1/6
    assert stats.optimality_gap(SCORES) == pytest.approx(1 / 6)


def test_aggregates_accept_a_batch_of_replicates():
    batch = np.stack([SCORES, SCORES + 1])
    assert np.allclose(stats.iqm(batch), [2.5, 3.5])
    assert np.allclose(stats.median(batch), [2.0, 3.0])


def test_stratified_resampling_stays_within_tasks():
    rng = np.random.default_rng(0)
    samples = stats.stratified_resample(SCORES, 100, rng)
    assert samples.shape == (100, 2, 3)
    for task in range(3):
        assert set(np.unique(samples[:, :, task])) <= set(SCORES[:, task])


def test_probability_of_improvement_by_hand():
    x = np.array([[1.0], [3.0]])
    y = np.array([[2.0], [2.0]])
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.5)  # 1<2, 3>2
    assert stats.probability_of_improvement(y, y) == pytest.approx(0.5)  # all ties count half
    assert stats.probability_of_improvement(x + 10, y) == pytest.approx(1.0)


def test_performance_profile_by_hand():
    taus = np.array([0.5, 2.5, 10.0])
    assert np.allclose(stats.performance_profile(SCORES, taus), [5 / 6, 3 / 6, 0.0])


def test_interval_covers_the_true_mean_at_the_stated_rate():
    """95% bootstrap intervals of the mean cover the true value in roughly 95% of repeated experiments."""
    rng = np.random.default_rng(1)
    hits = 0
    trials = 300
    for trial in range(trials):
        scores = rng.normal(1.0, 0.5, size=(10, 5))
        ci = stats.aggregate_with_ci(scores, reps=500, seed=trial, aggregates={"Mean": stats.mean})["Mean"]
        hits += ci["low"] <= 1.0 <= ci["high"]
    assert 0.88 <= hits / trials <= 0.99


def test_intervals_are_deterministic_for_a_seed():
    a = stats.aggregate_with_ci(SCORES, reps=200, seed=3)
    b = stats.aggregate_with_ci(SCORES, reps=200, seed=3)
    assert a == b
    assert all(v["low"] <= v["value"] <= v["high"] for v in a.values())


def test_point_estimates_equal_rliable_when_installed():
    """Run in the nox session `rliable_crosscheck`, which installs rliable with its working pins."""
    rliable = pytest.importorskip("rliable.metrics")
    rng = np.random.default_rng(2)
    scores = rng.gamma(2.0, 0.5, size=(5, 26))
    assert stats.iqm(scores) == pytest.approx(rliable.aggregate_iqm(scores))
    assert stats.median(scores) == pytest.approx(rliable.aggregate_median(scores))
    assert stats.mean(scores) == pytest.approx(rliable.aggregate_mean(scores))
    assert stats.optimality_gap(scores) == pytest.approx(rliable.aggregate_optimality_gap(scores))
    other = rng.gamma(2.0, 0.6, size=(5, 26))
    expected = rliable.probability_of_improvement(scores, other)
    assert stats.probability_of_improvement(scores, other) == pytest.approx(expected)
