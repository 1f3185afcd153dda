"""``python -m gantrack push [-r REMOTE]``: ``dvc push --run-cache`` and the reports it skips.

Exit 0 when everything is on the remote; ``dvc push``'s own status when it fails; 2 when
the reports could not be uploaded (the message names the cause).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack push",
        description="dvc push --run-cache, then the git-kept reports (cache: false outputs) "
        "of every local stage run, so that `dvc repro --pull` elsewhere restores those "
        "stages instead of rerunning them.",
    )
    parser.add_argument("-r", "--remote", help="DVC remote (default: core.remote)")
    return parser


def main(argv: list[str]) -> int:
    from gantrack.errors import GantrackError
    from gantrack.tracking.run_cache import push_run_cache_outputs

    arguments = build_parser().parse_args(argv)
    remote = ["--remote", arguments.remote] if arguments.remote else []
    pushed = subprocess.run(["dvc", "push", "--run-cache", *remote], check=False)
    if pushed.returncode != 0:
        return pushed.returncode
    try:
        result = push_run_cache_outputs(Path.cwd(), arguments.remote)
    except GantrackError as error:
        print(f"gantrack push: error: {error}", file=sys.stderr)
        return 2
    print(
        f"run-record outputs: {result.transferred} uploaded, "
        f"{result.present - result.transferred} already there "
        f"({result.named - result.present} ran elsewhere and are not in this cache)"
    )
    return 0
