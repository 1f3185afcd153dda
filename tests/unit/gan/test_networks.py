import keras
import numpy as np
import pytest

from gantrack.gan.networks import (
    UnsupportedImageShapeError,
    build_discriminator,
    build_generator,
    num_classes_of,
)


def test_generator_maps_latent_to_images_in_tanh_range():
    generator = build_generator(latent_dim=16)
    latent = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32) * 10
    images = np.asarray(generator(latent, training=False))
    assert images.shape == (3, 28, 28, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert num_classes_of(generator) is None


def test_discriminator_returns_one_logit_per_image():
    logits = build_discriminator()(np.zeros((5, 28, 28, 1), np.float32), training=False)
    assert tuple(logits.shape) == (5, 1)


@pytest.mark.parametrize("shape", [(28, 28, 3), (32, 32, 1), (32, 32, 3), (64, 64, 3)])
def test_architecture_follows_the_image_shape(shape):
    generator = build_generator(4, shape)
    images = generator(np.zeros((2, 4), np.float32), training=False)
    assert tuple(images.shape) == (2, *shape)
    assert tuple(build_discriminator(shape)(images, training=False).shape) == (2, 1)


@pytest.mark.parametrize("shape", [(28, 28), (30, 30, 1), (32, 28, 1), (32, 32, 4)])
def test_unsupported_shape_is_a_clear_error(shape):
    with pytest.raises(UnsupportedImageShapeError, match=r"\(28, 28, C\), \(32, 32, C\)"):
        build_generator(4, shape)
    with pytest.raises(UnsupportedImageShapeError, match="prepared data has shape"):
        build_discriminator(shape)


def test_conditional_networks_take_labels_and_use_them():
    generator = build_generator(4, (28, 28, 1), num_classes=3)
    discriminator = build_discriminator((28, 28, 1), num_classes=3)
    assert num_classes_of(generator) == 3
    latent = np.ones((2, 4), np.float32)
    images = np.asarray(generator([latent, np.array([[0], [2]])], training=False))
    assert not np.allclose(images[0], images[1])  # same z, other class: other image
    same = np.repeat(images[:1], 2, axis=0)
    logits = np.asarray(discriminator([same, np.array([[0], [2]])], training=False))
    assert logits.shape == (2, 1) and logits[0, 0] != logits[1, 0]


def test_spectral_norm_wraps_every_weight_layer():
    discriminator = build_discriminator((28, 28, 1), spectral_norm=True)
    wrapped = [
        layer
        for layer in discriminator.layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    assert len(wrapped) == 3  # two convolutions and the dense logit


def test_mixed_precision_computes_in_float16_but_returns_float32():
    generator = build_generator(4, dtype_policy="mixed_float16")
    discriminator = build_discriminator(dtype_policy="mixed_float16")
    assert generator.layers[1].dtype_policy.name == "mixed_float16"
    assert generator.layers[1].compute_dtype == "float16"
    images = generator(np.zeros((2, 4), np.float32), training=False)
    assert images.dtype == "float32"
    assert discriminator(images, training=False).dtype == "float32"


def test_base_filters_sets_the_width_of_both_networks():
    narrow, default = build_generator(8, base_filters=32), build_generator(8)
    assert narrow.get_layer(index=-3).output.shape[-1] == 32  # the last block's filters
    assert default.get_layer(index=-3).output.shape[-1] == 64
    assert narrow.count_params() < default.count_params() / 3
    discriminator = build_discriminator(base_filters=32)
    convolutions = [layer for layer in discriminator.layers if "conv" in layer.name]
    assert [layer.filters for layer in convolutions] == [32, 64]
