"""The generator as MLflow models: Keras flavour, the request-table pyfunc, the registry."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient

from gantrack.gan.sampling import generate_images, latent_vectors
from gantrack.tracking.pyfunc_sampler import sample_requests
from gantrack.tracking.registry import (
    CANDIDATE_ALIAS,
    log_generator,
    log_sampler,
    register_candidate,
)
from gantrack.tracking.services import Service, answers_http, free_port, start_process, wait_until

LATENT = 4


def tiny_generator(num_classes: int | None = None) -> keras.Model:
    """Latent (and optionally a class index) -> 6x6x1 image in [-1, 1]."""
    latent = keras.Input((LATENT,))
    inputs, features = [latent], latent
    if num_classes:
        label = keras.Input((1,), dtype="int32")
        embedded = keras.layers.Flatten()(keras.layers.Embedding(num_classes, 3)(label))
        inputs, features = [latent, label], keras.layers.Concatenate()([latent, embedded])
    pixels = keras.layers.Dense(36, activation="tanh")(features)
    return keras.Model(inputs, keras.layers.Reshape((6, 6, 1))(pixels))


def test_requests_reproduce_the_sample_stage():
    generator = tiny_generator()
    requests = pd.DataFrame({"num_images": [3, 2], "seed": [7, 8]})
    images = sample_requests(generator, requests)
    assert images.shape == (5, 6, 6, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images[:3], generate_images(generator, 3, 7), atol=1e-6)
    np.testing.assert_allclose(images[3:], generate_images(generator, 2, 8), atol=1e-6)


def test_label_rules():
    unconditional = tiny_generator()
    with pytest.raises(
        ValueError, match=r"request 1: label = 3(\.0)?, but this generator is uncond"
    ):
        sample_requests(
            unconditional, pd.DataFrame({"num_images": [1, 1], "seed": [0, 0], "label": [None, 3]})
        )
    conditional = tiny_generator(num_classes=5)
    with pytest.raises(ValueError, match="class-conditional; give a label"):
        sample_requests(conditional, pd.DataFrame({"num_images": [1], "seed": [0]}))
    requests = pd.DataFrame({"num_images": [2, 2], "seed": [1, 1], "label": [0, 4]})
    images = sample_requests(conditional, requests)
    assert images.shape == (4, 6, 6, 1)
    assert not np.allclose(images[:2], images[2:])  # same latents, another class
    with pytest.raises(ValueError, match=r"request 0: num_images = 0; expected a whole number"):
        sample_requests(unconditional, pd.DataFrame({"num_images": [0], "seed": [0]}))
    with pytest.raises(ValueError, match="'seed' column"):
        sample_requests(unconditional, pd.DataFrame({"num_images": [1]}))


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """A run that logged both models and registered the sampler as @candidate."""
    tmp_path = tmp_path_factory.mktemp("registry")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("registry")
    generator = tiny_generator()
    generator_file = tmp_path / "last.keras"
    generator.save(generator_file)
    with mlflow.start_run() as run:
        network = log_generator(generator)
        sampler = log_sampler(generator_file, (6, 6, 1))
        version = register_candidate(sampler.model_uri, "tiny-gen", {"gantrack.generator": "last"})
    return generator, network, version, run, mlflow.get_tracking_uri()


def test_keras_model_has_signature_and_input_example(registered):
    generator, network, _, _, uri = registered
    mlflow.set_tracking_uri(uri)
    assert network.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, LATENT)
    local = mlflow.artifacts.download_artifacts(network.model_uri)
    example = json.loads((Path(local) / "input_example.json").read_text())
    assert np.asarray(example).shape == (2, LATENT)
    loaded = mlflow.keras.load_model(network.model_uri)
    latent = np.ones((3, LATENT), np.float32)
    np.testing.assert_allclose(
        loaded.predict(latent, verbose=0), generator.predict(latent, verbose=0), atol=1e-6
    )


def test_candidate_alias_resolves_to_a_sampler(registered):
    generator, _, version, run, uri = registered
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    by_alias = client.get_model_version_by_alias("tiny-gen", CANDIDATE_ALIAS)
    assert (
        str(by_alias.version) == str(version.version) == "1" and by_alias.run_id == run.info.run_id
    )
    assert by_alias.tags == {"gantrack.generator": "last"}
    model = mlflow.pyfunc.load_model(f"models:/tiny-gen@{CANDIDATE_ALIAS}")
    images = model.predict(pd.DataFrame({"num_images": [4], "seed": [3]}))
    np.testing.assert_allclose(images, generate_images(generator, 4, 3), atol=1e-6)


def test_sampler_loads_without_the_project(registered, tmp_path):
    """A fresh interpreter with site-packages only (no .pth files: the venv's editable
    install of the project is one), in another directory: gantrack cannot be imported."""
    uri = registered[-1]
    script = f"""
import importlib.util, sys
sys.path.append({sysconfig.get_paths()["purelib"]!r})
assert importlib.util.find_spec("gantrack") is None, "the project is importable"
import mlflow, pandas as pd, numpy as np
mlflow.set_tracking_uri({uri!r})
model = mlflow.pyfunc.load_model("models:/tiny-gen@candidate")
images = model.predict(pd.DataFrame({{"num_images": [5], "seed": [0]}}))
print(images.shape, float(np.abs(images).max()))
"""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shape, largest = result.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert shape == "(5, 6, 6, 1)" and float(largest) <= 1.0


def test_mlflow_models_serve_answers_requests(registered, tmp_path):
    """`mlflow models serve` on a free loopback port: POST requests, get images back."""
    uri = registered[-1]
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "models",
        "serve",
        "-m",
        f"models:/tiny-gen@{CANDIDATE_ALIAS}",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
    ]
    bin_folder = Path(sys.executable).parent  # MLflow execs `uvicorn` from PATH
    environ = {
        **os.environ,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": uri,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    log_path = tmp_path / "serve.log"
    process = start_process("mlflow models serve", command, log_path, env=environ, cwd=tmp_path)
    server = Service("mlflow models serve", process, f"http://127.0.0.1:{port}", log_path)
    url = server.url
    try:
        wait_until(lambda: answers_http(f"{url}/ping"), server, 180, "answer /ping")
        body = {"dataframe_records": [{"num_images": 2, "seed": 0}, {"num_images": 1, "seed": 5}]}
        response = requests.post(f"{url}/invocations", json=body, timeout=60)
        assert response.status_code == 200, response.text
        images = np.asarray(response.json()["predictions"], dtype=np.float32)
        assert images.shape == (3, 6, 6, 1) and np.abs(images).max() <= 1.0
        refused = requests.post(
            f"{url}/invocations",
            json={"dataframe_records": [{"num_images": 1, "seed": 0, "label": 2}]},
            timeout=60,
        )
        assert refused.status_code >= 400 and "unconditional" in refused.text
    finally:
        server.stop(timeout=20)


def test_a_conditional_sampler_logs_with_a_labelled_example(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("conditional")
    generator = tiny_generator(num_classes=3)
    generator.save(tmp_path / "last.keras")
    with pytest.raises(ValueError, match="2 inputs: log it with log_sampler"):
        log_generator(generator)
    with mlflow.start_run():
        sampler = log_sampler(tmp_path / "last.keras", (6, 6, 1), conditional=True)
    model = mlflow.pyfunc.load_model(sampler.model_uri)
    images = model.predict(pd.DataFrame({"num_images": [2], "seed": [4], "label": [2]}))
    expected = generator.predict([latent_vectors(2, LATENT, 4), np.full((2, 1), 2)], verbose=0)
    np.testing.assert_allclose(images, expected, atol=1e-6)
