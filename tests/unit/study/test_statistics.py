import itertools

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


def exact_rank_p(a: list[float], b: list[float]) -> float:
    """The two-sided permutation p of Mann-Whitney's U, by enumerating every split of the
    pooled values (midranks for ties), written independently of SciPy."""
    pooled = a + b
    ranks = [
        sum(1.0 for other in pooled if other < value)
        + (sum(1.0 for other in pooled if other == value) + 1) / 2
        for value in pooled
    ]
    mean = len(a) * len(b) / 2
    offset = len(a) * (len(a) + 1) / 2

    def distance(indices) -> float:
        return abs(sum(ranks[index] for index in indices) - offset - mean)

    observed = distance(range(len(a)))
    splits = list(itertools.combinations(range(len(pooled)), len(a)))
    return sum(distance(split) >= observed - 1e-9 for split in splits) / len(splits)


@pytest.mark.parametrize(
    "a, b",
    [
        ([3.0, 3.0, 3.0], [5.0, 5.0, 5.0]),  # all tied within a side
        ([1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]),  # ties across the sides
        ([0.74, 0.75, 0.75, 0.76, 0.77], [0.75, 0.77, 0.78, 0.78, 0.79]),
        ([1.0, 2.0, 3.0], [1.5, 2.5, 3.5, 4.5, 5.5]),  # no ties: SciPy's exact test too
    ],
)
def test_the_rank_test_is_exact_with_ties_at_study_sizes(a, b):
    assert rank_test(a, b) == pytest.approx(exact_rank_p(a, b))
    # 3 tied seeds against 3 cannot reach 5% either: the normal approximation said 0.047.
    assert rank_test([3.0] * 3, [5.0] * 3) == pytest.approx(0.1)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="direction"):
        compare_recipes([1.0], [2.0], "lower")
    with pytest.raises(ValueError, match="finite values on both sides"):
        bootstrap_median_difference([float("nan")], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_median_difference([1.0], [1.0], confidence=1.5)
