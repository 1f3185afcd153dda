"""Command-line entry points of ``python -m gantrack``: argument parsing, files, exit codes.

Each module has ``main(argv) -> int`` and keeps its logic in a library module (``gate`` in
:mod:`gantrack.gate`, ``study`` in :mod:`gantrack.study`, ``promote`` in
:mod:`gantrack.tracking.registry`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from gantrack.errors import GantrackError

if TYPE_CHECKING:
    from gantrack.config import Params


class UsageError(GantrackError):
    """The command line or params.yaml does not say what to act on."""


def registered_model_name(params: Params, source: str = "params.yaml") -> str:
    """``mlflow.registered_model`` from the params, for commands given no ``--model``."""
    name = params.mlflow.registered_model
    if not name:
        raise UsageError(
            f"no model name given and {source} has no mlflow.registered_model; "
            "pass the registered model's name"
        )
    return name


def tracking_context():
    """The stages' own store and experiment: ``MLFLOW_TRACKING_URI``, else the repo's sqlite."""
    from gantrack.tracking.context import TrackingContext

    return TrackingContext.from_environment(os.environ, Path.cwd())
