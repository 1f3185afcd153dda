"""Synthetic labelled images that any classifier tells apart."""

import numpy as np


def quadrant_images(labels, rng):
    """Class c lights quadrant c of a dark image: four classes any classifier tells apart."""
    images = np.full((len(labels), 28, 28, 1), -0.8) + rng.normal(0, 0.1, (len(labels), 28, 28, 1))
    for index, label in enumerate(labels):
        row, column = divmod(int(label), 2)
        images[index, row * 14 : (row + 1) * 14, column * 14 : (column + 1) * 14] += 1.6
    return images.astype(np.float32)
