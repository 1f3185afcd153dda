"""Checkpoints never delete what they did not write, and refuse a folder that is not theirs.

A fake GAN stands in for the model: saving reads only each variable's path, shape and value.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gantrack.gan.checkpoints import (
    CheckpointFolderError,
    check_checkpoint_folder,
    latest_checkpoint,
    save_checkpoint,
)


class FakeVariable:
    def __init__(self, path: str, value: np.ndarray) -> None:
        self.path, self.value, self.shape = path, value, value.shape

    def numpy(self) -> np.ndarray:
        return self.value


def fake_gan() -> SimpleNamespace:
    optimizer = SimpleNamespace(variables=[FakeVariable("adam/iteration", np.array(3))])
    return SimpleNamespace(
        variables=[FakeVariable("dense/kernel", np.ones((2, 2), np.float32))],
        generator_optimizer=optimizer,
        discriminator_optimizer=SimpleNamespace(variables=[]),
    )


def test_saving_removes_only_the_checkpointers_own_entries(tmp_path):
    folder = tmp_path / "models"
    (folder / "generator").mkdir(parents=True)
    (folder / "generator" / "best.keras").write_bytes(b"the best generator")
    (folder / "evaluator.keras").write_bytes(b"the evaluator")
    (folder / "notes.txt").write_text("mine")
    (folder / "epoch_notes").mkdir()  # the prefix alone does not make it a checkpoint
    save_checkpoint(folder, fake_gan(), 1, "f", {})
    (folder / ".incomplete-0123456789ab").mkdir()  # what a kill during saving leaves
    save_checkpoint(folder, fake_gan(), 2, "f", {})
    assert sorted(path.name for path in folder.iterdir()) == [
        "epoch_0002",
        "epoch_notes",
        "evaluator.keras",
        "generator",
        "notes.txt",
    ]
    assert (folder / "generator" / "best.keras").read_bytes() == b"the best generator"
    assert latest_checkpoint(folder).epoch == 2


def repository_paths(**changes: str) -> dict[str, Path]:
    """``paths.*`` as params.yaml names them, with ``changes``."""
    paths = {
        "train_data": "data/prepared/train.npz",
        "evaluator": "models/evaluator.keras",
        "generator": "models/generator",
        "metrics": "reports/metrics.json",
        "reference_dir": "outputs/reference",
        "checkpoints": "models/checkpoints",
        "run_records": "reports/runs",
    }
    return {key: Path(value) for key, value in {**paths, **changes}.items()}


def test_the_default_checkpoint_folder_is_accepted(tmp_path):
    check_checkpoint_folder(repository_paths(), tmp_path)


@pytest.mark.parametrize(
    ("checkpoints", "other"),
    [
        ("models", "paths.evaluator"),  # holds the evaluator: a save deleted it
        (".", "paths.train_data"),  # the repository itself
        ("models/generator/checkpoints", "paths.generator"),  # inside a DVC output
        ("outputs/reference", "paths.reference_dir"),  # the same folder
    ],
)
def test_a_checkpoint_folder_holding_or_inside_another_output_is_refused(
    tmp_path, checkpoints, other
):
    with pytest.raises(CheckpointFolderError) as refused:
        check_checkpoint_folder(repository_paths(checkpoints=checkpoints), tmp_path)
    message = str(refused.value)
    assert f"paths.checkpoints ({checkpoints})" in message and other in message
    assert "\n" not in message and "set paths.checkpoints to a folder of its own" in message


def test_a_checkpoint_folder_outside_the_repository_needs_an_explicit_yes(tmp_path):
    repository, elsewhere = tmp_path / "repo", tmp_path / "scratch" / "checkpoints"
    repository.mkdir()
    paths = repository_paths(checkpoints=str(elsewhere))
    with pytest.raises(CheckpointFolderError) as refused:
        check_checkpoint_folder(paths, repository)
    message = str(refused.value)
    assert f"paths.checkpoints ({elsewhere}) is outside the repository ({repository})" in message
    assert "GANTRACK_CHECKPOINTS_OUTSIDE_REPOSITORY=1" in message
    check_checkpoint_folder(paths, repository, allow_outside=True)
    escape = repository_paths(checkpoints="../checkpoints")
    with pytest.raises(CheckpointFolderError, match="outside the repository"):
        check_checkpoint_folder(escape, repository)
