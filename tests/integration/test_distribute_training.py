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
    from gantrack.gan.training import build_gan, train_gan

    replicas = int(sys.argv[1])
    split_host_cpu(2)
    params = load_params(sys.argv[2])
    config = params.train.model_copy(update={
        "batch_size": 16, "epochs": 1, "eval_every": 0, "latent_dim": 16,
        "distribute": "mirrored" if replicas > 1 else "none", "xla": False,
        "devices": ["/cpu:0", "/cpu:1"] if replicas > 1 else None,
    })
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    # The default GAN is conditional: it trains on labelled data, so the check does too.
    labels = rng.integers(0, 10, 64) if config.conditional else None
    strategy = make_strategy(config.distribute, config.devices)
    with strategy.scope():
        gan = build_gan(config, (28, 28, 1), 0, num_classes=10 if config.conditional else None)
    initial = [w.copy() for w in gan.generator.get_weights()]
    history = train_gan(gan, images, config, 0, [], verbose=0, labels=labels)
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


def start_workers(repo) -> list[subprocess.Popen]:
    """`pipeline/train.py` in ``repo`` as two workers on 127.0.0.1, each with its TF_CONFIG."""
    import os

    from support.pipeline_repo import BIN

    from gantrack.tracking.services import free_port

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
    return processes


def finish(processes: list[subprocess.Popen], timeout: float = 600) -> list[str]:
    """Both workers' output once they end; both must exit 0 (killed if they outlive it)."""
    import time

    deadline = time.monotonic() + timeout
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=max(1, deadline - time.monotonic()))[0])
        finally:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0, 0], "\n----\n".join(o[-3000:] for o in outputs)
    return outputs


def multi_worker_repo(repo_root, repo, train: dict, target: str):
    """A copy of the project with tiny params, ``train`` changes, and ``target`` reproduced."""
    from support.pipeline_repo import BIN, TINY, copy_project, edit_params, run

    repo.mkdir()
    copy_project(repo_root, repo)
    edit_params(repo, TINY)
    edit_params(repo, {"train": {"distribute": "multi_worker", "xla": False, **train},
                       "sample": {"generator": "last"}})  # fmt: skip
    run(["git", "init", "-q"], repo)
    run([str(BIN / "dvc"), "repro", target], repo)
    return repo


@pytest.mark.slow  # ~35 s: two workers train an epoch
def test_multi_worker_training_writes_only_the_chiefs_outputs(tmp_path, repo_root):
    """Two workers on 127.0.0.1, one short epoch: the chief's files and MLflow run only."""
    import mlflow

    train = {"epochs": 1, "eval_every": 0}
    repo = multi_worker_repo(repo_root, tmp_path / "repo", train, "prepare")
    before = {path for path in repo.rglob("*") if ".git" not in path.parts}
    outputs = finish(start_workers(repo))
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


@pytest.mark.slow  # ~2 min: an uninterrupted, a killed and a resumed two-worker run
def test_multi_worker_training_killed_mid_run_resumes_to_identical_weights(tmp_path, repo_root):
    """Both workers SIGKILLed after the chief's first checkpoint; rerun, they resume exactly.

    Only the chief has the checkpoint (the worker's outputs are scratch, as on another host
    without a shared disk): the worker gets the chief's state by broadcast. The in-training
    evaluation runs too, so the best generator so far is restored with the checkpoint.
    """
    import shutil
    import signal
    import time

    from test_checkpoint import assert_resumed_to_the_same_state

    from gantrack.gan.checkpoints import latest_checkpoint

    train = {"epochs": 3, "eval_every": 1, "checkpoint_every": 1, "ema_decay": 0.99}
    whole = multi_worker_repo(repo_root, tmp_path / "whole", train, "reference_evaluator")
    killed = tmp_path / "killed"
    shutil.copytree(whole, killed, symlinks=True)  # the same prepared data and evaluator
    finish(start_workers(whole))

    processes = start_workers(killed)
    deadline = time.monotonic() + 300
    while not (killed / "models/checkpoints/epoch_0001").exists():
        assert all(p.poll() is None for p in processes), "a worker ended before epoch 1"
        assert time.monotonic() < deadline, "no first checkpoint"
        time.sleep(0.02)
    for process in processes:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert latest_checkpoint(killed / "models/checkpoints").epoch < 3

    chief, worker = finish(start_workers(killed))
    assert "resuming from" in chief and "resuming after epoch" in worker, worker[-2000:]
    assert_resumed_to_the_same_state(killed, whole)
    evaluations = (killed / "reports/train_eval.csv").read_text()
    assert evaluations == (whole / "reports/train_eval.csv").read_text()


@pytest.mark.slow  # ~25 s after the shared pipeline repository is built
def test_evaluation_stages_extract_features_on_every_replica(pipeline_copy):
    """reference and evaluate under `mirrored` on two CPU devices: one device's numbers."""
    from support.pipeline_repo import edit_params, run

    copy = pipeline_copy
    reference, metrics = copy / "outputs/reference/evaluator.npz", copy / "reports/metrics.json"
    with np.load(reference) as archive:
        one_device = dict(archive)
    one_device_metrics = json.loads(metrics.read_text())["evaluator"]

    mirrored = {"distribute": "mirrored", "devices": ["/cpu:0", "/cpu:1"], "xla": False}
    edit_params(copy, {"train": mirrored})
    for script in (["pipeline/reference.py", "evaluator"], ["pipeline/evaluate.py"]):
        result = run([sys.executable, *script], copy)
        assert "feature extraction on 2 replicas" in result.stdout, result.stdout
    with np.load(reference) as archive:
        two_replicas = dict(archive)
    assert two_replicas.keys() == one_device.keys()
    for name, value in one_device.items():
        if value.dtype.kind == "f":  # exact here; other devices' kernels may round otherwise
            np.testing.assert_allclose(two_replicas[name], value, rtol=1e-5, atol=1e-6)
        else:  # labels, the network's name
            np.testing.assert_array_equal(two_replicas[name], value, err_msg=name)
    two_replica_metrics = json.loads(metrics.read_text())["evaluator"]
    for name in ("fid", "inception_score", "kid", "precision", "recall", "coverage"):
        assert two_replica_metrics[name] == pytest.approx(one_device_metrics[name], rel=1e-4)
