"""Image grids for people to look at: images in [-1, 1] tiled, encoded and saved as PNG.

Shared by training (the per-epoch grid), the ``sample`` stage and the run report, none of
which needs the others' modules for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gantrack.io import atomic_path


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> [0, 255] uint8 (values outside are clipped)."""
    return np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def make_grid(images: np.ndarray, rows: int, padding: int = 2) -> np.ndarray:
    """Tile ``(N, H, W, C)`` images in [-1, 1] into one uint8 picture, row by row.

    The grid has ``rows`` rows and ``ceil(N / rows)`` columns; empty cells and the
    ``padding`` between cells are black. One channel gives ``(height, width)``, three
    give ``(height, width, 3)``.
    """
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {images.shape}")
    count, height, width, channels = images.shape
    columns = -(-count // rows)
    grid = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        dtype=np.uint8,
    )
    pixels = to_uint8(images)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid[..., 0] if channels == 1 else grid


def rows_by_class(
    images: np.ndarray, labels: np.ndarray, num_classes: int, columns: int
) -> np.ndarray:
    """The first ``columns`` images of each class, class by class: a grid row per class.

    A class with fewer images leaves its row short; :func:`make_grid` fills cells row by
    row, so each class is padded with blank ``(-1)`` images to stay on its row.
    """
    height_width_channels = images.shape[1:]
    blank = np.full((1, *height_width_channels), -1.0, dtype=images.dtype)
    rows = []
    for label in range(num_classes):
        members = images[labels == label][:columns]
        padding = np.repeat(blank, columns - len(members), axis=0)
        rows.append(np.concatenate([members, padding]))
    return np.concatenate(rows)


def png_bytes(picture: np.ndarray) -> bytes:
    """A uint8 picture (from :func:`make_grid`) encoded as PNG."""
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(picture: np.ndarray, path: Path) -> None:
    """Write a uint8 picture (from :func:`make_grid`) as PNG, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(png_bytes(picture))
