"""Checkpoints: atomic saving, exact restore, resume after SIGKILL, NaN stops, DVC reruns."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from PIL import Image
from support.configs import tiny_train_config
from support.pipeline_repo import BIN, copy_project, edit_params, environment, mlflow_runs, run

from gantrack.data.splits import Split, save_split
from gantrack.gan.checkpoints import (
    CheckpointMismatchError,
    latest_checkpoint,
    restore_checkpoint,
    save_checkpoint,
    training_variables,
)
from gantrack.gan.training import build_gan, build_state, epoch_order, train_gan


def trained_gan(config, seed=0):
    gan = build_gan(config, (28, 28, 1), seed=seed)
    images = np.random.default_rng(seed).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    train_gan(gan, images, config, seed=seed, callbacks=[], verbose=0)
    return gan


def test_restore_gives_back_every_variable_exactly(params, tmp_path):
    config = tiny_train_config(params, ema_decay=0.9, diffaugment=["cutout"])
    gan = trained_gan(config)
    history = {"train_log": [{"epoch": 1, "d_loss": 1.5}]}
    (tmp_path / "best.keras").write_bytes(b"model")
    saved = save_checkpoint(
        tmp_path / "ckpt",
        gan,
        1,
        "abc",
        history,
        {"best.keras": tmp_path / "best.keras", "gone.keras": tmp_path / "nope"},
    )
    checkpoint = latest_checkpoint(tmp_path / "ckpt")
    assert checkpoint.path == saved and checkpoint.epoch == 1 and checkpoint.fingerprint == "abc"
    assert checkpoint.history == history and checkpoint.file("best.keras").read_bytes() == b"model"
    assert checkpoint.file("gone.keras") is None
    fresh = build_gan(config, (28, 28, 1), seed=1)  # other initial weights and seeds
    build_state(fresh)
    restore_checkpoint(checkpoint, fresh)
    names = [v.path for v in training_variables(gan)]
    assert any("seed_generator" in name for name in names)  # RNG state is part of it
    assert any(name.endswith("/iteration") for name in names)  # and the optimisers' counters
    for ours, theirs in zip(training_variables(gan), training_variables(fresh), strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_only_complete_checkpoints_count_and_old_ones_go(params, tmp_path):
    gan = trained_gan(tiny_train_config(params))
    folder = tmp_path / "ckpt"
    save_checkpoint(folder, gan, 1, "f", {})
    save_checkpoint(folder, gan, 2, "f", {})
    assert sorted(path.name for path in folder.iterdir()) == ["epoch_0002"]
    # What a SIGKILL during saving leaves: a temporary folder, or a folder without meta.json.
    (folder / ".incomplete-123").mkdir()
    (folder / "epoch_0003").mkdir()
    (folder / "epoch_0003" / "state.npz").write_bytes(b"half")
    assert latest_checkpoint(folder).epoch == 2
    assert latest_checkpoint(tmp_path / "none") is None


def test_restore_refuses_a_checkpoint_of_another_model(params, tmp_path):
    gan = trained_gan(tiny_train_config(params))
    save_checkpoint(tmp_path, gan, 1, "f", {})
    other = build_gan(tiny_train_config(params, latent_dim=9), (28, 28, 1), seed=0)
    build_state(other)
    with pytest.raises(CheckpointMismatchError, match="delete the folder to start afresh"):
        restore_checkpoint(latest_checkpoint(tmp_path), other)


# -- the training stage as a process -------------------------------------------------------

TINY_TRAIN = {
    "train": {
        "latent_dim": 16,
        "batch_size": 16,
        "epochs": 3,
        "steps": None,
        "grid_rows": 2,
        "eval_every": 0,
        "checkpoint_every": 1,
    },
    "sample": {"generator": "last"},
}


def train_repo(repo_root: Path, repo: Path, images: np.ndarray) -> Path:
    """A copy of the project with tiny train params and `images` as the prepared data."""
    copy_project(repo_root, repo)
    edit_params(repo, TINY_TRAIN)
    labels = np.arange(len(images)) % 10
    save_split(repo / "data/prepared/train.npz", Split(images, labels.astype(np.int64)))
    return repo


def random_images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (count, 28, 28, 1)).astype(np.float32)


def train_command() -> list[str]:
    return [sys.executable, "pipeline/train.py"]


def final_state(repo: Path) -> dict[str, np.ndarray]:
    checkpoint = latest_checkpoint(repo / "models/checkpoints")
    assert checkpoint.epoch == 3
    with np.load(checkpoint.path / "state.npz") as archive:
        arrays = dict(archive)
    generator = keras.models.load_model(repo / "models/generator/last.keras", compile=False)
    arrays.update({f"last_{i}": w for i, w in enumerate(generator.get_weights())})
    return arrays


# The host CPU split in two; the XLA step runs on one device only.
MIRRORED = {"distribute": "mirrored", "devices": ["/cpu:0", "/cpu:1"], "xla": False}


@pytest.mark.parametrize(
    "strategy",
    [{}, pytest.param(MIRRORED, id="mirrored", marks=pytest.mark.slow)],  # slow: ~1 min
    ids=["one_device", "mirrored"],
)
def test_training_killed_mid_run_resumes_to_identical_weights(tmp_path, repo_root, strategy):
    """With every kind of state in play: EMA weights, DiffAugment's and the labels' RNG."""
    images = random_images(192)  # 12 steps of 16 per epoch
    stateful = {
        "train": {"conditional": True, "ema_decay": 0.99, "diffaugment": ["cutout"], **strategy}
    }
    whole = train_repo(repo_root, tmp_path / "whole", images)
    killed = train_repo(repo_root, tmp_path / "killed", images)
    for repo in (whole, killed):
        edit_params(repo, stateful)
    run(train_command(), whole)
    # A conditional GAN's grid: one row per class (10), grid_rows (2) columns.
    assert np.asarray(Image.open(whole / "reports/train_grid.png")).shape == (302, 62)

    process = subprocess.Popen(
        train_command(),
        cwd=killed,
        env=environment(killed),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not (killed / "models/checkpoints/epoch_0001").exists():
        assert process.poll() is None and time.monotonic() < deadline, "no first checkpoint"
        time.sleep(0.02)
    time.sleep(0.3)  # into epoch 2
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert latest_checkpoint(killed / "models/checkpoints").epoch < 3

    rerun = run(train_command(), killed)
    assert "resuming from" in rerun.stdout
    # The rerun trained only what the kill cost: a fresh start would also end bit-identical
    # (training is deterministic), so the skipped epochs are the proof of resumption.
    assert "Epoch 1/3" not in rerun.stdout and "Epoch 3/3" in rerun.stdout
    assert_resumed_to_the_same_state(killed, whole)


def assert_resumed_to_the_same_state(resumed: Path, whole: Path) -> None:
    """The resumed run's final checkpoint and generator equal the whole run's, bit for bit."""
    ours, theirs = final_state(resumed), final_state(whole)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    log = (resumed / "reports/train_log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["1", "2", "3"]


def test_train_stage_refuses_a_checkpoint_folder_holding_the_models(tmp_path, repo_root):
    """`checkpoints: models` once deleted the evaluator at the first save: now the stage
    stops before training, in one line naming both keys, and the models stay."""
    repo = train_repo(repo_root, tmp_path, random_images(32))
    edit_params(repo, {"paths": {"checkpoints": "models"}})
    (repo / "models").mkdir()
    (repo / "models/evaluator.keras").write_bytes(b"the evaluator")
    result = run(train_command(), repo, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("gantrack")]
    assert "paths.checkpoints (models) holds paths.evaluator" in line
    assert (repo / "models/evaluator.keras").read_bytes() == b"the evaluator"
    assert sorted(path.name for path in (repo / "models").iterdir()) == ["evaluator.keras"]


def test_nan_loss_stops_with_epoch_and_step_keeps_checkpoint_and_fails_run(tmp_path, repo_root):
    # 17 images, batch 16: one step per epoch, one image left out. A NaN image that epoch 1
    # leaves out and epoch 2 reads makes epoch 2's first step non-finite.
    images = random_images(17)
    seed = yaml.safe_load((repo_root / "params.yaml").read_text())["train"]["seed"]
    poisoned = int(epoch_order(17, seed, 0)[-1])
    assert epoch_order(17, seed, 1)[-1] != poisoned
    images[poisoned] = np.nan
    repo = train_repo(repo_root, tmp_path, images)
    result = run(train_command(), repo, check=False)
    assert result.returncode == 2
    assert "non-finite loss at epoch 2, step 1" in result.stderr
    checkpoint = latest_checkpoint(repo / "models/checkpoints")
    assert checkpoint.epoch == 1
    with np.load(checkpoint.path / "state.npz") as archive:
        assert all(np.isfinite(archive[name]).all() for name in archive.files)
    (run_info,) = mlflow_runs(repo)
    assert run_info.info.status == "FAILED"


def test_dvc_keeps_an_undeclared_folder_when_a_killed_stage_reruns(tmp_path):
    """What resume relies on, checked with DVC itself: the stage's outputs are deleted
    before it reruns, the checkpoint folder (not an output) survives a kill; and the stage
    stays run-cacheable, which an output with `persist: true` would prevent.

    Each execution of the stage marks itself in `kept/` as started, then finished; the
    rerun must find the killed execution's "started" mark, which two ordinary runs never
    leave behind."""
    script = (
        "import json, os, pathlib, time, uuid\n"
        "execution = uuid.uuid4().hex\n"
        "kept = pathlib.Path('kept')\n"
        "kept.mkdir(exist_ok=True)\n"
        "marks = {path.name: path.read_text() for path in kept.iterdir()}\n"
        "seen = {'kept': marks, 'plain': os.path.exists('plain')}\n"
        "pathlib.Path('seen.json').write_text(json.dumps(seen))\n"
        "(kept / execution).write_text('started')\n"
        "pathlib.Path('running').write_text(execution)\n"
        "time.sleep(600 if os.path.exists('hang') else 0)\n"
        "pathlib.Path('plain').write_text('y')\n"
        "(kept / execution).write_text('finished')\n"
    )
    (tmp_path / "stage.py").write_text(script)
    (tmp_path / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "s": {
                        "cmd": f"{sys.executable} stage.py",
                        "deps": ["stage.py"],
                        "outs": ["plain"],
                        "metrics": [{"seen.json": {"cache": False}}],
                    }
                }
            }
        )
    )
    (tmp_path / ".gitignore").write_text("running\nhang\nkept/\n")
    run(["git", "init", "-q"], tmp_path)
    run([str(BIN / "dvc"), "init", "-q"], tmp_path)
    run([str(BIN / "dvc"), "repro"], tmp_path)
    first = (tmp_path / "running").read_text()
    (tmp_path / "stage.py").write_text(script + "# changed\n")
    (tmp_path / "hang").write_text("")
    process = subprocess.Popen(
        [str(BIN / "dvc"), "repro"],
        cwd=tmp_path,
        env=environment(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while (tmp_path / "running").read_text() == first:  # this execution's own mark
        assert process.poll() is None and time.monotonic() < deadline, "the stage did not start"
        time.sleep(0.05)
    killed = (tmp_path / "running").read_text()
    assert not (tmp_path / "plain").exists()  # DVC removed the output before running
    os.killpg(process.pid, signal.SIGKILL)  # dvc and the stage's process
    assert process.wait() == -signal.SIGKILL
    (tmp_path / "hang").unlink()
    run([str(BIN / "dvc"), "repro"], tmp_path)
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"kept": {first: "finished", killed: "started"}, "plain": False}
    assert any((tmp_path / ".dvc/cache/runs").rglob("*"))  # the stage run was run-cached
