"""Fréchet distance between Gaussians fitted to features: FID when the features are
Inception's (Heusel et al. 2017), "FID with network X" otherwise.

    d² = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2 tr((Σ₁ Σ₂)^½)

``tr((Σ₁ Σ₂)^½)`` is computed without a general matrix square root: Σ₁Σ₂ is similar to
the symmetric positive semi-definite ``S = Σ₁^½ Σ₂ Σ₁^½``, so the trace is the sum of the
square roots of S's eigenvalues. Symmetric eigen-decompositions (``numpy.linalg.eigh``)
replace ``scipy.linalg.sqrtm``'s Schur decomposition: faster, real-valued by construction,
and defined for singular covariances (tiny negative eigenvalues from round-off are
clipped to zero).

Singular covariances. With fewer samples than dimensions (N ≤ d), or with features that
never vary, a covariance is rank-deficient. The eigenvalue route stays real and finite
there, but FID itself is unreliable: it is biased upwards at small N and the missing
directions carry no information. As pytorch-fid does, ``eps · I`` (``DEFAULT_EPS`` = 1e-6)
is then added to both covariances and a :class:`SingularCovarianceWarning` is emitted; the
value is then pytorch-fid's formula on the regularised covariances. A covariance
counts as rank-deficient when its smallest eigenvalue is at most ``d · ε_machine`` times
its largest (``numpy.linalg.matrix_rank``'s default tolerance); full-rank covariances are
never changed.

Caveats: FID is biased upwards at small sample sizes, so compare values only at the same
N (and the same feature network). ``eps`` is absolute: features on a scale far below 1
need a proportionally smaller ``eps``.
"""

from __future__ import annotations

import warnings

import numpy as np

DEFAULT_EPS = 1e-6


class SingularCovarianceWarning(RuntimeWarning):
    """A covariance was rank-deficient (N ≤ d?), so FID was regularised and is unreliable."""


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and unbiased covariance ``(d, d)`` of ``(N, d)`` features, in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"expected features of shape (N >= 2, d), got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    eps: float = DEFAULT_EPS,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (float64 throughout).

    If either covariance is rank-deficient (smallest eigenvalue ≤ d · ε_machine · largest),
    ``eps · I`` is added to both and a :class:`SingularCovarianceWarning` is emitted; pass
    ``eps=0`` to keep the warning but not regularise.
    """
    mu1, sigma1, mu2, sigma2 = _validate_statistics(mu1, sigma1, mu2, sigma2)
    _check_eps(eps)
    eigenvalues1, eigenvectors1 = np.linalg.eigh(_symmetrised(sigma1))
    eigenvalues2 = np.linalg.eigvalsh(_symmetrised(sigma2))
    shift = _regularisation(eps, eigenvalues1, eigenvalues2)
    # Σ₁ + shift·I has the same eigenvectors as Σ₁: its square root needs no new eigh.
    sqrt_sigma1 = _sqrt_from_eigen(eigenvalues1 + shift, eigenvectors1)
    product = sqrt_sigma1 @ (sigma2 + shift * np.eye(len(mu1))) @ sqrt_sigma1
    trace_sum = np.trace(sigma1) + np.trace(sigma2) + 2.0 * len(mu1) * shift
    return _distance_from_parts(mu1 - mu2, trace_sum, product)


def frechet_distance_from_features(
    features_a: np.ndarray, features_b: np.ndarray, *, eps: float = DEFAULT_EPS
) -> float:
    """Fréchet distance between Gaussians fitted to ``(N, d)`` and ``(M, d)`` features."""
    return frechet_distance(
        *gaussian_statistics(features_a), *gaussian_statistics(features_b), eps=eps
    )


def frechet_distance_bootstrap(
    reference_mu: np.ndarray,
    reference_sigma: np.ndarray,
    generated_features: np.ndarray,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
    *,
    eps: float = DEFAULT_EPS,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval ``(low, high)`` for FID.

    Each of ``resamples`` resamples draws N rows of the ``(N, d)`` generated features with
    replacement (``numpy.random.default_rng(seed).integers(0, N, N)``, one call per
    resample) and scores them against the fixed reference statistics, which are cached
    per dataset; ``(low, high)`` are the ``(1 ∓ confidence) / 2`` quantiles of the scores.

    Cost: the reference's symmetric square root R and the projection ``X R`` of the
    generated features are computed once. Because centring commutes with ``R``, the
    covariance of a resample of ``X R`` is ``R Σ* R`` for that resample's covariance Σ*,
    so each resample costs one covariance and one ``eigvalsh``. Use a few hundred
    resamples or more for a 95% interval.

    Caveats: the interval shows how much FID moves with the choice of generated samples
    at this N; it is not an interval around the infinite-sample FID. A resample holds
    only ≈63% distinct points (1 − 1/e), so its FID carries more small-N bias than the
    point estimate, and at N not far above d the whole interval can lie above it; with N
    many times d it closes in around the point estimate.
    Resamples are regularised exactly when the point estimate
    ``frechet_distance(reference, gaussian_statistics(generated))`` is (same warning), so
    both describe the same estimator; resamples of fewer than ≈1.6 d points have singular
    covariances anyway, which the eigenvalue route handles.
    """
    reference_mu, reference_sigma, generated = _validate_bootstrap_arguments(
        reference_mu, reference_sigma, generated_features, resamples, confidence
    )
    _check_eps(eps)
    reference_eigenvalues, reference_eigenvectors = np.linalg.eigh(_symmetrised(reference_sigma))
    generated_eigenvalues = np.linalg.eigvalsh(_covariance(generated))
    shift = _regularisation(eps, reference_eigenvalues, generated_eigenvalues)
    sqrt_reference = _sqrt_from_eigen(reference_eigenvalues + shift, reference_eigenvectors)
    rng = np.random.default_rng(seed)
    scores = _bootstrap_scores(
        reference_mu, np.trace(reference_sigma), sqrt_reference, generated, shift, resamples, rng
    )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(scores, [tail, 1.0 - tail])
    return float(low), float(high)


