"""DiffAugment (Zhao et al. 2020): differentiable augmentations, chosen by name.

The discriminator sees every image — real and generated, in its own update and in the
generator's — through the same random augmentations. Because they are differentiable, the
generator's gradient flows through them, and because real and generated images are treated
alike, the generator is not taught to produce augmented-looking images. This lets a
discriminator trained on little data (the 5,000-digit default) overfit less.

Every policy maps ``(images (batch, H, W, C), seed generator)`` to images of the same
shape, drawing its randomness per image from the ``keras.random.SeedGenerator`` (part of
the model's state, so it is checkpointed and resumed like the rest).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf
from keras import ops

TRANSLATION_RATIO = 0.125  # the paper's: shifts of up to 1/8 of the image size
CUTOUT_RATIO = 0.5  # the paper's: a square of half the image size


def translation(images, seed: keras.random.SeedGenerator, ratio: float = TRANSLATION_RATIO):
    """Shift each image by up to ``ratio`` of its size in y and x, filling with zeros.

    Zero is the paper's fill value (mid-grey for images in [-1, 1]). Done as two gathers
    from a zero-padded copy, so gradients reach every pixel that stays in view.
    """
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    pad_y, pad_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    shift_y = keras.random.randint((batch, 1), -pad_y, pad_y + 1, seed=seed)
    shift_x = keras.random.randint((batch, 1), -pad_x, pad_x + 1, seed=seed)
    padded = ops.pad(images, [[0, 0], [pad_y, pad_y], [pad_x, pad_x], [0, 0]])
    # Output pixel (y, x) reads padded pixel (y + pad - shift): indices stay in range.
    rows = ops.arange(height)[None, :] + pad_y - shift_y  # (batch, H)
    columns = ops.arange(width)[None, :] + pad_x - shift_x  # (batch, W)
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)  # (batch, H, W + 2 pad_x, C)
    return tf.gather(shifted, columns, axis=2, batch_dims=1)  # (batch, H, W, C)


def cutout(images, seed: keras.random.SeedGenerator, ratio: float = CUTOUT_RATIO):
    """Zero a square of ``ratio`` of the image size at a random centre in each image.

    The centre is uniform over the image, so the square may be partly outside it.
    """
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = keras.random.randint((batch, 1, 1), 0, height + (1 - size_y % 2), seed=seed)
    left = keras.random.randint((batch, 1, 1), 0, width + (1 - size_x % 2), seed=seed)
    top, left = top - size_y // 2, left - size_x // 2
    y = ops.arange(height)[None, :, None]
    x = ops.arange(width)[None, None, :]
    inside = (y >= top) & (y < top + size_y) & (x >= left) & (x < left + size_x)
    keep = ops.cast(ops.logical_not(inside), images.dtype)[..., None]  # (batch, H, W, 1)
    return images * keep


AUGMENTATIONS: dict[str, Callable] = {"translation": translation, "cutout": cutout}


def get_augmentation(names: Sequence[str]) -> Callable | None:
    """The policies ``names`` applied in order, as one function; None for an empty list."""
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"unknown DiffAugment policy {unknown[0]!r}; valid names: "
            f"{', '.join(sorted(AUGMENTATIONS))}"
        )
    if not names:
        return None
    policies = [AUGMENTATIONS[name] for name in names]

    def augment(images, seed: keras.random.SeedGenerator):
        for policy in policies:
            images = policy(images, seed)
        return images

    return augment
