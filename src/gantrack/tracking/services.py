"""Local services for running at team scale: a PostgreSQL cluster and an MLflow server.

Started on the loopback interface from Debian's PostgreSQL binaries and ``mlflow server``
(artifacts proxied by the server), for a workstation, a CI job or the tests. Each process
runs in its own session, so it is stopped with its children by process id. Caveats:
PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` account
(its data folder must be reachable by that account).

Security: the cluster asks for a password (SCRAM-SHA-256) on every connection and keeps
``fsync`` on, so neither another local user nor a machine's crash can take the registry.
The password never appears on a command line (``ps`` shows those to every user): initdb
reads it from a file of mode 0600 that is removed afterwards, this process passes it to
the driver as an argument, and ``mlflow server`` receives it as ``PGPASSWORD`` in its own
environment (:attr:`Service.client_environment`). MLflow itself has no authentication
here: anyone who can reach 127.0.0.1:<port> can read and write runs (docs/security.md).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
    """A started process and how to reach it; ``stop()`` ends it by process id.

    ``client_environment``: what a client process needs in its environment besides ``url``
    (PostgreSQL's password, as ``PGPASSWORD``): secrets stay out of URLs and command lines.
    """

    name: str
    process: subprocess.Popen
    url: str
    log_path: Path
    client_environment: dict[str, str] = field(default_factory=dict, repr=False)

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


def postgres_password(password_file: Path, from_environment: str | None) -> str:
    """The cluster's password: ``from_environment`` when set, else ``password_file``'s.

    On first use the file is created with a random password, mode 0600; an existing file
    that others may read is refused (a secret others can read is no secret). The caller
    reads the environment (``GANTRACK_POSTGRES_PASSWORD``): this is library code.
    """
    if from_environment:
        return from_environment
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    mode = password_file.stat().st_mode & 0o777
    if mode & 0o077:
        raise ServiceError(
            f"{password_file} holds the database password but is readable by others "
            f"(mode {mode:04o}); chmod 600 {password_file}"
        )
    return password_file.read_text().strip()


def start_postgres(data_dir: Path, port: int, password: str, database: str = "mlflow") -> Service:
    """Run a PostgreSQL cluster in ``data_dir`` (created on first use) on 127.0.0.1:``port``
    and create ``database``; returns once the server accepts logins.

    User ``postgres`` logs in with ``password`` (set when the cluster is created); a cluster
    created earlier with trust authentication is refused with the way out.
    """
    import psycopg2  # the PostgreSQL driver MLflow's SQLAlchemy store uses

    data_dir = data_dir.resolve()
    if not (data_dir / "PG_VERSION").exists():
        _create_cluster(data_dir, password)
    _refuse_trust(data_dir)
    command = _as_postgres_account([
        str(postgres_binary("postgres")), "-D", str(data_dir), "-p", str(port),
        "-c", f"listen_addresses={LOOPBACK}", "-c", f"unix_socket_directories={data_dir}",
    ])  # fmt: skip
    log_path = data_dir.parent / "postgres.log"
    url = f"postgresql+psycopg2://postgres@{LOOPBACK}:{port}/{database}"
    process = start_process("PostgreSQL", command, log_path)
    service = Service("PostgreSQL", process, url, log_path, {"PGPASSWORD": password})

    def connect():
        return psycopg2.connect(
            host=LOOPBACK, port=port, user="postgres", dbname="postgres", password=password
        )

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


def _create_cluster(data_dir: Path, password: str) -> None:
    """initdb with password (SCRAM) authentication; the password goes by a 0600 file."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    password_file = data_dir.parent / f".initdb-password-{secrets.token_hex(8)}"
    descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password)
    try:
        command = _as_postgres_account([
            str(postgres_binary("initdb")), "--pgdata", str(data_dir), "--username", "postgres",
            "--auth", "scram-sha-256", "--pwfile", str(password_file), "--encoding", "UTF8",
        ], owned=data_dir.parent)  # fmt: skip
        if os.geteuid() == 0:  # initdb runs as the postgres account: the file must be its
            account = pwd.getpwnam(POSTGRES_ACCOUNT)
            os.chown(password_file, account.pw_uid, account.pw_gid)
        result = subprocess.run(command, capture_output=True, text=True)
    finally:
        password_file.unlink(missing_ok=True)
    (data_dir.parent / "initdb.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise ServiceError(
            f"initdb failed for {data_dir} (exit {result.returncode}):\n{result.stderr.strip()}"
        )


def _refuse_trust(data_dir: Path) -> None:
    """Stop on a cluster whose pg_hba.conf lets any local user in without a password."""
    rules = data_dir / "pg_hba.conf"
    lines = rules.read_text().splitlines() if rules.exists() else []
    if any(line.split()[-1:] == ["trust"] for line in lines if not line.lstrip().startswith("#")):
        raise ServiceError(
            f"{rules} trusts every local connection (a cluster made before passwords): "
            "any local user is its superuser. Set a password (ALTER USER postgres PASSWORD "
            "...) and change trust to scram-sha-256 in that file, or move the folder away "
            "to start a new cluster"
        )


def start_mlflow_server(
    backend_store_uri: str,
    artifacts_destination: Path,
    port: int,
    log_path: Path,
    timeout: float = 180.0,
    store_environment: Mapping[str, str] | None = None,
) -> Service:
    """Run ``mlflow server`` on 127.0.0.1:``port`` with proxied artifacts; wait for /health.

    One worker and no job execution keep it light; a shared server runs more workers.
    ``store_environment`` goes into the server's environment only (the database's
    password: :attr:`Service.client_environment` of :func:`start_postgres`).
    """
    artifacts_destination.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_store_uri,
        "--artifacts-destination", str(artifacts_destination.resolve()),
        "--serve-artifacts", "--host", LOOPBACK, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, **(store_environment or {}), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = start_process("MLflow server", command, log_path, env=env)
    service = Service("MLflow server", process, f"http://{LOOPBACK}:{port}", log_path)
    wait_until(lambda: answers_http(f"{service.url}/health"), service, timeout, "answer /health")
    return service
