"""The verdicts' tests (issue #34): exact p-values against scipy and by hand, the Monte Carlo path, Holm, the four
verdicts, a null calibration that would catch a 10% false-positive rate, and the seed planner."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

from analysis import calibration, power, significance, stats

ALTERNATIVES = ("two-sided", "greater", "less")


def u_statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mann-Whitney U of a over b along `axis`, ties half (scipy.stats.permutation_test's vectorised form)."""
    a, b = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    pairs = a[..., :, None] - b[..., None, :]
    return ((pairs > 0) + 0.5 * (pairs == 0)).sum(axis=(-2, -1))


@pytest.mark.parametrize(("n", "m"), [(3, 3), (5, 3), (4, 7), (10, 10)])
def test_one_task_without_ties_is_mannwhitneyu_exact(n, m):
    rng = np.random.default_rng(n * 100 + m)
    x, y = rng.normal(0.5, 1, n), rng.normal(0, 1, m)
    for alternative in ALTERNATIVES:
        ours = significance.permutation_test(x, y, alternative=alternative)
        theirs = scipy_stats.mannwhitneyu(x, y, method="exact", alternative=alternative)
        assert ours.exact and ours.resamples == math.comb(n + m, n)
        assert ours.pvalue == pytest.approx(theirs.pvalue, abs=1e-12)
        assert ours.statistic == pytest.approx(theirs.statistic / (n * m), abs=1e-12)


def test_ties_agree_with_scipy_permutation_test():
    x, y = np.array([1.0, 2, 2, 3, 5, 3]), np.array([2.0, 3, 3, 4, 0])
    centre = len(x) * len(y) / 2
    for alternative in ("greater", "less"):
        theirs = scipy_stats.permutation_test(
            (x, y), u_statistic, permutation_type="independent", n_resamples=np.inf, alternative=alternative
        )
        assert significance.permutation_test(x, y, alternative=alternative).pvalue == pytest.approx(theirs.pvalue)
    # two-sided: extremeness |U - nm / 2| (scipy's own two-sided doubles the smaller tail instead)
    theirs = scipy_stats.permutation_test(
        (x, y),
        lambda a, b, axis: np.abs(u_statistic(a, b, axis) - centre),
        permutation_type="independent",
        n_resamples=np.inf,
        alternative="greater",
    )
    assert significance.permutation_test(x, y).pvalue == pytest.approx(theirs.pvalue)


def test_complete_separation_at_3_vs_3_by_hand():
    x, y = np.array([4.0, 5.0, 6.0]), np.array([1.0, 2.0, 3.0])
    assert significance.permutation_test(x, y, alternative="greater").pvalue == pytest.approx(1 / 20)
    assert significance.permutation_test(x, y).pvalue == pytest.approx(1 / 10)
    assert significance.permutation_test(x, y, alternative="less").pvalue == pytest.approx(1.0)
    assert significance.permutation_test(x, y).statistic == 1.0
    # shifted by -3 the sides tie pairwise on one value each: P(X - 3 > Y) = (3 + 0.5 * 3) / 9
    assert significance.permutation_test(x, y, shift=-3.0).statistic == pytest.approx(0.5)


def brute_force_pvalue(x: np.ndarray, y: np.ndarray, alternative: str) -> float:
    """The stratified test by relabelling every task's present runs in every way, scored by stats' P(X > Y)."""
    columns = []
    for xt, yt in zip(x.T, y.T, strict=True):
        pooled = np.concatenate([xt[~np.isnan(xt)], yt[~np.isnan(yt)]])
        n = int((~np.isnan(xt)).sum())
        columns.append([(pooled[list(c)], np.delete(pooled, c)) for c in itertools.combinations(range(len(pooled)), n)])
    observed = float(stats.probability_of_improvement(x, y))

    def value(split: tuple) -> float:
        return float(np.mean([stats.probability_of_improvement(a[:, None], b[:, None]) for a, b in split]))

    null = np.array([value(split) for split in itertools.product(*columns)])
    extreme = {
        "greater": null >= observed - 1e-12,
        "less": null <= observed + 1e-12,
        "two-sided": np.abs(null - 0.5) >= abs(observed - 0.5) - 1e-12,
    }[alternative]
    return float(extreme.mean())


