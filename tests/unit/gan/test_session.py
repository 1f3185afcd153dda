import json

import numpy as np
import pytest

from gantrack.data.splits import Split
from gantrack.gan.checkpoints import FORMAT_VERSION
from gantrack.gan.session import checkpoint_step, training_fingerprint, training_inputs


def test_training_fingerprint_changes_with_train_params_seed_and_data(params):
    images = np.zeros((4, 28, 28, 1), np.float32)
    inputs = training_inputs(Split(images, np.arange(4)))
    reference = training_fingerprint(params.train, inputs)
    same_data = training_inputs(Split(images.copy(), np.arange(4)))
    assert training_fingerprint(params.train, same_data) == reference
    changed_pixel = images.copy()
    changed_pixel[0, 0, 0, 0] = 1.0
    others = [
        training_fingerprint(params.train.model_copy(update={"loss": "hinge"}), inputs),
        training_fingerprint(
            params.train.model_copy(update={"seed": params.train.seed + 1}), inputs
        ),
        training_fingerprint(params.train.model_copy(update={"xla": True}), inputs),
        training_fingerprint(params.train, training_inputs(Split(changed_pixel, np.arange(4)))),
        training_fingerprint(
            params.train, training_inputs(Split(images, np.arange(4)[::-1].copy()))
        ),
        training_fingerprint(params.train, {**inputs, "code": "another source"}),
    ]
    assert reference not in others and len(set(others)) == len(others)


def test_training_inputs_hash_the_whole_package_source(monkeypatch, tmp_path):
    # Any module's change must start training afresh, not only the training modules'.
    import gantrack

    package = tmp_path / "gantrack"
    (package / "metrics").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "metrics" / "fid.py").write_text("SCALE = 1\n")
    monkeypatch.setattr(gantrack, "__file__", str(package / "__init__.py"))
    split = Split(np.zeros((4, 28, 28, 1), np.float32), np.arange(4))
    before = training_inputs(split)["code"]
    (package / "metrics" / "fid.py").write_text("SCALE = 2\n")
    assert training_inputs(split)["code"] != before


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
    inputs = training_inputs(Split(np.zeros((4, 28, 28, 1), np.float32), np.arange(4)))
    checkpoints = tmp_path / "checkpoints"
    auto = params.train.model_copy(update={"xla": "auto"})
    assert checkpoint_step(checkpoints, auto, inputs) is None  # nothing to resume: probe
    made = auto.model_copy(update={"xla": made_with_xla})
    write_checkpoint(checkpoints / "epoch_0001", training_fingerprint(made, inputs))
    assert checkpoint_step(checkpoints, auto, inputs) is made_with_xla
    other_loss = auto.model_copy(update={"loss": "hinge"})
    assert checkpoint_step(checkpoints, other_loss, inputs) is None  # not this run's: probe
