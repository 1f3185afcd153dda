"""GAN losses on discriminator outputs ("logits"), chosen by name.

For the cross-entropy losses, with ``D(x) = sigmoid(l)`` and ``softplus(t) = log(1 + e^t)``:

- ``log D(x)       = -softplus(-l)``
- ``log(1 - D(x))  = -softplus(l)``

so they are means of softplus terms: numerically stable for any logit, unlike
``log(sigmoid(l))`` (and unlike a softmax over a single logit, which is always 1 and
makes both losses constant); docs/design.md derives them. The other losses read ``l``
as a raw critic score.

Gradient penalties (WGAN-GP's, R1) need the discriminator itself, not only its outputs:
they live in :mod:`gantrack.gan.penalties`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from keras import ops

from gantrack.config import CROSS_ENTROPY_LOSSES


@dataclass(frozen=True)
class GanLoss:
    """A pair of losses, each a function of logits returning a scalar to minimise.

    ``score`` maps logits to the number reported as ``real_score`` / ``fake_score``: the
    probability ``D(x)`` for the cross-entropy losses, the raw critic output otherwise.
    """

    generator: Callable
    discriminator: Callable
    score: Callable = ops.sigmoid


def minimax_discriminator_loss(real_logits, fake_logits, real_target: float = 1.0):
    """Binary cross-entropy with real target t and fake target 0.

    -E[t log D(x) + (1 - t) log(1 - D(x))] - E[log(1 - D(G(z)))]; with ``t = 1`` this is
    -E[log D(x)] - E[log(1 - D(G(z)))]. ``t = 1 - α < 1`` is one-sided
    label smoothing (Salimans et al. 2016): the fake target stays 0, so the discriminator is
    not rewarded for pushing generated images towards "real".
    """
    real_term = real_target * ops.softplus(-real_logits) + (1.0 - real_target) * ops.softplus(
        real_logits
    )
    return ops.mean(real_term) + ops.mean(ops.softplus(fake_logits))


def non_saturating_generator_loss(fake_logits):
    """-E[log D(G(z))] (Goodfellow et al. 2014, sec. 3): strong gradients early in training."""
    return ops.mean(ops.softplus(-fake_logits))


def minimax_generator_loss(fake_logits):
    """E[log(1 - D(G(z)))]: the minimax objective taken literally; saturates when D wins."""
    return -ops.mean(ops.softplus(fake_logits))


# The non-saturating variant changes only the generator's objective.
non_saturating_discriminator_loss = minimax_discriminator_loss


def wgan_gp_discriminator_loss(real_logits, fake_logits):
    """E[D(G(z))] - E[D(x)] (Gulrajani et al. 2017), the negated Wasserstein-1 estimate.

    Without its gradient penalty (:func:`gantrack.gan.penalties.gradient_penalty`, added by the
    train step) the critic is unconstrained and this loss is unbounded below.
    """
    return ops.mean(fake_logits) - ops.mean(real_logits)


def wgan_gp_generator_loss(fake_logits):
    """-E[D(G(z))]: raise the critic's score of generated images."""
    return -ops.mean(fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits):
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; SNGAN, BigGAN)."""
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


# The hinge GAN's generator maximises the critic's score, as WGAN's does.
hinge_generator_loss = wgan_gp_generator_loss


def least_squares_discriminator_loss(real_logits, fake_logits):
    """½E[(D(x) - 1)²] + ½E[D(G(z))²] (Mao et al. 2017, targets a = 0, b = 1)."""
    return 0.5 * ops.mean(ops.square(real_logits - 1.0)) + 0.5 * ops.mean(ops.square(fake_logits))


def least_squares_generator_loss(fake_logits):
    """½E[(D(G(z)) - 1)²] (c = 1: the generator wants its images scored as real)."""
    return 0.5 * ops.mean(ops.square(fake_logits - 1.0))


def _identity(logits):
    return logits


LOSSES: dict[str, GanLoss] = {
    "non_saturating": GanLoss(non_saturating_generator_loss, non_saturating_discriminator_loss),
    "minimax": GanLoss(minimax_generator_loss, minimax_discriminator_loss),
    "wgan_gp": GanLoss(wgan_gp_generator_loss, wgan_gp_discriminator_loss, _identity),
    "hinge": GanLoss(hinge_generator_loss, hinge_discriminator_loss, _identity),
    "least_squares": GanLoss(
        least_squares_generator_loss, least_squares_discriminator_loss, _identity
    ),
}
# One-sided label smoothing changes a cross-entropy target: only these losses have one.


def get_loss(name: str, label_smoothing: float = 0.0) -> GanLoss:
    """The loss pair ``name``; ``label_smoothing`` = α sets the real target to 1 - α."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    pair = LOSSES[name]
    if label_smoothing == 0.0:
        return pair
    if name not in CROSS_ENTROPY_LOSSES:
        raise ValueError(
            "label smoothing applies to the cross-entropy losses "
            f"({', '.join(CROSS_ENTROPY_LOSSES)}), not to {name!r}"
        )
    smoothed = functools.partial(pair.discriminator, real_target=1.0 - label_smoothing)
    return GanLoss(pair.generator, smoothed, pair.score)
