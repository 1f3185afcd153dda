import warnings

import numpy as np
import pytest
from scipy import linalg

from gantrack.evaluation.metrics.frechet import (
    SingularCovarianceWarning,
    frechet_distance,
    frechet_distance_bootstrap,
    frechet_distance_from_features,
    gaussian_statistics,
)


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


@pytest.mark.filterwarnings("error")  # full-rank covariances must not be regularised
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


@pytest.mark.filterwarnings("error")
def test_rank_tolerance_is_relative_so_small_scale_features_are_not_regularised():
    # Eigenvalues around 1e-8 are below the absolute eps = 1e-6 yet full rank: adding eps
    # would change the distance by orders of magnitude.
    rng = np.random.default_rng(8)
    scale = 1e-4
    mu1, sigma1 = gaussian_statistics(rng.standard_normal((400, 16)) * scale)
    mu2, sigma2 = gaussian_statistics(rng.standard_normal((400, 16)) * 1.2 * scale)
    distance = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert distance == pytest.approx(frechet_with_sqrtm(mu1, sigma1, mu2, sigma2), rel=1e-6)


def test_singular_covariances_stay_real_and_finite():
    rng = np.random.default_rng(7)
    mu1, sigma1 = gaussian_statistics(rng.standard_normal((20, 64)))  # N < d: rank 19
    mu2, sigma2 = gaussian_statistics(rng.standard_normal((20, 64)) + 0.5)
    with pytest.warns(SingularCovarianceWarning, match="N <= d"):
        distance = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert np.isfinite(distance) and distance > 0
    assert isinstance(distance, float)


@pytest.mark.parametrize("dim", [64, 128])
def test_fewer_samples_than_dimensions_match_regularised_sqrtm(dim):
    rng = np.random.default_rng(dim)
    mu1, sigma1 = gaussian_statistics(rng.standard_normal((50, dim)))  # rank 49 < dim
    mu2, sigma2 = gaussian_statistics(rng.standard_normal((50, dim)) * 1.5 + 0.5)
    with pytest.warns(SingularCovarianceWarning, match="singular"):
        distance = frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6)
    assert isinstance(distance, float) and np.isfinite(distance)
    offset = 1e-6 * np.eye(dim)
    regularised = frechet_with_sqrtm(mu1, sigma1 + offset, mu2, sigma2 + offset)
    assert distance == pytest.approx(regularised, rel=1e-4)
    # Unregularised, sqrtm returns complex values (imaginary parts ~1e-7 to 1e-6 here) whose
    # real part lies ~1e-5 relative away from the regularised value: eps was applied.
    unregularised = frechet_with_sqrtm(mu1, sigma1, mu2, sigma2)
    assert abs(distance - regularised) < abs(distance - unregularised)


def test_eps_zero_still_warns_and_matches_sqrtm_real_part():
    rng = np.random.default_rng(11)
    mu1, sigma1 = gaussian_statistics(rng.standard_normal((30, 40)))
    mu2, sigma2 = gaussian_statistics(rng.standard_normal((30, 40)) + 0.2)
    with pytest.warns(SingularCovarianceWarning):
        distance = frechet_distance(mu1, sigma1, mu2, sigma2, eps=0.0)
    assert distance == pytest.approx(frechet_with_sqrtm(mu1, sigma1, mu2, sigma2), rel=1e-6)


def test_constant_feature_makes_covariance_singular_even_with_many_samples():
    rng = np.random.default_rng(12)
    features = rng.standard_normal((500, 8))
    features[:, 3] = 2.0  # a dead unit: zero variance
    mu1, sigma1 = gaussian_statistics(features)
    mu2, sigma2 = gaussian_statistics(rng.standard_normal((500, 8)))
    with pytest.warns(SingularCovarianceWarning):
        distance = frechet_distance(mu1, sigma1, mu2, sigma2)
    offset = 1e-6 * np.eye(8)
    assert distance == pytest.approx(
        frechet_with_sqrtm(mu1, sigma1 + offset, mu2, sigma2 + offset), rel=1e-6
    )


