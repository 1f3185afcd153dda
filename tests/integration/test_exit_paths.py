"""Exit paths as a user meets them: real processes, their exit codes and what they leave."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from support.pipeline_repo import (
    BIN,
    REPO_ROOT,
    TINY,
    copy_project,
    edit_params,
    run,
)

from gantrack.tracking.services import free_port

METRICS = {"fid": 30.0, "kid": 0.02, "inception_score": 5.0, "classes_covered": 10}


def seed_set(seeds: dict[int, float], network: str = "evaluator") -> dict:
    """A seed-set document (the format `gate --export-seed` writes): FID per seed."""
    return {
        "format": "gantrack-seed-set/1",
        "network": network,
        "seeds": [
            {"seed": seed, "metrics": {**METRICS, "fid": fid}} for seed, fid in seeds.items()
        ],
    }


def gate(directory: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "gantrack", "gate", *arguments, "--no-record"]
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=120)


@pytest.fixture
def gate_dir(tmp_path) -> Path:
    shutil.copy(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    base = seed_set({seed: 30.0 + seed for seed in range(1, 11)})  # ten seeds, FID 31 to 40
    (tmp_path / "base.json").write_text(json.dumps(base))
    return tmp_path


def write_candidate(directory: Path, document) -> str:
    path = directory / "candidate.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path.name


def test_gate_process_passes_a_candidate_among_the_base(gate_dir):
    candidate = write_candidate(gate_dir, seed_set({42: 33.0, 43: 35.5, 44: 38.0}))
    result = gate(gate_dir, "--base", "base.json", "--candidate", candidate)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gate_process_exits_1_on_a_worse_candidate(gate_dir):
    candidate = write_candidate(gate_dir, seed_set({42: 45.0, 43: 47.0, 44: 50.0}))
    result = gate(gate_dir, "--base", "base.json", "--candidate", candidate)
    assert result.returncode == 1, result.stdout + result.stderr


def test_gate_process_exits_2_on_bad_arguments_or_params(gate_dir):
    candidate = write_candidate(gate_dir, seed_set({42: 33.0}))
    both = gate(gate_dir, "--base", "base.json", "--base-champion", "--candidate", candidate)
    assert both.returncode == 2 and "--base" in both.stderr
    params = yaml.safe_load((gate_dir / "params.yaml").read_text())
    params["gate"]["max_fid_increse"] = 0.1  # misspelt
    (gate_dir / "params.yaml").write_text(yaml.safe_dump(params))
    bad_params = gate(gate_dir, "--base", "base.json", "--candidate", candidate)
    assert bad_params.returncode == 2 and "max_fid_increse" in bad_params.stderr
    assert "Traceback" not in bad_params.stderr


@pytest.mark.parametrize("defect", ["unreadable", "not a seed set", "other network", "few base"])
def test_gate_process_exits_3_on_bad_input(gate_dir, defect):
    candidate = seed_set({42: 33.0})
    if defect == "unreadable":
        candidate = "{not json"
    elif defect == "not a seed set":
        candidate = {"evaluator": METRICS}  # a metrics.json, not a seed set
    elif defect == "other network":
        candidate = seed_set({42: 33.0}, network="inception_v3")
    else:
        (gate_dir / "base.json").write_text(json.dumps(seed_set({1: 31.0, 2: 32.0})))
    result = gate(
        gate_dir, "--base", "base.json", "--candidate", write_candidate(gate_dir, candidate)
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_repro_against_an_unreachable_server_stops_in_seconds_and_writes_nothing(tmp_path):
    copy_project(REPO_ROOT, tmp_path)
    edit_params(tmp_path, TINY)
    run(["git", "init", "-q"], tmp_path)
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    result = run([str(BIN / "dvc"), "repro", "prepare"], tmp_path, check=False, tracking_uri=uri)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert f"MLflow tracking server {uri} is unreachable" in result.stderr + result.stdout
    # The server check (5 s) plus starting Python and DVC; MLflow's own retries take minutes.
    assert elapsed < 60, elapsed
    assert not (tmp_path / "data/prepared/train.npz").exists()
    assert not (tmp_path / "reports/runs/prepare.json").exists()
    lock = tmp_path / "dvc.lock"  # check_params ran and passed; prepare is not recorded
    assert "prepare:" not in (lock.read_text() if lock.exists() else "")


def test_evaluate_without_inception_weights_fails_cleanly(pipeline_copy, tmp_path):
    """No partial metrics.json, the MLflow run FAILED, one message naming the file."""
    repo = pipeline_copy
    edit_params(repo, {"evaluate": {"inception_networks": ["inception_v3"]}})
    before = (repo / "reports/metrics.json").read_bytes()
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    runs_before = {
        run.info.run_id
        for run in mlflow.search_runs(experiment_names=["gantrack"], output_format="list")
    }
    empty_keras_home = tmp_path / "keras_home"
    empty_keras_home.mkdir()
    command = [sys.executable, "pipeline/evaluate.py"]
    # No weights anywhere, and the Keras download refused at once (a closed local port as
    # the proxy), whether or not this machine reaches the internet.
    environ_changes = {"KERAS_HOME": str(empty_keras_home), "NO_PROXY": "", "no_proxy": ""}
    environ_changes |= {name: "http://127.0.0.1:9" for name in ("HTTPS_PROXY", "https_proxy")}
    result = run(command, repo, check=False, environ_changes=environ_changes)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels.h5" in result.stderr
    assert "Traceback" not in result.stderr
    assert (repo / "reports/metrics.json").read_bytes() == before
    new = [
        run
        for run in mlflow.search_runs(experiment_names=["gantrack"], output_format="list")
        if run.info.run_id not in runs_before
    ]
    assert [run.info.status for run in new] == ["FAILED"]
