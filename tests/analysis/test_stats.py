"""The statistics on arrays small enough to check by hand, resampling identities, and interval coverage."""

import numpy as np
import pytest

from analysis import bootstrap, curves, stats

# (runs=2, tasks=3)
SCORES = np.array([[0.0, 1.0, 4.0], [2.0, 3.0, 8.0]])


def test_aggregates_by_hand():
    assert stats.task_means(SCORES) == pytest.approx([1.0, 2.0, 6.0])
    assert stats.mean(SCORES) == pytest.approx(3.0)
    assert stats.median(SCORES) == pytest.approx(2.0)
    # six sorted scores 0 1 2 3 4 8; int(0.25 * 6) = 1 cut from each end: mean(1, 2, 3, 4) = 2.5
    assert stats.iqm(SCORES) == pytest.approx(2.5)
    # min(x, 1): 0 1 1 1 1 1 -> mean 5/6 -> gap 1/6
    assert stats.optimality_gap(SCORES) == pytest.approx(1 / 6)
    assert stats.optimality_gap(SCORES, gamma=2.0) == pytest.approx(2 - 9 / 6)
    assert stats.aggregates(SCORES, with_superhuman=True)["Superhuman"] == 2  # task means 1 (not above 1), 2, 6


def test_iqm_keeps_the_middle_half_with_ties_and_odd_sizes():
    # 8 scores sorted 0 1 1 1 2 5 9 9, cut 2 each end: mean(1, 1, 2, 5) = 2.25
    assert stats.iqm(np.array([[1.0, 1.0, 9.0, 2.0], [0.0, 5.0, 9.0, 1.0]])) == pytest.approx(2.25)
    # 5 scores (one task), cut int(1.25) = 1 each end: mean(2, 3, 4) = 3
    assert stats.iqm(np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])) == pytest.approx(3.0)


def test_performance_profile_by_hand():
    taus = np.array([0.5, 2.5, 8.0, 10.0])
    assert stats.aggregates(SCORES, taus=taus)["profile"] == pytest.approx([5 / 6, 3 / 6, 0.0, 0.0])  # strictly above


def test_probability_of_improvement_by_hand():
    x = np.array([[1.0], [3.0]])
    y = np.array([[2.0], [2.0], [3.0]])
    # pairs: 1 vs (2, 2, 3): 0 wins; 3 vs (2, 2, 3): 2 wins and a tie -> (2 + 0.5) / 6
    assert stats.probability_of_improvement(x, y) == pytest.approx(2.5 / 6)
    assert stats.probability_of_improvement(y, y) == pytest.approx(0.5)
    two_tasks = stats.probability_of_improvement(np.hstack([x, x + 10]), np.hstack([y, y]))
    assert two_tasks == pytest.approx((2.5 / 6 + 1.0) / 2)
    with pytest.raises(ValueError, match="same tasks"):
        stats.probability_of_improvement(x, np.ones((2, 2)))


def test_counts_give_exactly_the_materialised_resamples():
    """Each metric on multiplicities equals the metric on the resampled array itself."""
    rng = np.random.default_rng(0)
    x, y = rng.gamma(2.0, 0.5, size=(5, 7)), rng.gamma(2.0, 0.6, size=(3, 7))
    reps = 40
    cx = next(bootstrap.stratified_counts(x, reps, np.random.default_rng(1)))
    cy = next(bootstrap.stratified_counts(y, reps, np.random.default_rng(2)))
    assert (cx.sum(axis=1) == 5).all()
    drawn_x = np.random.default_rng(1).integers(0, 5, size=(reps, 5, 7))
    drawn_y = np.random.default_rng(2).integers(0, 3, size=(reps, 3, 7))
    rx = np.take_along_axis(np.broadcast_to(x, (reps, 5, 7)), drawn_x, axis=1)
    ry = np.take_along_axis(np.broadcast_to(y, (reps, 3, 7)), drawn_y, axis=1)
    taus = np.linspace(0, 3, 13)
    for metric in stats.AGGREGATES.values():
        assert metric(x, cx) == pytest.approx([metric(r) for r in rx]), metric.__name__
    resampled = stats.aggregates(x, cx, taus, with_superhuman=True)
    each = [stats.aggregates(r, None, taus, with_superhuman=True) for r in rx]
    assert resampled["Superhuman"] == pytest.approx([e["Superhuman"] for e in each])
    assert np.allclose(resampled["profile"], [e["profile"] for e in each])
    assert stats.probability_of_improvement(x, y, cx, cy) == pytest.approx(
        [stats.probability_of_improvement(a, b) for a, b in zip(rx, ry, strict=True)]
    )


