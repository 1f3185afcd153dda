"""The shared frame of every pipeline script: config in, tracked run around, clean errors out.

This is the edge of the program: it reads the environment and the working directory
(DVC runs each stage from the repository root) and passes plain values inward.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gantrack.config import PARAMS_FILE, Params, load_params
from gantrack.distribute import cluster_role, worker_scratch_path
from gantrack.errors import GantrackError
from gantrack.tracking import lineage
from gantrack.tracking.context import TrackingContext
from gantrack.tracking.log import flush
from gantrack.tracking.runs import stage_run
from gantrack.tracking.spool import Spool, spool_root
from gantrack.tracking.store import bound_http_requests, check_tracking_server, retry_when_locked
from gantrack.tracking.sync import replay_all
from gantrack.tracking.tracker import Tracker, activated, active_tracker


def run_stage(
    name: str, body: Callable[[Params], None], worker_outputs: Sequence[str] = ()
) -> None:
    """Validate ``params.yaml``, open this execution's MLflow run, and run ``body(params)``.

    First a tracking server that does not answer stops the stage, runs spooled while a
    store was away are replayed, and the run links the reused stages upstream; afterwards
    the stage's run record is written. A
    :class:`GantrackError` is printed as one message and exits with status 2; anything else
    keeps its traceback. In a ``TF_CONFIG`` cluster only the chief writes (see
    :func:`run_as_worker`).
    """
    try:
        params = load_params(PARAMS_FILE)
        role = cluster_role(os.environ.get("TF_CONFIG"))
        if not role.is_chief:
            run_as_worker(name, body, params, worker_outputs, role)
            return
        context = TrackingContext.from_environment(os.environ, Path.cwd())
        bound_http_requests(os.environ)
        check_tracking_server(context.tracking_uri)
        replay_all(spool_root(context.repo_root), context.tracking_uri, say=print)
        # DVC names the stage it runs (reference@x is the DVC stage reference_evaluator).
        dvc_stage = os.environ.get("DVC_STAGE")
        with (
            stage_run(name, params, context, work_dir=Path.cwd()) as run,
            recorded(run, Path(params.paths.run_records), dvc_stage or name, dvc_stage),
        ):
            body(params)
    except GantrackError as error:
        print(f"gantrack {name}: error: {error}", file=sys.stderr)
        sys.exit(2)


def run_as_worker(name: str, body, params: Params, outputs: Sequence[str], role) -> None:
    """``body`` on a non-chief worker, with the ``paths`` keys in ``outputs`` and a throwaway
    MLflow store in a scratch folder deleted afterwards (a worker needs none of the chief's
    files: see :func:`gantrack.gan.checkpoints.share_chiefs_resume`)."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix=f"gantrack-{name}-worker-") as scratch:
        moved = {
            key: worker_scratch_path(Path(scratch), getattr(params.paths, key)) for key in outputs
        }
        params = params.model_copy(update={"paths": params.paths.model_copy(update=moved)})
        print(f"{role.task_type} {role.task_index}: not the chief; writes nothing that is kept")
        mlflow.set_tracking_uri(f"sqlite:///{Path(scratch, 'worker-mlflow.db')}")
        try:
            experiment = mlflow.create_experiment(
                "worker", artifact_location=Path(scratch, "artifacts").as_uri()
            )
            run_name = f"{name}-{role.task_type}-{role.task_index}"
            with mlflow.start_run(experiment_id=experiment, run_name=run_name) as run:
                spool = Spool.open(Path(scratch, "spool"), run.info.run_id, "worker")
                tracker = Tracker(mlflow.MlflowClient(), spool, "worker store")
                with activated(tracker):
                    body(params)
                tracker.close("FINISHED")
        finally:
            mlflow.set_tracking_uri(None)


@contextlib.contextmanager
def recorded(run, folder: Path, stage: str, dvc_stage: str | None) -> Iterator[None]:
    """Link the reused stages upstream of ``dvc_stage`` into ``run``; after the block, write
    this stage's run record (what the block logged) to ``<folder>/<stage>.json``, from the
    store, or from the tracker's account when the store went away."""
    from mlflow import MlflowClient

    client, run_id = MlflowClient(), run.info.run_id
    if dvc_stage:
        tags = retry_when_locked(client.get_run)(run_id).data.tags
        records = lineage.load_records(folder, upstream_stages(dvc_stage))
        for record in lineage.records_to_link(records, run_id, tags):
            lineage.link_reused_stage(client, run_id, record)
            print(f"{record.stage}: reused; linked its run {record.run_id}")
    flush()  # the run's opening tags are the store's before the snapshot
    before = retry_when_locked(lineage.snapshot_run)(client, run_id)
    yield
    if flush():
        after = retry_when_locked(lineage.snapshot_run)(client, run_id)
    else:  # the store went away: what the stage logged, by the tracker's account
        after = lineage.snapshot_with(before, active_tracker().logged)
    record = lineage.stage_record(stage, run_id, run.info.experiment_id, before, after)
    lineage.save_record(record, folder / f"{stage}.json")


def upstream_stages(dvc_stage: str) -> tuple[str, ...]:
    """The DVC stages upstream of ``dvc_stage`` in this working copy; () if DVC cannot say."""
    try:
        return lineage.dvc_upstream_stages(Path.cwd(), dvc_stage)
    except Exception as error:  # a link is worth a warning, not a failed stage
        print(f"warning: cannot read DVC's stage graph ({error}); reused stages not linked")
        return ()


def progress_verbosity() -> int:
    """Keras ``verbose``: a live progress bar on a terminal, one line per epoch in logs."""
    return 1 if sys.stdout.isatty() else 2
