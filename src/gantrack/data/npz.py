"""A user's own images in one ``.npz``: ``images``, optionally ``labels`` and ``class_names``.

The archive is opened with ``allow_pickle=False``: arrays of Python objects are refused,
so loading it never runs code. Accepted arrays (any others are ignored):

- ``images``: ``(N, H, W)`` greyscale or ``(N, H, W, C)`` with C = 1 (greyscale) or
  3 (RGB), any H and W (they are converted and resized afterwards, like image files).
  Either an integer dtype with values in 0..255 (uint8 or any other integer type), or a
  float dtype with values in [0, 1] (the convention of Pillow, scikit-image and
  ``tf.image``), mapped to round(255·x). Floats in [-1, 1], such as gantrack's own
  prepared splits, are refused rather than guessed: the range cannot be told from the
  values (a [0, 1] set holds no negative values, and neither may a bright [-1, 1] one),
  and a wrong guess silently changes every pixel. The message says how to convert.
  Everything becomes 8 bits, as image files are: a float set loses detail finer than
  1/255.
- ``labels`` (optional): integers ≥ 0 of shape ``(N,)``. Without it, the data is
  unlabeled.
- ``class_names`` (optional, with ``labels``): a 1-D array of distinct strings, one per
  class; labels index it. Without it the classes are named ``"0"`` … up to the largest
  label. At most :data:`MAX_CLASSES` classes: a label of 2**62 is a damaged file, not a
  request for that many class names.

Before any array is read, the size its header claims is checked against the bytes the
archive holds for it, and against the memory free: a damaged or hostile header is one
clear error, never a raw ``MemoryError`` or a machine swapping.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from gantrack.errors import CorruptDatasetError

ARRAY_NAMES = ("images", "labels", "class_names")
# Labels 0..MAX_CLASSES-1: more classes than any image dataset a GAN here is trained on.
MAX_CLASSES = 10_000
# The .npy header readers of each format version numpy writes (3.0 only for unicode names).
HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def read_images_npz(
    path: Path,
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...]] | None:
    """(uint8 images as stored, int64 labels or None, class names); None if ``path`` is absent."""
    if not path.exists():
        return None
    if not path.is_file():
        raise CorruptDatasetError(
            f"{path}: is a folder; dataset npz reads one .npz file "
            "(use dataset: image_folder for a folder of image files)"
        )
    arrays = _load_arrays(path)
    if "images" not in arrays:
        raise CorruptDatasetError(
            f"{path}: no array named 'images' (found {sorted(arrays)}); save the file with "
            "numpy.savez(path, images=images, labels=labels)"
        )
    images = _images_as_uint8(path, arrays["images"])
    labels = arrays.get("labels")
    if labels is None:
        if "class_names" in arrays:
            raise CorruptDatasetError(f"{path}: has 'class_names' but no 'labels'")
        return images, None, ()
    labels = _check_labels(path, labels, len(images))
    return images, labels, _class_names(path, arrays.get("class_names"), labels)


def available_memory() -> int:
    """Bytes of memory this machine can give now without swapping."""
    import psutil

    return psutil.virtual_memory().available


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    if zipfile.is_zipfile(path):
        _check_array_sizes(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CorruptDatasetError(
                f"{path}: holds a single array, not an .npz archive; save it with "
                "numpy.savez(path, images=images)"
            )
        with loaded as archive:
            return {name: archive[name] for name in ARRAY_NAMES if name in archive.files}
    except CorruptDatasetError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        # ValueError covers "Object arrays cannot be loaded when allow_pickle=False".
        raise CorruptDatasetError(f"{path}: not a readable .npz file ({error})") from None


def _check_array_sizes(path: Path) -> None:
    """Refuse an array whose header claims more bytes than the archive or the memory has."""
    try:
        with zipfile.ZipFile(path) as archive:
            for name in ARRAY_NAMES:
                if f"{name}.npy" in archive.namelist():
                    _check_member(path, archive, name)
    except CorruptDatasetError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise CorruptDatasetError(f"{path}: not a readable .npz file ({error})") from None


def _check_member(path: Path, archive: zipfile.ZipFile, name: str) -> None:
    info = archive.getinfo(f"{name}.npy")
    with archive.open(info) as stream:
        reader = HEADER_READERS.get(np.lib.format.read_magic(stream))
        if reader is None:
            return  # a format version this check does not read: numpy's own checks apply
        shape, _, dtype = reader(stream)
        header_bytes = stream.tell()
    needed = math.prod(shape) * dtype.itemsize
    held = info.file_size - header_bytes  # the archive's own record of the array's bytes
    if needed > held:
        raise CorruptDatasetError(
            f"{path}: '{name}' claims shape {shape} of {dtype} ({_size(needed)}) but the "
            f"file holds {held:,} bytes of it; the file is damaged or not what it claims: "
            "save it again with numpy.savez"
        )
    if needed > (free := available_memory()):
        raise CorruptDatasetError(
            f"{path}: '{name}' needs {_size(needed)} of memory; {_size(free)} are free. Use "
            "fewer or smaller images (data.max_images_per_class), or a larger machine"
        )


def _size(num_bytes: int) -> str:
    """``931.3 GiB``: a byte count in binary units, to one decimal."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes} bytes" if unit == "bytes" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    raise AssertionError("unreachable")


