"""MLflow: one run per pipeline execution, whichever stages it runs.

DVC runs each stage as its own process, so stages cannot share an MLflow run object. They
share a *key* instead: the id and start time of the ``dvc`` process that launched them
(``dvc repro``, ``dvc exp run``, or a queue worker's ``dvc exp exec-run``). The first stage
of an execution creates the run and tags it with the key; later stages find the run by its
tag and log into it. A stage run outside DVC gets a run of its own.

The default store is ``mlflow.db`` (sqlite) at the repository root, by absolute path:
DVC sets ``DVC_ROOT`` to the *original* repository even for ``--temp`` and queued
experiments, which run in copies under ``.dvc/tmp``, so all runs land in one store.
``MLFLOW_TRACKING_URI`` overrides it.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gantrack.config import Params, flatten_params

DEFAULT_EXPERIMENT = "gantrack"
EXECUTION_KEY_TAG = "gantrack.execution_key"
STAGES_TAG = "gantrack.stages"


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
    """``"<pid>-<start time>"`` of the nearest ancestor ``dvc`` process, or None.

    The start time makes the key unique even when the operating system reuses a pid.
    """
    import psutil

    try:
        for process in psutil.Process().parents():
            if _is_dvc(process.cmdline()):
                return f"{process.pid}-{process.create_time():.3f}"
    except (psutil.Error, OSError):
        return None
    return None


def _is_dvc(command_line: list[str]) -> bool:
    # `.../bin/dvc repro`, `python .../bin/dvc exp run`, `python -m dvc repro`
    for index, argument in enumerate(command_line[:3]):
        if Path(argument).name == "dvc":
            return True
        if argument == "-m" and index + 1 < len(command_line) and command_line[index + 1] == "dvc":
            return True
    return False


def git_state(repo_root: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git work tree at ``repo_root``; (None, None) outside git."""

    def git(*arguments: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *arguments], cwd=repo_root, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return result.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, (None if status is None else bool(status))


@contextlib.contextmanager
def stage_run(
    stage: str, params: Params, context: TrackingContext, work_dir: Path
) -> Iterator[Any]:
    """Open (or re-open) this execution's MLflow run for ``stage``; yields the active run.

    Logs the flattened params and the tags every run carries: git commit and dirty flag,
    DVC experiment name and baseline, dataset, and the stages this execution ran. An
    exception inside marks the run FAILED and propagates.
    """
    import mlflow

    mlflow.set_tracking_uri(context.tracking_uri)
    experiment = _get_or_create_experiment(context)
    existing = _find_execution_run(experiment.experiment_id, context.execution_key)
    run_name = context.dvc_experiment if existing is None else None
    with mlflow.start_run(run_id=existing, run_name=run_name) as run:
        stages = run.data.tags.get(STAGES_TAG, "")
        commit, dirty = git_state(work_dir)
        tags = {
            EXECUTION_KEY_TAG: context.execution_key,
            STAGES_TAG: ",".join(filter(None, [stages, stage])),
            "mlflow.source.git.commit": commit,
            "gantrack.git_dirty": None if dirty is None else str(dirty).lower(),
            "dvc.experiment": context.dvc_experiment,
            "dvc.baseline": context.dvc_baseline,
            "gantrack.dataset": params.data.dataset,
        }
        mlflow.set_tags({key: value for key, value in tags.items() if value is not None})
        mlflow.log_params(flatten_params(params))
        yield run


def _get_or_create_experiment(context: TrackingContext):
    """The named experiment; a new one in a local store keeps artifacts beside the store.

    Without an explicit location, MLflow puts artifacts in ``./mlruns`` of the *current*
    directory, which for a ``--temp`` experiment is a copy that DVC deletes afterwards.
    """
    import mlflow

    experiment = mlflow.get_experiment_by_name(context.experiment_name)
    if experiment is None:
        location = None
        if context.tracking_uri == default_tracking_uri(context.repo_root):
            location = (context.repo_root / "mlartifacts").as_uri()
        # Another process may create it between the look-up and here: that is fine.
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            mlflow.create_experiment(context.experiment_name, artifact_location=location)
    return mlflow.set_experiment(context.experiment_name)


def _find_execution_run(experiment_id: str, execution_key: str | None) -> str | None:
    if execution_key is None:
        return None
    from mlflow.tracking import MlflowClient

    runs = MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.`{EXECUTION_KEY_TAG}` = '{execution_key}'",
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def log_metrics(metrics: Mapping[str, float], step: int | None = None, prefix: str = "") -> None:
    """Log numeric values (nested dicts flattened with dots); non-numbers are skipped."""
    import mlflow

    flat: dict[str, float] = {}

    def walk(name: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{name}.{key}" if name else str(key), item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)

    walk(prefix, metrics)
    mlflow.log_metrics(flat, step=step)


def epoch_metrics_sink(prefix: str = ""):
    """A sink for :class:`gantrack.callbacks.EpochReport`: each epoch's row, step = epoch."""

    def sink(epoch: int, row: Mapping[str, float]) -> None:
        log_metrics(
            {key: value for key, value in row.items() if key != "epoch"}, step=epoch, prefix=prefix
        )

    return sink


def grid_image_sink(folder: str):
    """A sink for :class:`gantrack.callbacks.GridSnapshot`: ``<folder>/epoch_007.png``."""
    import mlflow

    def sink(epoch: int, grid) -> None:
        mlflow.log_image(grid, artifact_file=f"{folder}/epoch_{epoch:03d}.png")

    return sink


def log_artifacts(*paths: Path, folder: str | None = None) -> None:
    import mlflow

    for path in paths:
        mlflow.log_artifact(str(path), artifact_path=folder)


def log_generator(generator) -> None:
    """Log the generator with MLflow's Keras flavour and a latent -> image signature.

    Requirements are pinned to the versions that trained it, so the logged model loads
    without guessing (and without MLflow's slow requirement inference).
    """
    from importlib.metadata import version

    import mlflow
    import numpy as np
    from mlflow.models import infer_signature

    requirements = [f"{package}=={version(package)}" for package in ("tensorflow", "keras")]
    latent = np.zeros((2, generator.input_shape[-1]), dtype=np.float32)
    signature = infer_signature(latent, generator.predict(latent, verbose=0))
    mlflow.keras.log_model(
        generator, name="generator", signature=signature, pip_requirements=requirements
    )
