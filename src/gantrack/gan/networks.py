"""The DCGAN (Radford et al. 2015), generalised to 28, 32 or 64 pixels and 1 or 3 channels.

The image shape always comes from the prepared data (``train.npz``), never from a setting
of its own, so the networks cannot disagree with the data. Keras functional models of
built-in layers only, so a saved ``.keras`` file loads in safe mode without project code.

Sizes, generator upwards (each step a stride-2 transposed convolution) and discriminator
downwards (stride-2 convolutions), with filters doubling per halving of the size:

==========  ==========================  ==========================================
size        generator                    discriminator
==========  ==========================  ==========================================
28          7 → 14 → 28 (256-128-64)     28 → 14 → 7 (64-128): the classic MNIST DCGAN
32          4 → 8 → 16 → 32 (512-…-64)   32 → 16 → 8 → 4 (64-128-256)
64          4 → … → 64 (1024-…-64)       64 → … → 4 (64-128-256-512)
==========  ==========================  ==========================================

Class-conditional variants (``num_classes`` set): the generator concatenates a learned
label embedding (:data:`LABEL_EMBEDDING_DIM`) to z (Mirza & Osindero 2014); the
discriminator is a projection discriminator (Miyato & Koyama 2018): its logit is
``ψ(φ(x)) + ⟨embed(y), φ(x)⟩`` with φ the flattened convolutional features. Projection
rather than concatenating labels to the image: it works with every loss here (hinge and
WGAN included), costs one inner product, and is what SNGAN/BigGAN use.
"""

from __future__ import annotations

import keras
from keras import layers

from gantrack.errors import GantrackError

# image size -> (generator's starting size, number of stride-2 steps)
ARCHITECTURES = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
CHANNELS = (1, 3)
# The last generator block's and the first discriminator block's filters (the DCGAN's
# width; train.base_filters).
BASE_FILTERS = 64
LABEL_EMBEDDING_DIM = 50
LABEL_EMBEDDING_NAME = "label_embedding"


class UnsupportedImageShapeError(GantrackError, ValueError):
    """The prepared images have a shape the DCGAN networks are not built for."""