def _images_as_uint8(path: Path, images: np.ndarray) -> np.ndarray:
    shape_ok = images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3))
    if not shape_ok or images.size == 0:
        raise CorruptDatasetError(
            f"{path}: 'images' has shape {images.shape}; expected (N, H, W) or (N, H, W, C) "
            "with N, H, W >= 1 and C = 1 (greyscale) or 3 (RGB)"
        )
    if images.dtype.kind in "ui":
        low, high = int(images.min()), int(images.max())
        if low < 0 or high > 255:
            raise CorruptDatasetError(
                f"{path}: integer 'images' range over [{low}, {high}]; expected 0..255"
            )
        return images.astype(np.uint8, copy=False)
    if images.dtype.kind == "f":
        if not np.isfinite(images).all():
            raise CorruptDatasetError(f"{path}: 'images' holds NaN or infinite values")
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            raise CorruptDatasetError(
                f"{path}: float 'images' range over [{low:g}, {high:g}]; floats must lie in "
                "[0, 1]. For images in [-1, 1] save (images + 1) / 2; or save uint8 in 0..255"
            )
        return np.round(images * 255.0).astype(np.uint8)
    raise CorruptDatasetError(
        f"{path}: 'images' are {images.dtype}; expected uint8 (0..255) or float in [0, 1]"
    )


def _check_labels(path: Path, labels: np.ndarray, num_images: int) -> np.ndarray:
    if labels.dtype.kind not in "ui" or labels.shape != (num_images,):
        raise CorruptDatasetError(
            f"{path}: 'labels' are {labels.dtype} of shape {labels.shape}; expected "
            f"integers of shape ({num_images},), one per image"
        )
    if labels.min() < 0:
        raise CorruptDatasetError(f"{path}: 'labels' include {labels.min()}; expected >= 0")
    return labels.astype(np.int64)


def _class_names(path: Path, names: np.ndarray | None, labels: np.ndarray) -> tuple[str, ...]:
    num_classes = int(labels.max()) + 1
    if num_classes > MAX_CLASSES:
        raise CorruptDatasetError(
            f"{path}: labels go up to {num_classes - 1:,}; gantrack takes at most "
            f"{MAX_CLASSES:,} classes (labels 0..{MAX_CLASSES - 1:,}): number the classes "
            "0, 1, 2, … (numpy.unique(labels, return_inverse=True) does)"
        )
    if names is None:
        return tuple(str(label) for label in range(num_classes))
    if names.dtype.kind != "U" or names.ndim != 1 or len(set(names.tolist())) != len(names):
        raise CorruptDatasetError(
            f"{path}: 'class_names' must be a 1-D array of distinct strings, got "
            f"{names.dtype} of shape {names.shape}"
        )
    if len(names) < num_classes:
        raise CorruptDatasetError(
            f"{path}: labels go up to {num_classes - 1} but there are only {len(names)} class_names"
        )
    return tuple(names.tolist())
