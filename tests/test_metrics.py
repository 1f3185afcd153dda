import numpy as np
import pytest
from scipy import linalg

from gantrack.metrics import frechet_distance, gaussian_statistics, inception_score


def random_covariance(rng, dim, samples):
    features = rng.standard_normal((samples, dim)) @ rng.standard_normal((dim, dim))
    return np.cov(features, rowvar=False)


def frechet_with_sqrtm(mu1, sigma1, mu2, sigma2):
    """The pytorch-fid formula: an independent reference through scipy's sqrtm."""
    covariance_mean = linalg.sqrtm(sigma1 @ sigma2)
    covariance_mean = np.real(covariance_mean)
    difference = mu1 - mu2
    return difference @ difference + np.trace(sigma1 + sigma2 - 2.0 * covariance_mean)


def test_identical_statistics_give_zero():
    rng = np.random.default_rng(0)
    mu, sigma = rng.standard_normal(16), random_covariance(rng, 16, 200)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_equal_covariances_give_squared_mean_distance():
    rng = np.random.default_rng(1)
    sigma = random_covariance(rng, 8, 100)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    expected = float(np.sum((mu1 - mu2) ** 2))
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(expected, rel=1e-9)


def test_univariate_closed_form():
    # d² = (m1 - m2)² + (s1 - s2)² for one-dimensional Gaussians with std s.
    distance = frechet_distance(
        np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])
    )
    assert distance == pytest.approx(2.0**2 + (2.0 - 3.0) ** 2)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_sqrtm_on_well_conditioned_cases(seed):
    rng = np.random.default_rng(seed)
    dim = 32
    args = (
        rng.standard_normal(dim),
        random_covariance(rng, dim, 500),
        rng.standard_normal(dim),
        random_covariance(rng, dim, 500),
    )
    assert frechet_distance(*args) == pytest.approx(frechet_with_sqrtm(*args), rel=1e-6)


def test_singular_covariances_stay_real_and_finite():
    rng = np.random.default_rng(7)
    mu1, sigma1 = gaussian_statistics(rng.standard_normal((20, 64)))  # N < d: rank 19
    mu2, sigma2 = gaussian_statistics(rng.standard_normal((20, 64)) + 0.5)
    distance = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert np.isfinite(distance) and distance > 0
    assert isinstance(distance, float)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="covariances must be"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))


def test_gaussian_statistics_match_numpy():
    features = np.random.default_rng(0).standard_normal((50, 4))
    mu, sigma = gaussian_statistics(features)
    np.testing.assert_allclose(mu, features.mean(axis=0))
    np.testing.assert_allclose(sigma, np.cov(features.T))
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_statistics(features[:1])


def test_inception_score_of_uniform_probabilities_is_one():
    mean, std = inception_score(np.full((100, 10), 0.1), splits=10)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_balanced_one_hot_is_number_of_classes():
    probabilities = np.eye(10)[np.arange(200) % 10]
    mean, std = inception_score(probabilities, splits=10)
    assert mean == pytest.approx(10.0) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_of_one_class_is_one():
    probabilities = np.eye(10)[np.zeros(50, dtype=int)]
    assert inception_score(probabilities, splits=5)[0] == pytest.approx(1.0)


def test_inception_score_parts_are_consecutive_rows():
    # Sorted by class, each of the 10 parts holds one class: the documented caveat.
    probabilities = np.eye(10)[np.repeat(np.arange(10), 20)]
    assert inception_score(probabilities, splits=10)[0] == pytest.approx(1.0)


def test_inception_score_matches_direct_formula():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((40, 5)) * 3
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    marginal = probabilities.mean(axis=0)
    direct = np.exp(np.mean(np.sum(probabilities * np.log(probabilities / marginal), axis=1)))
    assert inception_score(probabilities, splits=1)[0] == pytest.approx(direct, rel=1e-10)


def test_inception_score_validates_input():
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(np.full((10, 3), 0.5), splits=2)
    with pytest.raises(ValueError, match="splits must be in"):
        inception_score(np.full((4, 2), 0.5), splits=5)