def test_aggregates_at_once_equal_each_metric_alone():
    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, 0.5, size=(4, 6))
    x[1, 2] = np.nan
    taus = np.linspace(0, 3, 7)
    counts = next(bootstrap.stratified_counts(x, 20, np.random.default_rng(8)))
    for c in (None, counts):
        together = stats.aggregates(x, c, taus, with_superhuman=True)
        alone = {k: f(x, c) for k, f in stats.AGGREGATES.items()}
        assert list(together) == [*alone, "Superhuman", "profile"]
        for key, value in alone.items():
            assert np.allclose(together[key], value, rtol=1e-12, atol=1e-12), key


def test_resamples_stay_within_tasks_and_chunks_do_not_change_them(monkeypatch):
    for scores in (np.ones((4, 3)), np.array([[1, 1, np.nan], [1, np.nan, 1], [1, 1, np.nan], [1, 1, 1]])):
        whole = np.concatenate(list(bootstrap.stratified_counts(scores, 50, np.random.default_rng(5))))
        monkeypatch.setattr(bootstrap, "CHUNK_ELEMENTS", 24)  # two resamples per chunk
        chunked = list(bootstrap.stratified_counts(scores, 50, np.random.default_rng(5)))
        monkeypatch.undo()
        assert len(chunked) == 25 and (np.concatenate(chunked) == whole).all()


# (runs=3, tasks=2); run 3 has no score on task 2 (NaN), run 2 none on task 1
MISSING = np.array([[1.0, 4.0], [np.nan, 6.0], [3.0, np.nan]])


def test_aggregates_with_missing_cells_by_hand():
    assert stats.task_means(MISSING) == pytest.approx([2.0, 5.0])  # each task over the runs it has
    assert stats.mean(MISSING) == pytest.approx(3.5)
    assert stats.median(MISSING) == pytest.approx(3.5)
    # four scores 1 3 4 6, cut 1 each end: mean(3, 4) = 3.5
    assert stats.iqm(MISSING) == pytest.approx(3.5)
    # min(x, 3.5): 1 3 3.5 3.5 -> mean 2.75
    assert stats.optimality_gap(MISSING, gamma=3.5) == pytest.approx(0.75)
    assert stats.aggregates(MISSING, taus=np.array([2.0, 5.0]))["profile"] == pytest.approx([3 / 4, 1 / 4])
    # task 1: (1, 3) vs 2 -> 1 of 2; task 2: (4, 6) vs (5, 5) -> 2 of 4
    y = np.array([[2.0, 5.0], [np.nan, 5.0]])
    assert stats.probability_of_improvement(MISSING, y) == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_resamples_with_missing_cells_draw_only_present_runs_and_match_the_materialised_ones():
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 0.5, size=(5, 6))
    x[[0, 3, 4, 2], [1, 1, 5, 0]] = np.nan
    present = ~np.isnan(x)
    counts = next(bootstrap.stratified_counts(x, 30, np.random.default_rng(4)))
    assert (counts[:, ~present] == 0).all() and (counts.sum(axis=1) == present.sum(axis=0)).all()
    for c in counts:  # each resample as an array: task t's drawn scores in its first n_t rows, NaN below
        columns = [np.repeat(np.nan_to_num(x[:, t]), c[:, t].astype(int)) for t in range(x.shape[1])]
        resample = np.full(x.shape, np.nan)
        for t, column in enumerate(columns):
            resample[: len(column), t] = column
        for name, value in stats.aggregates(x, c[None], with_superhuman=True).items():
            assert value[0] == pytest.approx(stats.aggregates(resample, with_superhuman=True)[name]), name
    with pytest.raises(ValueError, match="at least one run"):
        next(bootstrap.stratified_counts(np.array([[1.0, np.nan]]), 5, rng))


