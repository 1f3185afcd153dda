"""Helpers shared by the tests that start local services (PostgreSQL, MLflow, S3 emulator).

``needs_postgres`` skips a test where PostgreSQL cannot be started, using the same look-up
that :func:`gantrack.tracking.services.start_postgres` does; the process checks read ``/proc``
(Linux), where a killed child is told apart from a zombie that is only waiting to be reaped.
"""

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from gantrack.tracking.services import (
    LOOPBACK,
    Service,
    ServiceError,
    answers_http,
    postgres_binary,
    start_process,
    wait_until,
)


def postgres_missing() -> str | None:
    """Why a PostgreSQL cluster cannot be started here, or None when it can."""
    try:
        for program in ("initdb", "postgres"):
            postgres_binary(program)
    except ServiceError as error:
        return str(error).splitlines()[0]
    if importlib.util.find_spec("psycopg2") is None:
        return "the psycopg2 driver is not installed (pip install psycopg2-binary)"
    return None


_POSTGRES_MISSING = postgres_missing()
needs_postgres = pytest.mark.skipif(
    _POSTGRES_MISSING is not None,
    reason=f"PostgreSQL cannot be started here: {_POSTGRES_MISSING} "
    "(Debian: apt install postgresql)",
)


def _state(pid: int) -> tuple[str, int] | None:
    """(state letter, process group id) of ``pid`` from /proc, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[2])


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, killed but not yet reaped, is not alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = _state(pid)
    return state is not None and state[0] != "Z"


def processes_in_group(group_id: int) -> list[int]:
    """The live (non-zombie) processes of process group ``group_id``: a server's workers too."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state = _state(int(entry.name))
            if state is not None and state[1] == group_id and state[0] != "Z":
                members.append(int(entry.name))
    return members


def start_s3_emulator(port: int, log_path: Path, timeout: float = 60.0) -> Service:
    """Run moto's S3-compatible server on 127.0.0.1:``port`` (a DVC remote for tests).

    Needs ``moto[server]`` (in the ``dev`` extra). Any access key works against it; point
    a DVC remote at it with ``dvc remote modify <name> endpointurl <service.url>``.
    """
    command = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    process = start_process("S3 emulator (moto)", command, log_path)
    service = Service("S3 emulator (moto)", process, f"http://{LOOPBACK}:{port}", log_path)
    wait_until(lambda: answers_http(f"{service.url}/moto-api/"), service, timeout, "answer")
    return service


@dataclass
class TrackingServer:
    """A started MLflow server: the URI the pipeline logs to, and its own backend store."""

    backend: str  # "sqlite" or "postgresql"
    url: str
    store_uri: str
    artifacts: Path
    services: list[Service]  # in start order
    log: Path
    store_environment: dict[str, str]  # the database's password, for a restarted server


def stop_services(services: list[Service]) -> None:
    """Stop by process group id, the MLflow server before the database it writes to."""
    for service in reversed(services):
        service.stop()
