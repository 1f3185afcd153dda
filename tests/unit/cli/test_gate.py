"""The quality gate: pure comparison on dicts, and the command's exit codes and report."""

import json

import pytest
import yaml

from gantrack.__main__ import main as gantrack_main
from gantrack.cli.gate_rules import (
    EXIT_MISSING,
    EXIT_PASS,
    EXIT_REGRESSION,
    EXIT_USAGE,
    compare_metrics,
    format_report,
    rules_from_config,
)
from gantrack.config import ConfigError, GateConfig, parse_params

BASE = {
    "evaluator": {
        "fid": 30.0,
        "fid_ci_low": 29.0,
        "fid_ci_high": 31.0,
        "kid": 0.020,
        "kid_std": 0.001,
        "inception_score": 5.0,
        "inception_score_std": 0.1,
        "precision": 0.70,
        "recall": 0.60,
        "classes_covered": 10,
    }
}
GATE = {
    "network": "evaluator",
    "max_fid_increase": 0.10,
    "max_kid_increase": 0.20,
    "max_inception_score_decrease": 0.10,
    "max_precision_decrease": 0.05,
    "max_recall_decrease": 0.05,
    "max_classes_covered_decrease": 0,
}


def changed(**values):
    return {"evaluator": {**BASE["evaluator"], **values}}


def gate(base, current, allow_missing_base=False, **tolerances):
    config = GateConfig.model_validate({**GATE, **tolerances})
    return compare_metrics(
        base,
        current,
        rules_from_config(config),
        config.network,
        allow_missing_base=allow_missing_base,
    )


def outcomes(result):
    return {item.metric: item.outcome for item in result.comparisons}


# --- pure comparison -------------------------------------------------------------------


def test_identical_metrics_pass_unchanged():
    result = gate(BASE, BASE)
    assert result.verdict == "pass" and result.exit_code == EXIT_PASS
    assert set(outcomes(result).values()) == {"unchanged"}


def test_improvement_passes():
    result = gate(BASE, changed(fid=20.0, kid=0.01, inception_score=6.0, classes_covered=10))
    assert result.verdict == "pass"
    assert (
        outcomes(result)["fid"] == "improved" and outcomes(result)["inception_score"] == "improved"
    )


def test_fid_rise_within_relative_tolerance_passes():
    # 30 -> 32.9 is +9.7%, under the 10% allowed.
    result = gate(BASE, changed(fid=32.9))
    assert result.verdict == "pass" and outcomes(result)["fid"] == "within"


def test_fid_rise_exactly_at_tolerance_passes():
    # 30 * 1.1 = 33 in floating point is 33.000000000000004; the boundary still passes.
    result = gate(BASE, changed(fid=30.0 * 1.1))
    assert outcomes(result)["fid"] == "within"


def test_fid_rise_over_tolerance_is_a_regression():
    result = gate(BASE, changed(fid=33.3))  # +11%
    assert result.verdict == "regression" and result.exit_code == EXIT_REGRESSION
    assert outcomes(result)["fid"] == "regression"
    (fid,) = [item for item in result.comparisons if item.metric == "fid"]
    assert fid.change == pytest.approx(3.3) and fid.relative_change == pytest.approx(0.11)


def test_relative_tolerance_scales_with_the_base():
    # A rise of 3 is 10% of 30 (passes) but 15% of 20 (fails): the rule is relative.
    assert gate(BASE, changed(fid=33.0)).verdict == "pass"
    assert gate(changed(fid=20.0), changed(fid=23.0)).verdict == "regression"


def test_absolute_rules_for_precision_and_classes():
    assert gate(BASE, changed(precision=0.66)).verdict == "pass"  # -0.04 <= 0.05
    assert outcomes(gate(BASE, changed(precision=0.64)))["precision"] == "regression"
    assert outcomes(gate(BASE, changed(classes_covered=9)))["classes_covered"] == "regression"
    assert gate(BASE, changed(classes_covered=9), max_classes_covered_decrease=1).verdict == "pass"


