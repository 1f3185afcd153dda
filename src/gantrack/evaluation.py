"""Scoring generated images with a network: features in, the metrics dict out.

The evaluator network here is gantrack's own classifier trained on the dataset (see
:func:`gantrack.networks.build_evaluator`), so its FID and IS are comparable between runs
of this project on the same data and evaluator, not with published Inception numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np

from gantrack.metrics import frechet_distance, gaussian_statistics, inception_score


@dataclass(frozen=True)
class NetworkOutputs:
    """What a network says about a set of images: ``(N, d)`` features, ``(N, C)`` probabilities."""

    features: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.features)


def extract(
    extractor: keras.Model, images: np.ndarray, batch_size: int, verbose: int | str = "auto"
) -> tuple[NetworkOutputs, float]:
    """Run ``extractor`` (images -> (features, probabilities)) in batches.

    Returns the outputs and the throughput in images per second.
    """
    started = time.perf_counter()
    features, probabilities = extractor.predict(images, batch_size=batch_size, verbose=verbose)
    images_per_second = len(images) / (time.perf_counter() - started)
    return NetworkOutputs(features.astype(np.float64), probabilities.astype(np.float64)), (
        images_per_second
    )


def frechet_between(first: NetworkOutputs, second: NetworkOutputs) -> float:
    """Fréchet distance between Gaussians fitted to the features of two image sets."""
    return frechet_distance(
        *gaussian_statistics(first.features), *gaussian_statistics(second.features)
    )


def score_generated(
    generated: NetworkOutputs,
    reference: NetworkOutputs,
    train: NetworkOutputs,
    test: NetworkOutputs,
    splits: int,
) -> dict[str, float]:
    """Metrics of generated images with their yardsticks, all from one network.

    - ``fid``: generated vs the reference split (the train split by default, as most
      GAN papers do).
    - ``inception_score`` (+ ``_std``): of the generated images, over ``splits`` parts.
    - ``real_inception_score`` (+ ``_std``): the same for the reference images: the ceiling.
    - ``fid_train_test``: train vs test split, two samples of the real distribution: the
      floor a perfect generator would reach at these sample sizes (FID is biased upwards
      at small N).
    """
    is_mean, is_std = inception_score(generated.probabilities, splits)
    real_mean, real_std = inception_score(reference.probabilities, splits)
    return {
        "fid": frechet_between(generated, reference),
        "inception_score": is_mean,
        "inception_score_std": is_std,
        "real_inception_score": real_mean,
        "real_inception_score_std": real_std,
        "fid_train_test": frechet_between(train, test),
        "num_images": len(generated),
        "num_reference_images": len(reference),
    }
