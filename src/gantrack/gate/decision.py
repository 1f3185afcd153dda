"""The gate's decision as evidence: what it judged, and a check that it is the real one.

``gate --decision FILE`` writes the verdict with everything it rests on: the rule, the
base's and the candidate's seed runs (run ids, seeds, commits, metrics) and the model
version the candidate registered. When the store is reachable the gate also records the
decision's SHA-256 on that model version (tag :data:`DIGEST_TAG`). ``promote`` then moves
``champion`` only for a decision that

- has this shape (a hand-written ``{"verdict": "pass"}`` has not),
- names the very version it promotes, that version's source run, and that run's commit,
- and hashes to the digest the gate recorded on the version: a file edited, or written
  for another run, does not.

The store is the root of trust: whoever can write tags to the registry can forge a
decision (docs: the security model).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from gantrack.errors import GantrackError
from gantrack.gate.rules import GateResult
from gantrack.gate.seed_sets import SeedSet

FORMAT = "gantrack-gate-decision/1"
DIGEST_TAG = "gantrack.gate.decision_sha256"
VERDICT_TAG = "gantrack.gate.verdict"


class DecisionError(GantrackError, ValueError):
    """A decision that does not belong to what is being promoted, or is not a decision."""


def decision_document(
    result: GateResult, model: Mapping[str, str] | None, commit: str | None
) -> dict[str, Any]:
    """The decision as JSON-ready data: verdict, rule, both seed sets, tests, the model."""
    return {
        "format": FORMAT,
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "rule": {
            "network": result.rule.network,
            "metrics": list(result.rule.metrics),
            "false_alarm": result.rule.false_alarm,
            "min_base_seeds": result.rule.min_base_seeds,
            "max_classes_covered_decrease": result.rule.max_classes_covered_decrease,
        },
        "commit": commit,
        "model": dict(model) if model else None,
        "base": _seed_set(result.base),
        "candidate": _seed_set(result.candidate),
        "tests": [
            {
                "metric": test.metric,
                "base_median": _number(test.base.median),
                "candidate_median": _number(test.candidate.median),
                "relative_change": _number(test.relative_change),
                "p_value": _number(test.p_value),
                "threshold": _number(test.threshold),
                "regression": test.regression,
            }
            for test in result.tests
        ],
        "failures": list(result.failures),
        "notes": list(result.notes),
    }


def digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of the decision's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def check_decision(
    document: Any, version: str, run_id: str | None, commit: str | None, recorded: str | None
) -> None:
    """Refuse a decision that is not the gate's, or not for this model version.

    ``version`` and ``run_id`` are the model version being promoted and its source run,
    ``commit`` that run's git commit, ``recorded`` the digest the gate left on the version.
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DecisionError(
            'the decision file is not a gate decision (no "format": "' + FORMAT + '"); '
            "promote takes only what `python -m gantrack gate --decision FILE` wrote"
        )
    model = document.get("model")
    if not isinstance(model, dict):
        raise DecisionError(
            "the decision names no model version: the gate ran without the candidate's "
            "registered version (no registry?), so it cannot promote one"
        )
    mismatches = [
        f"{what} {named!r} (this version's: {actual!r})"
        for what, named, actual in (
            ("version", str(model.get("version")), str(version)),
            ("run", model.get("run_id"), run_id),
            ("commit", document.get("commit"), commit),
        )
        if named != actual
    ]
    if mismatches:
        raise DecisionError("the decision is for another model: it names " + "; ".join(mismatches))
    if recorded is None:
        raise DecisionError(
            f"version {version} carries no gate digest ({DIGEST_TAG}): no gate judged it "
            "with the store at hand; run the gate with the registry reachable"
        )
    if digest(document) != recorded:
        raise DecisionError(
            f"the decision file differs from the one the gate recorded on version {version} "
            "(its SHA-256 does not match): edited, or written for another run"
        )


def _seed_set(seed_set: SeedSet) -> dict[str, Any]:
    data = seed_set.as_dict()
    data.pop("format")
    return data


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None
