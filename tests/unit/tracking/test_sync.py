"""Replaying spools into a real (sqlite) MLflow store, and stage_run when the store goes away."""

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from gantrack.cli import sync as sync_command
from gantrack.tracking import tracker as tracker_module
from gantrack.tracking.context import TrackingContext, default_tracking_uri
from gantrack.tracking.log import log_artifacts, log_metrics
from gantrack.tracking.runs import stage_run
from gantrack.tracking.spool import Spool, spool_root, spools
from gantrack.tracking.store import TrackingStoreError
from gantrack.tracking.sync import replay, replay_all


@pytest.fixture
def context(tmp_path):
    uri = default_tracking_uri(tmp_path)
    mlflow.set_tracking_uri(uri)
    yield TrackingContext(uri, "test", tmp_path, execution_key="dvc-1")
    mlflow.set_tracking_uri(None)


def history(run_id, key):
    return [(m.step, m.value) for m in MlflowClient().get_metric_history(run_id, key)]


def test_replay_fills_the_same_run_and_a_second_replay_adds_nothing(context, tmp_path):
    client = MlflowClient(context.tracking_uri)
    experiment = client.create_experiment("test")
    run = client.create_run(experiment)
    spool = Spool.open(tmp_path / "spool", run.info.run_id, context.tracking_uri, "train")
    for epoch in (1, 2, 3):
        spool.append("metrics", {"metrics": {"d_loss": 1.0 / epoch}, "step": epoch})
    spool.append("params", {"params": {"train.epochs": "3"}})
    spool.append("tags", {"tags": {"gantrack.dataset": "mnist_5k"}})
    log = tmp_path / "train_log.csv"
    log.write_text("epoch\n1\n")
    spool.append("artifact", {"artifact_path": None}, files={log.name: log})
    spool.append("end", {"status": "FINISHED"})
    # A replay that died after sending a call but before journaling it resends that call:
    # MLflow's store drops the exact duplicate (same key, step, value and timestamp).
    from gantrack.tracking.spool import send

    send(client, spool, spool.pending()[0])
    result = replay(spool, client)
    assert (result.sent, result.pending) == (7, 0)
    replayed = client.get_run(run.info.run_id)
    assert replayed.info.status == "FINISHED"
    assert replayed.data.params == {"train.epochs": "3"}
    assert replayed.data.tags["gantrack.dataset"] == "mnist_5k"
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["train_log.csv"]
    assert history(run.info.run_id, "d_loss") == [(1, 1.0), (2, 0.5), (3, 1.0 / 3)]
    assert not spool.folder.exists()
    assert replay_all(tmp_path / "spool", context.tracking_uri) == []  # nothing twice
    assert history(run.info.run_id, "d_loss") == [(1, 1.0), (2, 0.5), (3, 1.0 / 3)]


def failing_send(client, spool, record):
    raise ConnectionError("the store went away")


@pytest.mark.parametrize("on_lost_server", ["spool", "fail"])
def test_a_stage_whose_store_goes_away_finishes_and_spools(
    context, params, tmp_path, monkeypatch, capsys, on_lost_server
):
    params = params.model_copy(
        update={"mlflow": params.mlflow.model_copy(update={"on_lost_server": on_lost_server})}
    )
    output = tmp_path / "train_log.csv"
    finished = []

    def stage():
        with stage_run("train", params, context, work_dir=tmp_path) as run:
            log_metrics({"d_loss": 1.0}, step=1)
            assert tracker_module.active_tracker().flush(10.0)
            monkeypatch.setattr(tracker_module, "send", failing_send)  # the server dies
            log_metrics({"d_loss": 0.5}, step=2)
            output.write_text("epoch\n1\n2\n")
            log_artifacts(output)
            finished.append(run.info.run_id)

    if on_lost_server == "fail":
        with pytest.raises(TrackingStoreError, match="records are spooled"):
            stage()
    else:
        stage()
        assert "the MLflow store" in capsys.readouterr().err
    (run_id,) = finished  # the stage's work ran to its end
    assert output.exists()
    assert mlflow.active_run() is None  # MLflow's handle dropped without calling the store
    stored = MlflowClient().get_run(run_id)
    assert stored.info.status == "RUNNING" and history(run_id, "d_loss") == [(1, 1.0)]
    (spool,) = spools(spool_root(tmp_path))
    assert [record.kind for record in spool.pending()] == ["metrics", "artifact", "end"]
    monkeypatch.undo()  # the server is back
    assert sync_command.main(["--spool", str(spool_root(tmp_path))]) == 0
    stored = MlflowClient().get_run(run_id)
    assert stored.info.status == "FINISHED"
    assert history(run_id, "d_loss") == [(1, 1.0), (2, 0.5)]
    assert sync_command.main(["--spool", str(spool_root(tmp_path))]) == 0  # nothing left
    assert history(run_id, "d_loss") == [(1, 1.0), (2, 0.5)]


def test_sync_says_when_the_store_still_does_not_answer(tmp_path, capsys, monkeypatch):
    spool = Spool.open(tmp_path, "run1", "http://127.0.0.1:9", "train")
    spool.append("metrics", {"metrics": {"a": 1.0}, "step": 1})
    spool.release()  # the run's process is done with it
    monkeypatch.setattr("gantrack.tracking.sync.send", failing_send)
    assert sync_command.main(["--spool", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "1 still spooled: ConnectionError: the store went away" in out
    assert "1 records are still spooled" in err
    assert len(spool.pending()) == 1


def test_a_spool_whose_run_is_still_going_is_left_to_it(context, tmp_path):
    """Queued experiments share the spool root: a stage starting in one must not replay,
    and then delete, the spool of a run that is still logging in another."""
    client = MlflowClient(context.tracking_uri)
    run = client.create_run(client.create_experiment("test"))
    live = Spool.open(tmp_path / "spool", run.info.run_id, context.tracking_uri, "train")
    live.append("metrics", {"metrics": {"d_loss": 1.0}, "step": 1})
    assert replay_all(tmp_path / "spool", context.tracking_uri, say=print) == []
    assert live.folder.exists() and len(live.pending()) == 1
    live.append("metrics", {"metrics": {"d_loss": 0.5}, "step": 2})  # still writable
    live.release()  # the run's process is done with it
    (result,) = replay_all(tmp_path / "spool", context.tracking_uri, say=print)
    assert (result.sent, result.pending) == (2, 0) and not live.folder.exists()


def test_a_killed_runs_spool_is_replayable_at_once(context, tmp_path):
    """The kernel drops a dead owner's lock: no stale-lock clean-up is needed."""
    import subprocess
    import sys

    client = MlflowClient(context.tracking_uri)
    run = client.create_run(client.create_experiment("test"))
    script = (
        "import os, sys; from pathlib import Path; from gantrack.tracking.spool import Spool;"
        "spool = Spool.open(Path(sys.argv[1]), sys.argv[2], sys.argv[3], 'train');"
        "spool.append('metrics', {'metrics': {'d_loss': 1.0}, 'step': 1});"
        "os._exit(9)"  # dies holding the lock, without any clean-up
    )
    arguments = [str(tmp_path / "spool"), run.info.run_id, context.tracking_uri]
    died = subprocess.run([sys.executable, "-c", script, *arguments], check=False)
    assert died.returncode == 9
    (result,) = replay_all(tmp_path / "spool", context.tracking_uri, say=print)
    assert result.sent == 1
    assert history(run.info.run_id, "d_loss") == [(1, 1.0)]
