"""Training the GAN: build, compile, fit. No files, no tracking."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gantrack.config import TrainConfig
from gantrack.gan import GAN
from gantrack.losses import get_loss
from gantrack.networks import build_discriminator, build_generator


def image_dataset(images: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """Shuffled (seeded, reshuffled every epoch) full batches of ``images``.

    The last partial batch is dropped: every step then has the same shape, so the
    ``tf.function`` is traced once, and no step is a noisy tiny batch.
    """
    if len(images) < batch_size:
        raise ValueError(
            f"batch size {batch_size} is larger than the {len(images)} training images; "
            "lower train.batch_size"
        )
    return (
        tf.data.Dataset.from_tensor_slices(images)
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def build_gan(config: TrainConfig, image_shape: tuple[int, int, int], seed: int) -> GAN:
    """The seed's DCGAN with the configured loss and Adam optimisers, compiled."""
    keras.utils.set_random_seed(seed)  # weight initialisation
    gan = GAN(
        build_generator(config.latent_dim, image_shape),
        build_discriminator(image_shape),
        get_loss(config.loss),
        seed=seed,
    )
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(
            config.generator_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2
        ),
        discriminator_optimizer=keras.optimizers.Adam(
            config.discriminator_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2
        ),
    )
    return gan


def train_gan(
    gan: GAN,
    images: np.ndarray,
    config: TrainConfig,
    seed: int,
    callbacks: list[keras.callbacks.Callback],
    verbose: int | str = "auto",
) -> keras.callbacks.History:
    """Fit ``gan`` on ``images`` (``(N, 28, 28, 1)`` in [-1, 1]) for ``config.epochs``."""
    dataset = image_dataset(images, config.batch_size, seed)
    # shuffle=False: the dataset shuffles itself (seeded); fit's flag would only warn.
    return gan.fit(
        dataset, epochs=config.epochs, callbacks=callbacks, verbose=verbose, shuffle=False
    )


def images_per_epoch(num_images: int, batch_size: int) -> int:
    """Images actually seen per epoch (the partial last batch is dropped)."""
    return (num_images // batch_size) * batch_size
