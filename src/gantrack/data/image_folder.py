"""A folder of PNG/JPEG files -> uint8 images, with class labels from sub-folders.

Layout (the convention of torchvision's ``ImageFolder`` and Keras's
``image_dataset_from_directory``):

- **labelled**: every image sits below a sub-folder of the top folder. The sub-folder
  names, sorted (Python string order), are the classes: label ``i`` is the ``i``-th name.
  Images are found recursively inside each class folder.
- **unlabeled**: any image directly in the top folder makes the whole folder unlabeled
  (images found recursively; the sub-folder names are then not taken as classes).

Files ending ``.png``, ``.jpg`` or ``.jpeg`` (any case) are read; hidden files and folders
(names starting with ``.``) are not looked at; other files are counted by suffix for the
data card and not read. Files are taken in sorted order of their relative path, so the
result does not depend on the order in which the file system lists them.

Only regular files inside the folder are read: a symbolic link (to a file or a folder,
wherever it points) is not followed, and a FIFO, socket or device is not opened (a FIFO
named ``x.png`` would wait for a writer forever). The data card counts them under
``ignored_files`` as ``(symbolic link)`` and ``(not a regular file)``. Each file is opened
without following a link and without blocking, and checked to be regular once open, so a
file swapped for a link after the listing is refused too.

An image of more than :data:`MAX_IMAGE_PIXELS` pixels is unreadable (an error, or
skipped and listed): its header is checked before anything is decoded, since a few KB of
PNG can claim gigabytes of pixels. Pillow itself only warns up to twice its own limit.

Each file is decoded by Pillow's PNG or JPEG decoder only (whatever its suffix), turned
upright by its EXIF orientation, then converted and resized by
:func:`gantrack.data.conversion.convert_image`. A file that cannot be decoded or
converted stops reading (``on_unreadable="stop"``: :class:`UnreadableImageError` names
it) or is listed with its reason in :attr:`ImageFolder.skipped` (``"skip"``).

Caveat: JPEG decoders may differ by a grey level between libjpeg versions, so checksums of
prepared JPEG data can differ between Pillow builds (PNG decoding is exact).
"""

from __future__ import annotations

import os
import stat
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gantrack.data.conversion import convert_image
from gantrack.errors import CorruptDatasetError, UnreadableImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
PILLOW_FORMATS = ("PNG", "JPEG")  # no other decoder ever runs on a user's file
ON_UNREADABLE = ("stop", "skip")
# Pillow's own warning threshold (~0.27 GB as RGB), made an error: a 48-megapixel photo
# passes, a decompression bomb does not. Images are resized to 28..64 pixels a side anyway.
MAX_IMAGE_PIXELS = 89_478_485
SYMBOLIC_LINK = "(symbolic link)"
NOT_REGULAR = "(not a regular file)"


@dataclass(frozen=True)
class SkippedFile:
    """An image file left out under ``on_unreadable: skip``: path relative to the folder."""

    file: str
    reason: str


@dataclass(frozen=True)
class ImageFolder:
    """Images uint8 ``(N, S, S, C)``; labels ``(N,)`` int64, or None when unlabeled."""

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    skipped: tuple[SkippedFile, ...] = ()
    # Files not read because their suffix is not an image suffix: {".txt": 2, ...}
    ignored_files: dict[str, int] = field(default_factory=dict)


def read_image_folder(
    folder: Path, image_size: int, channels: int, on_unreadable: str
) -> ImageFolder:
    """Read every PNG/JPEG below ``folder`` (see the module docstring for the layout)."""
    if on_unreadable not in ON_UNREADABLE:
        raise ValueError(
            f"unknown on_unreadable {on_unreadable!r}; valid: {', '.join(ON_UNREADABLE)}"
        )
    files, ignored_files = list_image_files(folder)
    if not files:
        raise CorruptDatasetError(
            f"{folder}: no image files found (looked recursively for "
            f"{', '.join(IMAGE_SUFFIXES)}); point data.source at the folder holding them"
        )
    class_names, labels = class_labels(files)
    images = np.empty((len(files), image_size, image_size, channels), dtype=np.uint8)
    read_ok = np.zeros(len(files), dtype=bool)
    skipped = []
    for index, relative in enumerate(files):
        try:
            images[index] = read_image_file(folder / relative, image_size, channels)
        except UnreadableImageError as error:
            if on_unreadable == "stop":
                raise
            skipped.append(SkippedFile(relative.as_posix(), error.reason))
        else:
            read_ok[index] = True
    if not read_ok.any():
        raise CorruptDatasetError(
            f"{folder}: none of its {len(files)} image files could be read; the first: "
            f"{skipped[0].file} ({skipped[0].reason})"
        )
    return ImageFolder(
        images[read_ok],
        None if labels is None else labels[read_ok],
        class_names,
        tuple(skipped),
        ignored_files,
    )


