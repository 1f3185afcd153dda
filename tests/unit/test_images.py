import numpy as np
import pytest
from PIL import Image

from gantrack.images import make_grid, rows_by_class, save_png, to_uint8


def test_to_uint8_maps_range_and_clips():
    assert to_uint8(np.array([-1.0, 0.0, 1.0, 3.0])).tolist() == [0, 128, 255, 255]


def test_grid_layout_and_padding():
    images = np.stack([np.full((4, 4, 1), value) for value in (-1.0, 1.0, 1.0)])
    grid = make_grid(images, rows=2, padding=1)
    assert grid.shape == (2 * 5 + 1, 2 * 5 + 1)  # 2 rows x 2 columns of 4 px + padding
    assert grid[1:5, 6:10].min() == 255  # second image: top right
    assert grid[6:10, 6:10].max() == 0  # fourth cell is empty
    with pytest.raises(ValueError, match="N, H, W, C"):
        make_grid(np.zeros((2, 4, 4)), rows=1)


def test_rows_by_class_puts_each_class_on_its_row_padded_with_blanks():
    images = np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 1, 1, 1))
    grid = rows_by_class(images, np.array([0, 1, 0, 0, 2]), 3, columns=2)
    np.testing.assert_array_equal(grid[:, 0, 0, 0], [0, 2, 1, -1, 4, -1])


def test_save_png_round_trips(tmp_path):
    grid = make_grid(np.random.default_rng(0).uniform(-1, 1, (6, 28, 28, 1)), rows=2)
    save_png(grid, tmp_path / "grid.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "grid.png")), grid)
