"""The generator in MLflow: the Keras network, the request-table sampler, the registry aliases.

``sample`` logs two models (README: "The generator as a model"): ``generator``, the Keras
network (latent vectors in, images out), and ``sampler``, the pyfunc of
``pyfunc_sampler.py`` (a table of requests in, images out). They are separate because an
MLflow model has one signature. The sampler is registered as a new version of
``mlflow.registered_model`` with the alias ``candidate`` moved to it.

On the main branch CI gates the run against the base and, only when the gate passes, moves
the alias ``champion`` to the candidate's version (:func:`promote`); a failing run leaves
``champion`` where it was. The alias functions take an ``MlflowClient`` and plain values,
so the rule is tested against a real store and the commands stay edges.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from gantrack.errors import GantrackError
from gantrack.tracking import pyfunc_sampler
from gantrack.tracking.runs import retry_when_locked

CANDIDATE_ALIAS = "candidate"  # what `sample` registers; the gate's promotion moves
CHAMPION_ALIAS = "champion"  # to this alias (promote)
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


# ---- aliases: the gate's promotion of the candidate to champion ----


class RegistryError(GantrackError):
    """A registered model, version, alias or source run that the gate needs is missing."""


@dataclass(frozen=True)
class Promotion:
    """What :func:`promote` did: ``promoted`` tells whether ``champion`` moved."""

    model_name: str
    version: str
    previous_champion: str | None
    promoted: bool
    reason: str


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
            raise RegistryError(
                f"registered model {model_name!r} has no alias {alias!r} (aliases: "
                f"{_listing(aliases)}); pass --version N or register a version first"
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
    """Refuse a version trained from another commit (a stale ``candidate``).

    When ``dvc repro`` had nothing to do (every output restored from the run cache), no new
    version is registered and ``candidate`` still points to an older run's model.
    """
    run_commit = _source_run(client, model_version).data.tags.get(MLFLOW_GIT_COMMIT)
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
    None when no version holds ``alias`` yet.

    The ``evaluate`` stage logs ``reports/metrics.json`` flattened with dots
    (``evaluator.fid``); :func:`nest_metrics` undoes it.
    """
    if alias not in model_aliases(client, model_name):
        return None
    model_version = client.get_model_version_by_alias(model_name, alias)
    return nest_metrics(_source_run(client, model_version).data.metrics)


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


def promote(
    client,
    model_name: str,
    version: str,
    decision: Mapping[str, Any],
    alias: str = CHAMPION_ALIAS,
) -> Promotion:
    """Move ``alias`` to ``version`` if the gate's ``decision`` passed; otherwise leave it.

    ``decision`` is what ``python -m gantrack gate --decision`` wrote: only
    ``{"verdict": "pass"}`` promotes. The version must exist either way, so a typo is an
    error rather than a silent no-op.
    """
    resolve_version(client, model_name, version)
    previous = model_aliases(client, model_name).get(alias)
    verdict = decision.get("verdict")
    if verdict == "pass":
        client.set_registered_model_alias(model_name, alias, str(version))
        moved_from = f"version {previous}" if previous else "nothing"
        reason = f"gate passed: {alias!r} moved from {moved_from} to version {version}"
    else:
        where = f"version {previous}" if previous else "no version"
        reason = f"gate verdict is {verdict!r}, not 'pass': {alias!r} stays at {where}"
    return Promotion(model_name, str(version), previous, verdict == "pass", reason)


def _source_run(client, model_version):
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


def _listing(aliases: Mapping[str, str]) -> str:
    return ", ".join(f"{alias} → {version}" for alias, version in sorted(aliases.items())) or "none"
