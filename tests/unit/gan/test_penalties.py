import numpy as np
import pytest
from keras import ops

from gantrack.gan.penalties import gradient_penalty, r1_penalty

SHAPE = (4, 3, 3, 1)


def linear_critic(weights):
    """D(x) = w·x per image, (batch, 1): its input gradient is w everywhere."""
    flat = ops.convert_to_tensor(weights.reshape(-1, 1))
    return lambda images: ops.matmul(ops.reshape(images, (ops.shape(images)[0], -1)), flat)


def images_and_epsilon():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, SHAPE).astype(np.float32)
    fake = rng.uniform(-1, 1, SHAPE).astype(np.float32)
    epsilon = rng.uniform(0, 1, (SHAPE[0], 1, 1, 1)).astype(np.float32)
    return real, fake, epsilon


def test_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic():
    weights = np.random.default_rng(1).standard_normal(9).astype(np.float32)
    weights /= np.linalg.norm(weights)
    penalty = float(gradient_penalty(linear_critic(weights), *images_and_epsilon()))
    assert penalty == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_is_norm_minus_one_squared():
    weights = np.full(9, 1.0, np.float32)  # ||w|| = 3: penalty (3 - 1)^2 = 4
    penalty = float(gradient_penalty(linear_critic(weights), *images_and_epsilon()))
    assert penalty == pytest.approx(4.0, rel=1e-5)


def test_gradient_penalty_interpolates_with_epsilon():
    # D(x) = sum(x^2)/2 has gradient x: at x_hat the norm is ||x_hat||, known in closed form.
    real, fake, epsilon = images_and_epsilon()

    def quadratic(images):
        return 0.5 * ops.sum(ops.square(images), axis=(1, 2, 3))[:, None]

    mixed = epsilon * real + (1 - epsilon) * fake
    norms = np.linalg.norm(mixed.reshape(len(mixed), -1), axis=1)
    expected = np.mean((norms - 1.0) ** 2)
    assert float(gradient_penalty(quadratic, real, fake, epsilon)) == pytest.approx(
        expected, rel=1e-5
    )


def test_r1_penalty_is_half_gamma_squared_gradient_norm():
    weights = np.arange(9, dtype=np.float32)  # ||w||^2 = 204
    real, _, _ = images_and_epsilon()
    assert float(r1_penalty(linear_critic(weights), real, gamma=0.5)) == pytest.approx(
        0.25 * 204.0, rel=1e-6
    )
