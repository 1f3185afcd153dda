"""Bringing images of any size and colour to the configured square size and channels.

Each image goes through three steps, all with Pillow:

1. **Colour.** ``channels: 1`` converts to Pillow mode ``L`` with the ITU-R 601-2 luma
   transform, L = (299 R + 587 G + 114 B) / 1000; ``channels: 3`` converts to ``RGB``,
   where a greyscale image is replicated into the three channels. Palette images are
   expanded; an alpha channel is dropped (a transparent pixel keeps whatever colour is
   stored under it, often black). CMYK is converted by Pillow's naive formula, without
   colour profiles. 16-bit and floating-point modes are refused: Pillow would clip them to
   8 bits rather than rescale, so the picture would silently change.
2. **Shape.** A non-square image is centre-cropped to its largest central square (as in
   common GAN preprocessing: DCGAN's CelebA crop, StyleGAN's ``center-crop`` transform), so
   shapes are never stretched.
3. **Size.** Resampled to ``image_size × image_size`` with Lanczos (a = 3). Pillow's
   filters are area-aware: when shrinking, the filter widens by the reduction factor, so
   every source pixel contributes and fine detail does not alias into moiré (resizers that
   point-sample, such as ``tf.image.resize`` without ``antialias``, do alias, and Parmar et
   al. 2022, "On aliased resizing and surprising subtleties in GAN evaluation", show that
   this shifts FID). Among Pillow's filters Lanczos keeps the most detail, which matters
   at 28–64 pixels; StyleGAN's ``dataset_tool`` uses it too. Caveat: like any sharp
   filter it rings slightly beside hard edges; the over- and undershoot is clipped to
   [0, 255].

An image already of the target size and channels is not touched: the pixels pass through
bit for bit, so MNIST at the default 28 × 28 greyscale is exactly as stored.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

RESAMPLING = Image.Resampling.LANCZOS
CHANNEL_MODES = {1: "L", 3: "RGB"}
# Modes Pillow converts to 8-bit L/RGB without losing range: 1-bit, 8-bit grey, palette,
# 8-bit colour, with or without alpha. Not "I;16", "I" or "F" (clipped, not rescaled).
CONVERTIBLE_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"})


def convert_image(image: Image.Image, image_size: int, channels: int) -> np.ndarray:
    """One Pillow image -> uint8 ``(image_size, image_size, channels)``.

    Raises ``ValueError`` (the message says why) for a mode that cannot be converted.
    """
    target_mode = _target_mode(channels)
    if image.mode not in CONVERTIBLE_MODES:
        raise ValueError(
            f"mode {image.mode!r} (16-bit or floating point) cannot be converted to 8-bit "
            f"{target_mode} without rescaling; save the image as 8-bit greyscale or RGB"
        )
    image = _center_square(_to_mode(image, channels))
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), RESAMPLING)
    return np.asarray(image, dtype=np.uint8).reshape(image_size, image_size, channels)


def conform_images(images: np.ndarray, image_size: int, channels: int) -> np.ndarray:
    """uint8 ``(N, H, W)`` or ``(N, H, W, C)`` (C = 1 or 3) -> uint8 ``(N, S, S, channels)``.

    Images already ``(S, S, channels)`` come back as they are (a view with a channel axis
    added where there was none); others go through :func:`convert_image` one by one.
    """
    _target_mode(channels)
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    if images.ndim == 3:
        images = images[..., np.newaxis]  # (N, H, W) -> (N, H, W, 1)
    if images.ndim != 4 or images.shape[-1] not in CHANNEL_MODES:
        raise ValueError(
            f"expected images of shape (N, H, W) or (N, H, W, 1|3), got {images.shape}"
        )
    if images.shape[1:] == (image_size, image_size, channels):
        return images
    converted = np.empty((len(images), image_size, image_size, channels), dtype=np.uint8)
    for index, pixels in enumerate(images):
        # fromarray: (H, W) uint8 -> mode L, (H, W, 3) uint8 -> mode RGB
        picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        converted[index] = convert_image(picture, image_size, channels)
    return converted


def _target_mode(channels: int) -> str:
    if channels not in CHANNEL_MODES:
        raise ValueError(f"channels must be 1 (greyscale) or 3 (RGB), got {channels}")
    return CHANNEL_MODES[channels]


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    if channels == 1 and image.mode in ("1", "L", "LA"):
        return image.convert("L")
    if image.mode in ("P", "PA") or "transparency" in image.info:
        # Through RGBA: Pillow warns when palette transparency is dropped in one step.
        image = image.convert("RGBA")
    rgb = image.convert("RGB")
    return rgb if channels == 3 else rgb.convert("L")


def _center_square(image: Image.Image) -> Image.Image:
    width, height = image.size
    if width == height:
        return image
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))
