import json

import mlflow
import pytest
from mlflow import MlflowClient

from gantrack.tracking.lineage import (
    RunSnapshot,
    StageRecord,
    dvc_upstream_stages,
    link_reused_stage,
    load_records,
    records_to_link,
    reused_tag,
    save_record,
    snapshot_run,
    stage_record,
)


def test_stage_record_is_what_the_stage_added():
    before = RunSnapshot(
        metrics=frozenset({"evaluator.accuracy"}),
        tags={"gantrack.dataset": "mnist_5k", "gantrack.stages": "prepare"},
        artifacts=frozenset({"data_card.json"}),
    )
    after = RunSnapshot(
        metrics=frozenset({"evaluator.accuracy", "d_loss", "eval.fid"}),
        tags={
            "gantrack.dataset": "mnist_5k",
            "gantrack.stages": "prepare,train",  # set by every stage: not the stage's own
            "gantrack.reused.prepare": "abc",  # a link: never copied on
            "gantrack.best_epoch_note": "2",
            "mlflow.user": "x",  # not gantrack's
        },
        artifacts=frozenset({"data_card.json", "grids", "train_log.csv"}),
        models=frozenset({"m-1"}),
    )
    record = stage_record("train", "run-2", "7", before, after)
    assert record == StageRecord(
        stage="train",
        run_id="run-2",
        experiment_id="7",
        metrics=("d_loss", "eval.fid"),
        tags=("gantrack.best_epoch_note",),
        artifacts=("grids", "train_log.csv"),
        models=("m-1",),
    )


def test_record_round_trips_and_unreadable_records_are_skipped(tmp_path):
    record = StageRecord("train", "run-1", "3", metrics=("d_loss",), artifacts=("grids",))
    save_record(record, tmp_path / "train.json")
    (tmp_path / "sample.json").write_text("{not json")
    (tmp_path / "evaluate.json").write_text(json.dumps({"stage": "evaluate"}))  # no run id
    assert load_records(tmp_path, ["prepare", "train", "sample", "evaluate"]) == [record]
    # Identifiers and names only: nothing that differs between two identical executions.
    assert set(json.loads((tmp_path / "train.json").read_text())) == {
        "stage",
        "run_id",
        "experiment_id",
        "metrics",
        "tags",
        "artifacts",
        "models",
    }


def test_records_to_link_skips_own_and_already_linked_stages():
    ran = StageRecord("sample", "current", "1")
    linked = StageRecord("prepare", "old-1", "1")
    relinked = StageRecord("reference@evaluator", "old-3", "1")
    reused = StageRecord("train", "old-2", "1")
    tags = {reused_tag("prepare"): "old-1", reused_tag("reference@evaluator"): "older"}
    assert records_to_link([ran, linked, relinked, reused], "current", tags) == [relinked, reused]
    assert reused_tag("reference@evaluator") == "gantrack.reused.reference-evaluator"


@pytest.fixture
def store(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("lineage")
    yield MlflowClient()
    mlflow.end_run()


def test_link_copies_curves_summaries_tags_and_artifact_links(store, tmp_path):
    """Train ran in one execution; a later one that reused it gets its results."""
    with mlflow.start_run() as producer:
        before = snapshot_run(store, producer.info.run_id)
        for epoch, fid in [(1, 40.0), (2, 25.0)]:
            mlflow.log_metric("eval.fid", fid, step=epoch)
        mlflow.log_metric("best_fid", 25.0)
        mlflow.set_tag("gantrack.best_note", "epoch 2")
        (tmp_path / "train_log.csv").write_text("epoch,d_loss\n1,0.5\n")
        mlflow.log_artifact(str(tmp_path / "train_log.csv"))
        after = snapshot_run(store, producer.info.run_id)
    record = stage_record("train", producer.info.run_id, "0", before, after)
    assert record.metrics == ("best_fid", "eval.fid") and record.artifacts == ("train_log.csv",)

    with mlflow.start_run() as reuser:
        mlflow.log_metric("evaluator.fid", 30.0)
    run_id = reuser.info.run_id
    link_reused_stage(store, run_id, record)

    run = store.get_run(run_id)
    assert run.data.metrics == {"evaluator.fid": 30.0, "best_fid": 25.0, "eval.fid": 25.0}
    history = store.get_metric_history(run_id, "eval.fid")
    assert [(point.step, point.value) for point in history] == [(1, 40.0), (2, 25.0)]
    assert run.data.tags["gantrack.best_note"] == "epoch 2"
    assert run.data.tags["gantrack.reused.train"] == producer.info.run_id
    artifact_uri = producer.info.artifact_uri
    assert run.data.tags["gantrack.reused.train.artifact_uri"] == artifact_uri
    links = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/reused/train.json")
    assert links["artifact_uris"] == [f"{artifact_uri}/train_log.csv"]
    assert links["run_id"] == producer.info.run_id
    # Linked once: a later stage of the same execution finds the tag and leaves it.
    assert records_to_link([record], run_id, run.data.tags) == []


def test_link_to_a_run_missing_from_the_store_says_so(store):
    with mlflow.start_run() as reuser:
        pass
    record = StageRecord("train", "0123456789abcdef0123456789abcdef", "0", metrics=("d_loss",))
    link_reused_stage(store, reuser.info.run_id, record)
    tags = store.get_run(reuser.info.run_id).data.tags
    assert tags["gantrack.reused.train"] == record.run_id
    assert "not in this store" in tags["gantrack.reused.train.missing"]


def test_dvc_upstream_stages_follow_the_repository_graph(repo_root):
    upstream = dvc_upstream_stages(repo_root, "evaluate")
    assert {"prepare", "train_evaluator", "train", "sample", "reference_evaluator"} <= set(upstream)
    assert "evaluate" not in upstream
    assert dvc_upstream_stages(repo_root, "prepare") == ()
    assert dvc_upstream_stages(repo_root, "no_such_stage") == ()
