"""Local services started and stopped by process id: PostgreSQL, MLflow on it, S3 emulator."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.services import alive, needs_postgres, start_s3_emulator

import gantrack.tracking.services
from gantrack.tracking.services import (
    Service,
    ServiceError,
    accepts_connections,
    free_port,
    postgres_binary,
    postgres_password,
    start_mlflow_server,
    start_postgres,
    start_process,
)


def test_free_port_is_free_to_bind():
    port = free_port()
    assert 1024 <= port <= 65535 and not accepts_connections("127.0.0.1", port)


def test_stop_ends_the_whole_process_group(tmp_path):
    # A shell whose child would outlive a plain kill of the parent.
    pid_file = tmp_path / "child.pid"
    # Written aside and renamed, so the test never reads a file the shell has only opened.
    script = f"sleep 300 & echo $! > {pid_file}.partial; mv {pid_file}.partial {pid_file}; wait"
    process = start_process("sleeper", ["bash", "-c", script], tmp_path / "log")
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    service = Service("sleeper", process, "", tmp_path / "log")
    assert alive(child)
    service.stop(timeout=10)
    time.sleep(0.2)
    assert process.returncode == -signal.SIGTERM and not alive(child)


def test_a_service_that_exits_is_reported_with_its_log(tmp_path):
    from gantrack.tracking.services import wait_until

    command = [sys.executable, "-c", "import sys; print('bad flag --x'); sys.exit(3)"]
    service = Service(
        "demo", start_process("demo", command, tmp_path / "demo.log"), "", tmp_path / "demo.log"
    )
    with pytest.raises(ServiceError, match=r"demo exited with code 3[\s\S]*bad flag --x"):
        wait_until(lambda: False, service, timeout=20, what="answer")


def test_missing_program_is_a_clear_error(tmp_path):
    with pytest.raises(ServiceError, match="Cannot start x"):
        start_process("x", ["/nonexistent/program"], tmp_path / "log")
    with pytest.raises(ServiceError, match="not found on PATH"):
        postgres_binary("no-such-postgres-program")


PASSWORD = "a-secret-of-this-test-only"


def command_lines(group_id: int) -> list[str]:
    """What `ps` shows any local user for each live process of a group."""
    from support.services import processes_in_group

    return [
        Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        for pid in processes_in_group(group_id)
    ]


@needs_postgres
def test_postgres_asks_for_a_password_never_shown_and_keeps_fsync_on(world_readable_dir):
    import psycopg2

    port = free_port()
    service = start_postgres(world_readable_dir / "postgres", port, PASSWORD)
    try:
        login = {"host": "127.0.0.1", "port": port, "user": "postgres", "dbname": "mlflow"}
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(**login).close()  # any local user was superuser with trust
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(**login, password="guessed").close()
        connection = psycopg2.connect(**login, password=PASSWORD)
        with connection.cursor() as cursor:
            cursor.execute("SHOW fsync")
            assert cursor.fetchone() == ("on",)  # a machine's crash cannot corrupt the registry
        connection.close()
        assert service.client_environment == {"PGPASSWORD": PASSWORD}
        assert PASSWORD not in service.url
        assert not any(PASSWORD in line for line in command_lines(service.pid))
        leftovers = [path.name for path in world_readable_dir.iterdir()]
        assert not any(PASSWORD in path.read_text(errors="replace")
                       for path in world_readable_dir.rglob("*.log"))  # fmt: skip
        assert sorted(leftovers) == ["initdb.log", "postgres", "postgres.log"]
    finally:
        service.stop()


def test_an_existing_trusting_cluster_is_refused_with_the_fix(tmp_path):
    data = tmp_path / "postgres"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    (data / "pg_hba.conf").write_text("# comment: trust\nhost all all 127.0.0.1/32 trust\n")
    with pytest.raises(ServiceError) as refused:
        start_postgres(data, free_port(), PASSWORD)
    message = str(refused.value)
    assert "pg_hba.conf trusts every local connection" in message and "\n" not in message
    assert "scram-sha-256" in message


def test_the_password_comes_from_the_environment_or_a_private_file(tmp_path):
    assert postgres_password(tmp_path / "password", "from-the-environment") == (
        "from-the-environment"
    )
    assert not (tmp_path / "password").exists()
    made = postgres_password(tmp_path / "password", None)  # first use: a new random one
    assert len(made) >= 32 and (tmp_path / "password").stat().st_mode & 0o777 == 0o600
    assert postgres_password(tmp_path / "password", None) == made
    (tmp_path / "password").chmod(0o644)
    with pytest.raises(ServiceError, match=r"readable by others \(mode 0644\); chmod 600"):
        postgres_password(tmp_path / "password", None)


def test_the_store_password_reaches_mlflow_by_its_environment_only(tmp_path, monkeypatch):
    started = {}

    def start(name, command, log_path, env=None, cwd=None):
        started.update(command=command, env=env)
        return subprocess.Popen(["true"])

    monkeypatch.setattr(gantrack.tracking.services, "start_process", start)
    monkeypatch.setattr(gantrack.tracking.services, "wait_until", lambda *arguments: None)
    store = "postgresql+psycopg2://postgres@127.0.0.1:5432/mlflow"
    start_mlflow_server(store, tmp_path, free_port(), tmp_path / "log", store_environment={
        "PGPASSWORD": PASSWORD})  # fmt: skip
    assert started["env"]["PGPASSWORD"] == PASSWORD
    assert not any(PASSWORD in part for part in started["command"])
    assert os.environ.get("PGPASSWORD") != PASSWORD  # not set for this process or others


@pytest.fixture
def tracking_server(world_readable_dir):
    """``python -m gantrack tracking-server`` as a user runs it; yields its printed lines."""
    command = [sys.executable, "-m", "gantrack", "tracking-server", "--dir",
               str(world_readable_dir), "--port", str(free_port())]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("export MLFLOW_TRACKING_URI="):
                break
        assert lines and lines[-1].startswith("export"), f"server did not start: {lines}"
        yield process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


@needs_postgres
@pytest.mark.slow  # ~45 s: PostgreSQL and MLflow server start-up
def test_tracking_server_on_postgresql_keeps_runs_and_proxies_artifacts(
    tracking_server, world_readable_dir
):
    import mlflow
    import psycopg2
    import requests
    from mlflow.tracking import MlflowClient

    process, lines = tracking_server
    pids = {line.split(" pid ")[0]: int(line.split(" pid ")[1].split(":")[0])
            for line in lines if " pid " in line}  # fmt: skip
    url = lines[-1].split("=", 1)[1]
    (postgres_port,) = re.findall(r"@127\.0\.0\.1:(\d+)/", "\n".join(lines))
    try:
        mlflow.set_tracking_uri(url)
        mlflow.set_experiment("scale")
        note = world_readable_dir / "note.txt"
        note.write_text("kept by the server")
        with mlflow.start_run() as run:
            mlflow.log_param("train.loss", "hinge")
            for epoch in (1, 2):
                mlflow.log_metric("eval.fid", 10.0 / epoch, step=epoch)
            mlflow.log_artifact(str(note))
    finally:
        mlflow.set_tracking_uri(None)
    run_id = run.info.run_id
    # Through the REST API, as a teammate's client sees it.
    got = requests.get(f"{url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=30)
    assert got.json()["run"]["data"]["params"] == [{"key": "train.loss", "value": "hinge"}]
    history = MlflowClient(url).get_metric_history(run_id, "eval.fid")
    assert [(m.step, m.value) for m in history] == [(1, 10.0), (2, 5.0)]
    # Proxied artifacts: stored under the server's folder, not at a client-side path.
    stored = list((world_readable_dir / "artifacts").rglob("note.txt"))
    assert [path.read_text() for path in stored] == ["kept by the server"]
    # The run really lives in PostgreSQL.
    password = (world_readable_dir / "postgres-password").read_text()  # made on first use
    with (
        psycopg2.connect(
            host="127.0.0.1",
            port=int(postgres_port),
            user="postgres",
            dbname="mlflow",
            password=password,
        ) as database,
        database.cursor() as cursor,
    ):
        cursor.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,))
        assert cursor.fetchone() == ("FINISHED",)
    # SIGTERM (what Ctrl-C's neighbour, a CI job's end, sends) stops both by process id.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert set(pids) == {"PostgreSQL", "MLflow server"}
    assert not any(alive(pid) for pid in pids.values())


def test_s3_emulator_serves_buckets(tmp_path):
    boto3 = pytest.importorskip("boto3")
    service = start_s3_emulator(free_port(), tmp_path / "moto.log")
    try:
        client = boto3.client(
            "s3", endpoint_url=service.url, aws_access_key_id="test",
            aws_secret_access_key="test", region_name="us-east-1",
        )  # fmt: skip
        client.create_bucket(Bucket="gantrack-cache")
        client.put_object(Bucket="gantrack-cache", Key="a", Body=b"x")
        assert client.get_object(Bucket="gantrack-cache", Key="a")["Body"].read() == b"x"
    finally:
        service.stop()
    assert not alive(service.pid)
