import numpy as np

from gantrack.data.splits import Split
from gantrack.gan.session import training_fingerprint


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
