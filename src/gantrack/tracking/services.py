"""Local services for running at team scale: a PostgreSQL cluster and an MLflow server.

Started on the loopback interface from Debian's PostgreSQL binaries and ``mlflow server``
(artifacts proxied by the server), for a workstation, a CI job or the tests. Each process
runs in its own session, so it is stopped with its children by process id. Caveats:
PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` account
(its data folder must be reachable by that account); the cluster trusts every local
connection on 127.0.0.1: fine for one machine, never for a shared host.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gantrack.errors import GantrackError

LOOPBACK = "127.0.0.1"
POSTGRES_ACCOUNT = "postgres"
# Debian installs the server binaries in <this>/<major version>/bin, outside PATH.
POSTGRES_VERSIONS_DIR = Path("/usr/lib/postgresql")


class ServiceError(GantrackError):
    """A local service could not be started or did not answer."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def postgres_binary(name: str) -> Path:
    """Path of a PostgreSQL server program (``initdb``, ``postgres``), newest version first."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = sorted(
        POSTGRES_VERSIONS_DIR.glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else -1,
        reverse=True,
    )
    if candidates:
        return candidates[0]
    raise ServiceError(
        f"PostgreSQL's {name!r} was not found on PATH or in {POSTGRES_VERSIONS_DIR}/*/bin.\n"
        "Install the server (Debian: `apt install postgresql`) or put its bin folder on PATH."
    )


def _as_postgres_account(command: list[str], owned: Path | None = None) -> list[str]:
    """``command`` run without root privileges (PostgreSQL will not run as root), with
    ``owned`` handed to the ``postgres`` account."""
    if os.geteuid() != 0:
        return command
    try:
        account = pwd.getpwnam(POSTGRES_ACCOUNT)
    except KeyError as missing:
        raise ServiceError(
            "PostgreSQL cannot run as root and there is no 'postgres' account to run it as. "
            "Run as an ordinary user, or create the account (Debian's postgresql package does)."
        ) from missing
    if owned is not None:
        os.chown(owned, account.pw_uid, account.pw_gid)
    # setpriv execs (no fork), so the process id we hold is the server's own.
    return ["setpriv", f"--reuid={POSTGRES_ACCOUNT}", f"--regid={POSTGRES_ACCOUNT}",
            "--init-groups", "--", *command]  # fmt: skip


@dataclass
class Service:
    """A started process and how to reach it; ``stop()`` ends it by process id."""

    name: str
    process: subprocess.Popen
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the process group (even when its leader has exited: its workers may
        still run), then SIGKILL if needed."""
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_process(
    name: str,
    command: Sequence[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """Start ``command`` in a new session (own process group), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                list(command), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                start_new_session=True,
            )  # fmt: skip
        except FileNotFoundError as missing:
            raise ServiceError(f"Cannot start {name}: {missing}") from missing


def wait_until(
    ready: Callable[[], bool],
    service: Service,
    timeout: float,
    what: str,
    poll_seconds: float = 0.25,
) -> None:
    """Poll ``ready()`` until it is true; fail with the service's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise ServiceError(
                f"{service.name} exited with code {service.process.returncode} before {what}. "
                f"Its log ({service.log_path}):\n{service.log_tail()}"
            )
        if ready():
            return
        time.sleep(poll_seconds)
    service.stop()
    raise ServiceError(
        f"{service.name} did not {what} within {timeout:.0f} s. "
        f"Its log ({service.log_path}):\n{service.log_tail()}"
    )


def accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_postgres(data_dir: Path, port: int, database: str = "mlflow") -> Service:
    """Run a PostgreSQL cluster in ``data_dir`` (created on first use) on 127.0.0.1:``port``
    and create ``database``; returns once the server accepts logins."""
    import psycopg2  # the PostgreSQL driver MLflow's SQLAlchemy store uses

    data_dir = data_dir.resolve()
    if not (data_dir / "PG_VERSION").exists():
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        command = _as_postgres_account([
            str(postgres_binary("initdb")), "--pgdata", str(data_dir), "--username", "postgres",
            "--auth", "trust", "--encoding", "UTF8", "--no-sync",
        ], owned=data_dir.parent)  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        (data_dir.parent / "initdb.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise ServiceError(
                f"initdb failed for {data_dir} (exit {result.returncode}):\n{result.stderr.strip()}"
            )
    command = _as_postgres_account([
        str(postgres_binary("postgres")), "-D", str(data_dir), "-p", str(port),
        "-c", f"listen_addresses={LOOPBACK}", "-c", f"unix_socket_directories={data_dir}",
        "-c", "fsync=off",
    ])  # fmt: skip
    log_path = data_dir.parent / "postgres.log"
    url = f"postgresql+psycopg2://postgres@{LOOPBACK}:{port}/{database}"
    service = Service("PostgreSQL", start_process("PostgreSQL", command, log_path), url, log_path)

    def connect():
        return psycopg2.connect(host=LOOPBACK, port=port, user="postgres", dbname="postgres")

    def logs_in() -> bool:  # the server may accept TCP a moment before it accepts logins
        try:
            connect().close()
        except psycopg2.OperationalError:
            return False
        return True

    wait_until(logs_in, service, 60, "accept connections")
    connection = connect()
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{database}"')
    finally:
        connection.close()
    return service


def start_mlflow_server(
    backend_store_uri: str,
    artifacts_destination: Path,
    port: int,
    log_path: Path,
    timeout: float = 180.0,
) -> Service:
    """Run ``mlflow server`` on 127.0.0.1:``port`` with proxied artifacts; wait for /health.

    One worker and no job execution keep it light; a shared server runs more workers.
    """
    artifacts_destination.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_store_uri,
        "--artifacts-destination", str(artifacts_destination.resolve()),
        "--serve-artifacts", "--host", LOOPBACK, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = start_process("MLflow server", command, log_path, env=env)
    service = Service("MLflow server", process, f"http://{LOOPBACK}:{port}", log_path)
    wait_until(lambda: answers_http(f"{service.url}/health"), service, timeout, "answer /health")
    return service
