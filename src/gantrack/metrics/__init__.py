"""Metric math: pure NumPy/SciPy functions of features and probabilities.

Nothing here reads files, runs networks or logs: :mod:`gantrack.evaluation` does that.
"""

from gantrack.metrics.frechet import frechet_distance, gaussian_statistics
from gantrack.metrics.inception_score import inception_score

__all__ = ["frechet_distance", "gaussian_statistics", "inception_score"]
