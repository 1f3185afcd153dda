import numpy as np
import pytest
from scipy import stats

from gantrack.study.statistics import (
    bootstrap_median_difference,
    compare_recipes,
    rank_test,
    summarise,
)


def test_a_summary_gives_median_extremes_and_interquartile_range():
    summary = summarise([4.0, 1.0, 3.0, 2.0, float("nan")])  # a failed seed: NaN
    assert summary.count == 4
    assert (summary.median, summary.minimum, summary.maximum) == (2.5, 1.0, 4.0)
    # Q1 and Q3 of 1, 2, 3, 4 by linear interpolation: 1.75 and 3.25.
    assert summary.iqr == pytest.approx(1.5)
    assert summary.as_dict()["seeds"] == 4
    assert np.isnan(summarise([]).median) and summarise([float("inf")]).count == 0


def test_two_identical_samples_are_indistinguishable():
    seeds = [3.4, 2.8, 6.6, 4.0, 2.7]
    comparison = compare_recipes(seeds, list(seeds), "min")
    assert comparison.difference == 0
    assert comparison.low <= 0 <= comparison.high
    assert comparison.verdict == "indistinguishable"
    assert comparison.p_value == pytest.approx(1.0)


def test_samples_shifted_far_apart_are_told_apart_in_the_metrics_direction():
    default = [3.4, 2.8, 6.6, 4.0, 2.7]
    worse = [value + 20 for value in default]
    assert compare_recipes(worse, default, "min").verdict == "worse"
    assert compare_recipes(default, worse, "min").verdict == "better"
    # Inception Score: higher is better, so the higher recipe is the better one.
    assert compare_recipes(worse, default, "max").verdict == "better"
    comparison = compare_recipes(worse, default, "min")
    assert comparison.difference == pytest.approx(20)
    assert 0 < comparison.low <= 20 <= comparison.high
    # 5 against 5, no overlap: the exact Mann-Whitney p is 2 / C(10, 5) = 2 / 252.
    assert comparison.p_value == pytest.approx(2 / 252)


def test_a_recipe_with_fewer_seeds_than_the_minimum_is_not_ranked():
    comparison = compare_recipes([30.0, 31.0], [3.0, 4.0, 5.0], "min")
    assert comparison.verdict == "too few seeds"
    assert comparison.difference == pytest.approx(26.5)  # the numbers are still there
    assert compare_recipes([], [3.0, 4.0, 5.0], "min").verdict == "too few seeds"


def test_the_bootstrap_interval_matches_scipys_independent_bootstrap():
    rng = np.random.default_rng(1)
    a, b = rng.normal(5, 1, 7), rng.normal(3, 1.5, 9)

    def difference(x, y, axis=-1):
        return np.median(x, axis=axis) - np.median(y, axis=axis)

    reference = stats.bootstrap(
        (a, b),
        difference,
        n_resamples=20_000,
        method="percentile",
        confidence_level=0.9,
        random_state=np.random.default_rng(7),
    ).confidence_interval
    low, high = bootstrap_median_difference(a, b, resamples=20_000, confidence=0.9, seed=3)
    # Other random draws: the two Monte-Carlo estimates of the same quantiles agree closely.
    assert low == pytest.approx(reference.low, abs=0.1)
    assert high == pytest.approx(reference.high, abs=0.1)
    assert (low, high) == bootstrap_median_difference(a, b, 20_000, 0.9, seed=3)  # seeded


def test_three_seeds_against_three_cannot_reach_five_percent_by_the_rank_test():
    # The caveat the report states: the smallest two-sided exact p-value is 2 / C(6, 3).
    assert rank_test([1.0, 2.0, 3.0], [10.0, 11.0, 12.0]) == pytest.approx(0.1)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="direction"):
        compare_recipes([1.0], [2.0], "lower")
    with pytest.raises(ValueError, match="finite values on both sides"):
        bootstrap_median_difference([float("nan")], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_median_difference([1.0], [1.0], confidence=1.5)
