"""The ``evaluator`` feature network: gantrack's own classifier, trained on this dataset.

Its features are the penultimate ``features`` layer, its probabilities the softmax over
the dataset's classes (see :mod:`gantrack.evaluation.evaluator`). Offline and fast, but
its FID and IS are comparable only between gantrack runs on the same data and evaluator
file.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from gantrack.evaluation.evaluator import feature_extractor
from gantrack.evaluation.feature_networks.base import (
    CorruptFeatureNetworkError,
    FeatureNetwork,
    build_network,
    not_found,
)

EVALUATOR_PARAM = "paths.evaluator"
EVALUATOR_LABEL = (
    "gantrack evaluator (trained on this dataset; comparable only within this project)"
)


def load_evaluator_network(path: Path) -> FeatureNetwork:
    """Wrap the trained evaluator saved at ``path`` (a ``.keras`` file)."""
    if not path.is_file():
        raise not_found(
            "the gantrack evaluator",
            [f"{EVALUATOR_PARAM} {path}: not found"],
            f"run `dvc repro train_evaluator`, which trains it and writes {EVALUATOR_PARAM}",
        )
    try:
        evaluator = keras.models.load_model(path, compile=False, safe_mode=True)
        extractor = feature_extractor(evaluator)
    except Exception as error:  # any unreadable or foreign file: name it, do not hide it
        raise CorruptFeatureNetworkError(
            f"{path}: not a loadable gantrack evaluator ({type(error).__name__}: {error}); "
            "retrain it with `dvc repro train_evaluator`"
        ) from None
    image_shape = tuple(extractor.input_shape[1:])

    @tf.function(input_signature=[tf.TensorSpec((None, *image_shape), tf.float32)])
    def forward(images):  # (batch, height, width, channels) in [-1, 1], as trained
        return extractor(images, training=False)

    def run_batch(batch):
        features, probabilities = forward(batch)
        return features.numpy(), probabilities.numpy()

    return build_network("evaluator", EVALUATOR_LABEL, str(path), run_batch, image_shape)
