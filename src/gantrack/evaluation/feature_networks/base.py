"""What every feature network shares: the interface, its errors, and the image conventions.

A feature network maps images to ``(features, probabilities)``: FID's and KID's features
and the Inception Score's class probabilities, from one pass over each image.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import numpy as np

from gantrack.distribute import on_all_replicas
from gantrack.errors import GantrackError

# Images are float (N, height, width, channels) in [-1, 1]; this much rounding is allowed.
RANGE_TOLERANCE = 1e-3
# One batch of images in, ``(features, probabilities)`` of that batch out, both NumPy.
BatchFunction = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class NetworkOutputs:
    """What a network says about a set of images: ``(N, d)`` features, ``(N, C)`` probabilities."""

    features: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.features)


class FeatureNetworkNotFoundError(GantrackError, FileNotFoundError):
    """No place in a network's list held its file; the message lists each place and the fix."""


class CorruptFeatureNetworkError(GantrackError, ValueError):
    """A network file exists but cannot be loaded or run; the message names the file."""


@dataclass(frozen=True)
class FeatureNetwork:
    """A loaded network, ready to turn images into features and class probabilities.

    - ``name``: its registry name (``evaluator``, ``inception_v3``, ``inception_2015``).
    - ``label``: what the numbers are and what they are comparable with, for reports.
    - ``origin``: the file the weights came from (and whether it was verified).
    - ``feature_dim`` / ``num_classes``: the widths of the two outputs.
    - ``image_shape``: the ``(height, width, channels)`` it requires, or ``None`` when it
      resizes any image itself.
    """

    name: str
    label: str
    origin: str
    feature_dim: int
    num_classes: int
    run_batch: BatchFunction = field(repr=False)
    image_shape: tuple[int, int, int] | None = None

    def extract(
        self, images: np.ndarray, batch_size: int, verbose: int = 1
    ) -> tuple[NetworkOutputs, float]:
        """Features ``(N, feature_dim)`` and probabilities ``(N, num_classes)``, float64.

        ``images`` are float ``(N, height, width, 1 or 3)`` in [-1, 1]. They go through the
        network ``batch_size`` at a time, so only one batch is ever resized (to 299×299 for
        the Inception networks) in memory. ``verbose`` is Keras's: 0 silent, 1 a progress
        bar, 2 one line at the end. Also returns the throughput in images per second.
        """
        self.check_images(images)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1; got {batch_size}")
        num_images = len(images)
        features = np.empty((num_images, self.feature_dim), np.float64)
        probabilities = np.empty((num_images, self.num_classes), np.float64)
        progress = keras.utils.Progbar(num_images, verbose=verbose, unit_name="image")
        started = time.perf_counter()
        for start in range(0, num_images, batch_size):
            stop = min(start + batch_size, num_images)
            batch = np.asarray(images[start:stop], dtype=np.float32)
            features[start:stop], probabilities[start:stop] = self.run_batch(batch)
            progress.update(stop)
        images_per_second = num_images / (time.perf_counter() - started)
        return NetworkOutputs(features, probabilities), images_per_second

    def check_images(self, images: np.ndarray) -> None:
        """Raise ``ValueError`` unless ``images`` follow gantrack's image convention."""
        shape = tuple(images.shape)
        if len(shape) != 4 or shape[-1] not in (1, 3) or shape[0] == 0:
            raise ValueError(
                f"{self.name}: expected images (N ≥ 1, height, width, 1 or 3 channels); "
                f"got shape {shape}"
            )
        if self.image_shape is not None and shape[1:] != self.image_shape:
            raise ValueError(
                f"{self.name}: takes images of shape {self.image_shape}; got {shape[1:]}"
            )
        low, high = float(np.min(images)), float(np.max(images))
        if not (low >= -1 - RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE):
            raise ValueError(
                f"{self.name}: expected images scaled to [-1, 1] (gantrack's convention); "
                f"got values in [{low:.4g}, {high:.4g}]"
            )


def build_network(
    name: str,
    label: str,
    origin: str,
    run_batch: BatchFunction,
    image_shape: tuple[int, int, int] | None = None,
) -> FeatureNetwork:
    """A :class:`FeatureNetwork` whose output widths come from running it on one image.

    The probe also traces the network's ``tf.function`` now, so ``extract``'s throughput
    measures steady-state work, not graph building.
    """
    probe = np.zeros((1, *(image_shape or (8, 8, 3))), np.float32)  # one mid-grey image
    features, probabilities = run_batch(probe)
    return FeatureNetwork(
        name, label, origin, features.shape[1], probabilities.shape[1], run_batch, image_shape
    )


def on_replicas(load: Callable[[], FeatureNetwork], strategy=None) -> FeatureNetwork:
    """The network ``load()`` returns, built in ``strategy``'s scope when there is one, with
    every batch split across its replicas (:func:`gantrack.distribute.on_all_replicas`)."""
    with strategy.scope() if strategy is not None else nullcontext():
        network = load()
    return replace(network, run_batch=on_all_replicas(network.run_batch, strategy))


def to_rgb_255(images: np.ndarray) -> np.ndarray:
    """``(n, h, w, 1 or 3)`` in [-1, 1] -> ``(n, h, w, 3)`` float32 in [0, 255].

    [0, 255] is the range of an 8-bit image file, which is what the Inception networks'
    own preprocessing expects; grey images are repeated into the three channels.
    """
    images = (images.astype(np.float32) + 1.0) * 127.5
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


def not_found(what: str, tried: list[str], how: str) -> FeatureNetworkNotFoundError:
    """The error for a file found in none of its places, in :mod:`gantrack.data.datasets`' form."""
    listing = "\n".join(f"  - {line}" for line in tried)
    return FeatureNetworkNotFoundError(
        f"{what} was not found. Places tried:\n{listing}\nTo provide it: {how}."
    )


def md5_of(path: Path) -> str:
    """Hex MD5 of a file, read in 1 MiB chunks (Keras publishes MD5s of its weights)."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
