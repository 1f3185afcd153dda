"""Feature networks by name: :func:`load_feature_network` and, at a stage's edge,
:func:`feature_network_from_params`. What each network is and how its numbers compare is
in :mod:`gantrack.evaluation.feature_networks`."""

from __future__ import annotations

import os
from pathlib import Path

from gantrack.config import Params
from gantrack.evaluation.feature_networks.base import FeatureNetwork, on_replicas
from gantrack.evaluation.feature_networks.evaluator_network import load_evaluator_network
from gantrack.evaluation.feature_networks.inception_2015 import (
    OWN_GRAPH_VARIABLE,
    load_inception_2015,
)
from gantrack.evaluation.feature_networks.inception_v3 import (
    Downloader,
    check_resize_method,
    load_inception_v3,
)
from gantrack.io import keras_home as keras_home_of


def load_feature_network(
    name: str,
    *,
    evaluator_path: Path | str | None = None,
    inception_v3_weights: Path | str | None = None,
    resize_method: str = "bilinear",
    inception_2015_graph: Path | str | None = None,
    inception_2015_softmax_bias: bool = False,
    inception_2015_own_graph_sha256: str | None = None,
    keras_home: Path | str | None = None,
    download: Downloader | None = None,
) -> FeatureNetwork:
    """Load feature network ``name``; only the arguments that network uses are read.

    - ``evaluator_path``: the trained evaluator ``.keras`` file (``evaluator``; required).
    - ``inception_v3_weights``: a ``.h5`` / ``.weights.h5`` to load first (``inception_v3``).
    - ``resize_method``: how ``inception_v3`` resizes to 299×299 (a ``tf.image.resize``
      method); checked for every network so a typo never waits for a later run.
    - ``inception_2015_graph``: ``classify_image_graph_def.pb`` or its folder
      (``inception_2015``; without it the loader raises how to obtain it).
    - ``inception_2015_softmax_bias``: add the classifier's bias to the IS logits
      (improved-gan did not; ``False`` keeps its numbers).
    - ``inception_2015_own_graph_sha256``: the SHA-256 of a graph that is not the published
      file, to load it anyway (with a warning); ``None`` accepts the published file only.
    - ``keras_home``: Keras's cache root, where ``models/`` holds downloaded weights
      (``inception_v3``; required). The caller resolves ``$KERAS_HOME``: see
      :func:`gantrack.io.keras_home`.
    - ``download``: replaces the Keras download of the InceptionV3 weights (tests pass one
      that fails); ``None`` downloads with ``keras.utils.get_file``.
    """
    loaders = {
        "evaluator": lambda: load_evaluator_network(
            _required(evaluator_path, "evaluator_path", name)
        ),
        "inception_v3": lambda: load_inception_v3(
            _optional(inception_v3_weights),
            _required(keras_home, "keras_home", name),
            resize_method,
            download,
        ),
        "inception_2015": lambda: load_inception_2015(
            _optional(inception_2015_graph),
            inception_2015_softmax_bias,
            inception_2015_own_graph_sha256,
        ),
    }
    if name not in loaders:
        raise ValueError(f"unknown feature network {name!r}; valid names: {', '.join(loaders)}")
    check_resize_method(resize_method)
    return loaders[name]()


def _required(value: Path | str | None, argument: str, name: str) -> Path:
    if value is None:
        raise ValueError(f"feature network {name!r} needs {argument}")
    return Path(value)


def _optional(value: Path | str | None) -> Path | None:
    return None if value is None else Path(value)


def feature_network_from_params(name: str, params: Params, strategy=None) -> FeatureNetwork:
    """The network ``name`` as the params configure it (weights paths, resizing).

    With a ``strategy`` of several replicas, the network is built in its scope and every
    batch is split across the replicas (:func:`gantrack.distribute.on_all_replicas`).
    ``$KERAS_HOME`` and ``$GANTRACK_INCEPTION_2015_SHA256`` (a graph of your own) are read
    here: this runs at the edge, in a stage.
    """
    return on_replicas(
        lambda: load_feature_network(
            name,
            evaluator_path=params.paths.evaluator,
            inception_v3_weights=params.feature_networks.inception_v3_weights,
            resize_method=params.feature_networks.resize_method,
            inception_2015_graph=params.feature_networks.inception_2015_graph,
            inception_2015_own_graph_sha256=os.environ.get(OWN_GRAPH_VARIABLE) or None,
            keras_home=keras_home_of(os.environ),
        ),
        strategy,
    )
