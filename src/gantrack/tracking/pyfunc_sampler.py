"""The generator as an MLflow pyfunc: a table of requests in, images out.

Logged as "models from code": MLflow copies this file into the model and runs it on load,
so it imports NumPy, pandas, Keras and MLflow only, never ``gantrack``, and loads where the
project is not installed. The generator is the ``generator`` artifact, a ``.keras`` file
loaded in Keras's safe mode (nothing is unpickled).

Input, one row per request: ``num_images`` (≥ 1), ``seed`` (≥ 0) and, for a
class-conditional generator only (one with a second input: class indices ``(N,)``/``(N, 1)``
or one-hot ``(N, K)``), an integer ``label`` in every row. Output: float32 images
``(Σ num_images, H, W, C)`` in [-1, 1], request after request. The latent vectors are
``gantrack.gan.sampling.latent_vectors``'s, so request (n, s) reproduces
``generate_images(generator, n, s)``, and the ``sample`` stage when s is ``sample.seed``.
"""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pandas as pd

GENERATOR_ARTIFACT = "generator"
MAX_IMAGES_PER_CALL = 100_000  # ~300 MB of 28×28 float32 images: a typo, not a request
BATCH_SIZE = 500


def latent_vectors(num_images: int, latent_dim: int, seed: int) -> np.ndarray:
    """``(num_images, latent_dim)`` float32 N(0, I): gantrack.gan.sampling's, copied (see above)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_images, latent_dim), dtype=np.float32)


def _plain(value):
    """A NumPy scalar as the Python number it holds, for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _whole_number(requests: pd.DataFrame, row: int, column: str, minimum: int) -> int:
    value = _plain(requests[column].iloc[row])
    if _is_missing(value) or float(value) != int(value) or int(value) < minimum:
        raise ValueError(
            f"request {row}: {column} = {value!r}; expected a whole number >= {minimum}"
        )
    return int(value)


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _label_input(generator, labels: np.ndarray) -> np.ndarray:
    """Class indices shaped for the generator's label input: (N,), (N, 1) or one-hot (N, K)."""
    shape = tuple(generator.inputs[1].shape[1:])
    if shape in ((), (1,)):
        return labels.reshape((-1, *shape)).astype(np.int32)
    (num_classes,) = shape
    if labels.max() >= num_classes:
        raise ValueError(f"label {labels.max()} is out of range: the generator has {num_classes}")
    return np.eye(num_classes, dtype=np.float32)[labels]


def sample_requests(generator, requests: pd.DataFrame) -> np.ndarray:
    """The images of every request in ``requests``, concatenated in order.

    Raises ``ValueError`` naming the request for a missing or invalid ``num_images`` or
    ``seed``, a label for an unconditional generator (or none for a conditional one), or
    more than ``MAX_IMAGES_PER_CALL`` images in all.
    """
    for column in ("num_images", "seed"):
        if column not in requests.columns:
            raise ValueError(f"requests need a {column!r} column; got {list(requests.columns)}")
    conditional = len(generator.inputs) > 1
    latent_dim = generator.inputs[0].shape[-1]
    total = 0
    images = []
    for row in range(len(requests)):
        num_images = _whole_number(requests, row, "num_images", 1)
        seed = _whole_number(requests, row, "seed", 0)
        total += num_images
        if total > MAX_IMAGES_PER_CALL:
            raise ValueError(f"requests ask for more than {MAX_IMAGES_PER_CALL} images in all")
        has_label = "label" in requests.columns and not _is_missing(requests["label"].iloc[row])
        if has_label and not conditional:
            label = _plain(requests["label"].iloc[row])
            raise ValueError(
                f"request {row}: label = {label!r}, but this generator is unconditional "
                "(one input, the latent vector); leave label out"
            )
        if conditional and not has_label:
            raise ValueError(f"request {row}: this generator is class-conditional; give a label")
        inputs = latent_vectors(num_images, latent_dim, seed)
        if conditional:
            label = _whole_number(requests, row, "label", 0)
            inputs = [inputs, _label_input(generator, np.full(num_images, label))]
        images.append(generator.predict(inputs, batch_size=BATCH_SIZE, verbose=0))
    if not images:
        raise ValueError("no requests: give at least one row (num_images, seed)")
    return np.concatenate(images).astype(np.float32)


class GeneratorSampler(mlflow.pyfunc.PythonModel):
    """``predict(requests) -> images``; see the module's docstring."""

    def load_context(self, context) -> None:
        import keras

        self.generator = keras.models.load_model(
            context.artifacts[GENERATOR_ARTIFACT], compile=False, safe_mode=True
        )

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return sample_requests(self.generator, pd.DataFrame(model_input))


# "Models from code": MLflow runs this file to find the model. Importing it does no other work.
mlflow.models.set_model(GeneratorSampler())