def test_intervals_are_deterministic_and_bracket_the_estimate():
    a = bootstrap.interval_estimates(SCORES, stats.AGGREGATES, 500, bootstrap.rng_for(3, "m"))
    b = bootstrap.interval_estimates(SCORES, stats.AGGREGATES, 500, bootstrap.rng_for(3, "m"))
    assert a == b
    assert all(v["low"] <= v["value"] <= v["high"] for v in a.values())
    wide = np.random.default_rng(0).normal(size=(6, 4))
    assert bootstrap.interval_estimates(
        wide, stats.AGGREGATES, 500, bootstrap.rng_for(3, "m")
    ) != bootstrap.interval_estimates(wide, stats.AGGREGATES, 500, bootstrap.rng_for(3, "other"))


def test_a_single_run_gives_a_zero_width_interval():
    one = bootstrap.interval_estimates(SCORES[:1], {"Mean": stats.mean}, 100, bootstrap.rng_for(0))["Mean"]
    assert one["low"] == one["value"] == one["high"] == pytest.approx(5 / 3)


def test_stratified_bootstrap_covers_the_true_mean_at_about_the_stated_rate():
    """200 experiments of 10 runs x 5 tasks; the stratified percentile bootstrap is a little narrow with few
    runs (variance (n-1)/n: about 93.7% expected at n = 10), so the band is [0.88, 0.99]."""
    rng = np.random.default_rng(1)
    hits = 0
    for trial in range(200):
        scores = rng.normal(1.0, 0.5, size=(10, 5))
        ci = bootstrap.interval_estimates(scores, {"Mean": stats.mean}, 1000, bootstrap.rng_for(trial))["Mean"]
        hits += ci["low"] <= 1.0 <= ci["high"]
    assert 0.88 <= hits / 200 <= 0.99


def test_improvement_interval_covers_one_half_for_identical_methods():
    rng = np.random.default_rng(4)
    hits = 0
    for trial in range(100):
        x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
        ci = bootstrap.improvement_estimate(x, y, 500, bootstrap.rng_for(trial, "x"), bootstrap.rng_for(trial, "y"))
        hits += ci["low"] <= 0.5 <= ci["high"]
    assert 0.85 <= hits / 100 <= 1.0


def test_t_interval_by_hand_and_its_coverage_at_five_runs():
    low, high = bootstrap.t_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert (low, high) == pytest.approx((2 - half, 2 + half))
    assert np.isnan(bootstrap.t_interval(np.array([1.0]))).all()
    rng = np.random.default_rng(2)
    hits = sum(lo <= 3.0 <= hi for lo, hi in (bootstrap.t_interval(rng.normal(3.0, 2.0, 5)) for _ in range(400)))
    assert 0.92 <= hits / 400 <= 0.98


def test_profile_band_brackets_the_profile():
    rng = np.random.default_rng(3)
    scores = rng.gamma(2.0, 0.5, size=(5, 6))
    taus = np.linspace(0, 4, 9)
    metric = {"profile": lambda s, counts=None: stats.aggregates(s, counts, taus)["profile"]}  # as the report's
    band = bootstrap.interval_estimates(scores, metric, 300, bootstrap.rng_for(0))["profile"]
    assert (band["low"] <= band["value"] + 1e-12).all() and (band["value"] <= band["high"] + 1e-12).all()


def test_curve_bins_and_band_by_hand():
    edges = curves.edges(40.0, 10.0)
    assert edges.tolist() == [0, 10, 20, 30, 40]
    assert len(curves.edges(400_000.0, 3_000.0)) == curves.DEFAULT_BINS + 1  # 3k does not tile 400k
    # bins are (lo, hi]: 10 falls in the first bin, 0 and 50 in none; NaN scores are skipped
    binned = curves.binned([0, 5, 10, 15, 35, 35, 50], [9, 1, 3, 4, 6, np.nan, 9], edges)
    assert binned[[0, 1, 3]].tolist() == [2.0, 4.0, 6.0] and np.isnan(binned[2])
    band = curves.band(np.array([[1.0, 2.0], [3.0, np.nan]]))
    half = 12.706204736174707 * np.std([1.0, 3.0], ddof=1) / np.sqrt(2)  # t(0.975, 1)
    assert band["mean"].tolist() == [2.0, 2.0] and band["runs"].tolist() == [2, 1]
    assert band["low"][0] == pytest.approx(2 - half) and np.isnan(band["low"][1])


