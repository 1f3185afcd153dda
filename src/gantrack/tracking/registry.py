"""The generator in MLflow: the Keras network, the request-table sampler, the registry aliases.

``sample`` logs ``generator`` (the Keras network: latent vectors in, images out) and
``sampler`` (the pyfunc of ``pyfunc_sampler.py``: a table of requests in, images out);
two models because an MLflow model has one signature. The sampler is registered with the
alias ``candidate``; on main, CI moves ``champion`` to it only when the gate passes
(:func:`promote`). The alias functions take an ``MlflowClient`` and plain values.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from gantrack.errors import GantrackError
from gantrack.tracking import pyfunc_sampler
from gantrack.tracking.store import retry_when_locked

CANDIDATE_ALIAS = "candidate"  # what `sample` registers; the gate's promotion moves
CHAMPION_ALIAS = "champion"  # to this alias (promote)
SAMPLER_CODE = Path(pyfunc_sampler.__file__)  # logged as code: MLflow runs this file
# Pinned to the versions that logged the model, so it loads without guessing (and without
# MLflow's slow requirement inference, which imports the model in a subprocess).
_REQUIREMENTS = ("tensorflow", "keras", "numpy", "pandas", "mlflow")


def pinned_requirements(packages: tuple[str, ...] = _REQUIREMENTS) -> list[str]:
    return [f"{package}=={version(package)}" for package in packages]


def _save_keras_model(path, **kwargs) -> None:
    """``mlflow.keras.save_model`` into a directory created first: MLflow 3.17's Keras
    flavour writes ``input_example.json`` before it creates the model directory, so
    ``log_model(..., input_example=...)`` fails with FileNotFoundError."""
    import mlflow.keras

    os.makedirs(path, exist_ok=True)
    mlflow.keras.save_model(path=path, **kwargs)


# MLflow's Keras flavour with the fix above, for Model.log: the logged model is the same.
_KERAS_FLAVOUR = types.SimpleNamespace(__name__="mlflow.keras", save_model=_save_keras_model)


def log_generator(generator, name: str = "generator"):
    """Log the unconditional Keras ``generator`` with a latent → image signature and an
    input example; returns MLflow's ``ModelInfo``. ``ValueError`` for more than one input
    (a class-conditional generator is served by the sampler)."""
    if len(generator.inputs) != 1:
        raise ValueError(
            f"log_generator takes an unconditional generator (one input, the latent vector); "
            f"this one has {len(generator.inputs)} inputs: log it with log_sampler"
        )
    import numpy as np
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


def log_sampler(
    generator_file: Path,
    image_shape: tuple[int, ...],
    conditional: bool = False,
    name: str = "sampler",
):
    """Log the request-table pyfunc around the ``.keras`` file ``generator_file``.

    Requests ``(num_images, seed, label (optional))`` → float32 images. MLflow loads the
    model and scores the input example (two images of seed 0, class 0 if ``conditional``)
    while logging, so a sampler that cannot predict fails in the stage, not when served.
    """
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    columns = [
        ColSpec("long", "num_images"),
        ColSpec("long", "seed"),
        ColSpec("long", "label", required=False),
    ]
    images = TensorSpec(np.dtype(np.float32), (-1, *image_shape))
    example = {"num_images": [2], "seed": [0], **({"label": [0]} if conditional else {})}
    return retry_when_locked(mlflow.pyfunc.log_model)(
        name=name,
        python_model=str(SAMPLER_CODE),
        artifacts={pyfunc_sampler.GENERATOR_ARTIFACT: str(generator_file)},
        signature=ModelSignature(inputs=Schema(columns), outputs=Schema([images])),
        input_example=pd.DataFrame(example),
        pip_requirements=pinned_requirements(),
    )


def register_candidate(model_uri: str, name: str, tags: dict[str, str]):
    """Register ``model_uri`` as a new version of ``name`` and point ``candidate`` at it;
    returns the ``ModelVersion``."""
    import mlflow
    from mlflow import MlflowClient

    tags = {key: value for key, value in tags.items() if value}
    model_version = retry_when_locked(mlflow.register_model)(model_uri, name, tags=tags)
    retry_when_locked(MlflowClient().set_registered_model_alias)(
        name, CANDIDATE_ALIAS, model_version.version
    )
    return model_version


class RegistryError(GantrackError):
    """A registered model, version, alias or source run that the gate needs is missing."""


def model_aliases(client, model_name: str) -> dict[str, str]:
    """``{alias: version}`` of a registered model; :class:`RegistryError` if it is missing."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(model_name)
    except MlflowException as error:
        raise RegistryError(
            f"registered model {model_name!r} not found ({error.message}); run the pipeline "
            "with the model registry configured, or pass the right --model NAME"
        ) from None
    return {alias: str(version) for alias, version in model.aliases.items()}


def resolve_version(
    client, model_name: str, version: str | None = None, alias: str = CANDIDATE_ALIAS
):
    """The ``ModelVersion`` given by number, else the one ``alias`` points to."""
    from mlflow.exceptions import MlflowException

    aliases = model_aliases(client, model_name)  # first, so a wrong name is named as such
    if version is None:
        if alias not in aliases:
            listing = ", ".join(f"{name} → {number}" for name, number in sorted(aliases.items()))
            raise RegistryError(
                f"registered model {model_name!r} has no alias {alias!r} (aliases: "
                f"{listing or 'none'}); pass --version N or register a version first"
            )
        version = aliases[alias]
    try:
        return client.get_model_version(model_name, str(version))
    except MlflowException as error:
        raise RegistryError(
            f"{model_name!r} version {version} not found ({error.message}); "
            "check the version number"
        ) from None


def check_commit(client, model_version, commit: str) -> None:
    """Refuse a version trained from another commit: a stale ``candidate``, left when every
    stage was restored from the run cache and nothing new was registered."""
    run_commit = source_run(client, model_version).data.tags.get(MLFLOW_GIT_COMMIT)
    if run_commit != commit:
        raise RegistryError(
            f"{model_version.name!r} version {model_version.version} was trained from commit "
            f"{run_commit or 'unknown'}, not {commit}: this run registered no new version "
            "(was every stage restored from the run cache?); nothing to promote"
        )


def champion_metrics(
    client, model_name: str, alias: str = CHAMPION_ALIAS
) -> dict[str, dict[str, float]] | None:
    """The metrics of the run behind ``alias``, nested by network (the gate's shape), or
    None when no version holds ``alias`` yet."""
    if alias not in model_aliases(client, model_name):
        return None
    model_version = client.get_model_version_by_alias(model_name, alias)
    return nest_metrics(source_run(client, model_version).data.metrics)


def nest_metrics(flat: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """``{"evaluator.fid": 30.0}`` → ``{"evaluator": {"fid": 30.0}}``; undotted keys dropped.

    Only the first dot splits: network names have none, metric names may.
    """
    nested: dict[str, dict[str, float]] = {}
    for key, value in flat.items():
        network, dot, metric = key.partition(".")
        if dot:
            nested.setdefault(network, {})[metric] = value
    return nested


def source_run(client, model_version):
    from mlflow.exceptions import MlflowException

    if not model_version.run_id:
        raise RegistryError(
            f"{model_version.name!r} version {model_version.version} has no source run, so "
            "its metrics are unknown; register versions from a pipeline run"
        )
    try:
        return client.get_run(model_version.run_id)
    except MlflowException as error:
        raise RegistryError(
            f"source run {model_version.run_id} of {model_version.name!r} version "
            f"{model_version.version} not found ({error.message})"
        ) from None
