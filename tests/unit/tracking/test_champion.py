"""Champion promotion against a real MLflow store (sqlite in tmp_path) with real versions:
only the gate's own decision for this very version moves the alias, and it keeps its
evidence."""

import json
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from gantrack.__main__ import main as gantrack_main
from gantrack.gate.decision import DIGEST_TAG, DecisionError, decision_document
from gantrack.gate.promotion import promote
from gantrack.gate.rules import GateRule, decide
from gantrack.gate.seed_sets import SeedResult, SeedSet, write_seed_set
from gantrack.gate.sources import champion_seed_set, record_digest
from gantrack.tracking.registry import (
    CHAMPION_ALIAS,
    RegistryError,
    check_commit,
    model_aliases,
    nest_metrics,
    resolve_version,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
COMMIT = "a" * 40
RULE = GateRule("evaluator", ("fid",), 0.05, min_base_seeds=10)
BASE = SeedSet(
    "evaluator",
    tuple(
        SeedResult(s, {"fid": 3.0 + s / 10, "classes_covered": 10.0}, f"b{s}") for s in range(10)
    ),
    label="the base",
)


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


def register(model_name, fid, commit=COMMIT, seed=42, params=None) -> tuple[str, str]:
    """A pipeline-like run (metrics flat with dots, params) and a version registered from
    it; (version, run id)."""
    with mlflow.start_run() as run:
        mlflow.set_tag("mlflow.source.git.commit", commit)
        mlflow.log_params({"train.seed": seed, "train.loss": "hinge", **(params or {})})
        metrics = {"fid": fid, "inception_score": 8.0, "kid": 0.4, "precision": 0.7}
        metrics |= {"recall": 0.7, "classes_covered": 10.0}
        mlflow.log_metrics({f"evaluator.{key}": value for key, value in metrics.items()})
        info = mlflow.pyfunc.log_model(
            name="generator",
            python_model=Doubler(),
            pip_requirements=[],
            registered_model_name=model_name,
        )
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(model_name, "candidate", version)
    return version, run.info.run_id


def gated(client, name, version, run_id, fids, commit=COMMIT):
    """What `gate --decision` writes for a candidate whose first seed made ``version``, with
    its digest recorded on the version as the gate does."""
    seeds = tuple(
        SeedResult(42 + i, {"fid": fid, "classes_covered": 10.0}, run_id if i == 0 else f"c{i}")
        for i, fid in enumerate(fids)
    )
    result = decide(BASE, SeedSet("evaluator", seeds, commit=commit), RULE)
    model = {"name": name, "version": version, "run_id": run_id}
    document = decision_document(result, model, commit)
    record_digest(client, model, document)
    return json.loads(json.dumps(document))  # as promote reads it from the file


def test_pass_moves_champion_with_its_evidence_and_a_regression_leaves_it(client):
    name = "gen-pass-fail"
    first, first_run = register(name, fid=3.0)
    promotion = promote(client, name, first, gated(client, name, first, first_run, [3.1, 3.2, 3.3]))
    assert promotion.promoted and promotion.previous_champion is None
    tags = client.get_model_version(name, first).tags
    assert tags["gantrack.champion.seed_runs"] == f"{first_run},c1,c2"
    assert tags["gantrack.champion.base_runs"].startswith("b0,b1,")
    assert tags["gantrack.champion.commit"] == COMMIT
    assert tags["gantrack.champion.metrics"].startswith("fid: base median 3.45")

    second, second_run = register(name, fid=9.0)
    decision = gated(client, name, second, second_run, [9.0, 9.5, 10.0])
    promotion = promote(client, name, second, decision)
    assert not promotion.promoted
    assert "'regression', not 'pass': 'champion' stays at version 1" in promotion.reason
    assert model_aliases(client, name) == {"champion": first, "candidate": second}


@pytest.mark.parametrize("forged", [{"verdict": "pass"}, [1], "pass", None])
def test_a_hand_written_decision_is_refused(client, forged):
    name = "gen-forged"
    version, _ = register(name, fid=3.0)
    with pytest.raises(DecisionError, match="not a gate decision"):
        promote(client, name, version, forged)
    assert CHAMPION_ALIAS not in model_aliases(client, name)


def test_a_decision_for_another_version_or_an_edited_one_is_refused(client):
    name = "gen-mismatch"
    first, first_run = register(name, fid=3.0)
    second, second_run = register(name, fid=3.0)
    decision = gated(client, name, first, first_run, [3.1, 3.2, 3.3])
    with pytest.raises(DecisionError, match=f"version '{first}' \\(this version's: '{second}'\\)"):
        promote(client, name, second, decision)
    other_commit = gated(client, name, second, second_run, [3.1, 3.2, 3.3], commit="c" * 40)
    with pytest.raises(DecisionError, match=r"commit 'c{40}'"):
        promote(client, name, second, other_commit)
    other_run = gated(client, name, second, first_run, [3.1, 3.2, 3.3])  # right version
    with pytest.raises(
        DecisionError, match=f"run '{first_run}' \\(this version's: '{second_run}'\\)"
    ):
        promote(client, name, second, other_run)
    edited = gated(client, name, second, second_run, [9.0, 9.5, 10.0])
    edited["verdict"] = "pass"
    with pytest.raises(DecisionError, match="differs from the one the gate recorded"):
        promote(client, name, second, edited)
    client.delete_model_version_tag(name, second, DIGEST_TAG)
    with pytest.raises(DecisionError, match="no gate digest"):
        promote(client, name, second, gated(client, name, first, first_run, [3.1]) | {
            "model": {"name": name, "version": second, "run_id": second_run}})  # fmt: skip
    assert CHAMPION_ALIAS not in model_aliases(client, name)


def test_missing_model_or_version_is_an_error_not_a_no_op(client):
    with pytest.raises(RegistryError, match="registered model 'no-such-model' not found"):
        promote(client, "no-such-model", "1", {})
    name = "gen-missing-version"
    register(name, fid=30.0)
    with pytest.raises(RegistryError, match="version 7 not found"):
        promote(client, name, "7", {})
    with pytest.raises(RegistryError, match="has no alias 'staging'"):
        resolve_version(client, name, alias="staging")


def test_the_champions_base_is_every_recorded_seed_of_its_recipe(client):
    name = "gen-champion-base"
    version, run_id = register(name, fid=3.0, params={"train.batch_size": "8"})
    for seed in (1, 2):
        register(name, fid=3.0 + seed, seed=seed, params={"train.batch_size": "8"})
    register(name, fid=5.0, seed=3, params={"train.batch_size": "16"})  # another recipe
    promote(client, name, version, gated(client, name, version, run_id, [3.1, 3.2, 3.3]))
    seeds = champion_seed_set(client, name, "evaluator")
    assert sorted(seed.seed for seed in seeds.seeds) == [1, 2, 42]
    assert "its recipe's 3 recorded seeds" in seeds.label


def test_nest_metrics_splits_at_the_first_dot():
    flat = {"evaluator.fid": 1.0, "inception_v3.fid_ci_low": 2.0, "eval.kid.x": 3.0, "g_loss": 4}
    assert nest_metrics(flat) == {
        "evaluator": {"fid": 1.0},
        "inception_v3": {"fid_ci_low": 2.0},
        "eval": {"kid.x": 3.0},
    }


def test_a_stale_candidate_from_another_commit_is_refused(client):
    name = "gen-stale"
    version, _ = register(name, fid=30.0, commit="b" * 40)
    model_version = resolve_version(client, name, version)
    check_commit(client, model_version, "b" * 40)
    with pytest.raises(RegistryError, match=r"trained from commit b{40}, not c{40}"):
        check_commit(client, model_version, "c" * 40)


def test_gate_then_promote_commands(client, tracking_uri, tmp_path, monkeypatch, capsys):
    """The CI sequence on main: gate with the base file and the candidate's seed files
    records its decision on the version; promote moves champion only with that file."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.chdir(tmp_path)
    name = "gen-commands"
    version, run_id = register(name, fid=3.0)
    base, decision = tmp_path / "base.json", tmp_path / "decision.json"
    write_seed_set(BASE, base)
    candidates = []
    for i, fid in enumerate([3.1, 3.3, 3.2]):
        path = tmp_path / f"seed-{42 + i}.json"
        seed = SeedResult(42 + i, {"fid": fid, "classes_covered": 10.0}, run_id if i == 0 else None)
        write_seed_set(SeedSet("evaluator", (seed,), commit=COMMIT), path)
        candidates.append(str(path))
    params = tmp_path / "params.yaml"
    params.write_text((REPO_ROOT / "params.yaml").read_text().replace("gantrack-generator", name))
    code = gantrack_main(
        ["gate", "--params", str(params), "--base", str(base), "--candidate", *candidates,
         "--decision", str(decision)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr()
    assert client.get_model_version(name, version).tags[DIGEST_TAG]
    promote_command = ["promote", "--params", str(params), "--model", name, "--version", version]
    assert gantrack_main([*promote_command, "--decision", str(decision)]) == 0
    assert f"to version {version}" in capsys.readouterr().out
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"verdict": "pass"}))
    assert gantrack_main([*promote_command, "--decision", str(forged)]) == 3
    assert "not a gate decision" in capsys.readouterr().err
    forged.write_text("[1]")
    assert gantrack_main([*promote_command, "--decision", str(forged)]) == 3
    assert gantrack_main([*promote_command, "--decision", str(tmp_path / "absent.json")]) == 3
    assert "unreadable" in capsys.readouterr().err
