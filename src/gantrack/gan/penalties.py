"""Gradient penalties on the discriminator: they need the network, not only its outputs.

Both are computed with a nested ``tf.GradientTape`` inside the train step, so the penalty's
own gradient with respect to the discriminator's weights (a second derivative) reaches the
optimiser.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
from keras import ops


def _input_gradient_norms_squared(discriminator: Callable, images):
    """``‖∇ₓ D(x)‖²`` per image, ``(batch,)`` float32; D(x) summed over the batch first.

    Summing is exact: each image's score depends on that image alone (no batch statistics
    in the discriminator), so ∂(Σᵢ D(xᵢ))/∂xⱼ = ∂D(xⱼ)/∂xⱼ.
    """
    images = ops.convert_to_tensor(images)  # a tape watches tensors only
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = discriminator(images)
        total = ops.sum(ops.cast(logits, "float32"))
    gradients = ops.cast(tape.gradient(total, images), "float32")
    return ops.sum(ops.square(ops.reshape(gradients, (ops.shape(gradients)[0], -1))), axis=1)


def gradient_penalty(discriminator: Callable, real_images, generated_images, epsilon):
    """WGAN-GP's E[(‖∇ D(x̂)‖₂ - 1)²] at x̂ = ε x + (1 - ε) G(z) (Gulrajani et al. 2017).

    ``epsilon`` has shape ``(batch, 1, 1, 1)``, drawn from U[0, 1] per example as in the
    paper (Keras's example draws it from a normal, which the paper does not). The penalty
    is two-sided: it pulls the gradient norm to 1, not merely below it, on the straight
    lines between real and generated images. A 1-Lipschitz linear critic ``w·x`` with
    ``‖w‖ = 1`` has penalty 0 everywhere.
    """
    mixed = epsilon * real_images + (1.0 - epsilon) * generated_images
    # A small constant inside the square root keeps its derivative finite at a zero gradient.
    norms = ops.sqrt(_input_gradient_norms_squared(discriminator, mixed) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def r1_penalty(discriminator: Callable, real_images, gamma: float):
    """R1 (Mescheder et al. 2018): γ/2 · E[‖∇ₓ D(x)‖²] on real images only.

    It penalises the discriminator for being steep on the data, which makes the game
    converge locally; it needs no generated images. For a linear critic ``w·x`` it is
    ``γ/2 · ‖w‖²``.
    """
    return 0.5 * gamma * ops.mean(_input_gradient_norms_squared(discriminator, real_images))
