"""Training the GAN: build, compile, fit. No files, no tracking.

Reproducible to the bit, interrupted or not: each epoch's data order is a function of
``(seed, epoch)`` alone (:func:`epoch_order`), never of an iterator's state, and every
random draw in the step comes from a seeded ``keras.random.SeedGenerator`` whose state is
a model variable. So a run resumed from the checkpoint after epoch k replays epochs
k+1, ... exactly as an uninterrupted run would (with op determinism on, same machine).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gantrack.config import TrainConfig
from gantrack.errors import GantrackError
from gantrack.gan.augmentation import get_augmentation
from gantrack.gan.losses import get_loss
from gantrack.gan.model import GAN
from gantrack.gan.networks import build_discriminator, build_generator
from gantrack.gan.schedules import learning_rate

MIXED_PRECISION_POLICY = "mixed_float16"


class UnconditionableDataError(GantrackError, ValueError):
    """A class-conditional GAN was asked for on data without (enough) classes."""


def epoch_order(num_images: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of ``range(num_images)`` that epoch ``epoch`` (0-based) reads.

    NumPy's PCG64 seeded with ``(seed, epoch)``: the same on every machine and version,
    and independent of how many epochs came before.
    """
    return np.random.default_rng((seed, epoch)).permutation(num_images)


def steps_per_epoch(num_images: int, batch_size: int, critic_steps: int = 1) -> int:
    """Train steps per epoch: each step reads ``critic_steps`` full batches."""
    return num_images // (batch_size * critic_steps)


def images_per_epoch(num_images: int, batch_size: int, critic_steps: int = 1) -> int:
    """Images actually seen per epoch (the partial last step is dropped)."""
    return steps_per_epoch(num_images, batch_size, critic_steps) * batch_size * critic_steps


def check_batch_fits(num_images: int, batch_size: int) -> None:
    """A step's images must fit in the training split, or no step can run."""
    if num_images < batch_size:
        raise ValueError(
            f"batch size {batch_size} is larger than the {num_images} training images; "
            "lower train.batch_size"
        )


def image_dataset(
    images: np.ndarray,
    batch_size: int,
    seed: int,
    labels: np.ndarray | None = None,
    first_epoch: int = 0,
    epochs: int | None = None,
) -> tf.data.Dataset:
    """Batches of ``images`` (and ``(batch, 1)`` int32 labels) for epochs first_epoch, ...

    Epoch e reads the images in :func:`epoch_order` ``(N, seed, e)``, in full batches: the
    partial last batch is dropped, so every step has the same shape (the ``tf.function`` is
    traced once) and no step is a noisy tiny batch. The epochs follow one another in one
    stream; ``fit`` must be given ``steps_per_epoch`` so it keeps one iterator across epochs.
    ``epochs=None`` gives one epoch (``first_epoch``).
    """
    num_images = len(images)
    check_batch_fits(num_images, batch_size)
    last_epoch = first_epoch + 1 if epochs is None else epochs
    used = images_per_epoch(num_images, batch_size)  # full batches only
    # (epochs, used) indices: 4 bytes per image per epoch, e.g. 1.9 MB for 60,000 x 8.
    order = np.stack(
        [epoch_order(num_images, seed, epoch)[:used] for epoch in range(first_epoch, last_epoch)]
    )
    images_tensor = tf.constant(images)
    labels_tensor = None if labels is None else tf.constant(labels.reshape(-1, 1), tf.int32)

    def gather(indices):
        if labels_tensor is None:
            return tf.gather(images_tensor, indices)
        return tf.gather(images_tensor, indices), tf.gather(labels_tensor, indices)

    # Under a strategy each global batch is split across replicas (and workers) by
    # position: DATA sharding, since there are no files to shard by.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return (
        tf.data.Dataset.from_tensor_slices(order.reshape(-1, batch_size).astype(np.int32))
        .map(gather)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )


