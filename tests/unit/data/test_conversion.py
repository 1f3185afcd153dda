import numpy as np
import pytest
from PIL import Image

from gantrack.data.conversion import conform_images, convert_image


def half_black_half_white(side=64) -> np.ndarray:
    """Columns [0, side/2) black, [side/2, side) white."""
    pixels = np.zeros((side, side), dtype=np.uint8)
    pixels[:, side // 2 :] = 255
    return pixels


def test_downscaling_keeps_the_boundary_between_black_and_white():
    resized = convert_image(Image.fromarray(half_black_half_white(64)), 32, 1)[..., 0]
    assert resized.shape == (32, 32)
    assert (resized == resized[0]).all()  # every row alike, as in the source
    row = resized[0].astype(int)
    # The edge stays between columns 15 and 16 (64 -> 32 halves the coordinates) ...
    assert row[15] < 128 < row[16]
    # ... far from it the colours are kept (Lanczos rings by a few levels beside the edge)
    assert row[:12].max() <= 3 and row[20:].min() >= 252
    # ... and a symmetric step stays symmetric: x and 31 - x mirror each other around grey.
    np.testing.assert_allclose(row + row[::-1], 255, atol=1)


def test_upscaling_keeps_the_boundary():
    row = convert_image(Image.fromarray(half_black_half_white(28)), 64, 1)[0, :, 0].astype(int)
    assert row[31] < 128 < row[32]
    assert row[:24].max() <= 3 and row[40:].min() >= 252
    np.testing.assert_allclose(row + row[::-1], 255, atol=1)


@pytest.mark.parametrize(
    ("colour", "grey"),
    # ITU-R 601-2 luma as Pillow rounds it: (R·19595 + G·38470 + B·7471 + 2^15) >> 16
    [((255, 0, 0), 76), ((0, 255, 0), 150), ((0, 0, 255), 29), ((255, 255, 255), 255)],
)
def test_rgb_to_greyscale_uses_luma_weights(colour, grey):
    image = Image.new("RGB", (28, 28), colour)
    assert (convert_image(image, 28, 1) == grey).all()


def test_greyscale_to_rgb_replicates_the_channel():
    pixels = np.arange(32 * 32, dtype=np.uint32).reshape(32, 32) % 256
    converted = convert_image(Image.fromarray(pixels.astype(np.uint8)), 32, 3)
    assert converted.shape == (32, 32, 3)
    for channel in range(3):
        np.testing.assert_array_equal(converted[..., channel], pixels)


def test_non_square_images_are_centre_cropped_not_stretched():
    # 60 x 40 (width x height): a 40 x 40 crop from x = 10; the outer 10 columns are red.
    pixels = np.zeros((40, 60, 3), dtype=np.uint8)
    pixels[:, :10] = pixels[:, 50:] = (255, 0, 0)
    pixels[:, 10:50] = (0, 0, 255)
    converted = convert_image(Image.fromarray(pixels), 40, 3)
    assert (converted == (0, 0, 255)).all()


def test_palette_and_alpha_images_convert():
    palette = Image.new("P", (28, 28), 0)
    palette.putpalette([10, 20, 30] + [0] * 765)
    assert (convert_image(palette, 28, 3) == (10, 20, 30)).all()
    rgba = Image.new("RGBA", (28, 28), (200, 100, 50, 0))  # alpha dropped, colour kept
    assert (convert_image(rgba, 28, 3) == (200, 100, 50)).all()


def test_16_bit_images_are_refused_not_clipped():
    image = Image.fromarray(np.full((28, 28), 40000, dtype=np.uint16))
    assert image.mode.startswith("I")
    with pytest.raises(ValueError, match="cannot be converted to 8-bit L"):
        convert_image(image, 28, 1)


def test_conform_passes_matching_images_through_bit_for_bit():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    conformed = conform_images(images, 28, 1)
    assert conformed.shape == (5, 28, 28, 1)
    assert np.shares_memory(conformed, images)  # no resampling, not even a copy
    np.testing.assert_array_equal(conformed[..., 0], images)


def test_conform_converts_each_image_like_convert_image():
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    conformed = conform_images(images, 28, 1)
    assert conformed.shape == (3, 28, 28, 1)
    for image, result in zip(images, conformed, strict=True):
        np.testing.assert_array_equal(result, convert_image(Image.fromarray(image), 28, 1))


def test_conform_rejects_bad_input():
    with pytest.raises(ValueError, match="channels must be 1"):
        conform_images(np.zeros((1, 28, 28), np.uint8), 28, 2)
    with pytest.raises(ValueError, match="expected uint8"):
        conform_images(np.zeros((1, 28, 28), np.float32), 28, 1)
    with pytest.raises(ValueError, match=r"got \(1, 28, 28, 4\)"):
        conform_images(np.zeros((1, 28, 28, 4), np.uint8), 28, 1)
