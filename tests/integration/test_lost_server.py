"""A tracking server that dies or hangs mid-run costs no training (real `mlflow server`).

The train stage runs against a loopback server three ways: uninterrupted; with the server
killed after the first checkpoint, then restarted on the same store and `sync`ed; and
behind a proxy that stops answering. The histories must come out step for step as the
uninterrupted run's, and the training loop must not wait on the server.
"""

import csv
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from support.pipeline_repo import BIN, edit_params, environment, run
from support.stall_proxy import StallProxy

from gantrack.tracking.services import start_mlflow_server
from gantrack.tracking.store import HTTP_REQUEST_BOUNDS
from gantrack.tracking.tracker import DRAIN_TIMEOUT_S

pytestmark = pytest.mark.slow
EPOCHS = 6
TRAIN = [str(BIN / "dvc"), "repro", "--force", "--single-item", "train"]
# Timings differ between two runs of the same training; everything else must not.
TIMING_METRICS = {"seconds", "images_per_second", "training_seconds", "training_images_per_second"}
REQUEST_TIMEOUT_S = float(HTTP_REQUEST_BOUNDS["MLFLOW_HTTP_REQUEST_TIMEOUT"])


@pytest.fixture
def repo(pipeline_copy):
    edit_params(pipeline_copy, {"train": {"epochs": EPOCHS, "batch_size": 4}})
    return pipeline_copy


def train_from_scratch(repo: Path, tracking_uri: str, during=None):
    """Run the train stage (checkpoints cleared); ``during()`` once the first checkpoint is
    written. Returns (completed process, seconds)."""
    shutil.rmtree(repo / "models" / "checkpoints", ignore_errors=True)
    started = time.monotonic()
    process = subprocess.Popen(
        TRAIN,
        cwd=repo,
        env=environment(repo, tracking_uri),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if during is not None:
        first = repo / "models" / "checkpoints" / "epoch_0001"
        while not first.exists() and process.poll() is None:
            time.sleep(0.05)
        assert process.poll() is None, "training ended before its first checkpoint"
        during()
    stdout, stderr = process.communicate(timeout=900)
    seconds = time.monotonic() - started
    assert process.returncode == 0, f"{stdout}\n{stderr}"
    return subprocess.CompletedProcess(TRAIN, 0, stdout, stderr), seconds


def logged_epoch_seconds(repo: Path) -> list[float]:
    """Each epoch's seconds as the train stage logged them (the first includes tracing)."""
    with open(repo / "reports" / "train_log.csv") as log:
        epoch_seconds = [float(row["seconds"]) for row in csv.DictReader(log)]
    assert len(epoch_seconds) == EPOCHS
    return epoch_seconds


def newest_run(url: str):
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name("gantrack")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    return client, runs[0]


def histories(url: str) -> dict:
    """Every non-timing metric's (step, value) history in the newest run."""
    client, found = newest_run(url)
    return {
        key: [(m.step, m.value) for m in client.get_metric_history(found.info.run_id, key)]
        for key in found.data.metrics
        if key.rsplit(".", 1)[-1] not in TIMING_METRICS
    }


def restart(server) -> None:
    """The server again, on its store and port (stopped by the fixture)."""
    service = server.services[-1]
    port = int(server.url.rsplit(":", 1)[1])
    again = start_mlflow_server(
        server.store_uri,
        server.artifacts,
        port,
        server.log,
        store_environment=server.store_environment,
    )
    server.services.append(again)
    assert service.process.poll() is not None


def test_a_killed_server_costs_no_training_and_sync_completes_the_run(repo, tracking_server):
    server = tracking_server
    _, normal_seconds = train_from_scratch(repo, server.url)
    expected = histories(server.url)
    assert len(expected["d_loss"]) == EPOCHS and len(expected["eval.fid"]) == EPOCHS

    def kill():
        process = server.services[-1].process
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    result, seconds = train_from_scratch(repo, server.url, during=kill)
    assert "went away during the run" in result.stderr and "records are spooled" in result.stderr
    assert "python -m gantrack sync" in result.stderr
    for output in ("generator/last.keras", "../reports/train_log.csv", "../reports/train_grid.png"):
        assert (repo / "models" / output).exists(), output
    print(f"train stage: {normal_seconds:.1f} s uninterrupted, {seconds:.1f} s server killed")
    # Training does not wait on the dead server: no epoch spends a request timeout.
    epoch_seconds = logged_epoch_seconds(repo)
    assert max(epoch_seconds[1:]) < REQUEST_TIMEOUT_S, epoch_seconds
    # The stage's end retries the dead server twice (its last flush, the run's end) with
    # bounded requests: 6 to 15 s more than the uninterrupted run, on a loaded CI machine
    # too. With MLflow's unbounded retries each flush waits out its timeout: 55 s more.
    assert seconds < normal_seconds + DRAIN_TIMEOUT_S, (seconds, normal_seconds)

    restart(server)  # back, on the same store
    client, found = newest_run(server.url)
    assert found.info.status == "RUNNING"
    synced = run([str(BIN / "python"), "-m", "gantrack", "sync"], repo)
    assert "replayed" in synced.stdout
    client, found = newest_run(server.url)
    assert found.info.status == "FINISHED"
    assert histories(server.url) == expected
    assert {"train_log.csv", "grids"} <= {a.path for a in client.list_artifacts(found.info.run_id)}
    again = run([str(BIN / "python"), "-m", "gantrack", "sync"], repo)
    assert "nothing spooled" in again.stdout
    assert histories(server.url) == expected  # nothing duplicated


# The proxy, not the store, is under test: the sqlite-backed server is enough.
@pytest.mark.parametrize("tracking_server", ["sqlite"], indirect=True)
def test_a_hung_server_does_not_slow_training(repo, tracking_server):
    proxy = StallProxy(int(tracking_server.url.rsplit(":", 1)[1]))
    try:
        result, _ = train_from_scratch(repo, proxy.url, during=proxy.stall)
        assert "records are spooled" in result.stderr
        epoch_seconds = logged_epoch_seconds(repo)
        # A logger that waited on the server would spend one request timeout in an epoch.
        assert max(epoch_seconds[1:]) < REQUEST_TIMEOUT_S, epoch_seconds
        proxy.resume()
        run([str(BIN / "python"), "-m", "gantrack", "sync"], repo, tracking_uri=proxy.url)
        assert len(histories(proxy.url)["d_loss"]) == EPOCHS
        _, found = newest_run(proxy.url)
        assert found.info.status == "FINISHED"
    finally:
        proxy.close()
