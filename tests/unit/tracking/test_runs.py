import hashlib
import os
import re
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from gantrack.tracking import provenance, runs
from gantrack.tracking.context import TrackingContext, _is_dvc, default_tracking_uri
from gantrack.tracking.log import log_metrics
from gantrack.tracking.provenance import CPU_TAG, run_name
from gantrack.tracking.runs import EXECUTION_KEY_TAG, LOCK_TAG, stage_run
from gantrack.tracking.services import free_port
from gantrack.tracking.store import (
    LockRetryingClient,
    TrackingStoreError,
    check_tracking_server,
    retry_when_locked,
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


def test_every_run_names_its_environment_by_the_lock_files_hash(context, params, tmp_path):
    (tmp_path / "uv.lock").write_text("version = 1\n")  # the repository root's lock
    with stage_run("prepare", params, context, work_dir=tmp_path):
        pass
    (run,) = mlflow.search_runs(experiment_names=["test"], output_format="list")
    expected = hashlib.sha256(b"version = 1\n").hexdigest()
    assert run.data.tags[LOCK_TAG] == expected


def test_every_run_names_the_cpu_it_ran_on(context, params, tmp_path, monkeypatch):
    # Numbers move between CPUs' kernels, so a study reads each seed's machine from here.
    monkeypatch.setattr(runs, "cpu_description", lambda: "Test CPU 9000 (3 CPUs)")
    with stage_run("train", params, context, work_dir=tmp_path):
        pass
    (run,) = mlflow.search_runs(experiment_names=["test"], output_format="list")
    assert run.data.tags[CPU_TAG] == "Test CPU 9000 (3 CPUs)"


def test_the_cpu_description_names_the_model_and_the_usable_cpus():
    description = provenance.cpu_description()
    model, count = re.fullmatch(r"(.+) \((\d+) CPUs\)", description).groups()
    assert int(count) == len(os.sched_getaffinity(0))
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and "model name" in cpuinfo.read_text():
        assert f"model name\t: {model}" in cpuinfo.read_text()


def test_failed_stage_marks_run_failed(context, params, tmp_path):
    with pytest.raises(RuntimeError), stage_run("train", params, context, work_dir=tmp_path):
        raise RuntimeError("diverged")
    run = mlflow.search_runs(experiment_names=["test"], output_format="list")[0]
    assert run.info.status == "FAILED"


def test_interrupted_stage_marks_run_killed_not_failed(context, params, tmp_path):
    with pytest.raises(KeyboardInterrupt), stage_run("train", params, context, work_dir=tmp_path):
        raise KeyboardInterrupt
    run = mlflow.search_runs(experiment_names=["test"], output_format="list")[0]
    assert run.info.status == "KILLED"


def test_stages_without_execution_key_get_their_own_runs(context, params, tmp_path):
    solo = TrackingContext(context.tracking_uri, "solo", tmp_path)
    for stage in ("prepare", "train"):
        with stage_run(stage, params, solo, work_dir=tmp_path):
            pass
    assert len(mlflow.search_runs(experiment_names=["solo"], output_format="list")) == 2


def test_run_names_tell_branch_commit_and_dirt():
    commit = "1a2b3c4d5e6f"
    assert run_name(commit, False, "main") == "main@1a2b3c4"
    assert run_name(commit, True, "try-hinge") == "try-hinge@1a2b3c4+dirty"
    assert run_name(commit, False, None) == "1a2b3c4"  # detached HEAD
    assert run_name(None, None, None) is None  # outside git: MLflow's random name


def test_a_repro_run_is_named_by_branch_and_commit(context, params, tmp_path):
    def git(*arguments):
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *arguments]
        return subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, text=True)

    git("init", "-q", "-b", "trial")
    (tmp_path / "tracked.txt").write_text("a")
    git("add", "tracked.txt")
    git("commit", "-qm", "first")
    commit = git("rev-parse", "HEAD").stdout.strip()
    repro = TrackingContext(context.tracking_uri, "named", tmp_path, execution_key="dvc-1")
    with stage_run("prepare", params, repro, work_dir=tmp_path):
        pass
    (tmp_path / "tracked.txt").write_text("b")  # uncommitted change to a tracked file
    dirty = TrackingContext(context.tracking_uri, "named", tmp_path, execution_key="dvc-2")
    with stage_run("prepare", params, dirty, work_dir=tmp_path):
        pass
    runs = mlflow.search_runs(
        experiment_names=["named"], output_format="list", order_by=["attributes.start_time"]
    )
    assert [run.info.run_name for run in runs] == [
        f"trial@{commit[:7]}",
        f"trial@{commit[:7]}+dirty",
    ]


