"""Command-line entry points of ``python -m gantrack``: argument parsing, files, exit codes.

Each module has ``main(argv) -> int`` and keeps its logic in a library module (``gate`` in
:mod:`gantrack.cli.gate_rules`, ``promote`` in :mod:`gantrack.tracking.champion`).
"""

from __future__ import annotations

from typing import Any

from gantrack.errors import GantrackError


class UsageError(GantrackError):
    """The command line or params.yaml does not say what to act on."""


def registered_model_name(params: Any, source: str = "params.yaml") -> str:
    """``mlflow.registered_model`` from the params, for commands given no ``--model``.

    Read by attribute because the ``mlflow:`` section belongs to the registry's own change;
    without it the command needs the name on its command line.
    """
    name = getattr(getattr(params, "mlflow", None), "registered_model", None)
    if not name:
        raise UsageError(
            f"no model name given and {source} has no mlflow.registered_model; "
            "pass the registered model's name"
        )
    return name
