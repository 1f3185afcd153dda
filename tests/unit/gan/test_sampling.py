import numpy as np
import pytest

from gantrack.gan.networks import build_generator
from gantrack.gan.sampling import (
    UnknownClassError,
    class_labels,
    generate_images,
    grid_inputs,
    interpolation_inputs,
    latent_vectors,
    slerp,
)


def test_latent_vectors_are_seeded_standard_normal():
    first, second = latent_vectors(2000, 8, seed=1), latent_vectors(2000, 8, seed=1)
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32
    assert abs(first.mean()) < 0.05 and abs(first.std() - 1.0) < 0.05
    assert not np.array_equal(first, latent_vectors(2000, 8, seed=2))


def test_generate_images_is_reproducible():
    generator = build_generator(latent_dim=8)
    first = generate_images(generator, 7, seed=3, batch_size=4)
    assert first.shape == (7, 28, 28, 1)
    np.testing.assert_allclose(
        first, generate_images(generator, 7, seed=3, batch_size=4), atol=1e-6
    )


def test_class_labels_even_or_one_class_and_unknown_class_error():
    np.testing.assert_array_equal(class_labels(7, 3), [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(class_labels(3, 5, label=4), [4, 4, 4])
    with pytest.raises(UnknownClassError, match="classes 0 to 4"):
        class_labels(3, 5, label=5)


def test_conditional_generator_draws_the_chosen_classes():
    generator = build_generator(latent_dim=8, num_classes=3)
    images = generate_images(generator, 6, seed=3)  # every class in turn
    assert images.shape == (6, 28, 28, 1)
    twos = generate_images(generator, 6, seed=3, labels=np.full(6, 2))
    np.testing.assert_allclose(images[2], twos[2], atol=1e-6)  # same z, same class
    assert not np.allclose(images[0], twos[0])
    with pytest.raises(ValueError, match="unconditional"):
        generate_images(build_generator(latent_dim=8), 2, seed=0, labels=np.zeros(2))


def test_conditional_grid_has_one_row_per_class_with_shared_latents():
    (latent, labels), rows = grid_inputs(4, rows=2, seed=0, num_classes=3)
    assert rows == 3 and latent.shape == (6, 4)
    np.testing.assert_array_equal(labels[:, 0], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(latent[0], latent[2])


def test_slerp_keeps_the_norm_and_meets_both_ends():
    start, end = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    path = slerp(start, end, np.linspace(0, 1, 5))
    np.testing.assert_allclose(path[0], start, atol=1e-7)
    np.testing.assert_allclose(path[-1], end, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, rtol=1e-6)  # a great circle
    # Halfway between orthogonal unit vectors: (start + end) / √2, at 45° from each.
    np.testing.assert_allclose(path[2], [2**-0.5, 2**-0.5, 0.0], rtol=1e-6)


def test_slerp_of_parallel_vectors_is_the_straight_line():
    start = np.array([1.0, 2.0])
    path = slerp(start, 3 * start, np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(path, [start, 2 * start, 3 * start], rtol=1e-6)


def test_interpolation_rows_walk_between_fixed_pairs_with_the_class_held():
    latent, labels = interpolation_inputs(8, rows=3, columns=4, seed=5, num_classes=2)
    assert latent.shape == (12, 8)
    assert labels.ravel().tolist() == [0] * 4 + [1] * 4 + [0] * 4  # row r draws class r mod 2
    ends = latent_vectors(6, 8, 5)
    np.testing.assert_allclose(latent[0], ends[0], rtol=1e-5)  # row 0 starts at pair 0's start
    np.testing.assert_allclose(latent[3], ends[1], rtol=1e-5)  # and ends at its end
    np.testing.assert_array_equal(interpolation_inputs(8, 3, 4, 5), latent)  # unconditional
    with pytest.raises(ValueError, match="at least 2 columns"):
        interpolation_inputs(8, 3, 1, 5)
