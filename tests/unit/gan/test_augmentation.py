import keras
import numpy as np
import pytest
import tensorflow as tf

from gantrack.gan.augmentation import cutout, get_augmentation, translation


def test_translation_shifts_whole_images_and_fills_with_zero():
    # One bright pixel per image: after a shift of at most 1/8 of 16 = 2 pixels it is still
    # there once (moved by <= 2 in y and x), everything else stays 0.
    images = np.zeros((32, 16, 16, 1), np.float32)
    images[:, 8, 8, 0] = 1.0
    shifted = np.asarray(translation(images, keras.random.SeedGenerator(0)))
    assert shifted.shape == images.shape
    for image in shifted[..., 0]:
        (ys,), (xs,) = np.nonzero(image.max(axis=1)), np.nonzero(image.max(axis=0))
        assert image.sum() == 1.0 and abs(ys - 8) <= 2 and abs(xs - 8) <= 2
    assert len({tuple(np.argwhere(image[..., 0])[0]) for image in shifted}) > 1  # random


def test_cutout_zeroes_at_most_a_half_size_square():
    images = np.ones((32, 16, 16, 3), np.float32)
    cut = np.asarray(cutout(images, keras.random.SeedGenerator(0)))
    zeroed = (cut == 0).all(axis=-1).sum(axis=(1, 2))
    assert zeroed.max() <= 8 * 8 and zeroed.max() == 64 and zeroed.min() > 0
    assert set(np.unique(cut)) <= {0.0, 1.0}


def test_policies_are_differentiable_and_registry_rejects_unknown_names():
    augment = get_augmentation(["translation", "cutout"])
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(augment(images, keras.random.SeedGenerator(1)))
    assert float(tf.reduce_sum(tape.gradient(total, images))) > 0
    assert get_augmentation([]) is None
    with pytest.raises(ValueError, match="valid names: cutout, translation"):
        get_augmentation(["flip"])
