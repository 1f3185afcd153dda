"""Scoring generated images with a feature network: network outputs in, metrics dict out.

Real-data statistics (a :class:`Reference`) are computed once per (dataset, network) by the
``reference`` stage and cached, so scoring a new generator never re-runs the network on
real images. Every number is labelled with the network and the number of images behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantrack.config import EvaluateConfig
from gantrack.evaluation.metrics import (
    class_statistics,
    density_coverage,
    frechet_distance,
    frechet_distance_bootstrap,
    gaussian_statistics,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from gantrack.io import load_arrays, save_arrays


@dataclass(frozen=True)
class NetworkOutputs:
    """What a network says about a set of images: ``(N, d)`` features, ``(N, C)`` probabilities."""

    features: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.features)


@dataclass(frozen=True)
class Reference:
    """One network's view of the real data: features, their Gaussian, and the yardsticks.

    ``fid_train_test`` (train vs test split: two samples of the real distribution) is the
    floor a perfect generator would reach at these sample sizes. Nothing here depends on
    a scoring setting (IS splits, KID subsets...), so changing those never recomputes it,
    nor retrains the GAN whose in-training FID uses it.
    """

    network: str
    label: str
    split: str
    features: np.ndarray  # (N, d) float64
    probabilities: np.ndarray  # (N, C)
    labels: np.ndarray  # (N,) true classes of the real images
    mean: np.ndarray  # (d,)
    covariance: np.ndarray  # (d, d)
    fid_train_test: float

    def __len__(self) -> int:
        return len(self.features)


def build_reference(
    network: str,
    label: str,
    split: str,
    outputs: dict[str, NetworkOutputs],
    labels: np.ndarray,
) -> Reference:
    """The reference of ``split`` (``"train"`` or ``"test"``) from both splits' outputs."""
    reference = outputs[split]
    mean, covariance = gaussian_statistics(reference.features)
    return Reference(
        network=network,
        label=label,
        split=split,
        features=reference.features,
        probabilities=reference.probabilities,
        labels=labels,
        mean=mean,
        covariance=covariance,
        fid_train_test=frechet_distance(
            *gaussian_statistics(outputs["train"].features),
            *gaussian_statistics(outputs["test"].features),
        ),
    )


_ARRAYS = ("features", "probabilities", "labels", "mean", "covariance")
_SCALARS = ("fid_train_test",)
_STRINGS = ("network", "label", "split")


def save_reference(path: Path, reference: Reference) -> None:
    """One ``.npz`` (strings and scalars as 0-d arrays; loads without pickle)."""
    fields = {name: np.asarray(getattr(reference, name)) for name in _ARRAYS + _SCALARS + _STRINGS}
    save_arrays(path, **fields)


def load_reference(path: Path) -> Reference:
    arrays = load_arrays(path, _ARRAYS + _SCALARS + _STRINGS)
    return Reference(
        **{name: arrays[name] for name in _ARRAYS},
        **{name: float(arrays[name]) for name in _SCALARS},
        **{name: str(arrays[name]) for name in _STRINGS},
    )


def score_generated(
    generated: NetworkOutputs, reference: Reference, config: EvaluateConfig
) -> dict[str, float | str | None]:
    """Every metric of generated images against one network's reference.

    ``fid`` with a bootstrap interval (``fid_ci_low``/``fid_ci_high``; resampling the
    generated features), ``inception_score`` (``splits`` parts), ``kid`` (unbiased MMD²,
    cubic kernel), ``precision``/``recall`` (k-NN manifolds) and ``density``/``coverage``,
    beside the yardsticks (the real images' own IS: the ceiling; FID(train, test): the
    floor) and the image counts.
    """
    fid = frechet_distance(
        *gaussian_statistics(generated.features), reference.mean, reference.covariance
    )
    fid_low = fid_high = None  # JSON null: no interval asked for
    if config.fid_bootstrap_resamples > 0:
        fid_low, fid_high = frechet_distance_bootstrap(
            reference.mean,
            reference.covariance,
            generated.features,
            config.fid_bootstrap_resamples,
            config.seed,
            config.fid_confidence,
        )
    is_mean, is_std = inception_score(generated.probabilities, config.splits)
    real_mean, real_std = inception_score(reference.probabilities, config.splits)
    kid, kid_std = kernel_inception_distance(
        reference.features,
        generated.features,
        config.kid_subsets,
        config.kid_subset_size,
        config.seed,
    )
    precision, recall = precision_recall(
        reference.features, generated.features, config.precision_recall_k
    )
    density, coverage = density_coverage(
        reference.features, generated.features, config.density_coverage_k
    )
    return {
        "network": reference.label,
        "fid": fid,
        "fid_ci_low": fid_low,
        "fid_ci_high": fid_high,
        "inception_score": is_mean,
        "inception_score_std": is_std,
        "kid": kid,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
        "density": density,
        "coverage": coverage,
        "num_images": len(generated),
        "reference_split": reference.split,
        "num_reference_images": len(reference),
        "real_inception_score": real_mean,
        "real_inception_score_std": real_std,
        "fid_train_test": reference.fid_train_test,
    }


def score_classes(
    generated: NetworkOutputs, reference: Reference, threshold: float
) -> dict[str, object]:
    """Mode collapse as the dataset's own classifier sees it (evaluator only)."""
    num_classes = reference.probabilities.shape[1]
    return class_statistics(generated.probabilities, reference.labels, num_classes, threshold)


def quick_scorer(
    reference: Reference, kid_subsets: int, kid_subset_size: int, seed: int
) -> Callable[[NetworkOutputs], dict[str, float]]:
    """FID and KID only: cheap enough to run every few epochs during training."""

    def score(generated: NetworkOutputs) -> dict[str, float]:
        fid = frechet_distance(
            *gaussian_statistics(generated.features), reference.mean, reference.covariance
        )
        kid, kid_std = kernel_inception_distance(
            reference.features, generated.features, kid_subsets, kid_subset_size, seed
        )
        return {"fid": fid, "kid": kid, "kid_std": kid_std}

    return score


def reference_file(directory: Path, network: str) -> Path:
    """Where the ``reference`` stage keeps ``network``'s statistics (dvc.yaml names it too)."""
    return Path(directory) / f"{network}.npz"