def list_image_files(folder: Path) -> tuple[list[PurePosixPath], dict[str, int]]:
    """(sorted relative paths of the image files, {suffix: count} of the other files)."""
    files: list[PurePosixPath] = []
    ignored: Counter[str] = Counter()
    for root, directories, names in os.walk(folder):  # never into a linked folder
        linked = [name for name in directories if Path(root, name).is_symlink()]
        ignored[SYMBOLIC_LINK] += len([name for name in linked if not name.startswith(".")])
        directories[:] = [
            name for name in directories if not name.startswith(".") and name not in linked
        ]
        relative_root = PurePosixPath(Path(root).relative_to(folder).as_posix())
        for name in names:
            if name.startswith("."):
                continue
            kind = _file_kind(Path(root, name))
            suffix = PurePosixPath(name).suffix.lower()
            if kind is not None:
                ignored[kind] += 1
            elif suffix in IMAGE_SUFFIXES:
                files.append(relative_root / name)
            else:
                ignored[suffix or "(no suffix)"] += 1
    counts = {key: count for key, count in ignored.items() if count}
    return sorted(files, key=str), dict(sorted(counts.items()))


def _file_kind(path: Path) -> str | None:
    """Why ``path`` is not read: a symbolic link, or not a regular file; None for a file."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        return SYMBOLIC_LINK
    return None if stat.S_ISREG(mode) else NOT_REGULAR


def class_labels(files: list[PurePosixPath]) -> tuple[tuple[str, ...], np.ndarray | None]:
    """(class names, labels) from the first folder of each relative path; unlabeled: ((), None)."""
    if any(len(path.parts) == 1 for path in files):
        return (), None
    class_names = tuple(sorted({path.parts[0] for path in files}))
    index = {name: label for label, name in enumerate(class_names)}
    return class_names, np.array([index[path.parts[0]] for path in files], dtype=np.int64)


def read_image_file(path: Path, image_size: int, channels: int) -> np.ndarray:
    """Decode one PNG/JPEG -> uint8 ``(image_size, image_size, channels)``.

    Raises :class:`UnreadableImageError` with the reason for anything Pillow cannot
    decode (truncated, not an image, more than :data:`MAX_IMAGE_PIXELS`) or convert
    (16-bit, floating point), and for a path that is not a regular file once opened.
    """
    try:
        with _open_regular_file(path) as handle, _open_image(handle) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > MAX_IMAGE_PIXELS:
                raise UnreadableImageError(
                    path,
                    f"{width}×{height} = {width * height:,} pixels, above the cap of "
                    f"{MAX_IMAGE_PIXELS:,}; resize it first (it becomes {image_size} pixels "
                    "a side anyway)",
                )
            image.load()  # Image.open only reads the header: decode now, inside the try
            upright = ImageOps.exif_transpose(image)
            return convert_image(upright, image_size, channels)
    except UnreadableImageError:
        raise
    except UnidentifiedImageError:
        raise UnreadableImageError(path, "not a PNG or JPEG image") from None
    except Image.DecompressionBombError as error:
        raise UnreadableImageError(path, str(error)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # Pillow reports a truncated or damaged file as OSError or SyntaxError ("broken
        # PNG file"); convert_image reports an unconvertible mode as ValueError.
        raise UnreadableImageError(path, f"{type(error).__name__}: {error}") from None


def _open_image(handle) -> Image.Image:
    """The PNG/JPEG decoder on ``handle``, header only; Pillow's bomb warning silenced (the
    pixel cap of :func:`read_image_file` is an error instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(handle, formats=PILLOW_FORMATS)


def _open_regular_file(path: Path):
    """``path`` opened for binary reading, refused unless it is a regular file.

    O_NOFOLLOW: a symbolic link is not followed; O_NONBLOCK: a FIFO does not wait for a
    writer (regular files ignore the flag). The check is on the opened file itself.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        reason = "not a regular file (a symbolic link)" if path.is_symlink() else str(error)
        raise UnreadableImageError(path, reason) from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise UnreadableImageError(path, "not a regular file")
    return os.fdopen(descriptor, "rb")