def build_gan(
    config: TrainConfig,
    image_shape: tuple[int, int, int],
    seed: int,
    num_classes: int | None = None,
    total_steps: int | None = None,
) -> GAN:
    """The DCGAN for ``image_shape`` with every configured variant, compiled.

    ``num_classes`` is required when ``config.conditional`` (the data's class count), and
    ``total_steps`` (the run's generator updates) when the learning rates decay
    (``config.learning_rate_decay_fraction`` > 0); the discriminator's schedule counts
    its own updates, ``critic_steps`` per generator update.
    Mixed precision uses per-layer ``mixed_float16`` policies (no global Keras state) and
    wraps both Adam optimisers in ``LossScaleOptimizer``.
    """
    if config.conditional and (num_classes is None or num_classes < 2):
        raise UnconditionableDataError(
            f"train.conditional is true but the training data has {num_classes or 0} "
            "classes (unlabeled data has none); a conditional GAN needs labelled data with "
            "at least 2 classes: set train.conditional: false or prepare labelled data"
        )
    classes = num_classes if config.conditional else None
    policy = MIXED_PRECISION_POLICY if config.mixed_precision else None
    keras.utils.set_random_seed(seed)  # weight initialisation
    gan = GAN(
        build_generator(
            config.latent_dim,
            image_shape,
            classes,
            dtype_policy=policy,
            synchronized_batch_norm=config.distribute != "none",
            base_filters=config.base_filters,
        ),
        build_discriminator(
            image_shape,
            classes,
            config.spectral_norm,
            dtype_policy=policy,
            base_filters=config.base_filters,
        ),
        get_loss(config.loss, config.label_smoothing),
        seed=seed,
        gradient_penalty_weight=config.gradient_penalty_weight if config.loss == "wgan_gp" else 0,
        r1_gamma=config.r1_gamma,
        critic_steps=config.critic_steps,
        ema_decay=config.ema_decay,
        augment=get_augmentation(config.diffaugment),
        conditional=config.conditional,
        xla=_use_xla(config, image_shape, num_classes),
    )
    decay = config.learning_rate_decay_fraction
    discriminator_steps = None if total_steps is None else total_steps * config.critic_steps
    rates = (
        learning_rate(config.generator_learning_rate, total_steps, decay),
        learning_rate(config.discriminator_learning_rate, discriminator_steps, decay),
    )
    optimizers = [
        keras.optimizers.Adam(rate, beta_1=config.beta_1, beta_2=config.beta_2) for rate in rates
    ]
    if config.mixed_precision:
        optimizers = [keras.optimizers.LossScaleOptimizer(optimizer) for optimizer in optimizers]
    gan.compile(generator_optimizer=optimizers[0], discriminator_optimizer=optimizers[1])
    return gan


def build_state(gan: GAN) -> None:
    """Create every variable (networks, optimiser slots) so a checkpoint can be restored.

    Keras creates optimiser slots lazily at the first ``apply_gradients``; building them
    here gives the same variables, in the same order, without taking a step. Under a
    tf.distribute strategy the slots are made in the GAN's strategy scope (mirrored).
    """
    with gan.distribute_strategy.scope():
        gan.generator_optimizer.build(gan.generator.trainable_variables)
        gan.discriminator_optimizer.build(gan.discriminator.trainable_variables)


def training_epochs(config: TrainConfig, num_images: int) -> int:
    """``train.epochs``, or the whole epochs that make ``train.images`` real images
    (⌈images / images per epoch⌉; an epoch shows fewer than ``num_images`` when the last
    batch is dropped) or ``train.steps`` generator updates (⌈steps / steps per epoch⌉)."""
    if config.epochs is not None:
        return config.epochs
    if config.steps is not None:
        per_epoch = steps_per_epoch(num_images, config.batch_size, config.critic_steps)
        if per_epoch == 0:
            raise ValueError(
                f"{num_images} training images make no full step of "
                f"{config.batch_size * config.critic_steps} images; lower train.batch_size"
            )
        return max(1, -(-config.steps // per_epoch))
    per_epoch = images_per_epoch(num_images, config.batch_size, config.critic_steps)
    return max(1, -(-config.images // per_epoch))


def train_gan(
    gan: GAN,
    images: np.ndarray,
    config: TrainConfig,
    seed: int,
    callbacks: list[keras.callbacks.Callback],
    verbose: int | str = "auto",
    labels: np.ndarray | None = None,
    initial_epoch: int = 0,
) -> keras.callbacks.History:
    """Fit ``gan`` on ``images`` (``(N, H, W, C)`` in [-1, 1]) up to ``config.epochs``.

    ``initial_epoch`` > 0 continues a run restored from a checkpoint taken after that many
    epochs. ``labels`` (``(N,)`` ints) are required for a conditional GAN.
    """
    if config.conditional and labels is None:
        raise ValueError("a conditional GAN needs labels")
    step_images = config.batch_size * config.critic_steps
    dataset = image_dataset(
        images,
        step_images,
        seed,
        labels if config.conditional else None,
        first_epoch=initial_epoch,
        epochs=max(config.epochs, initial_epoch + 1),
    )
    # shuffle=False: the dataset orders itself (seeded per epoch); fit's flag would only warn.
    return gan.fit(
        dataset,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch(len(images), config.batch_size, config.critic_steps),
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )


def _use_xla(config: TrainConfig, image_shape: tuple[int, ...], num_classes: int | None) -> bool:
    """``train.xla``, with ``auto`` decided by the cached probe (the train stage decides it
    first, to log it; a caller building a GAN directly gets the same answer)."""
    if config.xla != "auto":
        return bool(config.xla)
    if config.distribute != "none":
        return False
    from gantrack.gan.xla_probe import choose_xla

    return choose_xla(config, image_shape, num_classes).use_xla
