import numpy as np
import pytest
from scipy.spatial.distance import cdist

from gantrack.evaluation.metrics import manifold
from gantrack.evaluation.metrics.manifold import density_coverage, precision_recall


def on_a_line(*positions):
    """Points (x, 0, 0): integer coordinates, so every squared distance is exact."""
    points = np.zeros((len(positions), 3))
    points[:, 0] = positions
    return points


REAL_LINE = on_a_line(*range(0, 20, 2))  # 0, 2, ..., 18: nearest neighbours 2 apart
GENERATED_LINE = on_a_line(1, 3, 50, 52)  # half near the real points, half far away


def brute_force_metrics(real, generated, k):
    """Precision, recall, density, coverage from full cdist matrices and sorted rows."""
    real_radii = np.sort(cdist(real, real), axis=1)[:, k]  # column 0 is the point itself
    generated_radii = np.sort(cdist(generated, generated), axis=1)[:, k]
    distances = cdist(real, generated)  # (N, M)
    in_real_ball = distances <= real_radii[:, None]
    in_generated_ball = distances <= generated_radii[None, :]
    return {
        "precision": in_real_ball.any(axis=0).mean(),
        "recall": in_generated_ball.any(axis=1).mean(),
        "density": in_real_ball.sum() / (k * len(generated)),
        "coverage": in_real_ball.any(axis=1).mean(),
    }


def test_precision_and_recall_on_a_line():
    # Real radii (k=1) are 2: fakes 1 and 3 are inside, 50 and 52 are not.
    # Fake radii are 2 too: balls [-1, 3] and [1, 5] hold the reals 0, 2, 4 (3 of 10).
    precision, recall = precision_recall(REAL_LINE, GENERATED_LINE, k=1)
    assert precision == pytest.approx(0.5)
    assert recall == pytest.approx(0.3)


def test_density_and_coverage_on_a_line():
    # k=2: the end points 0 and 18 have radius 4, the others 2. Fake 1 lies in the balls
    # of 0 and 2, fake 3 in those of 0, 2 and 4: (2 + 3) / (k·M = 8); balls reached 3/10.
    density, coverage = density_coverage(REAL_LINE, GENERATED_LINE, k=2)
    assert density == pytest.approx(5 / 8)
    assert coverage == pytest.approx(0.3)


def test_one_generated_outlier_inflates_recall_but_not_coverage():
    # The fake at 100 has radius 99 (to its neighbour at 1): its ball swallows every real
    # point, so recall is 1 although the fakes sit near 0 only. Coverage uses real balls.
    generated = on_a_line(0, 1, 100)
    precision, recall = precision_recall(REAL_LINE, generated, k=1)
    assert precision == pytest.approx(2 / 3) and recall == pytest.approx(1.0)
    _, coverage = density_coverage(REAL_LINE, generated, k=1)
    assert coverage == pytest.approx(2 / 10)  # the balls of 0 and 2


def test_balls_are_closed():
    # Real radii (k=1) are 2: the fake at 6 lies exactly on the boundary of 4's ball.
    precision, _ = precision_recall(on_a_line(0, 2, 4), on_a_line(6, 7), k=1)
    assert precision == pytest.approx(0.5)


@pytest.mark.parametrize("block_bytes", [8 * 100 * 7, manifold._DISTANCE_BLOCK_BYTES])
def test_identical_sets(monkeypatch, block_bytes):
    # Each point is in its own ball and in the balls of the k points that have it among
    # their k nearest neighbours: N (1 + k) memberships, so density = (k + 1) / k exactly.
    # Those k neighbours lie exactly on a boundary, whichever way the distances are blocked.
    monkeypatch.setattr(manifold, "_DISTANCE_BLOCK_BYTES", block_bytes)
    features = np.random.default_rng(0).standard_normal((100, 8))
    assert precision_recall(features, features, k=3) == (1.0, 1.0)
    density, coverage = density_coverage(features, features, k=5)
    assert density == pytest.approx(6 / 5) and coverage == 1.0


def test_density_and_coverage_of_one_distribution_match_their_expectations():
    # Naeem et al.: for fakes from the real distribution E[density] = 1 and, with M = N,
    # E[coverage] ≈ 1 − 2⁻ᵏ.
    rng = np.random.default_rng(1)
    real, generated = rng.standard_normal((2, 1000, 4))
    density, coverage = density_coverage(real, generated, k=5)
    assert density == pytest.approx(1.0, abs=0.08)
    assert coverage == pytest.approx(1 - 2**-5, abs=0.03)


@pytest.mark.parametrize("block_bytes", [1, 8 * 60 * 7, manifold._DISTANCE_BLOCK_BYTES])
def test_blocked_computation_matches_brute_force(monkeypatch, block_bytes):
    monkeypatch.setattr(manifold, "_DISTANCE_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(2)
    real = rng.standard_normal((60, 5))
    generated = rng.standard_normal((45, 5)) * 1.3 + 0.4
    expected = brute_force_metrics(real, generated, k=3)
    assert precision_recall(real, generated, k=3) == pytest.approx(
        (expected["precision"], expected["recall"])
    )
    assert density_coverage(real, generated, k=3) == pytest.approx(
        (expected["density"], expected["coverage"])
    )


def test_distance_blocks_stay_within_the_budget(monkeypatch):
    monkeypatch.setattr(manifold, "_DISTANCE_BLOCK_BYTES", 8 * 10 * 4)  # 4 rows of 10
    rng = np.random.default_rng(3)
    rows, columns = rng.standard_normal((25, 6)), rng.standard_normal((10, 6))
    assembled = np.empty((25, 10))
    for row_slice, block in manifold._squared_distance_blocks(rows, columns):
        assert block.shape[0] <= 4
        assembled[row_slice] = block
    np.testing.assert_allclose(assembled, cdist(rows, columns, "sqeuclidean"), atol=1e-12)


def test_k_is_validated():
    real, generated = np.zeros((5, 2)), np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, N - 1\] = \[1, 4\]"):
        precision_recall(real, generated, k=5)
    with pytest.raises(ValueError, match="points of generated_features"):
        precision_recall(real, generated, k=3)
    with pytest.raises(ValueError, match="k must be"):
        density_coverage(real, generated, k=0)
    # Density and coverage need no generated radii: fewer fakes than k is fine. All points
    # coincide, so the radii are 0 and each of the 3 fakes is in all 5 closed balls.
    assert density_coverage(real, generated, k=4) == (15 / (4 * 3), 1.0)


def test_shapes_are_validated():
    with pytest.raises(ValueError, match="same network layer"):
        precision_recall(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="expected real_features of shape"):
        density_coverage(np.zeros(5), np.zeros((5, 1)))
