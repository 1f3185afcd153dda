import numpy as np
import pytest

from gantrack.evaluation.metrics.kid import kernel_inception_distance


def kid_by_double_loop(features_a, features_b):
    """Unbiased MMD² with k(x, y) = (xᵀy / d + 1)³, one pair of points at a time."""
    size, dim = features_a.shape

    def kernel(x, y):
        return (float(np.dot(x, y)) / dim + 1.0) ** 3

    within_a = within_b = across = 0.0
    for i in range(size):
        for j in range(size):
            across += kernel(features_a[i], features_b[j])
            if i != j:
                within_a += kernel(features_a[i], features_a[j])
                within_b += kernel(features_b[i], features_b[j])
    pairs = size * (size - 1)
    return within_a / pairs + within_b / pairs - 2.0 * across / size**2


@pytest.mark.parametrize("seed", range(4))
def test_whole_set_subset_matches_double_loop(seed):
    rng = np.random.default_rng(seed)
    features_a = rng.standard_normal((7, 3))
    features_b = rng.standard_normal((7, 3)) + 0.1 * seed
    mean, std = kernel_inception_distance(features_a, features_b, subsets=1, subset_size=7)
    assert mean == pytest.approx(kid_by_double_loop(features_a, features_b), rel=1e-10)
    assert std == 0.0


def test_unbiased_estimate_can_be_negative_and_is_not_clipped():
    # Two samples of one distribution: the estimate scatters around 0, on both sides.
    rng = np.random.default_rng(0)
    means = []
    for _ in range(10):
        features_a, features_b = rng.standard_normal((2, 8, 3))
        mean, _ = kernel_inception_distance(features_a, features_b, subsets=1, subset_size=8)
        assert mean == pytest.approx(kid_by_double_loop(features_a, features_b), rel=1e-10)
        means.append(mean)
    assert min(means) < 0 < max(means)


def test_same_distribution_is_zero_within_its_spread():
    rng = np.random.default_rng(1)
    features_a, features_b = rng.standard_normal((2, 400, 16))
    mean, std = kernel_inception_distance(features_a, features_b, subsets=20, subset_size=200)
    assert std > 0
    assert abs(mean) < 3 * std + 1e-3


def test_shifted_distribution_is_clearly_positive():
    rng = np.random.default_rng(2)
    features_a = rng.standard_normal((400, 16))
    features_b = rng.standard_normal((400, 16)) + 0.5
    mean, std = kernel_inception_distance(features_a, features_b, subsets=20, subset_size=200)
    assert mean > 10 * std and mean > 0.1


def test_larger_shift_gives_larger_distance():
    rng = np.random.default_rng(3)
    features_a, features_b = rng.standard_normal((2, 300, 8))
    near = kernel_inception_distance(features_a, features_b + 0.3, subsets=10, subset_size=100)
    far = kernel_inception_distance(features_a, features_b + 1.0, subsets=10, subset_size=100)
    assert far[0] > near[0] > 0


def test_subset_size_is_capped_by_the_smaller_set():
    rng = np.random.default_rng(4)
    features_a, features_b = rng.standard_normal((30, 4)), rng.standard_normal((50, 4))
    capped = kernel_inception_distance(features_a, features_b, subsets=3, subset_size=1000)
    exact = kernel_inception_distance(features_a, features_b, subsets=3, subset_size=30)
    assert capped == exact


def test_is_deterministic_for_a_seed():
    rng = np.random.default_rng(5)
    features_a, features_b = rng.standard_normal((60, 4)), rng.standard_normal((80, 4))
    first = kernel_inception_distance(features_a, features_b, subsets=5, subset_size=20, seed=9)
    again = kernel_inception_distance(features_a, features_b, subsets=5, subset_size=20, seed=9)
    other = kernel_inception_distance(features_a, features_b, subsets=5, subset_size=20, seed=10)
    assert first == again
    assert first != other


def test_validates_arguments():
    features = np.zeros((10, 3))
    with pytest.raises(ValueError, match="use features from the same network layer"):
        kernel_inception_distance(features, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="subsets must be"):
        kernel_inception_distance(features, features, subsets=0)
    with pytest.raises(ValueError, match="subset_size must be"):
        kernel_inception_distance(features, features, subset_size=1)
    with pytest.raises(ValueError, match=r"shape \(N >= 2, d\)"):
        kernel_inception_distance(features[:1], features)


def test_several_subsets_match_an_exact_computation_on_the_same_draw():
    """Mean and std over 5 subsets of 6 from 9 and 8 points, against the double loop
    on the subsets that numpy.random.default_rng(seed) draws (a then b, per subset)."""
    rng = np.random.default_rng(21)
    features_a = rng.standard_normal((9, 4))
    features_b = rng.standard_normal((8, 4)) + 0.3
    draw = np.random.default_rng(5)
    exact = []
    for _ in range(5):
        rows_a = draw.choice(9, 6, replace=False)
        rows_b = draw.choice(8, 6, replace=False)
        exact.append(kid_by_double_loop(features_a[rows_a], features_b[rows_b]))
    assert np.std(exact) > 0  # the subsets really differ
    mean, std = kernel_inception_distance(features_a, features_b, subsets=5, subset_size=6, seed=5)
    assert mean == pytest.approx(np.mean(exact), rel=1e-10)
    assert std == pytest.approx(np.std(exact), rel=1e-10)
