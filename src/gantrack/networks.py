"""The networks: the seed's DCGAN generator and discriminator, and the evaluator.

All are Keras functional models built only from built-in layers, so a saved ``.keras``
file loads in safe mode without project code.
"""

from __future__ import annotations

import keras
from keras import layers

EVALUATOR_FEATURES = "features"  # name of the evaluator's penultimate layer (FID features)


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


def build_evaluator(
    image_shape: tuple[int, int, int],
    num_classes: int,
    feature_dim: int = 128,
    augment: bool = True,
):
    """A compact Inception-style classifier: the offline evaluation network.

    Stem conv -> three inception modules (parallel 1×1 / 3×3 / 5×5 / pool branches,
    concatenated) with pooling between -> global average pool -> ``features``
    (``feature_dim``, ReLU; FID's features) -> dropout -> softmax (IS's probabilities).
    Augmentation layers are active only in training.
    """
    images = keras.Input(image_shape, name="images")
    x = images
    if augment:
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", fill_value=-1.0)(x)
        x = layers.RandomRotation(0.04, fill_mode="constant", fill_value=-1.0)(x)
        x = layers.RandomZoom(0.1, fill_mode="constant", fill_value=-1.0)(x)
    x = _conv_bn_relu(x, 32, 3)  # (batch, 28, 28, 32)
    x = layers.MaxPooling2D(2)(x)  # (batch, 14, 14, 32)
    x = _inception_module(x, (16, 16, 32, 8, 8, 8))  # (batch, 14, 14, 64)
    x = _inception_module(x, (32, 32, 48, 8, 16, 16))  # (batch, 14, 14, 112)
    x = layers.MaxPooling2D(2)(x)  # (batch, 7, 7, 112)
    x = _inception_module(x, (48, 48, 64, 16, 32, 32))  # (batch, 7, 7, 176)
    x = layers.GlobalAveragePooling2D()(x)
    features = layers.Dense(feature_dim, activation="relu", name=EVALUATOR_FEATURES)(x)
    x = layers.Dropout(0.3)(features)
    probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(images, probabilities, name="evaluator")


def feature_extractor(evaluator: keras.Model) -> keras.Model:
    """``images -> (features, probabilities)`` of a trained evaluator, in one pass."""
    features = evaluator.get_layer(EVALUATOR_FEATURES).output
    return keras.Model(evaluator.inputs, [features, evaluator.outputs[0]], name="evaluator_heads")


def _conv_bn_relu(x, filters: int, kernel_size: int):
    x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=False)(x)
    # momentum 0.9, not Keras's 0.99: a few hundred steps on 5k images are too few for
    # 0.99's moving statistics to converge, and inference then normalises wrongly.
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def _inception_module(x, filters: tuple[int, int, int, int, int, int]):
    """GoogLeNet's module; ``filters`` = (1×1, 3×3 reduce, 3×3, 5×5 reduce, 5×5, pool proj)."""
    one, three_reduce, three, five_reduce, five, pool_projection = filters
    branches = [
        _conv_bn_relu(x, one, 1),
        _conv_bn_relu(_conv_bn_relu(x, three_reduce, 1), three, 3),
        _conv_bn_relu(_conv_bn_relu(x, five_reduce, 1), five, 5),
        _conv_bn_relu(layers.MaxPooling2D(3, strides=1, padding="same")(x), pool_projection, 1),
    ]
    return layers.Concatenate()(branches)
