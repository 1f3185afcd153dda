"""The evaluator's architecture: gantrack's own Inception-style classifier, and its two heads.

The ``train_evaluator`` stage trains it (:mod:`gantrack.evaluation.classifier`); its
penultimate ``features`` give FID and its class probabilities give IS
(:mod:`gantrack.evaluation.feature_networks.evaluator_network` reads both in one pass).
"""

from __future__ import annotations

import keras
from keras import layers

EVALUATOR_FEATURES = "features"  # name of the penultimate layer (FID's features)


def build_evaluator(
    image_shape: tuple[int, int, int],
    num_classes: int,
    feature_dim: int = 128,
    augment: bool = True,
):
    """A compact Inception-style classifier: the offline evaluation network.

    Stem conv -> three inception modules (parallel 1×1 / 3×3 / 5×5 / pool branches,
    concatenated) with pooling between -> global average pool -> ``features``
    (``feature_dim``, linear: FID's features) -> ReLU -> dropout -> softmax (IS's
    probabilities).
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
    # FID reads the features *before* the ReLU: a unit that is dead (always 0) after it
    # would make every covariance singular.
    features = layers.Dense(feature_dim, name=EVALUATOR_FEATURES)(x)
    x = layers.Dropout(0.3)(layers.ReLU()(features))
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
