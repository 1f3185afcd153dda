import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import mannwhitneyu, norm

from gantrack.evaluation.metrics import memorisation
from gantrack.evaluation.metrics.memorisation import data_copying, mann_whitney_z

DIMENSIONS = 16
MIXTURE_MEANS = 4.0 * np.random.default_rng(123).standard_normal((5, DIMENSIONS))


def mixture(rng, size, scale=1.0):
    """A five-component Gaussian mixture in 16-d; ``scale`` widens every component."""
    components = rng.integers(0, len(MIXTURE_MEANS), size)
    return MIXTURE_MEANS[components] + scale * rng.standard_normal((size, DIMENSIONS))


def train_and_test(seed):
    rng = np.random.default_rng(seed)
    return rng, mixture(rng, 3000), mixture(rng, 2000)


def u_from_z(z, m, n):
    """Invert Z_U = (U − mn/2) / sqrt(mn(m + n + 1)/12) to compare with scipy's U."""
    return z * math.sqrt(m * n * (m + n + 1) / 12) + m * n / 2


def test_training_set_scored_as_samples_reads_as_copying():
    _, train, test = train_and_test(0)
    result = data_copying(train, test, train, num_cells=10)
    # Every generated distance is 0 and every test distance positive: U = 0 in each cell,
    # so Z_U = −sqrt(3mn/(m + n + 1)), about −19 with ~300 fakes and ~200 reals per cell.
    assert result["data_copying_ct"] < -10
    assert result["cells_used"] == 10
    assert result["nearest_train_distance_ratio"] == 0.0
    # All distances tie at 0: the pairs come in generated-index order, each its own copy.
    assert result["closest_pairs"] == [(i, i, 0.0) for i in range(8)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fresh_sample_from_the_training_distribution_reads_as_no_copying(seed):
    # Under "no copying" C_T is roughly normal with standard deviation ≈ 1/√10 here: |C_T| < 3
    # is a wide margin, and the seeds check it does not hinge on one draw.
    rng, train, test = train_and_test(seed)
    result = data_copying(train, test, mixture(rng, 2000), num_cells=10, seed=seed)
    assert abs(result["data_copying_ct"]) < 3
    assert result["cells_used"] == 10
    assert result["nearest_train_distance_ratio"] == pytest.approx(1.0, abs=0.05)


def test_training_points_plus_tiny_noise_read_as_copying():
    rng, train, test = train_and_test(3)
    sources = rng.integers(0, len(train), 2000)
    noisy = train[sources] + 0.05 * rng.standard_normal((2000, DIMENSIONS))
    result = data_copying(train, test, noisy, num_cells=10)
    assert result["data_copying_ct"] < -3
    assert result["nearest_train_distance_ratio"] < 0.2
    # The closest fakes are found next to the training points they were copied from.
    for generated_index, train_index, distance in result["closest_pairs"]:
        assert train_index == sources[generated_index]
        offset = noisy[generated_index] - train[train_index]
        assert distance == pytest.approx(np.linalg.norm(offset))
    distances = [distance for _, _, distance in result["closest_pairs"]]
    assert distances == sorted(distances)


def test_a_three_times_wider_distribution_reads_as_under_fitting():
    rng, train, test = train_and_test(4)
    result = data_copying(train, test, mixture(rng, 2000, scale=3.0), num_cells=10)
    assert result["data_copying_ct"] > 3
    assert result["nearest_train_distance_ratio"] > 1.5


def test_mann_whitney_z_matches_scipy_and_the_pair_count():
    rng = np.random.default_rng(5)
    generated, test = rng.exponential(1.0, 70), rng.exponential(1.3, 50)
    z = mann_whitney_z(generated, test)
    reference = mannwhitneyu(generated, test, method="asymptotic", use_continuity=False)
    assert u_from_z(z, 70, 50) == pytest.approx(reference.statistic, rel=1e-12)
    # No ties, so scipy's tie-corrected z equals ours: the two-sided p-values agree.
    assert 2 * norm.sf(abs(z)) == pytest.approx(reference.pvalue, rel=1e-9)
    assert z < 0  # the generated distances are the smaller ones


def test_mann_whitney_z_counts_ties_as_half():
    rng = np.random.default_rng(6)
    generated, test = rng.integers(0, 4, 40).astype(float), rng.integers(0, 5, 30).astype(float)
    u = u_from_z(mann_whitney_z(generated, test), 40, 30)
    pairs = np.sum(generated[:, None] > test[None, :]) + 0.5 * np.sum(generated[:, None] == test)
    assert u == pytest.approx(pairs, rel=1e-12)
    reference = mannwhitneyu(generated, test, method="asymptotic", use_continuity=False)
    assert u == pytest.approx(reference.statistic, rel=1e-12)


def two_blobs(rng, near_size, far_size, scale=1.0):
    """Points around 0 and around 100·e₁ in 4-d: k-means with 2 cells splits them exactly."""
    points = scale * rng.standard_normal((near_size + far_size, 4))
    points[near_size:, 0] += 100.0
    return points


def brute_force_cell_z(train, test, generated, near_test, near_generated):
    """Z_U of each blob from cdist distances and scipy's U, as (near, far)."""
    test_distances = cdist(test, train).min(axis=1)
    generated_distances = cdist(generated, train).min(axis=1)
    cells = [
        (generated_distances[:near_generated], test_distances[:near_test]),
        (generated_distances[near_generated:], test_distances[near_test:]),
    ]
    z_scores = []
    for generated_in_cell, test_in_cell in cells:
        m, n = len(generated_in_cell), len(test_in_cell)
        u = mannwhitneyu(generated_in_cell, test_in_cell, use_continuity=False).statistic
        z_scores.append((u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12))
    return z_scores


def test_c_t_is_the_test_share_weighted_mean_of_the_cell_z_scores():
    # 300 test points near 0 and 100 far: Pₙ = 3/4 and 1/4, unlike a plain mean of the two.
    rng = np.random.default_rng(7)
    train, test = two_blobs(rng, 400, 400), two_blobs(rng, 300, 100)
    generated = np.concatenate([two_blobs(rng, 150, 0, scale=0.8), two_blobs(rng, 0, 120, 1.3)])
    near_z, far_z = brute_force_cell_z(train, test, generated, 300, 150)
    result = data_copying(train, test, generated, num_cells=2)
    assert result["cells_used"] == 2
    assert result["data_copying_ct"] == pytest.approx(0.75 * near_z + 0.25 * far_z, rel=1e-9)


def test_cells_with_too_few_generated_points_are_skipped():
    # Only 10 fakes land in the far cell, under min_cell_size = 20: C_T is the near cell's Z.
    rng = np.random.default_rng(8)
    train, test = two_blobs(rng, 400, 400), two_blobs(rng, 300, 100)
    generated = np.concatenate([two_blobs(rng, 150, 0, scale=0.8), two_blobs(rng, 0, 10, 1.3)])
    near_z, _ = brute_force_cell_z(train, test, generated, 300, 150)
    result = data_copying(train, test, generated, num_cells=2, min_cell_size=20)
    assert result["cells_used"] == 1
    assert result["data_copying_ct"] == pytest.approx(near_z, rel=1e-9)


def test_no_qualifying_cell_gives_nan_and_zero_cells():
    # 50 test points cannot fill a cell of 60: C_T is absent, the ratio and pairs are not.
    rng, train, _ = train_and_test(9)
    result = data_copying(train, mixture(rng, 50), mixture(rng, 500), min_cell_size=60)
    assert math.isnan(result["data_copying_ct"])
    assert result["cells_used"] == 0
    assert result["nearest_train_distance_ratio"] == pytest.approx(1.0, abs=0.3)
    assert len(result["closest_pairs"]) == 8


def test_closest_pairs_list_exact_copies_by_generated_index():
    # Copies at the odd indices among fresh samples: an unstable sort scrambles the tied 0s.
    rng, train, test = train_and_test(12)
    generated = mixture(rng, 6000)
    generated[1::2] = train
    result = data_copying(train, test, generated, num_cells=10)
    assert result["closest_pairs"] == [(2 * i + 1, i, 0.0) for i in range(8)]
    assert result["data_copying_ct"] < -3  # half the samples copied is still copying


def test_results_are_deterministic_and_num_pairs_is_capped():
    rng, train, test = train_and_test(10)
    generated = mixture(rng, 300)
    first = data_copying(train, test, generated, seed=3, num_pairs=500)
    assert first == data_copying(train, test, generated, seed=3, num_pairs=500)
    assert len(first["closest_pairs"]) == 300  # every generated point, no more
    assert data_copying(train, test, generated, num_pairs=0)["closest_pairs"] == []


@pytest.mark.parametrize("block_bytes", [1, 8 * 50 * 7, memorisation._DISTANCE_BLOCK_BYTES])
def test_nearest_training_points_match_brute_force(monkeypatch, block_bytes):
    monkeypatch.setattr(memorisation, "_DISTANCE_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(11)
    train, queries = rng.standard_normal((50, 6)), rng.standard_normal((33, 6)) * 1.5
    queries[:3] = train[[4, 17, 4]]  # exact copies read exactly 0
    distances, nearest = memorisation._nearest_training_points(train, queries)
    reference = cdist(queries, train)
    np.testing.assert_array_equal(nearest, reference.argmin(axis=1))
    np.testing.assert_allclose(distances, reference.min(axis=1), rtol=1e-12)
    assert distances[:3].tolist() == [0.0, 0.0, 0.0]


def test_inputs_are_validated():
    train, test, generated = np.zeros((30, 4)), np.zeros((10, 4)), np.zeros((10, 4))
    with pytest.raises(ValueError, match="train_features have d=4 and test_features d=3"):
        data_copying(train, np.zeros((10, 3)), generated)
    with pytest.raises(ValueError, match="train_features have d=4 and generated_features d=5"):
        data_copying(train, test, np.zeros((10, 5)))
    with pytest.raises(ValueError, match="expected generated_features of shape"):
        data_copying(train, test, np.zeros(4))
    with pytest.raises(ValueError, match="at least num_cells=40 training points, got 30"):
        data_copying(train, test, generated, num_cells=40)
    with pytest.raises(ValueError, match="num_cells must be an integer >= 1"):
        data_copying(train, test, generated, num_cells=0)
    with pytest.raises(ValueError, match="min_cell_size must be an integer >= 1"):
        data_copying(train, test, generated, min_cell_size=0)
    with pytest.raises(ValueError, match="num_pairs must be an integer >= 0"):
        data_copying(train, test, generated, num_pairs=-1)
    with pytest.raises(ValueError, match="test_features contain NaN or inf"):
        data_copying(train, np.full((10, 4), np.nan), generated)
    with pytest.raises(ValueError, match="expected test_distances as finite"):
        mann_whitney_z(np.ones(3), np.array([]))
