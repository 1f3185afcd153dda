"""A copy of the project in a temporary folder, and commands run in it as a user would.

Each copy has its own ``src`` (on ``PYTHONPATH``) and its own MLflow store, so a test sees
the code and runs of its own copy only.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TRACKED = [
    "pipeline",
    "src",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    "uv.lock",
    ".dvc/config",
    ".dvc/.gitignore",
    ".gitignore",
    ".dvcignore",
]
TINY = {
    "data": {"max_images_per_class": 20},
    "evaluator": {"epochs": 1, "batch_size": 32},
    "train": {
        # Unconditional: these tests check that path in full (both logged models); the
        # conditional default's own checks are test_conditional, test_checkpoint and the
        # slow default-quality test.
        "conditional": False,
        "epochs": 2,
        "steps": None,
        "batch_size": 16,
        "grid_rows": 2,
        "eval_every": 1,
        "eval_num_images": 50,
        "eval_kid_subsets": 2,
    },
    "sample": {"num_images": 100, "grid_rows": 3},
    "feature_networks": {"batch_size": 50},
    "evaluate": {"splits": 2, "fid_bootstrap_resamples": 10, "kid_subsets": 5},
    "gate": {"seeds": [42, 43]},  # k = 2: CI's k-seed path on tiny params
}


def environment(cwd: Path, tracking_uri: str | None = None) -> dict:
    """The environment of a command run in the copy ``cwd``: its own src, its own MLflow store."""
    environ = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(cwd / "src"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    environ.pop("MLFLOW_TRACKING_URI", None)
    if tracking_uri:
        environ["MLFLOW_TRACKING_URI"] = tracking_uri
    return environ


def run(command, cwd, check=True, tracking_uri=None, environ_changes=None):
    """``command`` in the copy ``cwd`` (see :func:`environment`), plus ``environ_changes``."""
    env = {**environment(cwd, tracking_uri), **(environ_changes or {})}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} failed:\n{result.stdout}\n{result.stderr}")
    return result


def edit_params(repo: Path, changes: dict) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in changes.items():
        params[section].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


# What `make` builds into a checkout (.dvc/config names the template): a copy has it as a
# clone that ran the set-up would.
BUILT = [".dvc/plots/offline.html"]


def copy_project(repo_root: Path, repo: Path) -> None:
    for name in TRACKED + [name for name in BUILT if (repo_root / name).exists()]:
        source, target = repo_root / name, repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


def init_and_repro(repo: Path, *targets: str, check=True) -> subprocess.CompletedProcess:
    """``git init`` + ``dvc repro [targets]`` in ``repo`` (every stage without targets)."""
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
    return run([str(BIN / "dvc"), "repro", *targets], repo, check=check)


def record_of(repo: Path, stage: str) -> dict:
    return json.loads((repo / "reports/runs" / f"{stage}.json").read_text())


def mlflow_runs(repo: Path):
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    return mlflow.search_runs(
        experiment_names=["gantrack"], output_format="list", order_by=["attributes.start_time ASC"]
    )
