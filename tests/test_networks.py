import numpy as np
import pytest

from gantrack.networks import build_discriminator, build_generator


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
