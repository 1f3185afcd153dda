"""The real `dvc repro` in a temporary copy of the repository, with tiny params."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

BIN = Path(sys.executable).parent
TRACKED = [
    "pipeline",
    "src",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    ".dvc/config",
    ".dvc/.gitignore",
    ".gitignore",
]
TINY = {
    "data": {"max_images_per_class": 20},
    "evaluator": {"epochs": 1, "batch_size": 32},
    "train": {
        "epochs": 2,
        "batch_size": 16,
        "grid_rows": 2,
        "eval_every": 1,
        "eval_num_images": 50,
        "eval_kid_subsets": 2,
    },
    "sample": {"num_images": 100, "grid_rows": 3},
    "networks": {"batch_size": 50},
    "evaluate": {"splits": 2, "fid_bootstrap_resamples": 10, "kid_subsets": 5},
}


def run(command, cwd, check=True):
    environ = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(cwd / "src"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    environ.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} failed:\n{result.stdout}\n{result.stderr}")
    return result


def edit_params(repo: Path, changes: dict) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in changes.items():
        params[section].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def copy_project(repo_root: Path, repo: Path) -> None:
    for name in TRACKED:
        source, target = repo_root / name, repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


def init_and_repro(repo: Path) -> subprocess.CompletedProcess:
    run(["git", "init", "-q"], repo)
    run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "init",
            "--allow-empty",
        ],
        repo,
    )
    run(["git", "add", "-A"], repo)
    return run([str(BIN / "dvc"), "repro"], repo)


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory, repo_root):
    """A fresh git + DVC repository with the project's pipeline and tiny params, reproduced."""
    repo = tmp_path_factory.mktemp("repo")
    copy_project(repo_root, repo)
    edit_params(repo, TINY)
    return repo, init_and_repro(repo).stdout


def mlflow_runs(repo: Path):
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    return mlflow.search_runs(
        experiment_names=["gantrack"], output_format="list", order_by=["attributes.start_time ASC"]
    )


def test_repro_writes_every_output(pipeline_repo):
    repo, _ = pipeline_repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    paths = {name: repo / path for name, path in params["paths"].items()}
    for path in paths.values():
        assert path.exists(), f"{path} was not written"
    for name in ("last.keras", "best.keras"):
        assert (paths["generator"] / name).is_file()
    assert (paths["reference_dir"] / "evaluator.npz").is_file()
    eval_lines = paths["train_eval_log"].read_text().splitlines()
    assert eval_lines[0] == "epoch,fid,kid,kid_std" and len(eval_lines) == 3
    card = json.loads(paths["data_card"].read_text())
    assert card["train"]["num_images"] == 160 and card["test"]["num_images"] == 40
    with np.load(paths["samples"]) as samples:
        assert samples["images"].shape == (100, 28, 28, 1)
    log_lines = paths["train_log"].read_text().splitlines()
    assert log_lines[0].startswith("epoch,") and len(log_lines) == 3
    metrics = json.loads(paths["metrics"].read_text())["evaluator"]
    numeric = [
        "fid",
        "fid_ci_low",
        "fid_ci_high",
        "inception_score",
        "inception_score_std",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "density",
        "coverage",
        "num_images",
        "real_inception_score",
        "fid_train_test",
        "classes_covered",
        "class_kl",
    ]
    for key in numeric:
        assert np.isfinite(metrics[key]), key
    assert metrics["num_images"] == 100 and len(metrics["samples_per_class"]) == 10
    assert "comparable only within" in metrics["network"]
    assert 0.0 <= json.loads(paths["evaluator_report"].read_text())["test_accuracy"] <= 1.0


def test_one_complete_mlflow_run(pipeline_repo):
    repo, _ = pipeline_repo
    (run_info,) = mlflow_runs(repo)
    assert run_info.info.status == "FINISHED"
    tags, run_id = run_info.data.tags, run_info.info.run_id
    assert tags["gantrack.stages"] == (
        "prepare,train_evaluator,reference@evaluator,train,sample,evaluate"
    )
    assert len(tags["mlflow.source.git.commit"]) == 40 and tags["gantrack.dataset"] == "mnist_5k"
    assert run_info.data.params["train.epochs"] == "2"
    assert run_info.data.params["paths.metrics"] == "reports/metrics.json"
    client = MlflowClient()
    assert [m.step for m in client.get_metric_history(run_id, "g_loss")] == [1, 2]
    assert [m.step for m in client.get_metric_history(run_id, "eval.fid")] == [1, 2]
    assert "best_epoch" in run_info.data.metrics and "evaluator.kid" in run_info.data.metrics
    assert "evaluator.fid" in run_info.data.metrics
    assert "evaluator.test_accuracy" in run_info.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"metrics.json", "data_card.json", "train_log.csv", "samples.png"} <= artifacts
    grids = {a.path for a in client.list_artifacts(run_id, "grids")}
    assert grids == {"grids/epoch_001.png", "grids/epoch_002.png"}
    (model,) = mlflow.search_logged_models(
        experiment_ids=[run_info.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
        output_format="list",
    )
    assert model.name == "generator"
    generator = mlflow.pyfunc.load_model(model.model_uri)
    images = generator.predict(np.zeros((2, 100), np.float32))
    assert images.shape == (2, 28, 28, 1) and np.abs(images).max() <= 1.0


def test_second_repro_is_a_no_op(pipeline_repo):
    repo, _ = pipeline_repo
    result = run([str(BIN / "dvc"), "repro"], repo)
    assert "Running stage" not in result.stdout
    assert len(mlflow_runs(repo)) == 1


def test_changing_an_evaluate_param_reruns_only_evaluate(pipeline_repo):
    repo, _ = pipeline_repo
    edit_params(repo, {"evaluate": {"splits": 4}})
    result = run([str(BIN / "dvc"), "repro"], repo)
    ran = {
        line.split("'")[1]
        for line in result.stdout.splitlines()
        if line.startswith("Running stage")
    }
    assert ran == {"check_params", "evaluate"}
    latest = mlflow_runs(repo)[-1]
    assert latest.data.tags["gantrack.stages"] == "evaluate"
    assert latest.data.params["evaluate.splits"] == "4"


def test_misspelt_key_fails_repro(pipeline_repo):
    repo, _ = pipeline_repo
    original = (repo / "params.yaml").read_text()
    try:
        params = yaml.safe_load(original)
        params["train"]["epoch"] = 50  # a key no stage tracks
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        result = run([str(BIN / "dvc"), "repro"], repo, check=False)
        assert result.returncode != 0
        assert "train.epoch = 50: unknown key" in result.stderr + result.stdout
    finally:
        (repo / "params.yaml").write_text(original)


@pytest.mark.slow
def test_default_params_give_a_usable_gan(tmp_path, repo_root):
    """The default `make run` pipeline (~7 minutes here): the numbers the README quotes."""
    copy_project(repo_root, tmp_path)
    init_and_repro(tmp_path)
    accuracy = json.loads((tmp_path / "reports/evaluator.json").read_text())["test_accuracy"]
    metrics = json.loads((tmp_path / "reports/metrics.json").read_text())["evaluator"]
    assert accuracy >= 0.97
    assert metrics["real_inception_score"] > 8.0  # the evaluator is confident on real digits
    assert metrics["inception_score"] > 3.0  # several classes, recognisably drawn
    assert metrics["fid"] < 40  # measured 22 with the defaults; 35 with twice the learning rate
