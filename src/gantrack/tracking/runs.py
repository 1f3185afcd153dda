"""MLflow: one run per pipeline execution, whichever stages it runs.

The first stage of an execution creates the run, tagged with the execution's key
(:class:`~gantrack.tracking.context.TrackingContext`); later stages find it by the tag. A
stage run outside DVC gets a run of its own. Opening the run retries while a sqlite store
is locked (:mod:`gantrack.tracking.store`). Everything logged after that goes through the
run's spool and a background sender (:mod:`gantrack.tracking.tracker`,
:mod:`gantrack.tracking.log`): a store that goes away mid-run costs no work, and what the
stage then does is :mod:`gantrack.tracking.lost_store`'s policy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from gantrack.config import Params, flatten_params
from gantrack.tracking.context import TrackingContext, default_tracking_uri
from gantrack.tracking.lost_store import report_lost_store
from gantrack.tracking.provenance import (
    CPU_TAG,
    cpu_description,
    git_state,
    lock_sha256,
    run_name,
)
from gantrack.tracking.spool import Spool, spool_root
from gantrack.tracking.store import retry_when_locked
from gantrack.tracking.tracker import Tracker, activated

EXECUTION_KEY_TAG = "gantrack.execution_key"
STAGES_TAG = "gantrack.stages"
LOCK_TAG = "gantrack.lock_sha256"  # the SHA-256 of uv.lock: the run's environment


@contextlib.contextmanager
def stage_run(
    stage: str, params: Params, context: TrackingContext, work_dir: Path
) -> Iterator[Any]:
    """Open (or re-open) this execution's MLflow run for ``stage``; yields the active run.

    Logs the flattened params and tags (git commit and dirty flag, DVC experiment and
    baseline, dataset, the stages run so far, the SHA-256 of uv.lock: the environment,
    the CPU).
    Everything logged inside goes through a
    :class:`~gantrack.tracking.tracker.Tracker` and the run's spool; an exception inside
    ends the run FAILED, an interrupt (SIGINT) KILLED. A store that went away mid-run is
    reported in one line when the block ends (:func:`report_lost_store`), after the
    stage's outputs are written.
    """
    import mlflow

    mlflow.set_tracking_uri(context.tracking_uri)
    commit, dirty, branch = git_state(work_dir)
    # A DVC experiment keeps its own name; a plain `dvc repro` is named by its code.
    name = context.dvc_experiment or run_name(commit, dirty, branch)
    run = retry_when_locked(_open_run)(context, name)
    spool = Spool.open(spool_root(context.repo_root), run.info.run_id, context.tracking_uri, stage)
    tracker = Tracker(mlflow.MlflowClient(context.tracking_uri), spool, context.tracking_uri)
    with activated(tracker):
        try:
            tags = {
                EXECUTION_KEY_TAG: context.execution_key,
                STAGES_TAG: ",".join(filter(None, [run.data.tags.get(STAGES_TAG), stage])),
                MLFLOW_GIT_COMMIT: commit,
                "gantrack.git_dirty": None if dirty is None else str(dirty).lower(),
                "dvc.experiment": context.dvc_experiment,
                "dvc.baseline": context.dvc_baseline,
                "gantrack.dataset": params.data.dataset,
                LOCK_TAG: lock_sha256(context.repo_root),
                CPU_TAG: cpu_description(),
            }
            tracker.set_tags({key: value for key, value in tags.items() if value is not None})
            tracker.log_params(flatten_params(params))
            yield run
        except KeyboardInterrupt:
            # Stopped from outside (Ctrl-C, `dvc queue kill`, a study's stop): the recipe did
            # not fail, and a study must not report or retry it as a failure.
            _end(tracker, "KILLED")
            raise
        except BaseException:
            _end(tracker, "FAILED")
            raise
        pending = _end(tracker, "FINISHED")
    if pending:
        report_lost_store(stage, tracker, pending, params.mlflow.on_lost_server)


def _end(tracker: Tracker, status: str) -> int:
    """End the run through the tracker; forget MLflow's own handle on it without a call
    (also when closing raises: a full disk under the spool)."""
    try:
        return tracker.close(status)
    finally:
        _forget_active_run()


def _forget_active_run() -> None:
    """Drop the run from MLflow's stack of active runs without calling the store.

    The tracker has already ended the run (or spooled its end); ``mlflow.end_run`` would
    call the store again, and at exit MLflow's atexit hook would, possibly ending a run
    whose spool is not replayed yet. MLflow has no public call for this; a test checks it.
    """
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    if stack:
        stack.pop()


def _open_run(context: TrackingContext, name: str | None):
    """Resume the run an earlier stage of this execution created, or start it."""
    import mlflow

    if mlflow.get_experiment_by_name(context.experiment_name) is None:
        # A new experiment in the default store keeps artifacts beside the store, not in
        # ./mlruns of a --temp copy that DVC deletes afterwards.
        location = None
        if context.tracking_uri == default_tracking_uri(context.repo_root):
            location = (context.repo_root / "mlartifacts").as_uri()
        # Another process may create it between the look-up and here: that is fine.
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            mlflow.create_experiment(context.experiment_name, artifact_location=location)
    experiment = mlflow.set_experiment(context.experiment_name)
    if context.execution_key is None:
        return mlflow.start_run(run_name=name)
    existing = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{EXECUTION_KEY_TAG}` = '{context.execution_key}'",
        max_results=1,
        output_format="list",
    )
    if existing:
        return mlflow.start_run(run_id=existing[0].info.run_id)
    # The key is set at creation, in the same write: if a locked store fails a later write,
    # the retry finds this run instead of creating a second one.
    tags = {EXECUTION_KEY_TAG: context.execution_key}
    return mlflow.start_run(run_name=name, tags=tags)
