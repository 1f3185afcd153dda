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
    for root, directories, names in os.walk(folder):
        directories[:] = [name for name in directories if not name.startswith(".")]
        relative_root = PurePosixPath(Path(root).relative_to(folder).as_posix())
        for name in names:
            if name.startswith("."):
                continue
            suffix = PurePosixPath(name).suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                files.append(relative_root / name)
            else:
                ignored[suffix or "(no suffix)"] += 1
    return sorted(files, key=str), dict(sorted(ignored.items()))


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
    decode (truncated, not an image, too large) or convert (16-bit, floating point).
    """
    try:
        with Image.open(path, formats=PILLOW_FORMATS) as image:
            image.load()  # Image.open only reads the header: decode now, inside the try
            upright = ImageOps.exif_transpose(image)
            return convert_image(upright, image_size, channels)
    except UnidentifiedImageError:
        raise UnreadableImageError(path, "not a PNG or JPEG image") from None
    except Image.DecompressionBombError as error:
        raise UnreadableImageError(path, str(error)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # Pillow reports a truncated or damaged file as OSError or SyntaxError ("broken
        # PNG file"); convert_image reports an unconvertible mode as ValueError.
        raise UnreadableImageError(path, f"{type(error).__name__}: {error}") from None
