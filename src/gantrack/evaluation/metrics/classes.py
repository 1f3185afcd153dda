"""Mode collapse seen through a classifier: which classes the generated samples fall in.

Each generated sample gets the classifier's most likely class (argmax). With nᶜ samples
in class c out of M, the generated histogram is pᶜ = nᶜ / M and the real one qᶜ is the
class frequency of the real labels. Then

    classes_covered = #{c : pᶜ ≥ threshold}
    class_kl        = KL(p ‖ q) = Σ_c pᶜ log(pᶜ / qᶜ)   in nats, with 0 · log 0 = 0
    smallest_class_share = min_c pᶜ,  largest_class_share = max_c pᶜ

KL is 0 when the generator reproduces the real class balance and log C when it puts
everything in one class of C balanced ones. It needs qᶜ > 0 for every class: a class
absent from the real labels makes KL infinite wherever the generator produces it, so an
empty real class raises a ValueError instead (drop that class or fix num_classes).

Caveats: only the argmax is used, so confident mistakes of the classifier count as
coverage, and "covered" says nothing about quality or within-class diversity (a
generator can cover all ten digits with one image each). Values depend on the classifier.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from scipy.special import rel_entr


class ClassStatistics(TypedDict):
    classes_covered: int
    class_kl: float
    smallest_class_share: float
    largest_class_share: float
    samples_per_class: list[int]


def class_statistics(
    generated_probabilities: np.ndarray,
    real_labels: np.ndarray,
    num_classes: int,
    threshold: float = 0.01,
) -> ClassStatistics:
    """Class coverage and KL(generated ‖ real) of the class histograms.

    ``generated_probabilities`` is ``(M, num_classes)`` (probabilities or logits: only the
    argmax is used); ``real_labels`` is ``(N,)`` integers in ``[0, num_classes)``; a class
    is covered when it receives at least ``threshold`` of the generated samples.
    """
    generated_counts, real_counts = _class_counts(
        generated_probabilities, real_labels, num_classes, threshold
    )
    generated_histogram = generated_counts / generated_counts.sum()
    real_histogram = real_counts / real_counts.sum()
    return {
        "classes_covered": int(np.sum(generated_histogram >= threshold)),
        # rel_entr(p, q) = p log(p / q), and 0 where p = 0.
        "class_kl": float(rel_entr(generated_histogram, real_histogram).sum()),
        # The rarest and commonest digit: 0.10 each when ten balanced classes are matched.
        "smallest_class_share": float(generated_histogram.min()),
        "largest_class_share": float(generated_histogram.max()),
        "samples_per_class": [int(count) for count in generated_counts],
    }


def _class_counts(
    generated_probabilities: np.ndarray,
    real_labels: np.ndarray,
    num_classes: int,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(num_classes,)`` counts of generated argmax classes and of real labels."""
    probabilities = np.asarray(generated_probabilities)
    labels = np.asarray(real_labels)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if probabilities.ndim != 2 or probabilities.shape[1] != num_classes or not probabilities.size:
        raise ValueError(
            f"expected generated_probabilities of shape (M >= 1, {num_classes}), "
            f"got {probabilities.shape}"
        )
    if labels.ndim != 1 or not labels.size or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"expected real_labels as (N >= 1,) integers, got {labels.dtype} {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"real_labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]"
        )
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be a fraction in (0, 1], e.g. 0.01, got {threshold}")
    real_counts = np.bincount(labels, minlength=num_classes)
    if np.any(real_counts == 0):
        empty = np.flatnonzero(real_counts == 0).tolist()
        raise ValueError(
            f"real_labels have no samples of classes {empty}, so KL(generated ‖ real) is "
            "infinite wherever the generator produces them: pass real labels covering "
            "every class, or a num_classes that matches the dataset"
        )
    generated_counts = np.bincount(probabilities.argmax(axis=1), minlength=num_classes)
    return generated_counts, real_counts
