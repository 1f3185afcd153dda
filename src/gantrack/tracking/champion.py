"""The registry alias ``champion``: which model version is the best so far, moved by the gate.

The generator is registered (by the ``sample`` stage) under one name with the alias
``candidate`` on its newest version. On the main branch CI gates the run against the base
and, only when the gate passes, moves ``champion`` to the candidate's version; a failing
run leaves ``champion`` where it was. Every function takes an ``MlflowClient`` and plain
values, so the rule is tested against a real store and the command stays an edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from gantrack.errors import GantrackError
from gantrack.tracking.registry import CANDIDATE_ALIAS, CHAMPION_ALIAS


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


def version_metrics(client, model_version) -> dict[str, dict[str, float]]:
    """The metrics of the run that produced ``model_version``, nested by network.

    The ``evaluate`` stage logs ``reports/metrics.json`` flattened with dots
    (``evaluator.fid``); this undoes it, giving the shape the gate compares.
    """
    return nest_metrics(_source_run(client, model_version).data.metrics)


def champion_metrics(
    client, model_name: str, alias: str = CHAMPION_ALIAS
) -> dict[str, dict[str, float]] | None:
    """The champion's run metrics, or None when no version holds ``alias`` yet."""
    aliases = model_aliases(client, model_name)
    if alias not in aliases:
        return None
    return version_metrics(client, resolve_version(client, model_name, aliases[alias]))


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
    if verdict != "pass":
        where = f"version {previous}" if previous else "no version"
        return Promotion(
            model_name,
            str(version),
            previous,
            False,
            f"gate verdict is {verdict!r}, not 'pass': {alias!r} stays at {where}",
        )
    client.set_registered_model_alias(model_name, alias, str(version))
    return Promotion(
        model_name,
        str(version),
        previous,
        True,
        f"gate passed: {alias!r} moved from {f'version {previous}' if previous else 'nothing'} "
        f"to version {version}",
    )


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
