"""CIFAR-10 from a local copy: the binary version, or the Python version read safely.

Both versions hold five training batches and one test batch of 32 × 32 RGB images, stored
channel-major: 1,024 red bytes, 1,024 green, 1,024 blue, each row by row. The published
split is the 50,000 training and 10,000 test images.

- **Binary** (``cifar-10-batches-bin``: ``data_batch_1.bin`` … ``data_batch_5.bin``,
  ``test_batch.bin``): records of 1 label byte + 3,072 pixel bytes. Parsed as bytes;
  nothing is executed.
- **Python** (``cifar-10-batches-py``: ``data_batch_1`` … ``data_batch_5``,
  ``test_batch``): pickled dicts ``{b"data": uint8 array (N, 3072), b"labels": [int], …}``.
  A pickle is a small program: its ``GLOBAL`` opcode imports any callable by name and
  ``REDUCE`` calls it, so ``pickle.load`` on a tampered file can run ``os.system``. They
  are read with :class:`RestrictedUnpickler`, whose ``find_class`` (the only way a pickle
  can reach a callable, including through the ``copyreg`` extension registry) admits just
  the three numpy names that rebuild an array: ``numpy.ndarray``, ``numpy.dtype`` and
  ``multiarray._reconstruct`` (under numpy 1's ``numpy.core`` and numpy 2's
  ``numpy._core``). These only allocate an array and fill it from bytes in the file; the
  rest of a CIFAR pickle is plain builtins (dict, list, bytes, int), which pickle builds
  without calling anything. The worst a crafted file can then do is fail to load or ask
  for a large array. The same allow-list is what Keras's own CIFAR loader uses.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from gantrack.errors import CorruptDatasetError

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
PIXELS_PER_IMAGE = 3 * 32 * 32
RECORD_SIZE = 1 + PIXELS_PER_IMAGE  # binary version: a label byte, then the pixels
TRAIN_BATCHES = tuple(f"data_batch_{number}" for number in range(1, 6))
TEST_BATCH = "test_batch"
# (folder name when extracted, file suffix, source kind) of each version
VERSIONS = (
    ("cifar-10-batches-bin", ".bin", "cifar10_binary"),
    ("cifar-10-batches-py", "", "cifar10_python"),
)
BINARY_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
PYTHON_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)

# What a damaged pickle stream can raise besides UnpicklingError (a bad opcode argument, a
# memo reference to nothing, ndarray.__setstate__ given the wrong state, ...).
_MALFORMED_PICKLE = (ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError)

Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtins only; any other global is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refused to load {module}.{name}: a CIFAR-10 batch needs only numpy arrays, "
            "so the file is damaged or malicious"
        )


def read_cifar10_folder(folder: Path) -> tuple[Splits, str] | None:
    """((train, test) splits of uint8 ``(N, 32, 32, 3)`` and int64 labels, source kind).

    Looks for either version's six batch files in ``folder`` itself, then in its
    ``cifar-10-batches-bin`` / ``cifar-10-batches-py`` sub-folder. Returns None where no
    batch file exists; a partial set of batches is an error naming what is missing.
    """
    for candidate in (folder, *(folder / name for name, _, _ in VERSIONS)):
        for _, suffix, kind in VERSIONS:
            paths = [candidate / f"{name}{suffix}" for name in (*TRAIN_BATCHES, TEST_BATCH)]
            missing = [path.name for path in paths if not path.is_file()]
            if not missing:
                return _read_batches(paths, kind), kind
            if len(missing) < len(paths):
                raise CorruptDatasetError(f"{candidate}: CIFAR-10 batches {missing} are missing")
    return None


def _read_batches(paths: list[Path], kind: str) -> Splits:
    """Five training batches and the test batch -> (train, test)."""
    read = read_binary_batch if kind == "cifar10_binary" else read_python_batch
    train = [read(path) for path in paths[:-1]]
    train_images = np.concatenate([images for images, _ in train])
    train_labels = np.concatenate([labels for _, labels in train])
    return (train_images, train_labels), read(paths[-1])


def read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch: records of a label byte and 3,072 channel-major pixel bytes."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise CorruptDatasetError(f"{path}: cannot be read ({error})") from None
    if not content or len(content) % RECORD_SIZE:
        raise CorruptDatasetError(
            f"{path}: {len(content)} bytes is not a whole number of {RECORD_SIZE}-byte "
            "CIFAR-10 records (1 label byte + 3,072 pixel bytes)"
        )
    records = np.frombuffer(content, dtype=np.uint8).reshape(-1, RECORD_SIZE)
    return _to_images(path, records[:, 1:], records[:, 0])


def read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch of the Python version, through :class:`RestrictedUnpickler`."""
    try:
        with path.open("rb") as handle:
            # encoding="bytes": the batches were pickled by Python 2, whose str is bytes.
            batch = RestrictedUnpickler(handle, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, *_MALFORMED_PICKLE) as error:
        raise CorruptDatasetError(f"{path}: not a readable CIFAR-10 batch ({error})") from None
    if not isinstance(batch, dict):
        raise CorruptDatasetError(f"{path}: expected a dict, found {type(batch).__name__}")
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise CorruptDatasetError(f"{path}: a CIFAR-10 batch has 'data' and 'labels'")
    pixels = batch["data"]
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise CorruptDatasetError(f"{path}: 'data' is not a uint8 (N, 3072) array")
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError):
        raise CorruptDatasetError(f"{path}: 'labels' is not a list of integers") from None
    return _to_images(path, pixels, labels)


def _to_images(path: Path, pixels: np.ndarray, labels: np.ndarray):
    if pixels.shape[1:] != (PIXELS_PER_IMAGE,) or labels.shape != (len(pixels),):
        raise CorruptDatasetError(
            f"{path}: {pixels.shape} pixels and {labels.shape} labels; expected "
            f"(N, {PIXELS_PER_IMAGE}) and (N,)"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise CorruptDatasetError(f"{path}: labels outside 0..9")
    # (N, 3072) channel-major -> (N, 3, 32, 32) -> (N, 32, 32, 3)
    images = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)
