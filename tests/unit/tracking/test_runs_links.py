"""Links to MLflow runs: only for a server, found by git commit in a real store."""

import mlflow
from mlflow.tracking import MlflowClient

from gantrack.__main__ import main as gantrack_main
from gantrack.tracking.links import latest_run_for_commit, run_url
from gantrack.tracking.store import is_server


def test_only_servers_have_links():
    assert is_server("https://mlflow.example.org") and is_server("http://127.0.0.1:5000")
    assert not is_server("sqlite:////tmp/mlflow.db") and not is_server("file:///tmp/mlruns")
    assert run_url("sqlite:////tmp/mlflow.db", "1", "abc") is None
    assert run_url("https://mlflow.example.org/", "3", "abc") == (
        "https://mlflow.example.org/#/experiments/3/runs/abc"
    )


def test_latest_run_for_commit(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("gantrack")
    runs = [
        client.create_run(experiment_id, tags={"mlflow.source.git.commit": commit}, start_time=t)
        for commit, t in (("a" * 40, 1000), ("a" * 40, 2000), ("b" * 40, 3000))
    ]
    assert latest_run_for_commit(client, "gantrack", "a" * 40).info.run_id == runs[1].info.run_id
    assert latest_run_for_commit(client, "gantrack", "c" * 40) is None
    assert latest_run_for_commit(client, "other", "a" * 40) is None
    mlflow.set_tracking_uri(None)


def test_run_url_command_prints_nothing_for_a_local_store(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert gantrack_main(["run-url", "--commit", "a" * 40]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "is not a server: no link" in captured.err
