"""``python -m gantrack gate``: compare this run's metrics with the base's; exit by verdict.

The edge of :mod:`gantrack.cli.gate_rules`: reads ``params.yaml`` (thresholds), the
metrics files or the registry, writes the markdown report and the JSON decision, and exits
with the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gantrack.cli import UsageError, registered_model_name, tracking_context
from gantrack.cli.gate_rules import (
    EXIT_MISSING,
    EXIT_PASS,
    EXIT_REGRESSION,
    EXIT_USAGE,
    compare_metrics,
    format_report,
    rules_from_config,
)
from gantrack.config import ConfigError
from gantrack.errors import GantrackError

DESCRIPTION = """\
Compare this run's metrics (reports/metrics.json) with a base: a metrics file (e.g. the base
branch's, from `git show BASE:reports/metrics.json`) or the run behind the registered
model's `champion` alias. Tolerances come from the `gate:` section of params.yaml.
"""
EPILOG = f"""\
exit status:
  {EXIT_PASS}  pass: no checked metric worsened beyond its tolerance
  {EXIT_REGRESSION}  regression: at least one did (the report names it and by how much)
  {EXIT_USAGE}  usage error or invalid params.yaml
  {EXIT_MISSING}  missing data: a metrics file, the network's section or a metric is absent or
     NaN, or the registry has no such model (a missing base passes with --allow-missing-base)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack gate",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    base = parser.add_mutually_exclusive_group(required=True)
    base.add_argument("--base", type=Path, metavar="FILE", help="the base's metrics.json")
    base.add_argument(
        "--base-champion",
        nargs="?",
        const="",
        metavar="MODEL",
        help="the base is the source run of this registered model's champion version "
        "(MODEL defaults to params.yaml's mlflow.registered_model); the tracking store is "
        "MLFLOW_TRACKING_URI, else mlflow.db here",
    )
    parser.add_argument(
        "--current", type=Path, metavar="FILE", help="this run's metrics (default: paths.metrics)"
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), metavar="FILE")
    parser.add_argument("--base-label", help="how the report names the base (e.g. origin/main)")
    parser.add_argument(
        "--allow-missing-base",
        action="store_true",
        help="pass when the base has no metrics (first run, or a metric new in this change)",
    )
    parser.add_argument("--report", type=Path, metavar="FILE", help="also write the markdown here")
    parser.add_argument(
        "--decision", type=Path, metavar="FILE", help="write the decision as JSON (for promote)"
    )
    return parser


def main(argv: list[str]) -> int:
    from gantrack.config import load_params
    from gantrack.io import atomic_path, save_json

    arguments = build_parser().parse_args(argv)
    try:
        params = load_params(arguments.params)
        current, current_reason = read_metrics(arguments.current or params.paths.metrics)
        if arguments.base is not None:
            base, base_reason = read_metrics(arguments.base)
            label = arguments.base_label or f"`{arguments.base}`"
        else:
            base, base_reason, label = read_champion(arguments, params)
    except GantrackError as error:
        print(f"gantrack gate: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, ConfigError | UsageError) else EXIT_MISSING
    result = compare_metrics(
        base,
        current,
        rules_from_config(params.gate),
        params.gate.network,
        allow_missing_base=arguments.allow_missing_base,
        base_label=label,
        base_missing_reason=base_reason,
        current_missing_reason=current_reason,
    )
    report = format_report(result)
    print(report, end="")
    if arguments.report is not None:
        with atomic_path(arguments.report) as temporary:
            temporary.write_text(report, encoding="utf-8")
    if arguments.decision is not None:
        save_json(result.to_dict(), arguments.decision)
    return result.exit_code


def read_metrics(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The metrics in ``path``, or (None, why not): absence is data, not a crash."""
    try:
        metrics = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{path} not found"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{path} is not readable JSON ({error})"
    if not isinstance(metrics, dict):
        return None, f"{path} holds {type(metrics).__name__}, not a mapping of networks"
    return metrics, ""


def read_champion(
    arguments: argparse.Namespace, params: Any
) -> tuple[dict[str, Any] | None, str, str]:
    """The registered champion's metrics (or None and why), and how the report names it."""
    from mlflow.tracking import MlflowClient

    from gantrack.tracking.registry import CHAMPION_ALIAS, champion_metrics

    model_name = arguments.base_champion or registered_model_name(params, str(arguments.params))
    client = MlflowClient(tracking_uri=tracking_context().tracking_uri)
    # No champion yet is missing data, not a crash.
    base = champion_metrics(client, model_name)
    reason = f"{model_name!r} has no {CHAMPION_ALIAS!r} version yet"
    return base, reason, arguments.base_label or f"the champion of `{model_name}`"