def test_stratified_exact_is_every_relabelling_with_missing_cells_and_ties():
    nan = np.nan
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, nan], [3.0, nan, 7.0]])  # (runs_x, tasks)
    y = np.array([[0.0, 4.0, 2.0], [3.0, 6.0, 1.0], [nan, 5.0, 0.5], [2.0, nan, nan]])
    for alternative in ALTERNATIVES:
        result = significance.permutation_test(x, y, alternative=alternative)
        assert result.exact and result.runs_x == (3, 2, 2) and result.runs_y == (3, 3, 3)
        assert result.pvalue == pytest.approx(brute_force_pvalue(x, y, alternative), abs=1e-12)
        assert result.statistic == pytest.approx(float(stats.probability_of_improvement(x, y)), abs=1e-12)


def test_monte_carlo_agrees_with_exact_within_its_error():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 6, size=(4, 2)).astype(float), rng.integers(1, 7, size=(4, 2)).astype(float)
    for alternative in ALTERNATIVES:
        exact = significance.permutation_test(x, y, alternative=alternative, n_resamples=70**2)
        draws = 70**2 - 1
        sampled = significance.permutation_test(x, y, alternative=alternative, n_resamples=draws, rng=rng)
        assert exact.exact and not sampled.exact and sampled.resamples == draws
        error = math.sqrt(exact.pvalue * (1 - exact.pvalue) / draws) + 1 / draws
        assert abs(sampled.pvalue - exact.pvalue) < 4 * error


def test_a_task_too_large_to_enumerate_is_sampled_by_random_subsets():
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.8, 1, 12), rng.normal(0, 1, 12)  # C(24, 12) = 2.7 million assignments
    draws = 20_000
    sampled = significance.permutation_test(x, y, n_resamples=draws, rng=rng)
    exact = scipy_stats.mannwhitneyu(x, y, method="exact").pvalue
    assert not sampled.exact
    assert abs(sampled.pvalue - exact) < 4 * math.sqrt(exact * (1 - exact) / draws) + 1 / draws


def test_monte_carlo_pvalue_is_never_below_one_over_draws_plus_one():
    x = np.arange(5.0)[:, None] + np.array([10.0, 20.0, 30.0])  # X above Y on every task: nothing more extreme
    y = np.arange(5.0)[:, None] + np.zeros(3)
    result = significance.permutation_test(x, y, n_resamples=999, rng=np.random.default_rng(5))
    assert not result.exact and result.statistic == 1.0
    assert 1 / 1000 <= result.pvalue <= 3 / 1000  # the identity relabelling has chance 2 / 252^3 per draw


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="same tasks"):
        significance.permutation_test(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="task 1 needs"):
        significance.permutation_test(np.array([[1.0, np.nan]]), np.ones((2, 2)))
    with pytest.raises(ValueError, match="alternative"):
        significance.permutation_test(np.ones(3), np.ones(3), alternative="bigger")
    with pytest.raises(ValueError, match="margin"):
        significance.equivalence_test(np.ones(3), np.ones(3), 0.0)


def test_equivalence_is_the_larger_of_two_shifted_one_sided_tests():
    x, y = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.5, 1.5, 2.5])
    result = significance.equivalence_test(x, y, 10.0)
    assert result.not_worse.pvalue == pytest.approx(1 / 35)  # x + 10 above every y: 1 / C(7, 3)
    assert result.not_better.pvalue == pytest.approx(1 / 35)
    assert result.pvalue == max(result.not_worse.pvalue, result.not_better.pvalue)
    assert significance.equivalence_test(x, y, 0.1).pvalue > 0.05


def test_welch_is_scipy_on_one_task_and_absent_on_several():
    x, y = np.array([1.0, 2.0, 4.0, np.nan]), np.array([0.0, 0.5, 0.7])
    result = significance.welch_test(x, y)
    theirs = scipy_stats.ttest_ind([1.0, 2.0, 4.0], y, equal_var=False)
    assert result is not None
    assert result.pvalue == pytest.approx(theirs.pvalue) and result.df == pytest.approx(theirs.df)
    assert significance.welch_test(np.ones((3, 2)), np.ones((3, 2))) is None
    assert significance.welch_test(np.ones(1), np.ones(3)) is None


def test_holm_by_hand():
    # sorted 0.005 0.01 0.03 0.04 times 4 3 2 1: 0.02 0.03 0.06 0.04 -> running maximum 0.02 0.03 0.06 0.06
    adjusted = significance.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert significance.holm([]).size == 0