def test_null_tolerance_reports_but_does_not_check():
    result = gate(BASE, changed(recall=0.1), max_recall_decrease=None)
    assert result.verdict == "pass" and outcomes(result)["recall"] == "not checked"


def test_missing_base_is_missing_data():
    result = gate(None, BASE)
    assert result.verdict == "missing" and result.exit_code == EXIT_MISSING
    assert any("no metrics for base" in problem for problem in result.problems)


def test_missing_base_allowed_passes_with_a_notice():
    result = gate(None, BASE, allow_missing_base=True)
    assert result.verdict == "pass" and result.notices and not result.problems


def test_missing_current_metric_is_missing_data_even_when_base_may_be_missing():
    current = changed()
    del current["evaluator"]["kid"]
    result = gate(BASE, current, allow_missing_base=True)
    assert result.verdict == "missing"
    assert result.problems == ("kid: this run: no 'kid'",)


def test_nan_and_wrong_network_are_missing_data():
    assert gate(BASE, changed(fid=float("nan"))).problems == ("fid: this run: 'fid' is NaN",)
    result = gate({"inception_v3": BASE["evaluator"]}, BASE)
    assert (
        "base has no metrics for network 'evaluator' (networks found: inception_v3)"
        in (result.problems[0])
    )


def test_regression_wins_over_missing_data():
    current = changed(fid=60.0)
    del current["evaluator"]["recall"]
    assert gate(BASE, current).verdict == "regression"


def test_relative_rule_from_a_base_of_zero():
    result = gate(changed(kid=0.0), changed(kid=0.001))
    assert outcomes(result)["kid"] == "regression"
    assert "`kid` rose from 0 to 0.001 (+0.001); a relative tolerance allows no change from 0" in (
        format_report(result)
    )
    assert outcomes(gate(changed(kid=0.0), changed(kid=-0.001)))["kid"] == "improved"


def test_report_names_the_metric_and_the_change():
    report = format_report(gate(BASE, changed(fid=36.0)))
    assert report.startswith("❌ **Gate: regression** (exit 1)")
    assert "| `fid` | 30 [29, 31] | 36 [29, 31] | +6 | +20.0% | may rise ≤ 10.0% |" in report
    assert "`fid` rose from 30 to 36 (+6, +20.0%); at most 10.0% higher is allowed" in report
    # Every rule has a row, checked or not.
    assert report.count("\n| `") == len(rules_from_config(GateConfig.model_validate(GATE)))


def test_gate_config_validation(raw_params):
    raw_params["gate"]["max_fid_increase"] = -0.1
    with pytest.raises(ConfigError, match=r"gate\.max_fid_increase"):
        parse_params(raw_params)
    raw_params["gate"]["max_fid_increase"] = 0.1
    raw_params["gate"]["network"] = "inception_v3"
    raw_params["evaluate"]["inception_networks"] = []
    with pytest.raises(ConfigError, match="max_classes_covered_decrease needs network"):
        parse_params(raw_params)
    raw_params["gate"]["max_classes_covered_decrease"] = None
    with pytest.raises(ConfigError, match=r"gate\.network is 'inception_v3' but evaluate scores"):
        parse_params(raw_params)
    raw_params["evaluate"]["inception_networks"] = ["inception_v3"]
    assert parse_params(raw_params).gate.network == "inception_v3"


def test_gate_keys_are_required_and_strict(raw_params):
    del raw_params["gate"]["max_kid_increase"]
    raw_params["gate"]["max_classes_covered_decrease"] = 0.5
    with pytest.raises(ConfigError) as caught:
        parse_params(raw_params)
    assert "gate.max_kid_increase: required key is missing" in str(caught.value)
    assert "gate.max_classes_covered_decrease = 0.5" in str(caught.value)


