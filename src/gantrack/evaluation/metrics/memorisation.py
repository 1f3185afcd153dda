"""Memorisation: do generated samples copy the training set?

The data-copying test of Meehan, Chaudhuri & Dasgupta 2020, "A Non-Parametric Test to
Detect Data-Copying in Generative Models" (AISTATS 2020), in feature space. It needs three
sets of features: T, the N training points the generator learnt from; Pₙ, n held-out real
points from the same distribution that the generator never saw; and Q_m, m generated ones.

Each point x gets L(x) = min_{t ∈ T} ‖x − t‖, its Euclidean distance to the nearest
training point. A generator that copies puts its samples closer to T than fresh real
data lie, so L(Q) tends to be smaller than L(P). The feature space is cut into k cells π
by k-means on T (each test and generated point belongs to its nearest centre), and the
two sets of distances are compared inside each cell with the Mann–Whitney U statistic:

    U(π)   = Σ_{q ∈ Q_π} Σ_{p ∈ P_π} [1(L(q) > L(p)) + ½ · 1(L(q) = L(p))]
    Z_U(π) = (U(π) − m_π n_π / 2) / sqrt(m_π n_π (m_π + n_π + 1) / 12)
    C_T    = Σ_π Pₙ(π) Z_U(π) / Σ_π Pₙ(π)     over the cells with n_π, m_π ≥ min_cell_size

where m_π and n_π count the generated and test points in π and Pₙ(π) = n_π / n is the
share of test points in π. U is computed from ranks of the pooled distances (average
ranks for ties), U = R_Q − m(m + 1)/2, not from the m·n pairs. No tie correction is
applied to the standard deviation: ties are rare for continuous features, and where they
happen (every exact copy has L = 0) the uncorrected deviation is slightly too large, so
|Z_U| is slightly understated: the test stays conservative.

Reading C_T: it is a weighted mean of z-scores, approximately normal under "no copying"
with a standard deviation of at most 1 (about 1/√k for k cells of equal weight).

    C_T ≪ 0 (Meehan et al. flag C_T < −3)  samples sit closer to the training images
                                           than held-out real images do: data copying
    C_T ≈ 0                                no evidence of copying
    C_T > 0                                samples are farther from the training set than
                                           held-out real data (under-fitting, off-manifold)

C_T does not measure quality: a generator of noise far from the data scores C_T > 0, not
"good". Comparing within cells is the point of the test: a generator that only draws
from dense regions has small L everywhere without copying anything, and the cells
compare it with real points from the same dense regions.

Cells with fewer than ``min_cell_size`` test or generated points are skipped (the paper's
threshold τ): their U is too noisy and the normal approximation poor. When the generator
leaves most cells (nearly) empty, C_T speaks only for the cells it covers; ``cells_used``
says how many that was. When no cell qualifies, C_T is nan and callers should report it
as absent rather than as a number. Copying confined to a few cells is diluted by the
others in the weighted mean.

The second number, ``nearest_train_distance_ratio`` = median L(Q) / median L(P), is the
intuitive version without cells: < 1 means samples lie closer to the training set than
held-out real data (copying, or crowding into dense regions), ≈ 1 matches, > 1 farther.
It is nan when the median test distance is 0, i.e. when half the held-out set duplicates
training points, which means the split is broken.

Caveats: the test set must be held out from the generator's training and drawn from the
same distribution as T, or C_T measures the split, not the generator. Values depend on
the feature network, k and ``min_cell_size``; k-means is seeded, so results are
deterministic for a given ``seed``.

Distances: nearest training points are found in row blocks of at most
``_DISTANCE_BLOCK_BYTES`` (64 MiB) from ‖t‖² − 2qᵀt (exact brute force: k-d trees do not
help in 128 dimensions), then the chosen distance is recomputed as ‖q − t‖ directly, so
a copied point reads exactly 0.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from scipy.cluster.vq import kmeans2, vq
from scipy.stats import rankdata

from gantrack.evaluation.metrics._features import feature_pair

_DISTANCE_BLOCK_BYTES = 64 * 2**20


class DataCopying(TypedDict):
    data_copying_ct: float  # C_T; nan if no cell qualifies
    cells_used: int  # cells with >= min_cell_size test AND generated points
    nearest_train_distance_ratio: float  # median L(generated) / median L(test)
    # (generated index, training index, distance): the num_pairs smallest, ascending
    closest_pairs: list[tuple[int, int, float]]


def data_copying(
    train_features: np.ndarray,
    test_features: np.ndarray,
    generated_features: np.ndarray,
    num_cells: int = 20,
    min_cell_size: int = 20,
    seed: int = 0,
    num_pairs: int = 8,
) -> DataCopying:
    """Meehan et al.'s C_T and the nearest-training-distance ratio of generated features.

    ``train_features`` is ``(N, d)`` with N >= ``num_cells``, ``test_features`` ``(n, d)``
    held-out real points, ``generated_features`` ``(m, d)``. ``closest_pairs`` lists the
    ``num_pairs`` generated points nearest to the training set (ties by generated index):
    the candidates to look at for copies.
    """
    train, test, generated = _validate_features(train_features, test_features, generated_features)
    _check_parameters(num_cells, min_cell_size, num_pairs, len(train))
    test_distances, _ = _nearest_training_points(train, test)
    generated_distances, generated_nearest = _nearest_training_points(train, generated)
    centres = _training_cell_centres(train, num_cells, seed)
    test_cells, _ = vq(test, centres)
    generated_cells, _ = vq(generated, centres)
    copying_ct, cells_used = _weighted_cell_z(
        test_cells, test_distances, generated_cells, generated_distances, num_cells, min_cell_size
    )
    # Stable, so equal distances (several exact copies) are listed by generated index.
    closest = np.argsort(generated_distances, kind="stable")[:num_pairs]
    return {
        "data_copying_ct": copying_ct,
        "cells_used": cells_used,
        "nearest_train_distance_ratio": _median_ratio(generated_distances, test_distances),
        "closest_pairs": [
            (int(j), int(generated_nearest[j]), float(generated_distances[j])) for j in closest
        ],
    }


def mann_whitney_z(generated_distances: np.ndarray, test_distances: np.ndarray) -> float:
    """Z_U of one cell: (U − mn/2) / sqrt(mn(m + n + 1)/12), without tie correction.

    U counts the (generated, test) pairs where the generated distance is larger, ties ½;
    negative Z means the generated distances are the smaller ones.
    """
    generated = _distances(generated_distances, "generated_distances")
    test = _distances(test_distances, "test_distances")
    m, n = len(generated), len(test)
    # Average ranks give a tie ½ on each side, so the rank sum of the generated points,
    # less the m(m + 1)/2 it has when they all rank first, is U: O((m + n) log(m + n)).
    ranks = rankdata(np.concatenate([generated, test]))
    u = ranks[:m].sum() - m * (m + 1) / 2
    return float((u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12))


def _nearest_training_points(
    train: np.ndarray, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(M,)`` distance from each query to its nearest training point, and ``(M,)`` its index."""
    train_norms = np.einsum("ij,ij->i", train, train)
    block_rows = max(1, _DISTANCE_BLOCK_BYTES // (8 * len(train)))
    distances = np.empty(len(queries))
    nearest = np.empty(len(queries), dtype=np.intp)
    for start in range(0, len(queries), block_rows):
        rows = queries[start : start + block_rows]
        # ‖q − t‖² = ‖q‖² + ‖t‖² − 2qᵀt, and ‖q‖² is the same along a row: argmin needs
        # only ‖t‖² − 2qᵀt. In place, so a block costs one (block_rows, N) buffer.
        block = rows @ train.T
        block *= -2.0
        block += train_norms[None, :]
        nearest_in_block = block.argmin(axis=1)
        nearest[start : start + len(rows)] = nearest_in_block
        # The expansion loses about ε‖q‖² to cancellation; the direct difference does not,
        # so an exact copy of a training point reads 0, not a round-off residue.
        distances[start : start + len(rows)] = np.linalg.norm(
            rows - train[nearest_in_block], axis=1
        )
    return distances, nearest


def _training_cell_centres(train: np.ndarray, num_cells: int, seed: int) -> np.ndarray:
    """``(num_cells, d)`` k-means centres of the training features, deterministic in ``seed``."""
    # seed=, not rng=: rng arrived in SciPy 1.15 and the project supports 1.11; a Generator
    # passed as seed is used as is. An empty cluster only warns: its cell holds no test
    # points, so it is skipped like any other cell that is too small.
    centres, _ = kmeans2(train, num_cells, minit="++", seed=np.random.default_rng(seed))
    return centres


def _weighted_cell_z(
    test_cells: np.ndarray,
    test_distances: np.ndarray,
    generated_cells: np.ndarray,
    generated_distances: np.ndarray,
    num_cells: int,
    min_cell_size: int,
) -> tuple[float, int]:
    """(C_T, number of cells used): Z_U averaged over qualifying cells, weighted by n_π."""
    weighted_z_sum = 0.0
    test_points_used = 0
    cells_used = 0
    for cell in range(num_cells):
        test_in_cell = test_distances[test_cells == cell]
        generated_in_cell = generated_distances[generated_cells == cell]
        if min(len(test_in_cell), len(generated_in_cell)) < min_cell_size:
            continue  # the paper's τ: too few points for U's normal approximation
        # Pₙ(π) = n_π / n; the 1/n cancels between numerator and denominator.
        weighted_z_sum += len(test_in_cell) * mann_whitney_z(generated_in_cell, test_in_cell)
        test_points_used += len(test_in_cell)
        cells_used += 1
    if not cells_used:
        return float("nan"), 0
    return weighted_z_sum / test_points_used, cells_used


def _median_ratio(generated_distances: np.ndarray, test_distances: np.ndarray) -> float:
    test_median = float(np.median(test_distances))
    if test_median == 0.0:
        return float("nan")  # half the held-out set duplicates training points
    return float(np.median(generated_distances)) / test_median


def _validate_features(
    train_features: np.ndarray, test_features: np.ndarray, generated_features: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    train, test = feature_pair(
        train_features, test_features, ("train_features", "test_features"), min_rows=1
    )
    _, generated = feature_pair(
        train, generated_features, ("train_features", "generated_features"), min_rows=1
    )
    for name, features in (
        ("train_features", train),
        ("test_features", test),
        ("generated_features", generated),
    ):
        if not np.all(np.isfinite(features)):
            raise ValueError(f"{name} contain NaN or inf: drop or fix those rows first")
    return train, test, generated


def _check_parameters(
    num_cells: int, min_cell_size: int, num_pairs: int, num_train_points: int
) -> None:
    if not isinstance(num_cells, int | np.integer) or num_cells < 1:
        raise ValueError(f"num_cells must be an integer >= 1, e.g. 20, got {num_cells}")
    if num_train_points < num_cells:
        raise ValueError(
            f"k-means needs at least num_cells={num_cells} training points, got "
            f"{num_train_points}: use fewer cells or more training features"
        )
    if not isinstance(min_cell_size, int | np.integer) or min_cell_size < 1:
        raise ValueError(
            f"min_cell_size must be an integer >= 1, e.g. 20, got {min_cell_size}: it is the "
            "fewest test and generated points a cell needs to be scored"
        )
    if not isinstance(num_pairs, int | np.integer) or num_pairs < 0:
        raise ValueError(f"num_pairs must be an integer >= 0, got {num_pairs}")


def _distances(values: np.ndarray, name: str) -> np.ndarray:
    distances = np.asarray(values, dtype=np.float64)
    if distances.ndim != 1 or not distances.size or not np.all(np.isfinite(distances)):
        raise ValueError(
            f"expected {name} as finite (K >= 1,) distances, got shape {distances.shape}"
        )
    return distances
