"""Inception Score (Salimans et al. 2016).

    IS = exp( E_x [ KL( p(y|x) ‖ p(y) ) ] ),   p(y) = E_x [ p(y|x) ]

computed on each of ``splits`` equal parts of the images (the paper's protocol: 10), and
reported as the mean and standard deviation over the parts. It ranges from 1 (every image
gets the same class distribution) to the number of classes (confident, balanced).

The parts are consecutive rows, so the rows must be in random order: for images sorted by
class every part holds one class and the score collapses towards 1.

Caveat: IS depends entirely on the classifier. With gantrack's evaluator it measures
"confidently one of the dataset's classes, all classes used", and is comparable only
between runs scored by the same evaluator; it never looks at real images, so report the
real data's own IS beside it as the ceiling.
"""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr


def inception_score(probabilities: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of the Inception Score of ``(N, classes)`` class probabilities."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2:
        raise ValueError(f"expected probabilities of shape (N, classes), got {probabilities.shape}")
    if not 1 <= splits <= len(probabilities):
        raise ValueError(f"splits must be in [1, N={len(probabilities)}], got {splits}")
    if probabilities.min() < 0 or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of probabilities must be non-negative and sum to 1")
    part_size = len(probabilities) // splits  # equal parts; a remainder of < splits is unused
    scores = []
    for part in range(splits):
        conditional = probabilities[part * part_size : (part + 1) * part_size]
        marginal = conditional.mean(axis=0, keepdims=True)
        # rel_entr(p, q) = p log(p / q), and 0 where p = 0.
        mean_kl = rel_entr(conditional, marginal).sum(axis=1).mean()
        scores.append(np.exp(mean_kl))
    return float(np.mean(scores)), float(np.std(scores))
