"""A network's view of the real data, computed once per (dataset, network) and cached.

The ``reference`` stages build one :class:`Reference` per feature network from both
splits' outputs and write it to ``<paths.reference_dir>/<network>.npz``; training's
in-training score and the ``evaluate`` stage read it back, so scoring a generator never
runs the network on real images again. Its math is FID's alone
(:mod:`gantrack.evaluation.metrics.frechet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantrack.evaluation.feature_networks.base import NetworkOutputs
from gantrack.evaluation.metrics.frechet import frechet_distance, gaussian_statistics
from gantrack.io import load_arrays, save_arrays

_OTHER_SPLIT = {"train": "test", "test": "train"}


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
    held_out_features: np.ndarray  # (M, d) the other split's: memorisation's held-out data
    labels: np.ndarray  # (N,) true classes of the real images
    mean: np.ndarray  # (d,)
    covariance: np.ndarray  # (d, d)
    fid_train_test: float

    def __len__(self) -> int:
        return len(self.features)

    def split_features(self, split: str) -> np.ndarray:
        """Features of the prepared ``split`` (``"train"`` or ``"test"``)."""
        if split not in _OTHER_SPLIT:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.features if split == self.split else self.held_out_features


def build_reference(
    network: str,
    label: str,
    split: str,
    outputs: dict[str, NetworkOutputs],
    labels: np.ndarray,
) -> Reference:
    """The reference of ``split`` (``"train"`` or ``"test"``) from both splits' outputs."""
    reference, held_out = outputs[split], outputs[_OTHER_SPLIT[split]]
    mean, covariance = gaussian_statistics(reference.features)
    return Reference(
        network=network,
        label=label,
        split=split,
        features=reference.features,
        probabilities=reference.probabilities,
        held_out_features=held_out.features,
        labels=labels,
        mean=mean,
        covariance=covariance,
        fid_train_test=frechet_distance(
            *gaussian_statistics(outputs["train"].features),
            *gaussian_statistics(outputs["test"].features),
        ),
    )


_ARRAYS = ("features", "probabilities", "held_out_features", "labels", "mean", "covariance")
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


def reference_file(directory: Path, network: str) -> Path:
    """Where the ``reference`` stage keeps ``network``'s statistics (dvc.yaml names it too)."""
    return Path(directory) / f"{network}.npz"
