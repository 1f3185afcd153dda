import numpy as np
import pytest

from gantrack.gan import METRIC_NAMES
from gantrack.training import build_gan, image_dataset, images_per_epoch, train_gan


def test_train_step_updates_both_networks_and_reports_finite_means(params):
    config = params.train.model_copy(update={"latent_dim": 8, "batch_size": 4, "epochs": 1})
    gan = build_gan(config, (28, 28, 1), seed=0)
    images = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    generator_before = [w.copy() for w in gan.generator.get_weights()]
    discriminator_before = [w.copy() for w in gan.discriminator.get_weights()]
    history = train_gan(gan, images, config, seed=0, callbacks=[], verbose=0)
    assert set(history.history) == set(METRIC_NAMES)
    for name in METRIC_NAMES:
        assert np.isfinite(history.history[name][0])
    assert 0.0 < history.history["real_score"][0] < 1.0
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(generator_before, gan.generator.get_weights(), strict=True)
    )
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(discriminator_before, gan.discriminator.get_weights(), strict=True)
    )


def test_same_seed_same_weights(params):
    config = params.train.model_copy(update={"latent_dim": 8, "batch_size": 4, "epochs": 1})
    images = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    weights = []
    for _ in range(2):
        gan = build_gan(config, (28, 28, 1), seed=5)
        train_gan(gan, images, config, seed=5, callbacks=[], verbose=0)
        weights.append(gan.generator.get_weights())
    for first, second in zip(*weights, strict=True):
        np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)


def test_dataset_drops_partial_batch_and_rejects_oversized_batch():
    images = np.zeros((10, 28, 28, 1), np.float32)
    assert [int(batch.shape[0]) for batch in image_dataset(images, 4, seed=0)] == [4, 4]
    assert images_per_epoch(10, 4) == 8
    with pytest.raises(ValueError, match=r"lower train\.batch_size"):
        image_dataset(images, 11, seed=0)
