import mlflow
import pytest
from mlflow.tracking import MlflowClient

from gantrack.tracking import (
    EXECUTION_KEY_TAG,
    TrackingContext,
    _is_dvc,
    default_tracking_uri,
    log_metrics,
    stage_run,
)


def test_context_defaults_to_sqlite_at_dvc_root(tmp_path):
    environ = {"DVC_ROOT": str(tmp_path / "repo"), "DVC_EXP_NAME": "brisk-owl"}
    context = TrackingContext.from_environment(environ, script_root=tmp_path / "copy")
    assert context.tracking_uri == f"sqlite:///{tmp_path / 'repo' / 'mlflow.db'}"
    assert context.dvc_experiment == "brisk-owl"
    assert context.experiment_name == "gantrack"


def test_context_honours_mlflow_variables(tmp_path):
    environ = {
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "MLFLOW_EXPERIMENT_NAME": "sweep",
        "GANTRACK_EXECUTION_KEY": "manual-1",
    }
    context = TrackingContext.from_environment(environ, script_root=tmp_path)
    assert context.tracking_uri == "http://127.0.0.1:5000"
    assert context.experiment_name == "sweep" and context.execution_key == "manual-1"


@pytest.mark.parametrize(
    ("command_line", "expected"),
    [
        (["/repo/.venv/bin/python", "/repo/.venv/bin/dvc", "repro"], True),
        (["/repo/.venv/bin/dvc", "exp", "run"], True),
        (["python3", "-m", "dvc", "exp", "exec-run"], True),
        (["python", "pipeline/train.py"], False),
        (["bash", "-c", "python pipeline/dvc.py"], False),
    ],
)
def test_dvc_process_recognition(command_line, expected):
    assert _is_dvc(command_line) is expected


@pytest.fixture
def context(tmp_path):
    return TrackingContext(
        tracking_uri=default_tracking_uri(tmp_path),
        experiment_name="test",
        repo_root=tmp_path,
        execution_key="dvc-123",
        dvc_experiment="brisk-owl",
    )


def test_stages_of_one_execution_share_one_run(context, params, tmp_path):
    with stage_run("prepare", params, context, work_dir=tmp_path):
        log_metrics({"evaluator": {"accuracy": 0.5, "label": "not a number"}})
    with stage_run("train", params, context, work_dir=tmp_path):
        for epoch in (1, 2):
            log_metrics({"d_loss": 1.0 / epoch}, step=epoch)
    runs = mlflow.search_runs(experiment_names=["test"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_name == "brisk-owl"
    assert run.data.tags["gantrack.stages"] == "prepare,train"
    assert run.data.tags[EXECUTION_KEY_TAG] == "dvc-123"
    assert run.data.tags["gantrack.dataset"] == "mnist_5k"
    assert run.data.params["train.epochs"] == str(params.train.epochs)
    assert run.data.metrics["evaluator.accuracy"] == 0.5
    history = MlflowClient().get_metric_history(run.info.run_id, "d_loss")
    assert [(metric.step, metric.value) for metric in history] == [(1, 1.0), (2, 0.5)]
    assert run.info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())


def test_failed_stage_marks_run_failed(context, params, tmp_path):
    with pytest.raises(RuntimeError), stage_run("train", params, context, work_dir=tmp_path):
        raise RuntimeError("diverged")
    run = mlflow.search_runs(experiment_names=["test"], output_format="list")[0]
    assert run.info.status == "FAILED"


def test_stages_without_execution_key_get_their_own_runs(context, params, tmp_path):
    solo = TrackingContext(context.tracking_uri, "solo", tmp_path)
    for stage in ("prepare", "train"):
        with stage_run(stage, params, solo, work_dir=tmp_path):
            pass
    assert len(mlflow.search_runs(experiment_names=["solo"], output_format="list")) == 2
