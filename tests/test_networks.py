import numpy as np
import pytest

from gantrack.networks import (
    build_discriminator,
    build_evaluator,
    build_generator,
    feature_extractor,
)


def test_generator_maps_latent_to_images_in_tanh_range():
    generator = build_generator(latent_dim=16)
    latent = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32) * 10
    images = np.asarray(generator(latent, training=False))
    assert images.shape == (3, 28, 28, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0
    with pytest.raises(ValueError, match="28, 28, 1"):
        build_generator(16, (32, 32, 3))


def test_discriminator_returns_one_logit_per_image():
    logits = build_discriminator()(np.zeros((5, 28, 28, 1), np.float32), training=False)
    assert tuple(logits.shape) == (5, 1)


def test_evaluator_is_inception_style_and_exposes_features():
    evaluator = build_evaluator((28, 28, 1), num_classes=10, feature_dim=32)
    concatenations = [layer for layer in evaluator.layers if type(layer).__name__ == "Concatenate"]
    assert len(concatenations) == 3  # three inception modules
    features, probabilities = feature_extractor(evaluator).predict(
        np.zeros((4, 28, 28, 1), np.float32), verbose=0
    )
    assert features.shape == (4, 32) and probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
