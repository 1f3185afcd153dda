import numpy as np
import pytest

from gantrack.evaluation.scoring import (
    NetworkOutputs,
    build_reference,
    load_reference,
    quick_scorer,
    reference_file,
    save_reference,
    score_classes,
    score_generated,
)


def outputs(seed, num=200, shift=0.0, one_class=None):
    rng = np.random.default_rng(seed)
    labels = np.full(num, one_class) if one_class is not None else np.arange(num) % 10
    return NetworkOutputs(rng.standard_normal((num, 6)) + shift, np.eye(10)[labels])


@pytest.fixture
def reference():
    splits = {"train": outputs(0), "test": outputs(1, num=100)}
    return build_reference("evaluator", "test net", "train", splits, np.arange(200) % 10)


def test_reference_holds_yardsticks(reference):
    assert 0 < reference.fid_train_test < 1.0  # two samples of one distribution
    np.testing.assert_allclose(reference.mean, reference.features.mean(axis=0))
    assert len(reference) == 200


def test_reference_round_trips_through_npz(reference, tmp_path):
    path = reference_file(tmp_path, "evaluator")
    assert path == tmp_path / "evaluator.npz"
    save_reference(path, reference)
    loaded = load_reference(path)
    assert loaded.label == "test net" and loaded.split == "train"
    assert loaded.fid_train_test == reference.fid_train_test
    np.testing.assert_array_equal(loaded.covariance, reference.covariance)


def test_score_generated_reports_every_metric(reference, params):
    config = params.evaluate.model_copy(
        update={"splits": 5, "fid_bootstrap_resamples": 20, "kid_subset_size": 100}
    )
    collapsed = outputs(2, shift=3.0, one_class=4)
    metrics = score_generated(collapsed, reference, config)
    assert metrics["network"] == "test net"
    assert metrics["inception_score"] == pytest.approx(1.0)  # one class only
    assert metrics["real_inception_score"] == pytest.approx(10.0)
    assert metrics["fid"] > 6 * 3.0**2 * 0.9  # the mean shift dominates
    assert metrics["fid_ci_low"] <= metrics["fid_ci_high"]
    assert metrics["kid"] > 10 * metrics["kid_std"]
    assert metrics["precision"] == 0.0 and metrics["coverage"] == 0.0  # far from the data
    assert metrics["num_images"] == 200 and metrics["num_reference_images"] == 200
    same = score_generated(outputs(3), reference, config)
    assert same["fid"] < metrics["fid"] / 50 and same["precision"] > 0.5


def test_no_bootstrap_gives_null_interval(reference, params):
    config = params.evaluate.model_copy(update={"splits": 5, "fid_bootstrap_resamples": 0})
    metrics = score_generated(outputs(3), reference, config)
    assert metrics["fid_ci_low"] is None and metrics["fid_ci_high"] is None


def test_score_classes_detects_collapse(reference):
    stats = score_classes(outputs(2, one_class=4), reference, threshold=0.01)
    assert stats["classes_covered"] == 1
    assert stats["class_kl"] == pytest.approx(np.log(10))


def test_quick_scorer_gives_fid_and_kid(reference):
    scores = quick_scorer(reference, kid_subsets=3, kid_subset_size=50, seed=0)(outputs(5))
    assert set(scores) == {"fid", "kid", "kid_std"} and scores["fid"] < 1.0
