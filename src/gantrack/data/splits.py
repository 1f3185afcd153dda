"""From a raw dataset to the prepared train/test splits the models read.

Prepared images are float32 ``(N, S, S, C)`` in ``[-1, 1]`` (S = ``data.image_size``,
C = ``data.channels``), matching the generator's ``tanh`` output (images scaled to
``[0, 1]`` would leave half of a tanh generator's range unused). Unlabeled data (a flat
image folder, an npz without labels) is stored with every label :data:`UNLABELED` and split
at random; the data card says ``labelled: false``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gantrack.errors import GantrackError
from gantrack.io import load_arrays, save_arrays

if TYPE_CHECKING:  # a type only: loading splits needs none of the dataset readers
    from gantrack.data.datasets import RawDataset

UNLABELED = -1  # the label of every image of unlabeled data


class UnlabeledDataError(GantrackError, ValueError):
    """A stage needs class labels that the prepared data does not have."""


class SplitError(GantrackError, ValueError):
    """The data cannot be split as asked (too few images of a class, or in all)."""


@dataclass(frozen=True)
class Split:
    """Images ``(N, S, S, C)`` float32 in ``[-1, 1]``; labels ``(N,)`` int64 (or UNLABELED)."""

    images: np.ndarray
    labels: np.ndarray


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 in [0, 255] -> float32 in [-1, 1], same shape: x / 127.5 - 1."""
    return images.astype(np.float32) / 127.5 - 1.0


def subsample_per_class(labels: np.ndarray, max_per_class: int, seed: int) -> np.ndarray:
    """Sorted indices keeping at most ``max_per_class`` random images of each class.

    Unlabeled data (all labels UNLABELED) is one class: the cap applies to the total.
    """
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
            raise SplitError(
                f"class {label} has {len(members)} image; a split needs at least 2 of each "
                "class (one to train on, one to test)"
            )
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
    """Subsample (optional), split (stratified or the dataset's canonical one), shuffle, scale.

    Unlabeled data has one "class", so the stratified split of it is a seeded random split
    with ``round(N * test_fraction)`` test images (at least one on each side).
    """
    all_labels = raw.labels if raw.labelled else np.full(len(raw.images), UNLABELED, np.int64)
    if not raw.labelled and len(all_labels) < 2:
        raise SplitError(f"{raw.origin} holds {len(all_labels)} image; a split needs at least 2")
    if raw.labelled and split == "stratified":
        counts = np.bincount(raw.labels, minlength=len(raw.class_names))
        too_few = [
            f"{raw.class_names[label]!r} ({counts[label]} image)"
            for label in np.unique(raw.labels)
            if counts[label] < 2
        ]
        if too_few:
            raise SplitError(
                f"{raw.origin}: classes {', '.join(too_few)} have fewer than 2 images; a "
                "stratified split needs at least 2 of each class (one to train on, one to "
                "test). Add images to them or remove those classes"
            )
    keep = np.arange(len(all_labels))
    if max_images_per_class is not None:
        keep = subsample_per_class(all_labels, max_images_per_class, seed)
    labels = all_labels[keep]
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
    """What a reader needs to trust the data.

    Origin and format, image size and channels, classes and counts per class, the files
    left out as unreadable (with reasons), value range and checksums of each split.
    """

    def describe(part: Split) -> dict:
        counts = np.bincount(part.labels, minlength=len(raw.class_names)) if raw.labelled else []
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
        "source_kind": raw.source_kind,
        "image_size": int(train.images.shape[1]),
        "channels": int(train.images.shape[3]),
        "labelled": raw.labelled,
        "num_classes": len(raw.class_names),
        "class_names": list(raw.class_names),
        "split": split if raw.labelled else "random",
        "seed": seed,
        "num_skipped": len(raw.skipped),
        "skipped": [{"file": item.file, "reason": item.reason} for item in raw.skipped],
        "ignored_files": dict(raw.ignored_files),
        "train": describe(train),
        "test": describe(test),
        "sha256": array_checksum(train.images, train.labels, test.images, test.labels),
    }


def evaluator_num_classes(card: Mapping[str, Any]) -> int:
    """The number of classes the evaluator learns, from the data card.

    The evaluator behind FID, IS and the in-training scores is a classifier of the
    dataset's classes: unlabeled data, or a single class, gives it nothing to learn.
    """
    label_help = (
        "To label an image folder, put each class's images in its own sub-folder of "
        "data.source (and none at its top level); for an .npz, add an integer 'labels' "
        "array (optionally 'class_names'). Any grouping you trust will do, such as clusters "
        "of the images, but the scores then measure that grouping"
    )
    if not card["labelled"]:
        raise UnlabeledDataError(
            f"the evaluator is a classifier and needs class labels, but dataset "
            f"{card['dataset']} ({card['origin']}) is unlabeled (data card: labelled: "
            f"false). {label_help}."
        )
    if card["num_classes"] < 2:
        raise UnlabeledDataError(
            f"the evaluator is a classifier and needs at least 2 classes, but dataset "
            f"{card['dataset']} ({card['origin']}) has {card['num_classes']}: "
            f"{card['class_names']}. {label_help}."
        )
    return int(card["num_classes"])


def save_split(path: Path, split: Split) -> None:
    save_arrays(path, images=split.images, labels=split.labels)


def load_split(path: Path) -> Split:
    arrays = load_arrays(path, ("images", "labels"))
    return Split(arrays["images"], arrays["labels"])
