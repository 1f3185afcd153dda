"""Kernel Inception Distance (Bińkowski et al. 2018): the squared maximum mean discrepancy
(MMD²) between two feature sets under the cubic polynomial kernel

    k(x, y) = (xᵀy / d + 1)³

estimated without bias on random subsets A, B of m points each (m = min(subset_size, N_a,
N_b), drawn without replacement within a subset, independently between subsets):

    MMD²ᵤ = Σ_{i≠j} k(aᵢ, aⱼ) / (m(m − 1)) + Σ_{i≠j} k(bᵢ, bⱼ) / (m(m − 1))
            − 2 Σ_{i,j} k(aᵢ, bⱼ) / m²

and reported as the mean and (population) standard deviation over the subsets.

Caveats: the estimator is unbiased, so for two samples of one distribution it scatters
around 0 and can be negative: report it as is, never clipped. Unlike FID it has no
small-N bias, so values at different N are comparable, but its variance grows as N
shrinks. The standard deviation is the spread of single-subset estimates, not the
standard error of the mean. Values depend on the feature network, like FID's.
"""

from __future__ import annotations

import numpy as np

from gantrack.evaluation.metrics._features import feature_pair


def kernel_inception_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² between ``(N_a, d)`` and ``(N_b, d)`` features.

    Seeded with ``numpy.random.default_rng(seed)``: the same seed gives the same subsets.
    """
    features_a, features_b = _validate(features_a, features_b, subsets, subset_size)
    size = min(subset_size, len(features_a), len(features_b))
    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets)
    for subset in range(subsets):
        subset_a = features_a[rng.choice(len(features_a), size, replace=False)]
        subset_b = features_b[rng.choice(len(features_b), size, replace=False)]
        estimates[subset] = _unbiased_mmd2(subset_a, subset_b)
    return float(estimates.mean()), float(estimates.std())


def _polynomial_kernel(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``(len(rows), len(columns))`` matrix of (xᵀy / d + 1)³."""
    return (rows @ columns.T / rows.shape[1] + 1.0) ** 3


def _unbiased_mmd2(subset_a: np.ndarray, subset_b: np.ndarray) -> float:
    """MMD²ᵤ of two equal-sized ``(m, d)`` subsets (formula in the module docstring)."""
    size = len(subset_a)
    kernel_aa = _polynomial_kernel(subset_a, subset_a)
    kernel_bb = _polynomial_kernel(subset_b, subset_b)
    kernel_ab = _polynomial_kernel(subset_a, subset_b)
    # Dropping the diagonal k(x, x) is what makes the within-set means unbiased.
    within_a = (kernel_aa.sum() - np.trace(kernel_aa)) / (size * (size - 1))
    within_b = (kernel_bb.sum() - np.trace(kernel_bb)) / (size * (size - 1))
    return float(within_a + within_b - 2.0 * kernel_ab.mean())


def _validate(
    features_a: np.ndarray, features_b: np.ndarray, subsets: int, subset_size: int
) -> tuple[np.ndarray, np.ndarray]:
    features_a, features_b = feature_pair(
        features_a, features_b, ("features_a", "features_b"), min_rows=2
    )
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1 (the paper uses 100), got {subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2 (the paper uses 1000), got {subset_size}")
    return features_a, features_b
