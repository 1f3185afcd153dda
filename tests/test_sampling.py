import numpy as np

from gantrack.networks import build_generator
from gantrack.sampling import generate_images, latent_vectors


def test_latent_vectors_are_seeded_standard_normal():
    first, second = latent_vectors(2000, 8, seed=1), latent_vectors(2000, 8, seed=1)
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32
    assert abs(first.mean()) < 0.05 and abs(first.std() - 1.0) < 0.05
    assert not np.array_equal(first, latent_vectors(2000, 8, seed=2))


def test_generate_images_is_reproducible():
    generator = build_generator(latent_dim=8)
    first = generate_images(generator, 7, seed=3, batch_size=4)
    assert first.shape == (7, 28, 28, 1)
    np.testing.assert_allclose(
        first, generate_images(generator, 7, seed=3, batch_size=4), atol=1e-6
    )
