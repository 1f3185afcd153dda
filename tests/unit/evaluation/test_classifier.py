import numpy as np

from gantrack.evaluation.classifier import build_evaluator, feature_extractor, train_evaluator


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
