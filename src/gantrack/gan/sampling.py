"""Drawing images from a trained generator, reproducibly, with or without class labels."""

from __future__ import annotations

import keras
import numpy as np

from gantrack.errors import GantrackError
from gantrack.gan.networks import num_classes_of


class UnknownClassError(GantrackError, ValueError):
    """A class label the generator was not trained on."""


def latent_vectors(num_images: int, latent_dim: int, seed: int) -> np.ndarray:
    """``(num_images, latent_dim)`` float32 draws of N(0, I) from NumPy's seeded PCG64.

    NumPy rather than TensorFlow's RNG so the same seed gives the same vectors on any
    machine and TensorFlow version.
    """
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_images, latent_dim), dtype=np.float32)


def class_labels(num_images: int, num_classes: int, label: int | None = None) -> np.ndarray:
    """``(num_images,)`` int32 labels: all ``label``, or every class in turn (0, 1, ..., 0, ...).

    "In turn" gives each class ``num_images / num_classes`` images (±1), the even mix that
    class-coverage statistics compare with.
    """
    if label is not None and not 0 <= label < num_classes:
        raise UnknownClassError(
            f"label {label} is not a class of this generator, which draws classes 0 to "
            f"{num_classes - 1}; set sample.label to one of them, or null for all"
        )
    if label is not None:
        return np.full(num_images, label, dtype=np.int32)
    return (np.arange(num_images) % num_classes).astype(np.int32)


def latent_dim_of(generator: keras.Model) -> int:
    """The latent size of a generator, conditional (two inputs) or not."""
    shape = generator.input_shape
    return int((shape[0] if isinstance(shape, list) else shape)[-1])


def generator_inputs(latent: np.ndarray, labels: np.ndarray | None):
    """What the generator takes: latents, or ``[latents, labels (N, 1)]``."""
    return latent if labels is None else [latent, labels.reshape(-1, 1).astype(np.int32)]


def generate_images(
    generator: keras.Model,
    num_images: int,
    seed: int,
    batch_size: int = 500,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """``num_images`` images ``(N, H, W, C)`` in [-1, 1] from seeded latent vectors.

    A conditional generator draws the classes ``labels`` (``(N,)`` ints), by default every
    class in turn (:func:`class_labels`); an unconditional one takes no labels.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    num_classes = num_classes_of(generator)
    if num_classes is None and labels is not None:
        raise ValueError("this generator is unconditional: it takes no labels")
    if num_classes is not None and labels is None:
        labels = class_labels(num_images, num_classes)
    if labels is not None and len(labels) != num_images:
        raise ValueError(f"expected {num_images} labels, got {len(labels)}")
    latent = latent_vectors(num_images, latent_dim_of(generator), seed)
    return generator.predict(generator_inputs(latent, labels), batch_size=batch_size, verbose=0)


def grid_inputs(latent_dim: int, rows: int, seed: int, num_classes: int | None = None):
    """``(generator inputs, grid rows)`` for a grid of fixed latent vectors.

    Unconditional: ``rows × rows`` latents. Conditional: one row per class, ``rows``
    columns, the same latents in every row (so a column shows one z across the classes).
    """
    if num_classes is None:
        return latent_vectors(rows * rows, latent_dim, seed), rows
    latent = np.tile(latent_vectors(rows, latent_dim, seed), (num_classes, 1))
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), rows)
    return generator_inputs(latent, labels), num_classes


def slerp(start: np.ndarray, end: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Spherical interpolation from ``start`` to ``end`` (``(d,)`` each) at ``fractions``.

    With ω the angle between them, slerp(t) = sin((1 − t)ω)/sin ω · start + sin(tω)/sin ω · end.
    Why not a straight line: a latent drawn from N(0, I) in d dimensions has norm ≈ √d,
    while the midpoint of a straight line between two has norm ≈ √(d/2): a region of
    latent space the generator never saw in training (White, 2016, "Sampling generative
    networks"). Nearly parallel vectors (sin ω ≈ 0) fall back to the straight line.
    Returns ``(len(fractions), d)`` float32.
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    fractions = np.asarray(fractions, np.float64)[:, None]
    if start.shape != end.shape or start.ndim != 1:
        raise ValueError(
            f"slerp needs two vectors of one length, got {start.shape} and {end.shape}"
        )
    cosine = start @ end / (np.linalg.norm(start) * np.linalg.norm(end))
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return ((1 - fractions) * start + fractions * end).astype(np.float32)
    path = np.sin((1 - fractions) * omega) * start + np.sin(fractions * omega) * end
    return (path / np.sin(omega)).astype(np.float32)


def interpolation_inputs(
    latent_dim: int, rows: int, columns: int, seed: int, num_classes: int | None = None
):
    """Generator inputs for an interpolation grid: row r slerps between fixed latent pair r.

    ``rows × columns`` latents, row by row, from ``columns`` evenly spaced fractions in
    [0, 1]. A conditional generator draws class ``r mod num_classes`` along row r, so the
    row shows the latent's effect (style) with the digit held fixed.
    """
    if columns < 2:
        raise ValueError(f"an interpolation needs at least 2 columns, got {columns}")
    ends = latent_vectors(2 * rows, latent_dim, seed).reshape(rows, 2, latent_dim)
    fractions = np.linspace(0.0, 1.0, columns)
    latent = np.concatenate([slerp(start, end, fractions) for start, end in ends])
    if num_classes is None:
        return latent
    labels = np.repeat(np.arange(rows, dtype=np.int32) % num_classes, columns)
    return generator_inputs(latent, labels)
