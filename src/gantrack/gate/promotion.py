"""Promotion: move ``champion`` to a model version on the strength of the gate's decision.

Only the gate's own decision for this very version moves the alias
(:func:`gantrack.gate.decision.check_decision`), and the promoted version keeps the
evidence the decision used as tags. Registry look-ups live in
:mod:`gantrack.tracking.registry`; this module is what the ``promote`` command acts with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from gantrack.gate.decision import DIGEST_TAG, check_decision
from gantrack.tracking.registry import (
    CHAMPION_ALIAS,
    model_aliases,
    resolve_version,
    source_run,
)


@dataclass(frozen=True)
class Promotion:
    """What :func:`promote` did: ``promoted`` tells whether ``champion`` moved."""

    model_name: str
    version: str
    previous_champion: str | None
    promoted: bool
    reason: str


def promote(
    client,
    model_name: str,
    version: str,
    decision: Any,
    alias: str = CHAMPION_ALIAS,
) -> Promotion:
    """Move ``alias`` to ``version`` if the gate's ``decision`` is this version's and says
    pass; leave it otherwise. A decision that is not the gate's, or is another version's,
    is refused (:class:`~gantrack.gate.decision.DecisionError`), never read as a verdict.

    The promoted version keeps the evidence: the seed runs, commit and metrics the
    decision used, as tags (:data:`EVIDENCE_TAGS`).
    """
    model_version = resolve_version(client, model_name, version)
    source = source_run(client, model_version)
    check_decision(
        decision,
        version=str(model_version.version),
        run_id=model_version.run_id,
        commit=source.data.tags.get(MLFLOW_GIT_COMMIT),
        recorded=(model_version.tags or {}).get(DIGEST_TAG),
    )
    previous = model_aliases(client, model_name).get(alias)
    verdict = decision["verdict"]
    if verdict != "pass":
        where = f"version {previous}" if previous else "no version"
        reason = f"gate verdict is {verdict!r}, not 'pass': {alias!r} stays at {where}"
        return Promotion(model_name, str(version), previous, False, reason)
    for key, value in evidence(decision).items():
        client.set_model_version_tag(model_name, str(version), key, value)
    client.set_registered_model_alias(model_name, alias, str(version))
    moved_from = f"version {previous}" if previous else "nothing"
    reason = f"gate passed: {alias!r} moved from {moved_from} to version {version}"
    return Promotion(model_name, str(version), previous, True, reason)


EVIDENCE_TAGS = (
    "gantrack.champion.seed_runs",
    "gantrack.champion.base_runs",
    "gantrack.champion.commit",
    "gantrack.champion.metrics",
)


def evidence(decision: Mapping[str, Any]) -> dict[str, str]:
    """What a promotion rests on, as model-version tags (each within MLflow's 5,000
    characters): the candidate's and the base's seed runs, the commit, each test."""

    def runs(side: str) -> str:
        return ",".join(str(seed.get("run_id") or "") for seed in decision[side]["seeds"])

    tests = "; ".join(
        f"{test['metric']}: base median {test['base_median']}, candidate median "
        f"{test['candidate_median']}, p {test['p_value']}"
        for test in decision["tests"]
    )
    values = (runs("candidate"), runs("base"), str(decision.get("commit")), tests)
    return {key: value[:5000] for key, value in zip(EVIDENCE_TAGS, values, strict=True)}