# --- the command: files in, exit code and report out -----------------------------------


@pytest.fixture
def workspace(tmp_path, raw_params):
    """A directory with params.yaml (the repository's gate) and a writer for metrics files."""
    raw_params["gate"] = GATE
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))

    def write(name, metrics):
        path = tmp_path / name
        path.write_text(json.dumps(metrics))
        return path

    return tmp_path, write


def run_gate(workspace_dir, *arguments):
    return gantrack_main(["gate", "--params", str(workspace_dir / "params.yaml"), *arguments])


def test_command_improvement_exits_0(workspace, capsys):
    directory, write = workspace
    base, current = write("base.json", BASE), write("current.json", changed(fid=25.0))
    report = directory / "out" / "gate.md"
    decision = directory / "decision.json"
    code = run_gate(
        directory,
        *("--base", str(base), "--current", str(current)),
        *("--report", str(report), "--decision", str(decision)),
    )
    assert code == EXIT_PASS == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith("✅ **Gate: pass** (exit 0)") and "| `fid` | 30" in stdout
    assert "-16.7%" in stdout and "| better |" in stdout
    assert report.read_text() == stdout
    assert json.loads(decision.read_text())["verdict"] == "pass"


def test_command_regression_over_threshold_exits_1(workspace, capsys):
    directory, write = workspace
    base, current = write("base.json", BASE), write("current.json", changed(fid=45.0))
    code = run_gate(directory, "--base", str(base), "--current", str(current))
    assert code == EXIT_REGRESSION == 1
    stdout = capsys.readouterr().out
    assert "`fid` rose from 30 to 45 (+15, +50.0%); at most 10.0% higher is allowed" in stdout


def test_command_within_threshold_exits_0(workspace, capsys):
    directory, write = workspace
    base, current = write("base.json", BASE), write("current.json", changed(fid=32.0, kid=0.023))
    assert run_gate(directory, "--base", str(base), "--current", str(current)) == EXIT_PASS
    stdout = capsys.readouterr().out
    assert "+6.7%" in stdout and "+15.0%" in stdout and "worse, within tolerance" in stdout


def test_command_missing_base_exits_3(workspace, capsys):
    directory, write = workspace
    current = write("current.json", BASE)
    absent = directory / "no-base.json"
    code = run_gate(directory, "--base", str(absent), "--current", str(current))
    assert code == EXIT_MISSING == 3
    assert f"no metrics for `{absent}`: {absent} not found" in capsys.readouterr().out
    # The first run on a branch: allowed explicitly, it passes.
    arguments = ("--base", str(absent), "--current", str(current), "--allow-missing-base")
    assert run_gate(directory, *arguments) == EXIT_PASS


def test_command_missing_current_exits_3(workspace, capsys):
    directory, write = workspace
    base = write("base.json", BASE)
    absent = directory / "reports" / "metrics.json"
    arguments = ("--base", str(base), "--current", str(absent), "--allow-missing-base")
    assert run_gate(directory, *arguments) == EXIT_MISSING
    assert f"no metrics for this run: {absent} not found" in capsys.readouterr().out
    broken = write("broken.json", "not json")
    broken.write_text("{")
    assert run_gate(directory, "--base", str(base), "--current", str(broken)) == EXIT_MISSING
    assert "is not readable JSON" in capsys.readouterr().out


def test_command_usage_errors_exit_2(workspace, capsys):
    directory, write = workspace
    base = write("base.json", BASE)
    (directory / "params.yaml").write_text("gate: {}\n")
    assert run_gate(directory, "--base", str(base)) == EXIT_USAGE
    assert "gantrack gate: error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:  # neither --base nor --base-champion
        run_gate(directory)
    assert caught.value.code == EXIT_USAGE


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        gantrack_main(["gate", "--help"])
    text = capsys.readouterr().out
    for line in ("0  pass", "1  regression", "2  usage error", "3  missing data"):
        assert line in text
