"""Validation shared by the metrics that compare two sets of features."""

from __future__ import annotations

import numpy as np


def feature_pair(
    first: np.ndarray, second: np.ndarray, names: tuple[str, str], min_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Both sets as float64 ``(N, d)`` arrays with the same ``d`` and at least ``min_rows`` rows."""
    arrays = (np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64))
    for name, features in zip(names, arrays, strict=True):
        if features.ndim != 2 or len(features) < min_rows:
            raise ValueError(f"expected {name} of shape (N >= {min_rows}, d), got {features.shape}")
    if arrays[0].shape[1] != arrays[1].shape[1]:
        raise ValueError(
            f"{names[0]} have d={arrays[0].shape[1]} and {names[1]} d={arrays[1].shape[1]}: "
            "use features from the same network layer"
        )
    return arrays