def test_retry_waits_with_growing_bounded_delays_then_succeeds():
    calls, waits = [], []

    def write(value):
        calls.append(value)
        if len(calls) < 4:
            raise sqlite3.OperationalError("database is locked")
        return value * 2

    retrying = retry_when_locked(
        write, attempts=5, first_delay=1.0, max_delay=3.0, sleep=waits.append
    )
    assert retrying(21) == 42 and len(calls) == 4
    # 1, 2, 4 -> capped at 3; each jittered by at most ±25%
    for wait, nominal in zip(waits, [1.0, 2.0, 3.0], strict=True):
        assert 0.75 * nominal <= wait <= 1.25 * nominal


def test_retry_gives_up_after_its_attempts_and_passes_other_errors():
    waits = []

    def locked():
        # MLflow wraps SQLAlchemy's error, which wraps sqlite's: the cause chain is searched.
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError as error:
            raise MlflowException("(sqlite3.OperationalError) failed to log") from error

    with pytest.raises(TrackingStoreError, match="stayed locked through 3 attempts"):
        retry_when_locked(locked, attempts=3, sleep=waits.append)()
    assert len(waits) == 2

    def broken():
        raise MlflowException("RESOURCE_DOES_NOT_EXIST")

    with pytest.raises(MlflowException, match="RESOURCE"):
        retry_when_locked(broken, sleep=waits.append)()
    assert len(waits) == 2  # no retry for an error that waiting cannot fix
    with pytest.raises(ValueError, match="attempts"):
        retry_when_locked(broken, attempts=0)


def test_lock_retrying_client_retries_each_call_and_passes_the_rest_through():
    class Client:
        tracking_uri = "sqlite:///store.db"

        def __init__(self):
            self.calls = []

        def set_tag(self, run_id, key, value):
            self.calls.append((run_id, key, value))
            if len(self.calls) < 3:
                raise MlflowException("failed") from sqlite3.OperationalError("database is locked")
            return "done"

        def get_run(self, run_id):
            raise MlflowException(f"RESOURCE_DOES_NOT_EXIST: {run_id}")

    waits = []
    inner = Client()
    client = LockRetryingClient(inner, sleep=waits.append)
    assert client.set_tag("r1", "k", "v") == "done"
    assert inner.calls == [("r1", "k", "v")] * 3 and len(waits) == 2
    assert client.tracking_uri == "sqlite:///store.db"
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST: r2"):
        client.get_run("r2")
    assert len(waits) == 2  # not retried: waiting cannot fix it


def test_retry_outlasts_a_real_lock_held_by_another_connection(tmp_path):
    """A sqlite database locked by another writer for 0.6 s: the retried write lands."""
    database = tmp_path / "store.db"
    with sqlite3.connect(database) as setup:
        setup.execute("create table metrics (value real)")
    holder = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
    holder.execute("begin exclusive")
    release = threading.Timer(0.6, holder.execute, args=("commit",))
    release.start()

    def write(value: float) -> None:
        # timeout=0: the locked error at once, as MLflow gets it after its 20 s busy wait
        with sqlite3.connect(database, timeout=0) as connection:
            connection.execute("insert into metrics values (?)", (value,))

    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            write(1.0)
        retry_when_locked(write, attempts=6, first_delay=0.2, max_delay=0.4)(2.0)
    finally:
        release.join()
        holder.close()
    with sqlite3.connect(database) as reader:
        assert reader.execute("select value from metrics").fetchall() == [(2.0,)]


def test_unreachable_server_is_named_at_once():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingStoreError, match=f"{uri} is unreachable"):
        check_tracking_server(uri, timeout=2.0)
    assert time.monotonic() - started < 10
    check_tracking_server("sqlite:///nowhere/mlflow.db")  # not a server: nothing to check


def test_model_logging_is_skipped_with_one_line_when_the_store_goes_away(
    context, params, tmp_path, capsys
):
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    from gantrack.tracking.lost_store import unless_store_lost

    gone = MlflowException("API request to http://127.0.0.1:5000 failed: refused")
    with stage_run("sample", params, context, work_dir=tmp_path):
        with unless_store_lost("logging the generator models", "spool"):
            raise gone
        assert "logging the generator models was skipped" in capsys.readouterr().err
        failing = unless_store_lost("logging the generator models", "fail")
        with pytest.raises(TrackingStoreError, match="on_lost_server: fail"), failing:
            raise gone
        refused = MlflowException("bad name", error_code=INVALID_PARAMETER_VALUE)
        for error in (refused, ValueError("a bug of ours")):  # not the store's absence
            with pytest.raises(type(error)), unless_store_lost("logging", "spool"):
                raise error
