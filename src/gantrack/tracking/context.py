"""Where a stage logs and under which run: read from the environment, at the edge.

DVC runs each stage as its own process, so stages share a *key* instead of a run object:
the pid and start time of the ``dvc`` process that launched them (:func:`dvc_execution_key`).
The default store is ``<DVC_ROOT>/mlflow.db``: DVC sets ``DVC_ROOT`` to the original
repository even for ``--temp`` and queued experiments, so all runs land in one store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_EXPERIMENT = "gantrack"


@dataclass(frozen=True)
class TrackingContext:
    """Where and under which run a stage logs; built from the environment at the edge."""

    tracking_uri: str
    experiment_name: str
    repo_root: Path
    execution_key: str | None = None
    dvc_experiment: str | None = None
    dvc_baseline: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], script_root: Path) -> TrackingContext:
        """Read ``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME`` and DVC's variables."""
        repo_root = Path(environ.get("DVC_ROOT") or script_root).resolve()
        return cls(
            tracking_uri=environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(repo_root),
            experiment_name=environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT,
            repo_root=repo_root,
            execution_key=environ.get("GANTRACK_EXECUTION_KEY") or dvc_execution_key(),
            dvc_experiment=environ.get("DVC_EXP_NAME"),
            dvc_baseline=environ.get("DVC_EXP_BASELINE_REV"),
        )


def default_tracking_uri(repo_root: Path) -> str:
    return f"sqlite:///{(repo_root / 'mlflow.db').resolve()}"


def dvc_execution_key() -> str | None:
    """``"<pid>-<start time>"`` of the nearest ancestor ``dvc`` process (the start time
    keeps the key unique when a pid is reused), or None."""
    import psutil

    with contextlib.suppress(psutil.Error, OSError):
        for process in psutil.Process().parents():
            if _is_dvc(process.cmdline()):
                return f"{process.pid}-{process.create_time():.3f}"
    return None


def _is_dvc(command_line: list[str]) -> bool:
    # `.../bin/dvc repro`, `python .../bin/dvc exp run`, `python -m dvc repro`
    names = [Path(argument).name for argument in command_line[:3]]
    return "dvc" in names or command_line[2:4] == ["-m", "dvc"]
