"""From a raw dataset to the prepared train/test splits the models read.

Prepared images are float32 ``(N, 28, 28, 1)`` in ``[-1, 1]``, matching the generator's
``tanh`` output (the seed scaled to ``[0, 1]``, which a tanh generator can only half cover).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantrack.datasets import RawDataset
from gantrack.io import load_arrays, save_arrays


@dataclass(frozen=True)
class Split:
    """Images ``(N, 28, 28, 1)`` float32 in ``[-1, 1]`` and labels ``(N,)`` int64."""

    images: np.ndarray
    labels: np.ndarray


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 ``(N, H, W)`` in [0, 255] -> float32 ``(N, H, W, 1)`` in [-1, 1]: x / 127.5 - 1."""
    return (images.astype(np.float32) / 127.5 - 1.0)[..., np.newaxis]


def subsample_per_class(labels: np.ndarray, max_per_class: int, seed: int) -> np.ndarray:
    """Sorted indices keeping at most ``max_per_class`` random images of each class."""
    rng = np.random.default_rng(seed)
    kept = [
        rng.permutation(np.flatnonzero(labels == label))[:max_per_class]
        for label in np.unique(labels)
    ]
    return np.sort(np.concatenate(kept))


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices with ``round(n_c * test_fraction)`` test images per class.

    Each class keeps at least one image on each side, so every class is seen in training
    and measured in testing. The same labels, fraction and seed give the same split.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) < 2:
            raise ValueError(f"class {label} has {len(members)} image; a split needs at least 2")
        num_test = min(max(1, round(len(members) * test_fraction)), len(members) - 1)
        test.append(members[:num_test])
        train.append(members[num_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def prepare_splits(
    raw: RawDataset,
    split: str,
    test_fraction: float,
    max_images_per_class: int | None,
    seed: int,
) -> tuple[Split, Split]:
    """Subsample (optional), split (stratified or the dataset's canonical one), shuffle, scale."""
    keep = np.arange(len(raw.labels))
    if max_images_per_class is not None:
        keep = subsample_per_class(raw.labels, max_images_per_class, seed)
    labels = raw.labels[keep]
    if split == "canonical":
        if raw.canonical_test is None:
            raise ValueError(
                f"data.split is 'canonical', but {raw.origin} has no published test split; "
                "use split: stratified"
            )
        is_test = raw.canonical_test[keep]
        train_index, test_index = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    elif split == "stratified":
        train_index, test_index = stratified_split(labels, test_fraction, seed)
    else:
        raise ValueError(f"unknown split {split!r}; valid: stratified, canonical")
    # Store each split in a seeded random order, not sorted by class: anything that takes
    # consecutive parts (the Inception Score's splits, a first-N preview) then sees a
    # representative mix.
    order = np.random.default_rng(seed)
    train_index, test_index = order.permutation(train_index), order.permutation(test_index)
    images = raw.images[keep]
    return (
        Split(scale_images(images[train_index]), labels[train_index]),
        Split(scale_images(images[test_index]), labels[test_index]),
    )


def array_checksum(*arrays: np.ndarray) -> str:
    """SHA-256 over dtype, shape and bytes of each array: changes if any pixel does."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def data_card(name: str, raw: RawDataset, train: Split, test: Split, split: str, seed: int) -> dict:
    """What a reader needs to trust the data: origin, counts per class, value range, checksum."""

    def describe(part: Split) -> dict:
        counts = np.bincount(part.labels, minlength=len(raw.class_names))
        return {
            "num_images": len(part.labels),
            "images_per_class": {
                class_name: int(count)
                for class_name, count in zip(raw.class_names, counts, strict=True)
            },
            "shape": list(part.images.shape),
            "min": float(part.images.min()),
            "max": float(part.images.max()),
            "sha256": array_checksum(part.images, part.labels),
        }

    return {
        "dataset": name,
        "origin": raw.origin,
        "split": split,
        "seed": seed,
        "train": describe(train),
        "test": describe(test),
        "sha256": array_checksum(train.images, train.labels, test.images, test.labels),
    }


def save_split(path: Path, split: Split) -> None:
    save_arrays(path, images=split.images, labels=split.labels)


def load_split(path: Path) -> Split:
    arrays = load_arrays(path, ("images", "labels"))
    return Split(arrays["images"], arrays["labels"])
