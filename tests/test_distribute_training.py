"""The GAN under ``mirrored`` on two logical CPU devices against one device, same global batch.

Runs in fresh interpreters: logical devices must be set before TensorFlow starts.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from gantrack.config import load_params
    from gantrack.distribute import make_strategy, split_host_cpu
    from gantrack.training import build_gan, train_gan

    replicas = int(sys.argv[1])
    split_host_cpu(2)
    params = load_params(sys.argv[2])
    config = params.train.model_copy(update={
        "batch_size": 16, "epochs": 1, "eval_every": 0, "latent_dim": 16,
        "distribute": "mirrored" if replicas > 1 else "none",
        "devices": ["/cpu:0", "/cpu:1"] if replicas > 1 else None,
    })
    images = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    strategy = make_strategy(config.distribute, config.devices)
    with strategy.scope():
        gan = build_gan(config, (28, 28, 1), 0)
    initial = [w.copy() for w in gan.generator.get_weights()]
    history = train_gan(gan, images, config, 0, [], verbose=0)
    moved = [w - w0 for w, w0 in zip(gan.generator.get_weights(), initial)]
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "losses": {k: v[-1] for k, v in history.history.items()},
        "moved": np.concatenate([m.ravel() for m in moved]).tolist(),
    }))
    """
)


def train(replicas: int, params_path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(replicas), str(params_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # ~35 s: two fresh TensorFlow processes
def test_mirrored_on_two_devices_matches_one_device(repo_root):
    one, two = train(1, repo_root / "params.yaml"), train(2, repo_root / "params.yaml")
    assert (one["replicas"], two["replicas"]) == (1, 2)
    moved_one, moved_two = np.array(one["moved"]), np.array(two["moved"])
    difference = np.linalg.norm(moved_two - moved_one) / np.linalg.norm(moved_one)
    print(f"relative difference of the generator's update: {difference:.3g}")
    print("losses:", one["losses"], two["losses"])
    # Latents, BatchNorm statistics and the gradient mean are those of one device; the
    # discriminator's dropout masks are drawn per replica, so the match is close, not exact.
    assert difference < 0.1
    for name in ("d_loss", "g_loss"):
        assert two["losses"][name] == pytest.approx(one["losses"][name], rel=0.05)


@pytest.mark.slow  # ~35 s: two workers train an epoch
def test_multi_worker_training_writes_only_the_chiefs_outputs(tmp_path, repo_root):
    """Two workers on 127.0.0.1, one short epoch: the chief's files and MLflow run only."""
    import os
    import time

    import mlflow
    from test_pipeline import BIN, TINY, copy_project, edit_params, run

    from gantrack.services import free_port

    repo = tmp_path / "repo"
    repo.mkdir()
    copy_project(repo_root, repo)
    edit_params(repo, TINY)
    edit_params(repo, {"train": {"epochs": 1, "eval_every": 0, "distribute": "multi_worker"},
                       "sample": {"generator": "last"}})  # fmt: skip
    run(["git", "init", "-q"], repo)
    run([str(BIN / "dvc"), "repro", "prepare"], repo)
    before = {path for path in repo.rglob("*") if ".git" not in path.parts}

    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        environ = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(repo / "src"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "GANTRACK_EXECUTION_KEY": "multi-worker-test",
            "TF_CONFIG": json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            ),
        }
        environ.pop("MLFLOW_TRACKING_URI", None)
        processes.append(
            subprocess.Popen(
                [sys.executable, "pipeline/train.py"],
                cwd=repo,
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    deadline = time.monotonic() + 600
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=max(1, deadline - time.monotonic()))[0])
        finally:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0, 0], "\n----\n".join(o[-3000:] for o in outputs)
    assert "not the chief" in outputs[1] and "not the chief" not in outputs[0]

    # The chief's outputs, and nothing from the worker in the repository.
    assert (repo / "models/generator/last.keras").is_file()
    assert len((repo / "reports/train_log.csv").read_text().splitlines()) == 2  # header, 1 epoch
    new = {
        path.relative_to(repo).parts[0] for path in repo.rglob("*") if ".git" not in path.parts
    } - {path.relative_to(repo).parts[0] for path in before}
    assert new <= {"models", "mlartifacts"}, new  # the chief's generator and checkpoints
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    try:
        runs = mlflow.search_runs(experiment_names=["gantrack"], output_format="list")
    finally:
        mlflow.set_tracking_uri(None)
    train_runs = [r for r in runs if "train" in r.data.tags.get("gantrack.stages", "").split(",")]
    assert len(train_runs) == 1 and train_runs[0].info.status == "FINISHED"