def test_each_of_the_four_verdicts():
    ten = np.arange(10.0)
    pairs = {
        "better": (ten + 100, ten),
        "worse": (ten, ten + 100),
        "level": (2 * ten, 2 * ten + 1),  # interleaved, far inside the margin
        "inconclusive": (np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.5, 2.5])),  # 3 vs 3 reaches neither
    }
    found = significance.verdicts(pairs, margin=50.0)
    assert {key: v.verdict for key, v in found.items()} == {key: key for key in pairs}
    level = found["level"]
    assert level.family_size == 4 and level.correction == "holm" and level.exact and level.margin == 50.0
    assert level.improvement == pytest.approx(0.45)
    assert level.p_equivalence_adjusted >= level.p_equivalence
    assert found["inconclusive"].p_equivalence == pytest.approx(1 / 20)  # the smallest at 3 vs 3, then Holm x3
    listed = significance.verdicts(list(pairs.values()), margin=50.0)
    assert [v.verdict for v in listed] == list(pairs)


def rejection_interval(rejections: int, experiments: int) -> tuple[float, float]:
    low, high = proportion_confint(rejections, experiments, alpha=0.05, method="beta")
    return float(low), float(high)


def test_the_permutation_test_holds_its_level_where_the_old_rule_does_not():
    """400 null experiments are enough to tell 10% from 5%: at 40 rejections the interval's lower end is 7.3%."""
    experiments = 400
    shapes = {shape.name: shape for shape in calibration.shapes()}
    for name in ("normal", "bimodal"):
        for runs in (3, 5):
            rng = np.random.default_rng([runs, len(name)])
            rejections = sum(
                significance.permutation_test(shapes[name].draw(rng, runs), shapes[name].draw(rng, runs)).pvalue <= 0.05
                for _ in range(experiments)
            )
            assert rejection_interval(rejections, experiments)[0] < 0.05, (name, runs, rejections)
    rng = np.random.default_rng(0)
    old = sum(calibration._old_rule(rng.normal(size=(3, 1)), rng.normal(size=(3, 1)), rng) for _ in range(experiments))
    assert rejection_interval(old, experiments)[0] > 0.05  # why the rule changed: about 20% at 3 vs 3


def test_calibration_command_writes_its_table(tmp_path, capsys):
    out = tmp_path / "table.md"
    assert calibration.main(["--quick", "--experiments", "4", "--jobs", "1", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.strip() == capsys.readouterr().out.strip()
    assert "| normal | 3 vs 3 |" in text and "| 26 tasks | 10 vs 10 |" in text
    assert "| — |" in text  # no Welch on 26 tasks


def test_the_planner_says_3_vs_3_cannot_reject():
    assert power.smallest_pvalue(3, 3) == pytest.approx(0.1)
    assert power.power(5.0, 3) == 0.0
    plan = power.seeds_needed(3.0, experiments=200)
    assert plan.power[3] == 0.0 and any(note.startswith("3 vs 3") for note in plan.notes)
    assert plan.level == 0.05


def test_the_planner_needs_fewer_seeds_for_larger_differences():
    small = power.seeds_needed(1.5, experiments=200, rng=np.random.default_rng(1))
    large = power.seeds_needed(3.0, experiments=200, rng=np.random.default_rng(1))
    assert large.seeds is not None and small.seeds is not None and large.seeds < small.seeds
    assert large.power[large.seeds] >= 0.8
    stricter = power.seeds_needed(3.0, family_size=10, experiments=200, rng=np.random.default_rng(1))
    assert stricter.seeds is not None and stricter.seeds > large.seeds and stricter.level == 0.005
    assert power.seeds_needed(0.1, max_seeds=4, experiments=50).seeds is None


def test_the_planner_takes_pilot_residuals_and_many_tasks():
    pilot = calibration.shapes()[2].draw(np.random.default_rng(2), 20)  # bimodal pilot runs (20, 1)
    residuals = power.pilot_residuals(pilot)
    assert residuals.shape == (20,) and residuals.mean() == pytest.approx(0.0, abs=1e-12)
    assert 0.5 < power.power(3.0, 6, residuals=residuals, experiments=200) <= 1.0
    assert power.power(0.5, 5, tasks=26, experiments=40) > 0.5
