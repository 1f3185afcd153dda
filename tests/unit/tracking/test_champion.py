"""Champion promotion against a real MLflow store (sqlite in tmp_path) with real versions."""

import json

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from gantrack.__main__ import main as gantrack_main
from gantrack.tracking.registry import (
    CHAMPION_ALIAS,
    RegistryError,
    champion_metrics,
    check_commit,
    model_aliases,
    nest_metrics,
    promote,
    resolve_version,
)

PASS = {"verdict": "pass"}
REGRESSION = {"verdict": "regression"}


class Doubler(mlflow.pyfunc.PythonModel):
    """The smallest model worth registering: no framework, no weights."""

    def predict(self, context, model_input: list[float], params=None) -> list[float]:
        return [value * 2 for value in model_input]


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment_name="gantrack")
    yield uri
    mlflow.set_tracking_uri(None)


@pytest.fixture
def client(tracking_uri):
    return MlflowClient(tracking_uri=tracking_uri)


def register(model_name, fid, commit="a" * 40, candidate=True) -> str:
    """A pipeline-like run: metrics logged flat with dots, a model registered from it."""
    with mlflow.start_run():
        mlflow.set_tag("mlflow.source.git.commit", commit)
        mlflow.log_metrics({"evaluator.fid": fid, "evaluator.classes_covered": 10.0, "x": 1.0})
        info = mlflow.pyfunc.log_model(
            name="generator",
            python_model=Doubler(),
            pip_requirements=[],
            registered_model_name=model_name,
        )
    version = str(info.registered_model_version)
    if candidate:
        MlflowClient().set_registered_model_alias(model_name, "candidate", version)
    return version


def test_pass_moves_champion_and_fail_leaves_it(client):
    name = "gen-pass-fail"
    first = register(name, fid=30.0)
    promotion = promote(client, name, first, PASS)
    assert promotion.promoted and promotion.previous_champion is None
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == first

    second = register(name, fid=45.0)
    promotion = promote(client, name, second, REGRESSION)
    assert not promotion.promoted
    assert "'regression', not 'pass': 'champion' stays at version 1" in promotion.reason
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == first

    third = register(name, fid=25.0)
    promotion = promote(client, name, third, PASS)
    assert promotion.promoted and promotion.previous_champion == first
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == third
    # Only the alias moved: candidate still marks the newest version.
    assert model_aliases(client, name) == {"champion": third, "candidate": third}


def test_missing_model_or_version_is_an_error_not_a_no_op(client):
    with pytest.raises(RegistryError, match="registered model 'no-such-model' not found"):
        promote(client, "no-such-model", "1", PASS)
    name = "gen-missing-version"
    register(name, fid=30.0)
    with pytest.raises(RegistryError, match="version 7 not found"):
        promote(client, name, "7", PASS)
    with pytest.raises(RegistryError, match="has no alias 'staging'"):
        resolve_version(client, name, alias="staging")


def test_champion_metrics_are_the_source_runs_nested_by_network(client):
    name = "gen-metrics"
    version = register(name, fid=28.5)
    assert champion_metrics(client, name) is None  # no champion yet
    promote(client, name, version, PASS)
    assert champion_metrics(client, name) == {"evaluator": {"fid": 28.5, "classes_covered": 10.0}}


def test_nest_metrics_splits_at_the_first_dot():
    flat = {"evaluator.fid": 1.0, "inception_v3.fid_ci_low": 2.0, "eval.kid.x": 3.0, "g_loss": 4}
    assert nest_metrics(flat) == {
        "evaluator": {"fid": 1.0},
        "inception_v3": {"fid_ci_low": 2.0},
        "eval": {"kid.x": 3.0},
    }


def test_a_stale_candidate_from_another_commit_is_refused(client):
    name = "gen-stale"
    version = register(name, fid=30.0, commit="b" * 40)
    model_version = resolve_version(client, name, version)
    check_commit(client, model_version, "b" * 40)
    with pytest.raises(RegistryError, match=r"trained from commit b{40}, not c{40}"):
        check_commit(client, model_version, "c" * 40)


def test_gate_against_the_champion_then_promote_commands(
    client, tracking_uri, tmp_path, monkeypatch, raw_params, capsys
):
    """The CI sequence on main: gate --base-champion, then promote reads its decision."""
    import yaml

    name = "gen-commands"
    champion = register(name, fid=30.0)
    promote(client, name, champion, PASS)
    candidate = register(name, fid=40.0)  # +33%: a regression
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    raw_params["gate"].update(max_fid_increase=0.10)  # not the default's: +33% must fail
    raw_params["gate"].update(max_kid_increase=None, max_inception_score_decrease=None)
    raw_params["gate"].update(max_precision_decrease=None, max_recall_decrease=None)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw_params))
    decision = tmp_path / "decision.json"

    def gate_then_promote(current_fid):
        current = tmp_path / "metrics.json"
        current.write_text(json.dumps({"evaluator": {"fid": current_fid, "classes_covered": 10}}))
        gate_code = gantrack_main(
            [
                "gate",
                "--params",
                str(params),
                "--base-champion",
                name,
                "--current",
                str(current),
                "--decision",
                str(decision),
            ]
        )
        promote_code = gantrack_main(
            ["promote", "--params", str(params), "--model", name, "--decision", str(decision)]
        )
        return gate_code, promote_code, capsys.readouterr().out

    gate_code, promote_code, out = gate_then_promote(40.0)
    assert (gate_code, promote_code) == (1, 1)
    assert f"against the champion of `{name}`" in out and "`fid` rose from 30 to 40" in out
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == champion

    gate_code, promote_code, out = gate_then_promote(29.0)
    assert (gate_code, promote_code) == (0, 0)
    assert f"moved from version {champion} to version {candidate}" in out
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == candidate


def test_promote_command_missing_decision_or_model(
    client, tracking_uri, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    arguments = ["promote", "--model", "gen-commands-absent"]
    assert gantrack_main([*arguments, "--decision", str(tmp_path / "absent.json")]) == 3
    assert "gate decision unreadable" in capsys.readouterr().err
    decision = tmp_path / "decision.json"
    decision.write_text(json.dumps(PASS))
    assert gantrack_main([*arguments, "--decision", str(decision)]) == 3
    assert "registered model 'gen-commands-absent' not found" in capsys.readouterr().err
