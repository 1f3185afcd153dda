"""Metric math: pure NumPy/SciPy functions of features and probabilities.

Nothing here reads files, runs networks or logs: :mod:`gantrack.evaluation` does that.

- :mod:`~gantrack.metrics.frechet`: FID, its features convenience and a bootstrap interval.
- :mod:`~gantrack.metrics.inception_score`: Inception Score.
- :mod:`~gantrack.metrics.kid`: Kernel Inception Distance.
- :mod:`~gantrack.metrics.manifold`: improved precision/recall, density/coverage.
- :mod:`~gantrack.metrics.classes`: class coverage and class-histogram KL (mode collapse).
"""

from gantrack.metrics.classes import ClassStatistics, class_statistics
from gantrack.metrics.frechet import (
    SingularCovarianceWarning,
    frechet_distance,
    frechet_distance_bootstrap,
    frechet_distance_from_features,
    gaussian_statistics,
)
from gantrack.metrics.inception_score import inception_score
from gantrack.metrics.kid import kernel_inception_distance
from gantrack.metrics.manifold import density_coverage, precision_recall

__all__ = [
    "ClassStatistics",
    "SingularCovarianceWarning",
    "class_statistics",
    "density_coverage",
    "frechet_distance",
    "frechet_distance_bootstrap",
    "frechet_distance_from_features",
    "gaussian_statistics",
    "inception_score",
    "kernel_inception_distance",
    "precision_recall",
]
