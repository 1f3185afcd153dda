"""GAN losses on discriminator logits, chosen by name.

With ``D(x) = sigmoid(l)`` and ``softplus(t) = log(1 + e^t)``:

- ``log D(x)       = -softplus(-l)``
- ``log(1 - D(x))  = -softplus(l)``

so every loss below is a mean of softplus terms: numerically stable for any logit, unlike
``log(sigmoid(l))`` (and unlike the seed's softmax over a single logit, which is always 1
and made both of its losses constant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keras import ops


@dataclass(frozen=True)
class GanLoss:
    """A pair of losses, each a function of logits returning a scalar to minimise."""

    generator: Callable
    discriminator: Callable


def minimax_discriminator_loss(real_logits, fake_logits):
    """-E[log D(x)] - E[log(1 - D(G(z)))]: binary cross-entropy, real = 1, fake = 0."""
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def non_saturating_generator_loss(fake_logits):
    """-E[log D(G(z))] (Goodfellow et al. 2014, sec. 3): strong gradients early in training."""
    return ops.mean(ops.softplus(-fake_logits))


def minimax_generator_loss(fake_logits):
    """E[log(1 - D(G(z)))]: the seed's formula taken literally; saturates when D wins."""
    return -ops.mean(ops.softplus(fake_logits))


# The non-saturating variant changes only the generator's objective.
non_saturating_discriminator_loss = minimax_discriminator_loss

LOSSES: dict[str, GanLoss] = {
    "non_saturating": GanLoss(non_saturating_generator_loss, non_saturating_discriminator_loss),
    "minimax": GanLoss(minimax_generator_loss, minimax_discriminator_loss),
}


def get_loss(name: str) -> GanLoss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]
