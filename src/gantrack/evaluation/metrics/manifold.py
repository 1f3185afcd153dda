"""Sample-quality metrics from k-nearest-neighbour balls around feature vectors.

Each real point Xᵢ (N of them) gets the closed ball B(Xᵢ, NND_k(Xᵢ)), whose radius is the
distance to its k-th nearest neighbour among the other real points; likewise for the
generated points Yⱼ (M of them). A set's "manifold" is the union of its balls.

Improved precision and recall (Kynkäänniemi et al. 2019), default k = 3:

    precision = (1/M) Σⱼ 1[Yⱼ ∈ real manifold]        (fidelity: fakes look real)
    recall    = (1/N) Σᵢ 1[Xᵢ ∈ generated manifold]   (diversity: reals are reached)

Density and coverage (Naeem et al. 2020), default k = 5, real balls only:

    density  = (1 / (k M)) Σⱼ Σᵢ 1[Yⱼ ∈ B(Xᵢ, NND_k(Xᵢ))]
    coverage = (1/N) Σᵢ 1[∃ j: Yⱼ ∈ B(Xᵢ, NND_k(Xᵢ))]

Density counts how many real balls hold each fake: its expectation is 1 when the two
sets are drawn from one distribution, it exceeds 1 when fakes crowd dense real regions
(it equals (k + 1) / k for a copy of the real set), and it is not bounded by 1.

Caveats: all four depend on k and on the feature network. Precision and recall are
sensitive to outliers: one far-away point has a huge k-NN radius, so its ball can swallow
most of the other set (a single outlier among the fakes can push recall to 1). Density
and coverage use only real balls, which makes them robust to generated outliers but not
to real ones. Balls are closed (≤), as in the papers' formulas, with a relative tolerance of
1e-10 on the squared radius: a real point copied into the generated set lies exactly on
the boundary of the balls whose k-th neighbour it is, and round-off must not decide.

Distances: squared Euclidean, ‖x‖² + ‖y‖² − 2xᵀy clipped at 0, computed in row blocks of
at most ``_DISTANCE_BLOCK_BYTES`` (64 MiB) so memory stays bounded at N = 10,000,
d = 2048. Its relative error is about ε_machine · (‖x‖² + ‖y‖²) / ‖x − y‖², which matters
only for near-duplicate points far from the origin, i.e. points on a ball's boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from gantrack.evaluation.metrics._features import feature_pair

_DISTANCE_BLOCK_BYTES = 64 * 2**20
_BOUNDARY_RELATIVE_TOLERANCE = 1e-10


class _BallMemberships(NamedTuple):
    """How the generated points sit among the k-NN balls."""

    real_balls_per_generated: np.ndarray  # (M,) number of real balls holding each Yⱼ
    real_ball_reached: np.ndarray  # (N,) bool: real ball i holds at least one Yⱼ
    real_in_generated_manifold: np.ndarray | None  # (N,) bool, or None without fake radii


def precision_recall(
    real_features: np.ndarray, generated_features: np.ndarray, k: int = 3
) -> tuple[float, float]:
    """Improved (precision, recall) of ``(M, d)`` generated against ``(N, d)`` real features.

    ``k`` must be below the number of points in each set (each point needs k neighbours).
    """
    real, generated = _validate_features(real_features, generated_features)
    _check_k(k, real, "real_features")
    _check_k(k, generated, "generated_features")
    memberships = _ball_memberships(
        real,
        generated,
        real_squared_radii=_kth_neighbour_squared_radii(real, k),
        generated_squared_radii=_kth_neighbour_squared_radii(generated, k),
    )
    precision = np.mean(memberships.real_balls_per_generated > 0)
    recall = np.mean(memberships.real_in_generated_manifold)
    return float(precision), float(recall)


def density_coverage(
    real_features: np.ndarray, generated_features: np.ndarray, k: int = 5
) -> tuple[float, float]:
    """(density, coverage) of ``(M, d)`` generated against ``(N, d)`` real features.

    ``k`` must be below the number of real points; the generated set needs no radii.
    """
    real, generated = _validate_features(real_features, generated_features)
    _check_k(k, real, "real_features")
    memberships = _ball_memberships(
        real, generated, real_squared_radii=_kth_neighbour_squared_radii(real, k)
    )
    density = memberships.real_balls_per_generated.sum() / (k * len(generated))
    coverage = np.mean(memberships.real_ball_reached)
    return float(density), float(coverage)


def _squared_distance_blocks(
    rows: np.ndarray, columns: np.ndarray
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(row_slice, block)``: squared distances ``(block_rows, len(columns))``."""
    row_norms = np.einsum("ij,ij->i", rows, rows)
    column_norms = np.einsum("ij,ij->i", columns, columns)
    block_rows = max(1, _DISTANCE_BLOCK_BYTES // (8 * len(columns)))
    for start in range(0, len(rows), block_rows):
        row_slice = slice(start, start + block_rows)
        # In place, so each block costs one (block_rows, len(columns)) float64 buffer.
        block = rows[row_slice] @ columns.T
        block *= -2.0
        block += row_norms[row_slice, None]
        block += column_norms[None, :]
        np.maximum(block, 0.0, out=block)
        yield row_slice, block


def _kth_neighbour_squared_radii(features: np.ndarray, k: int) -> np.ndarray:
    """``(N,)`` squared distance from each point to its k-th nearest other point."""
    radii = np.empty(len(features))
    for row_slice, block in _squared_distance_blocks(features, features):
        rows_in_block = np.arange(len(block))
        # A point's distance to itself is 0 up to round-off: make it exactly 0, so that
        # after sorting it is entry 0 and entry k is the k-th nearest *other* point.
        block[rows_in_block, row_slice.start + rows_in_block] = 0.0
        radii[row_slice] = np.partition(block, k, axis=1)[:, k]
    return radii


def _ball_memberships(
    real: np.ndarray,
    generated: np.ndarray,
    real_squared_radii: np.ndarray,
    generated_squared_radii: np.ndarray | None = None,
) -> _BallMemberships:
    """One blocked pass over generated-to-real distances gathers every ball count."""
    # d(x, y)² is computed in another order here than when it set a radius, so a point on a
    # boundary can land an ulp outside: widen each closed ball by far more than round-off.
    real_squared_radii = real_squared_radii * (1.0 + _BOUNDARY_RELATIVE_TOLERANCE)
    if generated_squared_radii is not None:
        generated_squared_radii = generated_squared_radii * (1.0 + _BOUNDARY_RELATIVE_TOLERANCE)
    real_balls_per_generated = np.empty(len(generated), dtype=np.int64)
    real_ball_reached = np.zeros(len(real), dtype=bool)
    real_in_generated = None if generated_squared_radii is None else np.zeros(len(real), bool)
    for row_slice, block in _squared_distance_blocks(generated, real):  # (rows of Y, N)
        inside_real_balls = block <= real_squared_radii[None, :]
        real_balls_per_generated[row_slice] = inside_real_balls.sum(axis=1)
        real_ball_reached |= inside_real_balls.any(axis=0)
        if real_in_generated is not None:
            inside_generated_balls = block <= generated_squared_radii[row_slice, None]
            real_in_generated |= inside_generated_balls.any(axis=0)
    return _BallMemberships(real_balls_per_generated, real_ball_reached, real_in_generated)


def _validate_features(
    real_features: np.ndarray, generated_features: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return feature_pair(
        real_features, generated_features, ("real_features", "generated_features"), min_rows=1
    )


def _check_k(k: int, features: np.ndarray, name: str) -> None:
    if not isinstance(k, int | np.integer) or not 1 <= k < len(features):
        raise ValueError(
            f"k must be an integer in [1, N - 1] = [1, {len(features) - 1}] for the "
            f"{len(features)} points of {name}, got {k}: use a smaller k or more points"
        )
