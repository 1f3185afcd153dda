"""The generator in MLflow: the Keras network, the request-table sampler, the registry.

Two logged models per run that samples:

- ``generator``: the Keras network itself (MLflow's Keras flavour), latent vectors in,
  images out, with a tensor signature and an input example. ``mlflow.keras.load_model``
  gives back the ``keras.Model``.
- ``sampler``: a pyfunc (``gantrack/tracking/pyfunc_sampler.py``, logged as code) that takes a table
  of requests (``num_images``, ``seed``, optional ``label``) and returns images, with the
  generator's ``.keras`` file as its artifact. This is the model that is *registered*:
  a new version of ``mlflow.registered_model`` per run, with the alias ``candidate``
  moved to it, so ``mlflow.pyfunc.load_model("models:/<name>@candidate")`` and
  ``mlflow models serve -m "models:/<name>@candidate"`` draw samples without the project.

The two are separate because an MLflow model has one signature: the network's is a
tensor of latent vectors, the sampler's a table of requests.
"""

from __future__ import annotations

import os
import types
from importlib.metadata import version
from pathlib import Path

from gantrack.tracking import pyfunc_sampler
from gantrack.tracking.runs import retry_when_locked

CANDIDATE_ALIAS = "candidate"  # what `sample` registers; the gate's promotion moves
CHAMPION_ALIAS = "champion"  # to this alias (gantrack.tracking.champion)
SAMPLER_CODE = Path(pyfunc_sampler.__file__)  # logged as code: MLflow runs this file
# Pinned to the versions that logged the model, so it loads without guessing (and without
# MLflow's slow requirement inference, which imports the model in a subprocess).
_REQUIREMENTS = ("tensorflow", "keras", "numpy", "pandas", "mlflow")


def pinned_requirements(packages: tuple[str, ...] = _REQUIREMENTS) -> list[str]:
    return [f"{package}=={version(package)}" for package in packages]


def _save_keras_model(path, **kwargs) -> None:
    """``mlflow.keras.save_model`` into a directory that exists beforehand.

    MLflow 3.17's Keras flavour writes ``input_example.json`` into the model directory
    *before* it creates that directory (``mlflow/keras/save.py``: ``_save_example(...,
    path)`` comes before ``os.makedirs(data_path)``, and ``Model.log`` hands it a fresh
    path inside a temporary folder), so ``log_model(..., input_example=...)`` fails with
    FileNotFoundError. Creating the directory first is all it lacks; its later
    ``os.makedirs(path/data)`` works inside an existing directory.
    """
    import mlflow.keras

    os.makedirs(path, exist_ok=True)
    mlflow.keras.save_model(path=path, **kwargs)


# A flavour module for Model.log: MLflow's Keras flavour with the directory fix above;
# the logged model is the same (flavour "keras", loaded by mlflow.keras / mlflow.pyfunc).
_KERAS_FLAVOUR = types.SimpleNamespace(__name__="mlflow.keras", save_model=_save_keras_model)


def log_generator(generator, name: str = "generator"):
    """Log the Keras ``generator`` with a latent → image signature and an input example.

    Returns MLflow's ``ModelInfo`` (``.model_uri``, ``.model_id``). Unconditional generators
    only (one input): a class-conditional one is served by the sampler, whose requests carry
    the label. Raises ``ValueError`` for a generator with more than one input.
    """
    import numpy as np

    if len(generator.inputs) != 1:
        raise ValueError(
            f"log_generator takes an unconditional generator (one input, the latent vector); "
            f"this one has {len(generator.inputs)} inputs: log it with log_sampler"
        )
    from mlflow.models import Model, infer_signature

    latent = np.zeros((2, generator.inputs[0].shape[-1]), dtype=np.float32)
    signature = infer_signature(latent, generator.predict(latent, verbose=0))
    return retry_when_locked(Model.log)(
        artifact_path=None,
        name=name,
        flavor=_KERAS_FLAVOUR,
        model=generator,
        signature=signature,
        input_example=latent,
        pip_requirements=pinned_requirements(("tensorflow", "keras")),
    )


def sampler_signature(image_shape: tuple[int, ...]):
    """Requests ``(num_images: long, seed: long, label: long, optional)`` → float32 images."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    inputs = Schema(
        [
            ColSpec("long", "num_images"),
            ColSpec("long", "seed"),
            ColSpec("long", "label", required=False),
        ]
    )
    outputs = Schema([TensorSpec(np.dtype(np.float32), (-1, *image_shape))])
    return ModelSignature(inputs=inputs, outputs=outputs)


def sampler_input_example(conditional: bool):
    """Two images with seed 0; of class 0 for a class-conditional generator."""
    import pandas as pd

    example = {"num_images": [2], "seed": [0]}
    return pd.DataFrame({**example, "label": [0]} if conditional else example)


def log_sampler(
    generator_file: Path,
    image_shape: tuple[int, ...],
    conditional: bool = False,
    name: str = "sampler",
):
    """Log the request-table pyfunc around the ``.keras`` file ``generator_file``.

    ``conditional``: the generator takes a class label (its input example then has one).
    MLflow loads the logged model once and scores the input example while logging, so a
    sampler that cannot load or predict fails here, in the stage, not at serving time.
    """
    import mlflow.pyfunc

    return retry_when_locked(mlflow.pyfunc.log_model)(
        name=name,
        python_model=str(SAMPLER_CODE),
        artifacts={"generator": str(generator_file)},
        signature=sampler_signature(tuple(image_shape)),
        input_example=sampler_input_example(conditional),
        pip_requirements=pinned_requirements(),
    )


def register_candidate(model_uri: str, name: str, tags: dict[str, str]):
    """Register ``model_uri`` as a new version of ``name`` and point ``candidate`` at it.

    Returns the ``ModelVersion``. Moving the alias is the whole promotion step: a
    reviewer who prefers another version moves it back (``set_registered_model_alias``).
    """
    import mlflow
    from mlflow import MlflowClient

    model_version = retry_when_locked(mlflow.register_model)(
        model_uri, name, tags={key: value for key, value in tags.items() if value}
    )
    retry_when_locked(MlflowClient().set_registered_model_alias)(
        name, CANDIDATE_ALIAS, model_version.version
    )
    return model_version
