"""Fréchet distance between Gaussians fitted to features: FID when the features are
Inception's (Heusel et al. 2017), "FID with network X" otherwise.

    d² = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2 tr((Σ₁ Σ₂)^½)

``tr((Σ₁ Σ₂)^½)`` is computed without a general matrix square root: Σ₁Σ₂ is similar to
the symmetric positive semi-definite ``S = Σ₁^½ Σ₂ Σ₁^½``, so the trace is the sum of the
square roots of S's eigenvalues. Two symmetric eigen-decompositions (``numpy.linalg.eigh``)
replace ``scipy.linalg.sqrtm``'s Schur decomposition: faster, real-valued by construction,
and defined for singular covariances (tiny negative eigenvalues from round-off are
clipped to zero).

Caveat: FID is biased upwards at small sample sizes, so compare values only at the same N.
"""

from __future__ import annotations

import numpy as np


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and unbiased covariance ``(d, d)`` of ``(N, d)`` features, in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"expected features of shape (N >= 2, d), got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (float64 throughout)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    dim = mu1.shape[0]
    if mu1.shape != (dim,) or mu2.shape != (dim,):
        raise ValueError(f"means must both be (d,), got {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"covariances must be ({dim}, {dim}), got {sigma1.shape} and {sigma2.shape}"
        )
    sqrt_sigma1 = _symmetric_sqrt(sigma1)
    product = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    difference = mu1 - mu2
    distance = difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    # Round-off can leave -1e-12 for identical inputs; a distance is never negative.
    return float(max(distance, 0.0))


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Principal square root of a symmetric PSD matrix via its eigen-decomposition."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
