"""Metric math: pure NumPy/SciPy functions of features and probabilities.

Nothing here reads files, runs networks or logs: :mod:`gantrack.evaluation.scoring` does that.

- :mod:`~gantrack.evaluation.metrics.frechet`: FID, from features too, and a bootstrap interval.
- :mod:`~gantrack.evaluation.metrics.inception_score`: Inception Score.
- :mod:`~gantrack.evaluation.metrics.kid`: Kernel Inception Distance.
- :mod:`~gantrack.evaluation.metrics.manifold`: improved precision/recall, density/coverage.
- :mod:`~gantrack.evaluation.metrics.classes`: class coverage, class-histogram KL (mode collapse).
- :mod:`~gantrack.evaluation.metrics.memorisation`: data-copying test C_T, nearest-training ratio.
"""

from gantrack.evaluation.metrics.classes import ClassStatistics, class_statistics
from gantrack.evaluation.metrics.frechet import (
    SingularCovarianceWarning,
    frechet_distance,
    frechet_distance_bootstrap,
    frechet_distance_from_features,
    gaussian_statistics,
)
from gantrack.evaluation.metrics.inception_score import inception_score
from gantrack.evaluation.metrics.kid import kernel_inception_distance
from gantrack.evaluation.metrics.manifold import density_coverage, precision_recall
from gantrack.evaluation.metrics.memorisation import DataCopying, data_copying

__all__ = [
    "ClassStatistics",
    "DataCopying",
    "SingularCovarianceWarning",
    "class_statistics",
    "data_copying",
    "density_coverage",
    "frechet_distance",
    "frechet_distance_bootstrap",
    "frechet_distance_from_features",
    "gaussian_statistics",
    "inception_score",
    "kernel_inception_distance",
    "precision_recall",
]
