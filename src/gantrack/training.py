"""Training the GAN and the evaluator: build, compile, fit. No files, no tracking."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gantrack.config import EvaluatorConfig, TrainConfig
from gantrack.gan import GAN
from gantrack.losses import get_loss
from gantrack.networks import build_discriminator, build_evaluator, build_generator


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


def train_evaluator(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    num_classes: int,
    config: EvaluatorConfig,
    seed: int,
    callbacks: list[keras.callbacks.Callback],
    verbose: int | str = "auto",
) -> keras.Model:
    """Train the Inception-style classifier whose features and probabilities score GANs.

    Adam with a cosine-decayed learning rate over all steps; sparse cross-entropy.
    """
    keras.utils.set_random_seed(seed)
    evaluator = build_evaluator(train_images.shape[1:], num_classes, augment=config.augment)
    steps = config.epochs * -(-len(train_images) // config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
    evaluator.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((train_images, train_labels))
        .shuffle(len(train_images), seed=seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    evaluator.fit(
        dataset, epochs=config.epochs, callbacks=callbacks, verbose=verbose, shuffle=False
    )
    return evaluator