def test_calibration_measures_coverage_in_a_normal_model():
    rng = np.random.default_rng(6)
    many_runs = rng.normal(1.0, 0.3, size=(20, 4))
    cover = bootstrap.coverage(many_runs, 100, 500, np.random.default_rng(0))
    assert set(cover) == set(stats.AGGREGATES) and 0.85 <= cover["Mean"] <= 1.0
    truth = bootstrap.model_truth(np.array([0.0, 2.0]), np.array([1e-9, 1e-9]), np.random.default_rng(0))
    assert truth == pytest.approx({"Median": 1.0, "IQM": 1.0, "Mean": 1.0, "Optimality Gap": 0.5})
    with pytest.raises(ValueError, match="two runs"):
        bootstrap.coverage(many_runs[:1], 10, 10, rng)


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value.tolist() if isinstance(value, np.ndarray) else value


def test_joint_estimates_are_the_same_in_one_process_or_several_and_with_known_metrics():
    rng = np.random.default_rng(4)
    scores = {"a": rng.normal(size=(5, 6)), "b": rng.normal(size=(3, 6)), "c": rng.normal(size=(40, 6))}
    scores["b"][0, 2] = np.nan
    taus = np.linspace(0, 1, 5)
    metrics = dict.fromkeys(scores, lambda s, c=None: stats.aggregates(s, c, taus))
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]

    def estimates(workers, known=None):
        rngs = {n: bootstrap.rng_for(1, n) for n in scores}
        return _plain(bootstrap.joint_estimates(scores, metrics, pairs, 400, rngs, workers, known))

    one = estimates(1)
    assert estimates(2) == estimates(3) == one
    known = estimates(2, {"c": {"Mean": "given"}})  # known metrics are taken as given; c is resampled for pairs
    assert known[0]["c"] == {"Mean": "given"} and known[1] == one[1] and known[0]["a"] == one[0]["a"]


def test_methods_on_different_tasks_compare_on_the_tasks_both_have():
    # x wins every pair of runs on task "a", which y lacks, and loses every pair on "b" and "c": P(X > Y) over the
    # common tasks is 0 in every resample (1/3 if "a" were counted); each method's mean is over its own tasks
    x = np.array([[9.0, 0.0, 0.0], [8.0, 0.1, 0.2]])
    y = np.array([[1.0, 2.0], [1.5, 2.5], [1.2, 2.2]])  # tasks c, b: another order than x's
    tasks = {"x": ["a", "b", "c"], "y": ["c", "b"]}
    rngs = {n: bootstrap.rng_for(0, n) for n in tasks}
    mean = {n: lambda s, c=None: {"Mean": stats.mean(s, c)} for n in tasks}
    own, pairs = bootstrap.joint_estimates({"x": x, "y": y}, mean, [("x", "y"), ("y", "x")], 300, rngs, 1, None, tasks)
    assert pairs[("x", "y")] == {"value": 0.0, "low": 0.0, "high": 0.0}
    assert pairs[("y", "x")] == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert own["x"]["Mean"]["value"] == pytest.approx(x.mean()) and own["y"]["Mean"]["value"] == pytest.approx(y.mean())
    assert bootstrap.common_columns(tasks, "x", "y")[0].tolist() == [2, 1]  # x's columns of y's c, b
    with pytest.raises(ValueError, match="no task in common"):
        bootstrap.common_columns({"x": ["a"], "y": ["b"]}, "x", "y")


def test_average_profile_counts_tasks_by_their_mean_over_runs():
    scores = np.array([[0.0, 2.0, 5.0], [1.0, 4.0, np.nan]])  # task means 0.5, 3, 5 (task 3 has one run)
    taus = np.array([0.0, 1.0, 3.0, 5.0])
    average = stats.aggregates(scores, taus=taus, profile="average")["profile"]
    assert average.tolist() == [1.0, 2 / 3, 1 / 3, 0.0]  # strictly above tau
    counts = np.array([[[2.0, 0.0, 1.0], [0.0, 2.0, 0.0]]])  # one resample: task 1 run 1 twice, task 2 run 2 twice
    both = stats.aggregates(scores, counts, taus, profile="average")
    assert both["profile"][0].tolist() == [2 / 3, 2 / 3, 2 / 3, 0.0] and both["Mean"][0] == pytest.approx(3.0)
