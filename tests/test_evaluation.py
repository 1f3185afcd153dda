import numpy as np
import pytest

from gantrack.evaluation import NetworkOutputs, extract, frechet_between, score_generated
from gantrack.evaluator import build_evaluator, feature_extractor


def outputs(seed, num=200, shift=0.0, one_class=None):
    rng = np.random.default_rng(seed)
    labels = np.full(num, one_class) if one_class is not None else np.arange(num) % 10
    return NetworkOutputs(rng.standard_normal((num, 6)) + shift, np.eye(10)[labels])


def test_score_generated_reports_yardsticks():
    real_train, real_test = outputs(0), outputs(1, num=100)
    collapsed = outputs(2, shift=3.0, one_class=4)
    metrics = score_generated(collapsed, real_train, real_train, real_test, splits=5)
    assert metrics["inception_score"] == pytest.approx(1.0)  # one class only
    assert metrics["real_inception_score"] == pytest.approx(10.0)
    assert metrics["fid"] > 6 * 3.0**2 * 0.9  # the mean shift dominates
    assert metrics["fid_train_test"] < 1.0
    assert metrics["num_images"] == 200 and metrics["num_reference_images"] == 200


def test_frechet_between_identical_sets_is_zero():
    sample = outputs(0)
    assert frechet_between(sample, sample) == pytest.approx(0.0, abs=1e-9)


def test_extract_runs_network_in_batches():
    extractor = feature_extractor(build_evaluator((28, 28, 1), 10, feature_dim=16))
    result, images_per_second = extract(
        extractor, np.zeros((7, 28, 28, 1), np.float32), 3, verbose=0
    )
    assert result.features.shape == (7, 16) and result.probabilities.shape == (7, 10)
    assert result.features.dtype == np.float64 and images_per_second > 0
