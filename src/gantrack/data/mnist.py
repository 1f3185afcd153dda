"""MNIST-style files: LeCun's IDX format (optionally gzipped) and Keras's ``mnist.npz``.

Each reader returns ``((train_images, train_labels), (test_images, test_labels))`` of
uint8 ``(N, 28, 28)`` images, or None where the file or folder is absent; a file that
exists but cannot be read raises :class:`CorruptDatasetError` naming it.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np

from gantrack.errors import CorruptDatasetError

IMAGE_SIDE = 28
# (name in the IDX convention, name of the npz keys) for each split.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_source(source: Path):
    if not source.exists():
        return None
    if source.is_dir():
        splits = read_idx_folder(source)
        if splits is None:
            names = ", ".join(f"{stem}[.gz]" for pair in IDX_FILES.values() for stem in pair)
            raise CorruptDatasetError(f"{source}: folder lacks the IDX files {names}")
        return splits
    return read_keras_npz(source)


def read_keras_npz(path: Path):
    """A Keras-style npz with x_train, y_train, x_test, y_test; None if absent."""
    if not path.is_file():
        return None
    names = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise CorruptDatasetError(
                    f"{path}: missing arrays {missing}; a Keras-style MNIST file has "
                    f"{', '.join(names)}"
                )
            arrays = {name: archive[name] for name in names}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        if isinstance(error, CorruptDatasetError):
            raise
        raise CorruptDatasetError(f"{path}: not a readable .npz file ({error})") from None
    splits = ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
    for images, labels in splits:
        _check_images(path, images, labels)
    return splits


def read_idx_folder(folder: Path):
    """The four IDX files (optionally .gz) of an MNIST-like dataset; None if absent."""
    splits = []
    for image_stem, label_stem in IDX_FILES.values():
        image_path = _find_idx(folder, image_stem)
        label_path = _find_idx(folder, label_stem)
        if image_path is None or label_path is None:
            return None
        images, labels = read_idx(image_path), read_idx(label_path)
        _check_images(image_path, images, labels)
        splits.append((images, labels))
    return tuple(splits)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (LeCun's MNIST format), gzipped or not.

    Layout: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then
    one big-endian int32 per dimension, then the data.
    """
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:
        raise CorruptDatasetError(f"{path}: cannot be read ({error})") from None
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] != 0x08:
        raise CorruptDatasetError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    num_dims = content[3]
    header_size = 4 + 4 * num_dims
    shape = tuple(int(size) for size in np.frombuffer(content[4:header_size], dtype=">i4"))
    data = np.frombuffer(content, dtype=np.uint8, offset=min(header_size, len(content)))
    if len(shape) != num_dims or data.size != int(np.prod(shape)):
        raise CorruptDatasetError(
            f"{path}: header says shape {shape}, but the file holds {data.size} values"
        )
    return data.reshape(shape)


def _check_images(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    if images.dtype != np.uint8:
        raise CorruptDatasetError(f"{path}: images are {images.dtype}; expected uint8 in [0, 255]")
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise CorruptDatasetError(
            f"{path}: images have shape {images.shape}; expected (N, {IMAGE_SIDE}, {IMAGE_SIDE})"
        )
    if labels.shape != (len(images),):
        raise CorruptDatasetError(
            f"{path}: {len(images)} images but labels of shape {labels.shape}"
        )
