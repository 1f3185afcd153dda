"""The seed's DCGAN: generator and discriminator.

Keras functional models of built-in layers only, so a saved ``.keras`` file loads in safe
mode without project code.
"""

from __future__ import annotations

import keras
from keras import layers


def build_generator(latent_dim: int, image_shape: tuple[int, int, int] = (28, 28, 1)):
    """The seed's DCGAN generator: z ``(batch, latent_dim)`` -> image ``(batch, 28, 28, 1)``.

    Dense 7·7·256 -> BN -> LeakyReLU -> reshape -> Conv2DTranspose 128 (stride 2, 14×14)
    -> 64 (stride 2, 28×28) -> 1 with tanh, so outputs lie in [-1, 1] like the data.
    """
    if image_shape != (28, 28, 1):
        raise ValueError(f"the DCGAN generator makes (28, 28, 1) images, not {image_shape}")
    latent = keras.Input((latent_dim,), name="latent")
    x = layers.Dense(7 * 7 * 256, use_bias=False)(latent)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    x = layers.Reshape((7, 7, 256))(x)  # (batch, 7, 7, 256)
    for filters in (128, 64):  # (batch, 14, 14, 128) then (batch, 28, 28, 64)
        x = layers.Conv2DTranspose(filters, 5, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU()(x)
    x = layers.Conv2DTranspose(image_shape[-1], 7, padding="same", use_bias=False)(x)
    images = layers.Activation("tanh", name="images")(x)
    return keras.Model(latent, images, name="generator")


def build_discriminator(image_shape: tuple[int, int, int] = (28, 28, 1)):
    """The seed's discriminator: image -> one logit (no sigmoid: losses work on logits)."""
    images = keras.Input(image_shape, name="images")
    x = images
    for filters in (64, 128):  # (batch, 14, 14, 64) then (batch, 7, 7, 128)
        x = layers.Conv2D(filters, 5, strides=2, padding="same")(x)
        x = layers.LeakyReLU()(x)
        x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    logits = layers.Dense(1, name="logit")(x)
    return keras.Model(images, logits, name="discriminator")
