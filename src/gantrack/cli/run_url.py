"""``python -m gantrack run-url --commit SHA``: print the MLflow page of that commit's run.

Prints nothing (exit 0) when the tracking store is local, since it has no page to link
to; exit 3 when a server has no run for the commit.
"""

from __future__ import annotations

import argparse
import sys

from gantrack.cli import tracking_context

EXIT_MISSING = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack run-url",
        description="Print the MLflow UI link of the newest run of a git commit "
        "(MLFLOW_TRACKING_URI must be an http(s) server; else prints nothing).",
    )
    parser.add_argument("--commit", required=True, metavar="SHA", help="the git commit")
    return parser


def main(argv: list[str]) -> int:
    from mlflow.tracking import MlflowClient

    from gantrack.tracking.links import latest_run_for_commit, run_url
    from gantrack.tracking.store import is_server

    arguments = build_parser().parse_args(argv)
    context = tracking_context()
    if not is_server(context.tracking_uri):
        print(f"gantrack run-url: {context.tracking_uri} is not a server: no link", file=sys.stderr)
        return 0
    client = MlflowClient(tracking_uri=context.tracking_uri)
    run = latest_run_for_commit(client, context.experiment_name, arguments.commit)
    if run is None:
        print(
            f"gantrack run-url: no run of experiment {context.experiment_name!r} for commit "
            f"{arguments.commit} at {context.tracking_uri}",
            file=sys.stderr,
        )
        return EXIT_MISSING
    print(run_url(context.tracking_uri, run.info.experiment_id, run.info.run_id))
    return 0
