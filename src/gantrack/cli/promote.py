"""``python -m gantrack promote``: move the ``champion`` alias if, and only if, the gate passed.

Reads the decision that ``python -m gantrack gate --decision FILE`` wrote, so promotion
cannot happen without a gate run, and :func:`gantrack.gate.promotion.promote` holds the rule.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gantrack.cli import UsageError, registered_model_name, tracking_context
from gantrack.errors import GantrackError
from gantrack.gate.rules import EXIT_BAD_INPUT, EXIT_USAGE

EXIT_PROMOTED = 0
EXIT_NOT_PROMOTED = 1

EPILOG = f"""\
exit status:
  {EXIT_PROMOTED}  the gate passed and `champion` now points to the candidate version
  {EXIT_NOT_PROMOTED}  the gate did not pass: `champion` was left where it was
  {EXIT_USAGE}  usage error, invalid params.yaml, or no model name
  {EXIT_BAD_INPUT}  bad input: the decision file is unreadable, not the gate's, or for another
     version, run or commit; the model, the version or its alias is missing; or (with
     --commit) the candidate was trained from another commit
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack promote",
        description="Point the registered model's `champion` alias at the candidate version "
        "when the gate's decision is pass; leave it otherwise.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--decision", type=Path, required=True, metavar="FILE", help="gate --decision output"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="registered model name (default: params.yaml's mlflow.registered_model)",
    )
    version = parser.add_mutually_exclusive_group()
    version.add_argument("--version", metavar="N", help="the version to promote")
    version.add_argument(
        "--alias", default="candidate", help="promote the version this alias points to"
    )
    parser.add_argument(
        "--commit",
        metavar="SHA",
        help="refuse a version whose source run was trained from another git commit",
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), metavar="FILE")
    return parser


def main(argv: list[str]) -> int:
    from mlflow.tracking import MlflowClient

    from gantrack.config import ConfigError, load_params
    from gantrack.gate.promotion import promote
    from gantrack.tracking.registry import check_commit, resolve_version

    arguments = build_parser().parse_args(argv)
    try:
        model_name = arguments.model or registered_model_name(
            load_params(arguments.params), str(arguments.params)
        )
        decision = read_decision(arguments.decision)
        client = MlflowClient(tracking_uri=tracking_context().tracking_uri)
        model_version = resolve_version(client, model_name, arguments.version, arguments.alias)
        if arguments.commit:
            check_commit(client, model_version, arguments.commit)
        promotion = promote(client, model_name, model_version.version, decision)
    except GantrackError as error:
        print(f"gantrack promote: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, UsageError | ConfigError) else EXIT_BAD_INPUT
    print(f"{model_name}: {promotion.reason}")
    return EXIT_PROMOTED if promotion.promoted else EXIT_NOT_PROMOTED


def read_decision(path: Path):
    """The decision file's JSON, read with the gate's bounds (size, depth, digits)."""
    from gantrack.gate.seed_sets import MAX_FILE_BYTES, SeedSetError, load_bounded_json

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SeedSetError(f"{path}: too large to be a gate decision")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SeedSetError(f"gate decision {path} unreadable: {error}") from None
    return load_bounded_json(text, str(path))
