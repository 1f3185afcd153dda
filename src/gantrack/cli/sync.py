"""``python -m gantrack sync``: replay the runs spooled while the tracking store was away.

Every spool under ``<repo>/.gantrack/spool`` is replayed into its own store (the
``MLFLOW_TRACKING_URI`` its stage ran with), or into ``--tracking-uri`` when the server
came back at another address. Exit 0 when nothing is left spooled, 1 when the store still
does not answer (the spools are kept; run it again), 2 on a bad command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gantrack.cli import tracking_context


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack sync",
        description="Send the tracking calls spooled while the MLflow store was away into "
        "their runs (idempotent: a second sync sends nothing).",
    )
    parser.add_argument(
        "--tracking-uri", help="replay every spool into this store (default: each its own)"
    )
    parser.add_argument(
        "--spool", type=Path, help="the spool folder (default: <repo>/.gantrack/spool)"
    )
    return parser


def main(argv: list[str]) -> int:
    from gantrack.tracking.spool import spool_root, spools
    from gantrack.tracking.store import bound_http_requests
    from gantrack.tracking.sync import replay_all

    arguments = build_parser().parse_args(argv)
    bound_http_requests(os.environ)
    root = arguments.spool or spool_root(tracking_context().repo_root)
    found = spools(root)
    if not found:
        print(f"gantrack sync: nothing spooled in {root}")
        return 0
    for spool in found:
        if not spool.claim():
            print(f"run {spool.run_id}: still running in another process; left to it")
        spool.release()
    results = []
    stores = (
        [arguments.tracking_uri]
        if arguments.tracking_uri
        else sorted({spool.tracking_uri for spool in found})
    )
    for store in stores:
        results += replay_all(root, store, only_own_store=arguments.tracking_uri is None)
    left = sum(result.pending for result in results)
    if left:
        print(f"gantrack sync: error: {left} records are still spooled in {root}", file=sys.stderr)
        return 1
    return 0
