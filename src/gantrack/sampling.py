"""Drawing images from a trained generator, reproducibly."""

from __future__ import annotations

import keras
import numpy as np


def latent_vectors(num_images: int, latent_dim: int, seed: int) -> np.ndarray:
    """``(num_images, latent_dim)`` float32 draws of N(0, I) from NumPy's seeded PCG64.

    NumPy rather than TensorFlow's RNG so the same seed gives the same vectors on any
    machine and TensorFlow version.
    """
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_images, latent_dim), dtype=np.float32)


def generate_images(
    generator: keras.Model, num_images: int, seed: int, batch_size: int = 500
) -> np.ndarray:
    """``num_images`` images ``(N, H, W, C)`` in [-1, 1] from seeded latent vectors."""
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    latent = latent_vectors(num_images, generator.input_shape[-1], seed)
    return generator.predict(latent, batch_size=batch_size, verbose=0)