def architecture(image_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(starting size, stride-2 steps)`` for ``image_shape``, or a clear error."""
    image_shape = tuple(int(size) for size in image_shape)
    if (
        len(image_shape) != 3
        or image_shape[0] != image_shape[1]
        or image_shape[0] not in ARCHITECTURES
        or image_shape[2] not in CHANNELS
    ):
        sizes = ", ".join(f"({size}, {size}, C)" for size in ARCHITECTURES)
        raise UnsupportedImageShapeError(
            f"the DCGAN networks support images of shape {sizes} with C in {CHANNELS}, "
            f"but the prepared data has shape {image_shape}; resize or pad the dataset in "
            "`prepare` to one of these"
        )
    return ARCHITECTURES[image_shape[0]]


def build_generator(
    latent_dim: int,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int | None = None,
    dtype_policy: str | None = None,
    synchronized_batch_norm: bool = False,
    base_filters: int = BASE_FILTERS,
) -> keras.Model:
    """z ``(batch, latent_dim)`` [+ label ``(batch, 1)`` int] -> images ``(batch, *image_shape)``.

    Dense start·start·F -> BN -> LeakyReLU -> reshape, then per step a stride-2
    Conv2DTranspose (F/2, F/4, ..., ``base_filters``; kernel 5) -> BN -> LeakyReLU, then a 7×7
    Conv2DTranspose to the channels with tanh, so outputs lie in [-1, 1] like the data.
    ``dtype_policy`` (e.g. ``"mixed_float16"``) applies to every layer but the last, which
    stays float32 so the images are float32. ``synchronized_batch_norm`` computes batch
    statistics over the global batch across replicas (for tf.distribute), as one device
    would, instead of over each replica's slice.
    """
    start, steps = architecture(image_shape)
    filters = base_filters * 2**steps
    latent = keras.Input((latent_dim,), name="latent")
    inputs, x = [latent], latent
    if num_classes is not None:
        label = keras.Input((1,), dtype="int32", name="label")
        embedded = layers.Embedding(
            num_classes, LABEL_EMBEDDING_DIM, name=LABEL_EMBEDDING_NAME, dtype=dtype_policy
        )(label)
        x = layers.Concatenate(dtype=dtype_policy)([latent, layers.Flatten()(embedded)])
        inputs.append(label)
    x = layers.Dense(start * start * filters, use_bias=False, dtype=dtype_policy)(x)
    x = layers.BatchNormalization(synchronized=synchronized_batch_norm, dtype=dtype_policy)(x)
    x = layers.LeakyReLU(dtype=dtype_policy)(x)
    x = layers.Reshape((start, start, filters), dtype=dtype_policy)(x)  # (batch, 7, 7, 256)
    for _ in range(steps):  # 28 pixels: (batch, 14, 14, 128) then (batch, 28, 28, 64)
        filters //= 2
        x = layers.Conv2DTranspose(
            filters, 5, strides=2, padding="same", use_bias=False, dtype=dtype_policy
        )(x)
        x = layers.BatchNormalization(synchronized=synchronized_batch_norm, dtype=dtype_policy)(x)
        x = layers.LeakyReLU(dtype=dtype_policy)(x)
    x = layers.Conv2DTranspose(image_shape[-1], 7, padding="same", use_bias=False, dtype="float32")(
        x
    )
    images = layers.Activation("tanh", name="images", dtype="float32")(x)
    return keras.Model(inputs if len(inputs) > 1 else latent, images, name="generator")


def build_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int | None = None,
    spectral_norm: bool = False,
    dtype_policy: str | None = None,
    base_filters: int = BASE_FILTERS,
) -> keras.Model:
    """image [+ label] -> one logit ``(batch, 1)`` float32 (no sigmoid: losses use logits).

    Per step a stride-2 Conv2D (``base_filters`` × 1, 2, 4, ...; kernel 5) -> LeakyReLU ->
    Dropout 0.3, then a dense logit (plus the label projection when conditional).
    ``spectral_norm`` wraps every weight layer in ``keras.layers.SpectralNormalization``
    (one power iteration per call). Keras's version, like TF-Addons', writes W/σ(W) back
    into the kernel when called in training mode and does not differentiate through σ: the
    optimiser updates the normalised kernel, which is renormalised at the next call (a
    projected-gradient form of Miyato et al. 2018, whose gradient also flows through σ).
    """
    _, steps = architecture(image_shape)

    def weighted(layer):
        return layers.SpectralNormalization(layer, dtype=dtype_policy) if spectral_norm else layer

    images = keras.Input(image_shape, name="images")
    inputs, x = [images], images
    for step in range(steps):  # 28 pixels: (batch, 14, 14, 64) then (batch, 7, 7, 128)
        filters = base_filters * 2**step
        x = weighted(layers.Conv2D(filters, 5, strides=2, padding="same", dtype=dtype_policy))(x)
        x = layers.LeakyReLU(dtype=dtype_policy)(x)
        x = layers.Dropout(0.3, dtype=dtype_policy)(x)
    features = layers.Flatten(dtype=dtype_policy)(x)
    # The logit in float32 under mixed precision: losses and their gradients need the range.
    logits = weighted(layers.Dense(1, dtype="float32"))(features)
    if num_classes is not None:
        label = keras.Input((1,), dtype="int32", name="label")
        inputs.append(label)
        # Not spectrally normalised: Keras's wrapper leaves an Embedding without gradients.
        embedded = layers.Embedding(num_classes, features.shape[-1], dtype="float32")(label)
        projection = layers.Dot(axes=1, dtype="float32")([features, layers.Flatten()(embedded)])
        logits = layers.Add(name="logit", dtype="float32")([logits, projection])
    else:
        logits = layers.Identity(name="logit", dtype="float32")(logits)
    return keras.Model(inputs if len(inputs) > 1 else images, logits, name="discriminator")


def num_classes_of(generator: keras.Model) -> int | None:
    """The number of classes a conditional generator draws; None for an unconditional one."""
    try:
        return int(generator.get_layer(LABEL_EMBEDDING_NAME).input_dim)
    except ValueError:
        return None
