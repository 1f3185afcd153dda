import numpy as np
import pytest

from gantrack.evaluation.metrics.inception_score import inception_score


def inception_score_by_formula(probabilities: np.ndarray) -> float:
    """exp(mean over rows of Σ_c p(c|x) log(p(c|x) / p(c))), written out independently."""
    marginal = probabilities.mean(axis=0)
    return float(np.exp(np.mean(np.sum(probabilities * np.log(probabilities / marginal), axis=1))))


def softmax_rows(rng, rows: int, classes: int) -> np.ndarray:
    logits = rng.standard_normal((rows, classes)) * 3
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


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
    probabilities = softmax_rows(np.random.default_rng(3), 40, 5)
    expected = inception_score_by_formula(probabilities)
    assert inception_score(probabilities, splits=1)[0] == pytest.approx(expected, rel=1e-10)


def test_inception_score_validates_input():
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(np.full((10, 3), 0.5), splits=2)
    with pytest.raises(ValueError, match="splits must be in"):
        inception_score(np.full((4, 2), 0.5), splits=5)


def test_inception_score_mean_and_std_over_several_splits_match_the_formula():
    # 43 rows in 4 splits: parts of 10 consecutive rows, the last 3 rows unused.
    probabilities = softmax_rows(np.random.default_rng(11), 43, 6)
    per_part = [inception_score_by_formula(probabilities[k * 10 : (k + 1) * 10]) for k in range(4)]
    assert np.std(per_part) > 0.05  # a non-trivial input: the parts differ
    mean, std = inception_score(probabilities, splits=4)
    assert mean == pytest.approx(np.mean(per_part), rel=1e-10)
    # The population standard deviation (ddof=0), as the Inception Score papers report.
    assert std == pytest.approx(
        np.sqrt(np.mean((np.array(per_part) - np.mean(per_part)) ** 2)), rel=1e-10
    )