def test_negative_eps_is_rejected():
    with pytest.raises(ValueError, match="eps must be"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), eps=-1.0)


def test_from_features_matches_statistics():
    rng = np.random.default_rng(13)
    features_a, features_b = rng.standard_normal((300, 5)), rng.standard_normal((200, 5)) + 1
    mu_a, sigma_a = features_a.mean(axis=0), np.cov(features_a.T)
    mu_b, sigma_b = features_b.mean(axis=0), np.cov(features_b.T)
    assert frechet_distance_from_features(features_a, features_b) == pytest.approx(
        frechet_with_sqrtm(mu_a, sigma_a, mu_b, sigma_b), rel=1e-9
    )


def naive_bootstrap(reference_mu, reference_sigma, generated, resamples, seed, confidence):
    """Resample, refit and rescore from scratch, drawing rows as the docstring specifies."""
    rng = np.random.default_rng(seed)
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularCovarianceWarning)
        for _ in range(resamples):
            rows = rng.integers(0, len(generated), len(generated))
            resampled_mu = generated[rows].mean(axis=0)
            resampled_sigma = np.cov(generated[rows].T)
            scores.append(
                frechet_distance(reference_mu, reference_sigma, resampled_mu, resampled_sigma)
            )
    tail = (1 - confidence) / 2
    return np.quantile(scores, tail), np.quantile(scores, 1 - tail)


def test_bootstrap_matches_naive_resampling():
    rng = np.random.default_rng(20)
    reference_mu, reference_sigma = gaussian_statistics(rng.standard_normal((400, 6)))
    generated = rng.standard_normal((60, 6)) @ rng.standard_normal((6, 6)) + 0.3
    interval = frechet_distance_bootstrap(
        reference_mu, reference_sigma, generated, resamples=40, seed=5, confidence=0.9
    )
    expected = naive_bootstrap(reference_mu, reference_sigma, generated, 40, 5, 0.9)
    np.testing.assert_allclose(interval, expected, rtol=1e-9)
    assert interval[0] < interval[1]


def test_bootstrap_with_singular_covariances_matches_naive_and_warns():
    rng = np.random.default_rng(21)
    reference_mu, reference_sigma = gaussian_statistics(rng.standard_normal((20, 32)))
    generated = rng.standard_normal((25, 32)) + 0.1
    with pytest.warns(SingularCovarianceWarning):
        interval = frechet_distance_bootstrap(
            reference_mu, reference_sigma, generated, resamples=20, seed=1
        )
    expected = naive_bootstrap(reference_mu, reference_sigma, generated, 20, 1, 0.95)
    np.testing.assert_allclose(interval, expected, rtol=1e-8)


def test_bootstrap_is_seeded_and_narrows_with_more_samples():
    rng = np.random.default_rng(22)
    reference_mu, reference_sigma = np.zeros(4), np.eye(4)
    generated = rng.standard_normal((2000, 4)) + 0.5

    def interval(features, seed):
        return frechet_distance_bootstrap(reference_mu, reference_sigma, features, 100, seed)

    assert interval(generated, 3) == interval(generated, 3)
    assert interval(generated, 3) != interval(generated, 4)
    small_low, small_high = interval(generated[:100], 3)
    large_low, large_high = interval(generated, 3)
    # The spread of FID shrinks like 1/√N: 20x the samples, ~4.5x narrower.
    assert large_high - large_low < (small_high - small_low) / 2


def test_bootstrap_validates_arguments():
    features = np.zeros((10, 3))
    with pytest.raises(ValueError, match="resamples must be"):
        frechet_distance_bootstrap(np.zeros(3), np.eye(3), features, resamples=1, seed=0)
    with pytest.raises(ValueError, match="confidence must be"):
        frechet_distance_bootstrap(np.zeros(3), np.eye(3), features, 10, 0, confidence=1.0)
    with pytest.raises(ValueError, match="d=3 columns but the reference statistics d=4"):
        frechet_distance_bootstrap(np.zeros(4), np.eye(4), features, resamples=10, seed=0)


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
