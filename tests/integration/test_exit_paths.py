"""Exit paths as a user meets them: real processes, their exit codes and what they leave."""

import json
import math
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

METRICS = {
    "evaluator": {
        "fid": 30.0,
        "kid": 0.02,
        "inception_score": 5.0,
        "precision": 0.7,
        "recall": 0.6,
        "classes_covered": 10,
    }
}


def gate(directory: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "gantrack", "gate", *arguments]
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=120)


@pytest.fixture
def gate_dir(tmp_path) -> Path:
    shutil.copy(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "base.json").write_text(json.dumps(METRICS))
    return tmp_path


def test_gate_process_passes_identical_metrics(gate_dir):
    result = gate(gate_dir, "--base", "base.json", "--current", "base.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_gate_process_exits_2_on_bad_arguments_or_params(gate_dir):
    no_base = gate(gate_dir, "--current", "base.json")  # neither --base nor --base-champion
    assert no_base.returncode == 2 and "--base" in no_base.stderr
    params = yaml.safe_load((gate_dir / "params.yaml").read_text())
    params["gate"]["max_fid_increse"] = 0.1  # misspelt
    (gate_dir / "params.yaml").write_text(yaml.safe_dump(params))
    bad_params = gate(gate_dir, "--base", "base.json", "--current", "base.json")
    assert bad_params.returncode == 2 and "max_fid_increse" in bad_params.stderr
    assert "Traceback" not in bad_params.stderr


@pytest.mark.parametrize("defect", ["unreadable", "nan", "missing network"])
def test_gate_process_exits_3_on_missing_data(gate_dir, defect):
    current = gate_dir / "current.json"
    if defect == "unreadable":
        current.write_text("{not json")
    elif defect == "nan":
        # json.dumps writes NaN, as Python's json does for a NaN metric.
        current.write_text(json.dumps({"evaluator": {**METRICS["evaluator"], "fid": math.nan}}))
    else:
        current.write_text(json.dumps({"inception_v3": METRICS["evaluator"]}))
    result = gate(gate_dir, "--base", "base.json", "--current", "current.json")
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
