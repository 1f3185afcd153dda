"""``python -m gantrack gate``: the candidate recipe's seeds against the base's; exit by verdict.

The edge of :mod:`gantrack.gate`: reads ``params.yaml`` (the rule), the seed sets (files,
this checkout's run, or the store), writes the markdown report and the JSON decision,
records the decision's digest on the candidate's model version, and exits with the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gantrack.cli import UsageError, registered_model_name, tracking_context
from gantrack.config import ConfigError
from gantrack.errors import GantrackError
from gantrack.gate.rules import EXIT_BAD_INPUT, EXIT_PASS, EXIT_REGRESSION, EXIT_USAGE

DESCRIPTION = """\
Compare the candidate recipe, trained on k seeds (gate.seeds), with the base's recorded
seeds (paths.gate_base, or the registered champion's recipe in the store). The rule and its
measured false alarm and power: --explain.
"""
EPILOG = f"""\
exit status:
  {EXIT_PASS}  pass
  {EXIT_REGRESSION}  regression: the candidate's seeds are worse by the rank test, a candidate
     metric is not finite (a broken run), or a seed lost a class
  {EXIT_USAGE}  usage error or invalid params.yaml
  {EXIT_BAD_INPUT}  bad input: too few base seeds, an unreadable or absurd file, a missing model
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack gate",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--explain", action="store_true", help="print the rule and its rates")
    mode.add_argument(
        "--measure",
        action="store_true",
        help="resample the base's seeds: false alarm and power at k = 1, 3, 5 "
        "(writes paths.gate_power)",
    )
    mode.add_argument(
        "--export-seed",
        type=Path,
        metavar="FILE",
        help="write this checkout's run (params, reports, run record) as a one-seed set",
    )
    base = parser.add_mutually_exclusive_group()
    base.add_argument(
        "--base", type=Path, metavar="FILE", help="a seed set (default: paths.gate_base)"
    )
    base.add_argument(
        "--base-champion",
        nargs="?",
        const="",
        metavar="MODEL",
        help="the base is every recorded seed of the champion's recipe in the store (MODEL "
        "defaults to mlflow.registered_model)",
    )
    parser.add_argument(
        "--candidate",
        type=Path,
        nargs="*",
        metavar="FILE",
        help="seed sets of the candidate, one per seed (gate --export-seed); default: this "
        "checkout's run as one seed",
    )
    parser.add_argument(
        "--expect-seeds",
        action="store_true",
        help="every seed of gate.seeds must have a result: a missing one (its training job "
        "failed) fails the candidate",
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), metavar="FILE")
    parser.add_argument("--base-label", help="how the report names the base")
    parser.add_argument("--report", type=Path, metavar="FILE", help="also write the markdown here")
    parser.add_argument(
        "--decision", type=Path, metavar="FILE", help="write the decision as JSON (for promote)"
    )
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="do not record the decision's digest on the candidate's model version",
    )
    return parser


def main(argv: list[str]) -> int:
    from gantrack.config import load_params

    arguments = build_parser().parse_args(argv)
    try:
        params = load_params(arguments.params)
        if arguments.export_seed:
            return export_seed(params, arguments)
        if arguments.explain:
            return explain(params)
        if arguments.measure:
            return measure(params, arguments)
        return judge(params, arguments)
    except (ConfigError, UsageError) as error:
        print(f"gantrack gate: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except GantrackError as error:
        print(f"gantrack gate: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def judge(params, arguments) -> int:
    from gantrack.gate import sources
    from gantrack.gate.decision import decision_document
    from gantrack.gate.report import format_report
    from gantrack.gate.rules import GateRule, decide
    from gantrack.io import atomic_path, save_json

    rule = GateRule.from_config(params.gate)
    if arguments.base_champion is not None:
        model = arguments.base_champion or registered_model_name(params, str(arguments.params))
        base = sources.champion_seed_set(_client(), model, rule.network)
    else:
        base = sources.read_base(arguments.base or params.paths.gate_base, arguments.base_label)
    if arguments.candidate is not None:
        candidate = sources.read_candidates(arguments.candidate, rule.network)
    else:
        candidate = sources.checkout_seed_set(params, Path.cwd())
    expected = params.gate.seeds if arguments.expect_seeds else ()
    result = decide(base, candidate, rule, expected)
    report = format_report(result, sources.read_rates(params.paths.gate_power))
    print(report, end="")
    if arguments.report is not None:
        with atomic_path(arguments.report) as temporary:
            temporary.write_text(report, encoding="utf-8")
    if arguments.decision is not None:
        client = None if arguments.no_record else _client_or_none()
        model = sources.candidate_model(client, params, candidate)
        document = decision_document(result, model, candidate.commit)
        save_json(document, arguments.decision)
        if model is not None and client is not None:
            sources.record_digest(client, model, document)
    return result.exit_code


def export_seed(params, arguments) -> int:
    from gantrack.gate import sources
    from gantrack.gate.seed_sets import write_seed_set

    seed_set = sources.checkout_seed_set(params, Path.cwd())
    write_seed_set(seed_set, arguments.export_seed)
    (seed,) = seed_set.seeds
    print(f"wrote {arguments.export_seed}: seed {seed.seed}, run {seed.run_id or 'unknown'}")
    return EXIT_PASS


def explain(params) -> int:
    from gantrack.gate import sources
    from gantrack.gate.report import explain as explain_text
    from gantrack.gate.rules import GateRule

    rates = sources.read_rates(params.paths.gate_power)
    print(explain_text(GateRule.from_config(params.gate), params.gate.seeds, rates), end="")
    return EXIT_PASS


def measure(params, arguments) -> int:
    from gantrack.gate import sources
    from gantrack.gate.power import measure_all
    from gantrack.gate.report import power_table
    from gantrack.gate.rules import GateRule

    base = sources.read_base(arguments.base or params.paths.gate_base, arguments.base_label)
    rates = measure_all(base, GateRule.from_config(params.gate))
    sources.write_rates(rates, base, params.paths.gate_power)
    print(power_table(rates, highlight=len(params.gate.seeds)))
    print(f"wrote {params.paths.gate_power}")
    return EXIT_PASS


def _client():
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_context().tracking_uri)


def _client_or_none():
    """The store's client, or None when no tracking server answers (local sqlite always does)."""
    from gantrack.tracking.store import TrackingStoreError, check_tracking_server

    try:
        check_tracking_server(tracking_context().tracking_uri)
    except TrackingStoreError as error:
        print(f"gantrack gate: warning: {error}; the decision is not recorded", file=sys.stderr)
        return None
    return _client()
