"""The shared frame of every pipeline script: config in, tracked run around, clean errors out.

This is the edge of the program: it reads the environment and the working directory
(DVC runs each stage from the repository root) and passes plain values inward.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from gantrack.config import Params, load_params
from gantrack.errors import GantrackError

PARAMS_FILE = Path("params.yaml")


def run_stage(name: str, body: Callable[[Params], None]) -> None:
    """Validate ``params.yaml``, open this execution's MLflow run, and run ``body(params)``.

    A :class:`GantrackError` (bad params, missing data, ...) is printed as one message and
    exits with status 2; anything else is a bug and keeps its traceback.
    """
    from gantrack.tracking import TrackingContext, stage_run

    try:
        params = load_params(PARAMS_FILE)
        context = TrackingContext.from_environment(os.environ, Path.cwd())
        with stage_run(name, params, context, work_dir=Path.cwd()):
            body(params)
    except GantrackError as error:
        print(f"gantrack {name}: error: {error}", file=sys.stderr)
        sys.exit(2)


def progress_verbosity() -> int:
    """Keras ``verbose``: a live progress bar on a terminal, one line per epoch in logs."""
    return 1 if sys.stdout.isatty() else 2


def keras_home(environ: Mapping[str, str]) -> Path:
    """Keras's cache root, by Keras's own rule: ``$KERAS_HOME``, else ``~/.keras``."""
    return Path(environ.get("KERAS_HOME") or Path.home() / ".keras")
