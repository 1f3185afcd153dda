import numpy as np
import pytest
from support.images import quadrant_images

from gantrack.evaluation.feature_networks.base import NetworkOutputs
from gantrack.evaluation.in_training import quick_scorer
from gantrack.evaluation.reference import (
    build_reference,
    load_reference,
    reference_file,
    save_reference,
)
from gantrack.evaluation.scoring import (
    describe_reference,
    headline_first,
    score_as_training_data,
    score_classes,
    score_data_copying,
    score_generated,
)
from gantrack.metric_table import HEADLINE


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
    np.testing.assert_array_equal(loaded.held_out_features, reference.held_out_features)


def test_reference_keeps_both_splits_features():
    splits = {"train": outputs(0), "test": outputs(1, num=100)}
    for split, other in (("train", "test"), ("test", "train")):
        reference = build_reference("evaluator", "n", split, splits, np.arange(200) % 10)
        np.testing.assert_array_equal(reference.split_features(split), splits[split].features)
        np.testing.assert_array_equal(reference.split_features(other), splits[other].features)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        reference.split_features("validation")


def test_score_generated_reports_every_metric(reference, params):
    config = params.evaluate.model_copy(
        update={"splits": 5, "fid_bootstrap_resamples": 20, "kid_subset_size": 100}
    )
    collapsed = outputs(2, shift=3.0, one_class=4)
    metrics = score_generated(collapsed, reference, config)
    # Numbers only: a string or a list would become a `dvc exp show` column.
    assert all(value is None or isinstance(value, int | float) for value in metrics.values())
    assert describe_reference(reference)["network"] == "test net"
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
    stats, histograms = score_classes(outputs(2, one_class=4), reference, threshold=0.01)
    assert stats["classes_covered"] == 1
    assert stats["class_kl"] == pytest.approx(np.log(10))
    assert "samples_per_class" not in stats  # per-class counts are details, not metrics
    assert histograms["samples_per_class"] == [0, 0, 0, 0, 200, 0, 0, 0, 0, 0]
    assert histograms["real_per_class"] == [20] * 10


def test_headline_metrics_lead_in_their_order():
    metrics = {"density": 1.0, "kid": 2.0, "num_images": 3, "fid": 4.0, "recall": 5.0}
    ordered = headline_first(metrics)
    assert list(ordered) == ["fid", "kid", "recall", "density", "num_images"]
    assert ordered == metrics
    assert HEADLINE[:3] == ("fid", "inception_score", "kid")


def test_data_copying_of_training_features_reads_as_copying(reference):
    copied = NetworkOutputs(reference.split_features("train")[:150], np.eye(10)[np.zeros(150, int)])
    metrics, details = score_data_copying(copied, reference, num_cells=2, seed=0)
    assert metrics["data_copying_ct"] < -3
    assert details["closest_pairs"][0]["distance"] == 0.0
    assert details["closest_pairs"][0]["sample"] == details["closest_pairs"][0]["train"]
    fresh = outputs(7, num=150)
    metrics, details = score_data_copying(fresh, reference, num_cells=2, seed=0)
    assert abs(metrics["data_copying_ct"]) < 3


def test_data_copying_without_a_qualifying_cell_is_absent(reference):
    few = outputs(7, num=5)  # fewer samples than any cell needs
    metrics, details = score_data_copying(few, reference, num_cells=2, seed=0)
    assert metrics == {} and details["data_copying_ct"] is None and details["cells_used"] == 0


@pytest.mark.parametrize(
    ("labels", "reason"),
    [(None, "unconditional"), (np.full(40, 3), "all of class 3")],
)
def test_classification_accuracy_score_is_absent_without_classes(params, labels, reason):
    samples = {"images": np.zeros((40, 28, 28, 1), np.float32)}
    if labels is not None:
        samples["labels"] = labels
    report = {"test_accuracy": 0.97, "num_train_images": 40}
    metrics, details = score_as_training_data(
        samples, samples["images"], np.zeros(40, int), report, params.evaluator, 0
    )
    assert metrics == {"real_data_accuracy": 0.97}
    assert reason in details["absent"]


def test_classification_accuracy_score_covers_a_class_the_samples_lack(params):
    """Samples of classes 0-2 only, a test split of 0-3: the classifier still has four
    outputs, so the class-3 test images count as wrong (accuracy 3/4), not as an error."""
    rng = np.random.default_rng(0)
    labels, test_labels = np.arange(96) % 3, np.arange(64) % 4
    images, test_images = quadrant_images(labels, rng), quadrant_images(test_labels, rng)
    report = {"test_accuracy": 0.97, "num_train_images": 96}
    config = params.evaluator.model_copy(update={"epochs": 8, "batch_size": 16, "augment": False})
    metrics, details = score_as_training_data(
        {"images": images, "labels": labels}, test_images, test_labels, report, config, 0
    )
    assert 0.7 <= metrics["classification_accuracy_score"] <= 0.75
    assert details == {"num_training_samples": 96}


def test_quick_scorer_gives_fid_and_kid(reference):
    scores = quick_scorer(reference, kid_subsets=3, kid_subset_size=50, seed=0)(outputs(5))
    assert set(scores) == {"fid", "kid", "kid_std"} and scores["fid"] < 1.0
