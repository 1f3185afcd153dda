"""Links to runs: a run's page in the MLflow UI, and the newest run of a git commit."""

from __future__ import annotations

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from gantrack.tracking.store import is_server


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    """The MLflow UI page of a run, or None for a local store (sqlite, file) with no UI."""
    if not is_server(tracking_uri):
        return None
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def latest_run_for_commit(client, experiment_name: str, commit: str):
    """The newest run of ``experiment_name`` tagged with git ``commit``, or None."""
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{MLFLOW_GIT_COMMIT}` = '{commit}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None
