"""Metric math: pure NumPy/SciPy functions of features and probabilities.

Nothing here reads files, runs networks or logs: :mod:`gantrack.evaluation.scoring` does
that. Nothing is imported here either: import the module of the metric you use, so that a
stage depends only on the metrics it computes (training's FID and KID need neither
memorisation nor precision/recall).

- :mod:`~gantrack.evaluation.metrics.frechet`: FID, from features too, and a bootstrap interval.
- :mod:`~gantrack.evaluation.metrics.inception_score`: Inception Score.
- :mod:`~gantrack.evaluation.metrics.kid`: Kernel Inception Distance.
- :mod:`~gantrack.evaluation.metrics.manifold`: improved precision/recall, density/coverage.
- :mod:`~gantrack.evaluation.metrics.classes`: class coverage, class-histogram KL (mode collapse).
- :mod:`~gantrack.evaluation.metrics.memorisation`: data-copying test C_T, nearest-training ratio.
"""
