"""Shared fixtures. Heavy networks are swapped for tiny data in the fast tests."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

import pytest
import yaml

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
