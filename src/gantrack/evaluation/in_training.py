"""The in-training score: FID and KID of generated features against a cached reference.

Cheap enough to run every few epochs (``train.eval_every``): it needs the two metrics'
math and the reference file only, so the ``train`` stage depends on nothing of the full
evaluation (:mod:`gantrack.evaluation.scoring`).
"""

from __future__ import annotations

from collections.abc import Callable

from gantrack.evaluation.feature_networks.base import NetworkOutputs
from gantrack.evaluation.metrics.frechet import frechet_distance, gaussian_statistics
from gantrack.evaluation.metrics.kid import kernel_inception_distance
from gantrack.evaluation.reference import Reference


def quick_scorer(
    reference: Reference, kid_subsets: int, kid_subset_size: int, seed: int
) -> Callable[[NetworkOutputs], dict[str, float]]:
    """FID and KID only: cheap enough to run every few epochs during training."""

    def score(generated: NetworkOutputs) -> dict[str, float]:
        fid = frechet_distance(
            *gaussian_statistics(generated.features), reference.mean, reference.covariance
        )
        kid, kid_std = kernel_inception_distance(
            reference.features, generated.features, kid_subsets, kid_subset_size, seed
        )
        return {"fid": fid, "kid": kid, "kid_std": kid_std}

    return score
