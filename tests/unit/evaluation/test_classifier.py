import numpy as np
import pytest
from support.images import quadrant_images

from gantrack.evaluation.classifier import classification_accuracy_score, train_evaluator
from gantrack.evaluation.evaluator import build_evaluator, feature_extractor


def test_evaluator_is_inception_style_and_exposes_features():
    evaluator = build_evaluator((28, 28, 1), num_classes=10, feature_dim=32)
    concatenations = [layer for layer in evaluator.layers if type(layer).__name__ == "Concatenate"]
    assert len(concatenations) == 3  # three inception modules
    features, probabilities = feature_extractor(evaluator).predict(
        np.zeros((4, 28, 28, 1), np.float32), verbose=0
    )
    assert features.shape == (4, 32) and probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_train_evaluator_learns_a_trivial_task(params):
    # Two classes told apart by brightness; 40 steps let the BatchNorm statistics settle.
    rng = np.random.default_rng(0)
    labels = np.arange(64) % 2
    images = labels[:, None, None, None] * 1.6 - 0.8 + rng.normal(0, 0.1, (64, 28, 28, 1))
    config = params.evaluator.model_copy(update={"epochs": 10, "batch_size": 16, "augment": False})
    evaluator = train_evaluator(images.astype(np.float32), labels, 2, config, 0, [], verbose=0)
    probabilities = evaluator.predict(images.astype(np.float32), verbose=0)
    assert probabilities.shape == (64, 2)
    assert (probabilities.argmax(axis=1) == labels).mean() > 0.9


def test_classification_accuracy_score_knows_right_from_wrong_labels(params):
    """Samples that match their labels teach the classes; the same samples with labels
    unrelated to them teach nothing: chance (1/4) on the real test set."""
    rng = np.random.default_rng(0)
    labels, test_labels = np.arange(96) % 4, np.arange(64) % 4
    images, test_images = quadrant_images(labels, rng), quadrant_images(test_labels, rng)
    config = params.evaluator.model_copy(update={"epochs": 8, "batch_size": 16, "augment": False})
    right = classification_accuracy_score(images, labels, test_images, test_labels, 4, config, 0)
    wrong = classification_accuracy_score(
        images, rng.permutation(labels), test_images, test_labels, 4, config, 0
    )
    assert right > 0.9
    assert wrong < 0.5


def test_classification_accuracy_score_needs_two_classes(params):
    images = np.zeros((8, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match=r"sample\.label: null"):
        classification_accuracy_score(
            images, np.ones(8, int), images, np.ones(8, int), 4, params.evaluator, 0
        )
    with pytest.raises(ValueError, match="8 generated images but 7 labels"):
        classification_accuracy_score(
            images, np.ones(7, int), images, np.ones(8, int), 4, params.evaluator, 0
        )
