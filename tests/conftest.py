"""Shared fixtures. Heavy networks are swapped for tiny data in the fast tests."""

import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
# train.xla auto caches its probe per machine under XDG_CACHE_HOME: the tests' own folder,
# so they neither read nor write the user's decisions.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="gantrack-test-cache-")

import pytest
import yaml
from support.services import needs_postgres

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def raw_params() -> dict:
    """The repository's params.yaml as a plain dict, to modify in a test."""
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


@pytest.fixture
def params(raw_params):
    from gantrack.config import parse_params

    return parse_params(raw_params)


@pytest.fixture(scope="session")
def pipeline_repo(tmp_path_factory, repo_root):
    """A fresh git + DVC repository with the project's pipeline and tiny params, reproduced.

    Session-wide: the pipeline tests inspect it, and the local workflow test restores its
    stages from this repository's run cache instead of training a second time.
    """
    from support.pipeline_repo import TINY, copy_project, edit_params, init_and_repro

    repo = tmp_path_factory.mktemp("repo")
    copy_project(repo_root, repo)
    edit_params(repo, TINY)
    return repo, init_and_repro(repo).stdout


@pytest.fixture
def world_readable_dir():
    """PostgreSQL runs as the 'postgres' account when we are root: pytest's 0700 tmp won't do."""
    folder = Path(tempfile.mkdtemp(prefix="gantrack-services-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pipeline_copy(pipeline_repo, tmp_path) -> Path:
    """A copy of the reproduced repository (git, DVC cache, MLflow store) for a test that
    runs DVC or edits params in it: the session's repository stays as reproduced."""
    repo = tmp_path / "pipeline"
    shutil.copytree(pipeline_repo[0], repo, symlinks=True)
    return repo


@pytest.fixture(
    params=[
        "sqlite",
        # About 1.5 min more: the cluster's start-up and a second, reusing execution.
        pytest.param("postgresql", marks=[pytest.mark.slow, needs_postgres]),
    ]
)
def tracking_server(request, world_readable_dir):
    """A real `mlflow server` with proxied artifacts on a free loopback port, its store a
    sqlite file or a PostgreSQL cluster of its own; all stopped by process group id."""
    from support.services import TrackingServer, stop_services

    from gantrack.tracking.services import free_port, start_mlflow_server, start_postgres

    services = []
    try:
        store_environment = {}
        if request.param == "postgresql":
            postgres_folder = world_readable_dir / "postgres"
            services.append(start_postgres(postgres_folder, free_port(), "test-password"))
            store_uri, store_environment = services[0].url, services[0].client_environment
        else:
            store_uri = f"sqlite:///{world_readable_dir / 'mlflow.db'}"
        artifacts = world_readable_dir / "artifacts"
        log = world_readable_dir / "mlflow-server.log"
        server = start_mlflow_server(
            store_uri, artifacts, free_port(), log, store_environment=store_environment
        )
        services.append(server)
        yield TrackingServer(
            request.param, server.url, store_uri, artifacts, services, log, store_environment
        )
    finally:
        stop_services(services)  # again after the test's own stop: a no-op then