def _bootstrap_scores(
    reference_mu: np.ndarray,
    reference_trace: float,
    sqrt_reference: np.ndarray,
    generated: np.ndarray,
    shift: float,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(resamples,)`` FIDs of resampled generated rows against fixed reference statistics."""
    projected = generated @ sqrt_reference  # (N, d): rows x R
    # R (Σ* + shift·I) R = R Σ* R + shift·R²: the shift costs one precomputed matrix.
    shift_term = shift * (sqrt_reference @ sqrt_reference)
    traces_of_shifts = 2.0 * len(reference_mu) * shift
    scores = np.empty(resamples)
    for resample in range(resamples):
        rows = rng.integers(0, len(generated), len(generated))
        resampled = generated[rows]
        trace_sum = reference_trace + resampled.var(axis=0, ddof=1).sum() + traces_of_shifts
        product = _covariance(projected[rows]) + shift_term
        scores[resample] = _distance_from_parts(
            reference_mu - resampled.mean(axis=0), trace_sum, product
        )
    return scores


def _distance_from_parts(
    mean_difference: np.ndarray, trace_sum: float, product: np.ndarray
) -> float:
    """‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2 Σ √λᵢ(S), with ``product`` = S = Σ₁^½ Σ₂ Σ₁^½."""
    eigenvalues = np.linalg.eigvalsh(_symmetrised(product))
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    distance = mean_difference @ mean_difference + trace_sum - 2.0 * trace_sqrt
    # Round-off can leave -1e-12 for identical inputs; a distance is never negative.
    return float(max(distance, 0.0))


def _covariance(features: np.ndarray) -> np.ndarray:
    """Unbiased ``(d, d)`` covariance of ``(N, d)`` rows, as ``np.cov(rowvar=False)``."""
    centred = features - features.mean(axis=0)
    # centred.T @ centred is one symmetric rank-k update (BLAS syrk): half a matmul.
    return (centred.T @ centred) / (len(features) - 1)


def _symmetrised(matrix: np.ndarray) -> np.ndarray:
    """(A + Aᵀ) / 2: removes round-off asymmetry before a symmetric eigen-solver."""
    return (matrix + matrix.T) / 2.0


def _sqrt_from_eigen(eigenvalues: np.ndarray, eigenvectors: np.ndarray) -> np.ndarray:
    """Principal square root V √Λ Vᵀ of a symmetric PSD matrix from its eigen-decomposition."""
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def _rank_deficient(eigenvalues: np.ndarray) -> bool:
    """Smallest eigenvalue ≤ d · ε_machine · largest: numpy.linalg.matrix_rank's rule."""
    tolerance = len(eigenvalues) * np.finfo(np.float64).eps * max(eigenvalues.max(), 0.0)
    return bool(eigenvalues.min() <= tolerance)


def _regularisation(eps: float, *covariance_eigenvalues: np.ndarray) -> float:
    """The diagonal shift: ``eps`` (with a warning) if any covariance is rank-deficient."""
    if not any(_rank_deficient(eigenvalues) for eigenvalues in covariance_eigenvalues):
        return 0.0
    warnings.warn(
        "a covariance is singular (fewer samples than feature dimensions, N <= d, or "
        f"constant features): FID is unreliable and biased here; added eps={eps:g} to the "
        "diagonal of both covariances. Use more samples than dimensions for FID.",
        SingularCovarianceWarning,
        stacklevel=3,  # the caller of frechet_distance (or of the bootstrap)
    )
    return eps


def _check_eps(eps: float) -> None:
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0 (default {DEFAULT_EPS}), got {eps}")


def _validate_statistics(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Float64 copies of two (mean, covariance) pairs after checking their shapes agree."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    dim = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.shape != (dim,) or mu2.shape != (dim,):
        raise ValueError(f"means must both be (d,), got {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"covariances must be ({dim}, {dim}), got {sigma1.shape} and {sigma2.shape}"
        )
    return mu1, sigma1, mu2, sigma2


def _validate_bootstrap_arguments(
    reference_mu: np.ndarray,
    reference_sigma: np.ndarray,
    generated_features: np.ndarray,
    resamples: int,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    generated = np.asarray(generated_features, dtype=np.float64)
    if generated.ndim != 2 or len(generated) < 2:
        raise ValueError(f"expected generated_features of shape (N >= 2, d), got {generated.shape}")
    reference_mu, reference_sigma, _, _ = _validate_statistics(
        reference_mu, reference_sigma, reference_mu, reference_sigma
    )
    if generated.shape[1] != len(reference_mu):
        raise ValueError(
            f"generated_features have d={generated.shape[1]} columns but the reference "
            f"statistics d={len(reference_mu)}: use features from the same network layer"
        )
    if not isinstance(resamples, int | np.integer) or resamples < 2:
        raise ValueError(f"resamples must be an integer >= 2 (a few hundred), got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence}")
    return reference_mu, reference_sigma, generated
