import json
import shutil

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

import gantrack.stage
from gantrack.stage import run_stage
from gantrack.tracking.log import log_metrics
from gantrack.tracking.services import free_port


@pytest.fixture
def workspace(tmp_path, repo_root, monkeypatch):
    """A stage's working directory: the repository's params.yaml, a sqlite store."""
    shutil.copy(repo_root / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    for name in ("DVC_ROOT", "DVC_STAGE", "DVC_EXP_NAME", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield tmp_path
    mlflow.end_run()


def test_unreachable_server_stops_the_stage_before_any_work(workspace, monkeypatch, capsys):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    worked = []
    with pytest.raises(SystemExit) as stopped:
        run_stage("train", worked.append)
    assert stopped.value.code == 2 and worked == []
    assert f"MLflow tracking server {uri} is unreachable" in capsys.readouterr().err
    assert not (workspace / "reports").exists()  # no record, no output


@pytest.mark.parametrize("tf_config", ["{not json", '{"task": {"type": "worker"}}'])
def test_a_bad_tf_config_is_one_message_not_a_traceback(workspace, monkeypatch, capsys, tf_config):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    worked = []
    with pytest.raises(SystemExit) as stopped:
        run_stage("train", worked.append)
    assert stopped.value.code == 2 and worked == []
    error = capsys.readouterr().err
    assert error.startswith("gantrack train: error: ") and "TF_CONFIG" in error
    assert "Traceback" not in error


def test_a_workers_absolute_output_path_stays_in_its_scratch_folder(workspace, monkeypatch):
    shared = workspace / "shared-disk" / "models" / "generator"  # the chief's, on a shared disk
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["paths"]["generator"] = str(shared)
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    seen = []
    run_stage("train", lambda params: seen.append(params.paths.generator), ("generator",))
    (generator,) = seen
    assert generator != shared and generator.name == "generator"
    assert "gantrack-train-worker-" in str(generator) and not generator.is_relative_to(workspace)


def test_a_rerun_stage_links_the_cached_stage_and_records_itself(workspace, monkeypatch):
    """Execution 1 runs train; execution 2 reuses it (DVC skips it) and runs evaluate."""
    monkeypatch.setenv("GANTRACK_EXECUTION_KEY", "execution-1")
    monkeypatch.setenv("DVC_STAGE", "train")
    monkeypatch.setattr(gantrack.stage, "upstream_stages", lambda stage: ("prepare",))

    def train(params):
        for epoch, fid in [(1, 50.0), (2, 20.0)]:
            log_metrics({"eval.fid": fid}, step=epoch)
        log_metrics({"best_fid": 20.0})

    run_stage("train", train)
    train_record = json.loads((workspace / "reports/runs/train.json").read_text())
    assert train_record["stage"] == "train"
    assert train_record["metrics"] == ["best_fid", "eval.fid"]

    monkeypatch.setenv("GANTRACK_EXECUTION_KEY", "execution-2")
    monkeypatch.setenv("DVC_STAGE", "evaluate")
    monkeypatch.setattr(gantrack.stage, "upstream_stages", lambda stage: ("prepare", "train"))
    run_stage("evaluate", lambda params: log_metrics({"evaluator": {"fid": 21.5}}))

    evaluate_record = json.loads((workspace / "reports/runs/evaluate.json").read_text())
    assert evaluate_record["run_id"] != train_record["run_id"]
    # Only what evaluate itself logged: the copied train metrics belong to train's record.
    assert evaluate_record["metrics"] == ["evaluator.fid"]
    client = MlflowClient()
    run = client.get_run(evaluate_record["run_id"])
    assert run.data.metrics == {"evaluator.fid": 21.5, "best_fid": 20.0, "eval.fid": 20.0}
    history = client.get_metric_history(run.info.run_id, "eval.fid")
    assert [(point.step, point.value) for point in history] == [(1, 50.0), (2, 20.0)]
    assert run.data.tags["gantrack.reused.train"] == train_record["run_id"]
    assert run.data.tags["gantrack.stages"] == "evaluate"
    assert "reused" in {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
