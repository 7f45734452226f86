"""Our statistics against rliable itself: equal point estimates, close intervals.

rliable is not a dependency: it imports only under arch<8 and pandas<3, which this project does not pin. CI
(.ci/run) and `nox -s rliable_crosscheck` run this file in an environment of its own with RLIABLE_REQUIRED=1, so
there a missing rliable fails instead of skipping; in the project's own environment the tests skip.
"""

import importlib
import os

import numpy as np
import pytest

from analysis import bootstrap, stats


def _rliable(module: str):
    if os.environ.get("RLIABLE_REQUIRED"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason="rliable runs in an environment of its own (.ci/run, nox)")


rliable_metrics = _rliable("rliable.metrics")
library = _rliable("rliable.library")

RNG = np.random.default_rng(2)
X = RNG.gamma(2.0, 0.5, size=(5, 26))
Y = RNG.gamma(2.0, 0.6, size=(7, 26))
THEIRS = {
    "Median": rliable_metrics.aggregate_median,
    "IQM": rliable_metrics.aggregate_iqm,
    "Mean": rliable_metrics.aggregate_mean,
    "Optimality Gap": rliable_metrics.aggregate_optimality_gap,
}
REPS = 5000


def test_point_estimates_equal_rliable():
    for name, theirs in THEIRS.items():
        assert stats.AGGREGATES[name](X) == pytest.approx(theirs(X), rel=1e-12), name
    assert stats.probability_of_improvement(X, Y) == pytest.approx(rliable_metrics.probability_of_improvement(X, Y))
    ties = np.round(X * 2) / 2  # many equal scores: the Mann-Whitney tie handling matters
    assert stats.probability_of_improvement(ties, ties[::-1] + 0.5) == pytest.approx(
        rliable_metrics.probability_of_improvement(ties, ties[::-1] + 0.5)
    )


def _close(ours: tuple[float, float], theirs: np.ndarray) -> bool:
    """Endpoints within 8% of the interval's width (Monte Carlo error at 5000 replicates is about 1.5%)."""
    width = theirs[1] - theirs[0]
    return abs(ours[0] - theirs[0]) <= 0.08 * width and abs(ours[1] - theirs[1]) <= 0.08 * width


@pytest.fixture(autouse=True)
def _seeded() -> None:
    np.random.seed(0)  # rliable's resampling draws from NumPy's global generator


def test_aggregate_intervals_close_to_rliable():
    func = lambda scores: np.array([f(scores) for f in THEIRS.values()])  # noqa: E731
    _, intervals = library.get_interval_estimates({"x": X}, func, reps=REPS, random_state=np.random.RandomState(0))
    ours = bootstrap.interval_estimates(X, stats.AGGREGATES, REPS, bootstrap.rng_for(0, "x"))
    for i, name in enumerate(THEIRS):
        assert _close((ours[name]["low"], ours[name]["high"]), intervals["x"][:, i]), name


def test_improvement_interval_close_to_rliable():
    x, y = X[:, :8], Y[:, :8]  # rliable calls scipy's Mann-Whitney U once per task and replicate: slow
    _, intervals = library.get_interval_estimates(
        {"x,y": [x, y]}, rliable_metrics.probability_of_improvement, reps=REPS, random_state=np.random.RandomState(0)
    )
    ours = bootstrap.improvement_estimate(x, y, REPS, bootstrap.rng_for(0, "x"), bootstrap.rng_for(0, "y"))
    assert _close((ours["low"], ours["high"]), intervals["x,y"])


def test_performance_profile_equals_rliable():
    taus = np.linspace(0, 4, 41)
    profiles, bands = library.create_performance_profile({"x": X}, taus, reps=REPS)
    assert stats.aggregates(X, taus=taus)["profile"] == pytest.approx(profiles["x"])
    metric = {"profile": lambda s, counts=None: stats.aggregates(s, counts, taus)["profile"]}  # as the report's
    ours = bootstrap.interval_estimates(X, metric, REPS, bootstrap.rng_for(0))["profile"]
    assert np.abs(ours["low"] - bands["x"][0]).max() <= 0.03 and np.abs(ours["high"] - bands["x"][1]).max() <= 0.03
    average, _ = library.create_performance_profile({"x": X}, taus, use_score_distribution=False, reps=REPS)
    assert stats.aggregates(X, taus=taus, profile="average")["profile"] == pytest.approx(average["x"])
