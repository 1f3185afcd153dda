"""``python -m gantrack tracking-server``: a team's MLflow server on PostgreSQL, locally.

Starts a PostgreSQL cluster (created on first use) and ``mlflow server`` backed by it, with
artifacts proxied by the server into a folder, both on 127.0.0.1; prints the
``MLFLOW_TRACKING_URI`` to export; stops both (by process id) on Ctrl-C or SIGTERM.

The database password is ``$GANTRACK_POSTGRES_PASSWORD`` when set, else the file
``<dir>/postgres-password`` (mode 0600, a random one made on first use); it reaches
``mlflow server`` through that process's environment, never a command line.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from gantrack.tracking.services import (
    free_port,
    postgres_password,
    start_mlflow_server,
    start_postgres,
)

PASSWORD_VARIABLE = "GANTRACK_POSTGRES_PASSWORD"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack tracking-server",
        description="Run an MLflow tracking server backed by PostgreSQL on 127.0.0.1.",
    )
    parser.add_argument("--dir", type=Path, default=Path(".tracking-server"),
                        help="folder for the database cluster, artifacts and logs "
                             "(default: .tracking-server)")  # fmt: skip
    parser.add_argument("--port", type=int, default=5000, help="MLflow port (default 5000)")
    parser.add_argument("--postgres-port", type=int, help="PostgreSQL port (default: a free one)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    folder = args.dir.resolve()
    password = postgres_password(folder / "postgres-password", os.environ.get(PASSWORD_VARIABLE))
    postgres = start_postgres(folder / "postgres", args.postgres_port or free_port(), password)
    try:
        mlflow_server = start_mlflow_server(
            postgres.url,
            folder / "artifacts",
            args.port,
            folder / "mlflow-server.log",
            store_environment=postgres.client_environment,
        )
    except BaseException:
        postgres.stop()
        raise
    print(f"PostgreSQL pid {postgres.pid}: {postgres.url}")
    print(f"MLflow server pid {mlflow_server.pid}: {mlflow_server.url}")
    print(f"export MLFLOW_TRACKING_URI={mlflow_server.url}", flush=True)
    stopped = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())
    try:
        while not stopped.wait(1.0):
            if mlflow_server.process.poll() is not None or postgres.process.poll() is not None:
                print("a service exited; stopping the other")
                return 1
        return 0
    finally:
        mlflow_server.stop()
        postgres.stop()
