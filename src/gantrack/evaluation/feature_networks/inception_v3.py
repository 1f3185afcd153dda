"""The ``inception_v3`` feature network: Keras's InceptionV3 with its ImageNet weights.

Features are the 2048-d global average pool (layer ``avg_pool``), probabilities the
1000-way ImageNet softmax (layer ``predictions``); one model gives both in one pass.

Preprocessing, per batch:

1. [-1, 1] -> [0, 255] (``(x + 1) * 127.5``, the range of an 8-bit image file) and grey
   images repeated into three channels;
2. resize to 299×299 with ``tf.image.resize(method=resize_method)``: ``bilinear`` by
   default, any method ``tf.image.resize`` knows; no clipping after resizing;
3. ``keras.applications.inception_v3.preprocess_input``, which maps [0, 255] to [-1, 1]
   (``x / 127.5 - 1``).

Steps 1 and 3 are inverse affine maps, and every resize method takes weighted averages of
pixels (weights summing to 1), which commute with affine maps: the network sees the
resized [-1, 1] images, up to float rounding. Going through [0, 255] keeps to Keras's
documented input contract instead of relying on that.

Weights come from the first of: the ``weights_path`` given (``.h5`` or ``.weights.h5``),
the Keras cache ``<keras_home>/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5``,
the Keras download (``keras.utils.get_file`` with Keras's URL and MD5). A file that exists
but does not load stops with its name; nothing ever falls back to random weights. The
file's MD5 is compared with Keras's published one and the ``label`` says whether the
numbers are the ImageNet network's.

These numbers resemble, but are not, the published FIDs: those use the 2015 TensorFlow
graph (``inception_2015``), whose weights and resize differ.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import keras
import tensorflow as tf

from gantrack.config import RESIZE_METHODS
from gantrack.evaluation.feature_networks.base import (
    CorruptFeatureNetworkError,
    FeatureNetwork,
    build_network,
    md5_of,
    not_found,
    to_rgb_255,
)

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + WEIGHTS_FILE
)
WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"  # keras.applications.inception_v3's file_hash
WEIGHTS_PARAM = "feature_networks.inception_v3_weights"
EXPECTED_WEIGHTS = (
    f"expected Keras's {WEIGHTS_FILE} (with the 1000-class top, not the _notop file) or a "
    ".weights.h5 saved from keras.applications.InceptionV3(include_top=True)"
)
INPUT_SIDE = 299
# Returns the path of the downloaded weights file; raises when there is no network.
Downloader = Callable[[], Path]


def check_resize_method(resize_method: str) -> None:
    """``resize_method`` must be one of ``tf.image.resize``'s (config.RESIZE_METHODS)."""
    if resize_method not in RESIZE_METHODS:
        raise ValueError(
            f"unknown resize method {resize_method!r}; tf.image.resize accepts: "
            f"{', '.join(RESIZE_METHODS)}"
        )


def load_inception_v3(
    weights_path: Path | None,
    keras_home: Path,
    resize_method: str = "bilinear",
    download: Downloader | None = None,
) -> FeatureNetwork:
    """Keras InceptionV3 with weights from the first place that has them (module docstring).

    ``download`` replaces the Keras download (tests pass one that fails); ``None`` uses
    ``keras.utils.get_file`` into ``keras_home``.
    """
    check_resize_method(resize_method)
    if weights_path is not None and weights_path.suffix != ".h5":
        raise ValueError(f"{WEIGHTS_PARAM} must be a .h5 or .weights.h5 file; got {weights_path}")
    path, origin = find_weights(weights_path, keras_home, download)
    if not h5py.is_hdf5(path):  # checked before the few seconds of building the model
        raise CorruptFeatureNetworkError(f"{path}: not an HDF5 file; {EXPECTED_WEIGHTS}")
    digest = md5_of(path)
    verified = digest == WEIGHTS_MD5
    model = _build_model(path)

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)])
    def forward(images):  # (batch, height, width, 3) in [0, 255]
        resized = tf.image.resize(images, (INPUT_SIDE, INPUT_SIDE), method=resize_method)
        inputs = keras.applications.inception_v3.preprocess_input(resized)  # to [-1, 1]
        return model(inputs, training=False)  # (batch, 2048), (batch, 1000)

    def run_batch(batch):
        features, probabilities = forward(to_rgb_255(batch))
        return features.numpy(), probabilities.numpy()

    weights = (
        "ImageNet"
        if verified
        else f"weights {path.name}: its MD5 is not Keras's ImageNet file's, so the numbers "
        "are not comparable with ImageNet-InceptionV3 ones"
    )
    size = f"{INPUT_SIDE}×{INPUT_SIDE}"
    label = f"Keras InceptionV3 ({weights}), {size} {resize_method}, pool 2048-d"
    verdict = "matches" if verified else "differs from"
    origin = f"{origin}; md5 {digest} {verdict} Keras's {WEIGHTS_MD5}"
    return build_network("inception_v3", label, origin, run_batch)


def find_weights(
    weights_path: Path | None, keras_home: Path, download: Downloader | None
) -> tuple[Path, str]:
    """The weights file and where it came from; raises listing every place tried."""
    cache = keras_home / "models" / WEIGHTS_FILE
    tried = []
    if weights_path is None:
        tried.append(f"{WEIGHTS_PARAM}: not set")
    elif weights_path.is_file():
        return weights_path, f"{WEIGHTS_PARAM} {weights_path}"
    else:
        tried.append(f"{WEIGHTS_PARAM} {weights_path}: not found")
    if cache.is_file():
        return cache, f"Keras cache {cache}"
    tried.append(f"Keras cache {cache}: not found")
    try:
        path = Path(download() if download is not None else _keras_download(keras_home))
    except Exception as error:  # any network or HTTP failure: report it, do not hide it
        tried.append(f"Keras download of {WEIGHTS_URL}: failed ({type(error).__name__}: {error})")
        raise not_found(
            f"InceptionV3 ImageNet weights {WEIGHTS_FILE}",
            tried,
            f"download {WEIGHTS_URL} (96 MB, md5 {WEIGHTS_MD5}) where there is internet, "
            f"then put it at {cache} or set {WEIGHTS_PARAM} in params.yaml to its path",
        ) from None
    return path, f"Keras download of {WEIGHTS_URL} to {path}"


def _keras_download(keras_home: Path) -> str:
    # get_file falls back to /tmp/.keras when cache_dir does not exist: create it, so the
    # file lands where the cache lookup above finds it next time.
    keras_home.mkdir(parents=True, exist_ok=True)
    return keras.utils.get_file(
        WEIGHTS_FILE,
        WEIGHTS_URL,
        cache_subdir="models",
        file_hash=WEIGHTS_MD5,
        cache_dir=str(keras_home),
    )


def _build_model(weights_path: Path) -> keras.Model:
    """InceptionV3 with the weights loaded: images (299×299) -> (avg_pool, predictions)."""
    inception = keras.applications.InceptionV3(include_top=True, weights=None)
    try:
        inception.load_weights(weights_path)
    except Exception as error:  # wrong model, truncated file, not HDF5: name the file
        raise CorruptFeatureNetworkError(
            f"{weights_path}: cannot load InceptionV3 weights from it "
            f"({type(error).__name__}: {error}); {EXPECTED_WEIGHTS}"
        ) from None
    heads = [inception.get_layer(name).output for name in ("avg_pool", "predictions")]
    return keras.Model(inception.input, heads, name="inception_v3_heads")
