import json

import numpy as np
import pytest

from gantrack.data.splits import Split
from gantrack.gan.checkpoints import FORMAT_VERSION
from gantrack.gan.session import checkpoint_step, training_fingerprint


def test_training_fingerprint_changes_with_train_params_seed_and_data(params):
    images = np.zeros((4, 28, 28, 1), np.float32)
    split = Split(images, np.arange(4))
    reference = training_fingerprint(params, split)
    assert training_fingerprint(params, Split(images.copy(), np.arange(4))) == reference
    other_loss = params.model_copy(
        update={"train": params.train.model_copy(update={"loss": "hinge"})}
    )
    train_seed_plus_one = params.model_copy(
        update={"train": params.train.model_copy(update={"seed": params.train.seed + 1})}
    )
    changed_pixel = images.copy()
    changed_pixel[0, 0, 0, 0] = 1.0
    others = [
        training_fingerprint(other_loss, split),
        training_fingerprint(train_seed_plus_one, split),
        training_fingerprint(params, Split(changed_pixel, np.arange(4))),
        training_fingerprint(params, Split(images, np.arange(4)[::-1].copy())),
    ]
    assert reference not in others and len(set(others)) == len(others)
    # Params of other stages do not matter, nor the split's seed (the data checksum covers
    # the split it made).
    assert training_fingerprint(params.model_copy(update={"seed": params.seed + 1}), split) == (
        reference
    )
    other_sample = params.model_copy(
        update={"sample": params.sample.model_copy(update={"num_images": 7})}
    )
    assert training_fingerprint(other_sample, split) == reference


def write_checkpoint(folder, fingerprint):
    """A checkpoint as latest_checkpoint reads it (its state is not read here)."""
    folder.mkdir(parents=True)
    meta = {"format": FORMAT_VERSION, "epoch": 1, "fingerprint": fingerprint}
    (folder / "meta.json").write_text(json.dumps({**meta, "variables": [], "history": {}}))
    np.savez(folder / "state.npz")


@pytest.mark.parametrize("made_with_xla", [True, False])
def test_xla_auto_resumes_on_the_step_its_checkpoint_was_made_with(params, tmp_path, made_with_xla):
    # A probe now could choose the other step (another load on the machine), and a
    # checkpoint resumes only on its own step: the run would train from the start again.
    split = Split(np.zeros((4, 28, 28, 1), np.float32), np.arange(4))
    paths = params.paths.model_copy(update={"checkpoints": tmp_path / "checkpoints"})
    auto = params.model_copy(
        update={"paths": paths, "train": params.train.model_copy(update={"xla": "auto"})}
    )
    assert checkpoint_step(auto, auto.train, split) is None  # nothing to resume: probe
    made = auto.model_copy(update={"train": auto.train.model_copy(update={"xla": made_with_xla})})
    write_checkpoint(tmp_path / "checkpoints/epoch_0001", training_fingerprint(made, split))
    assert checkpoint_step(auto, auto.train, split) is made_with_xla
    other_loss = auto.train.model_copy(update={"loss": "hinge"})
    assert checkpoint_step(auto, other_loss, split) is None  # not this run's: probe
