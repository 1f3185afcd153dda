import keras
import numpy as np
import pytest
import tensorflow as tf
from support.configs import tiny_train_config

from gantrack.gan.model import EMA_WARMUP, METRIC_NAMES, PENALTY_METRIC
from gantrack.gan.training import (
    UnconditionableDataError,
    build_gan,
    epoch_order,
    image_dataset,
    images_per_epoch,
    steps_per_epoch,
    train_gan,
    training_epochs,
)


def random_images(count, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, *shape)).astype(np.float32)


def test_train_step_updates_both_networks_and_reports_finite_means(params):
    config = tiny_train_config(params)
    gan = build_gan(config, (28, 28, 1), seed=0)
    images = random_images(8)
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


# One train step per loss, each with a representative stabiliser set and image shape.
VARIANTS = [
    ("minimax", {"label_smoothing": 0.1}, (28, 28, 1)),
    ("wgan_gp", {"critic_steps": 2}, (32, 32, 3)),
    ("hinge", {"spectral_norm": True, "diffaugment": ["translation", "cutout"]}, (28, 28, 1)),
    ("least_squares", {"conditional": True, "ema_decay": 0.9}, (28, 28, 1)),
    ("non_saturating", {"r1_gamma": 1.0, "spectral_norm": True}, (28, 28, 3)),
]


@pytest.mark.parametrize(("loss", "changes", "shape"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_each_loss_with_stabilisers_takes_finite_steps(params, loss, changes, shape):
    config = tiny_train_config(params, loss=loss, **changes)
    classes = 3 if config.conditional else None
    gan = build_gan(config, shape, seed=0, num_classes=classes)
    images, labels = random_images(8 * config.critic_steps, shape), np.arange(16) % 3
    history = train_gan(gan, images, config, seed=0, callbacks=[], verbose=0, labels=labels)
    penalised = loss == "wgan_gp" or config.r1_gamma > 0
    expected = {*METRIC_NAMES, PENALTY_METRIC} if penalised else set(METRIC_NAMES)
    assert set(history.history) == expected
    assert all(np.isfinite(values[0]) for values in history.history.values())
    if penalised:
        assert history.history[PENALTY_METRIC][0] > 0
    inputs = np.zeros((3, 8), np.float32)
    inputs = [inputs, np.arange(3)[:, None]] if classes else inputs
    assert tuple(gan.sampling_generator(inputs).shape) == (3, *shape)
    assert gan.generator_optimizer.iterations.numpy() == 2  # 8 images / batch 4
    assert gan.discriminator_optimizer.iterations.numpy() == 2 * config.critic_steps


def test_ema_averages_trainable_weights_and_copies_batchnorm_statistics(params):
    config = tiny_train_config(params, ema_decay=0.9)
    gan = build_gan(config, (28, 28, 1), seed=0)
    initial = [w.copy() for w in gan.generator.get_weights()]
    train_gan(gan, random_images(4), config, seed=0, callbacks=[], verbose=0)  # one step
    decay = min(0.9, 2.0 / (EMA_WARMUP + 1.0))  # after step t = 1
    trainable = {id(w) for w in gan.generator.trainable_weights}
    for start, live, average in zip(
        initial, gan.generator.weights, gan.ema_generator.weights, strict=True
    ):
        is_trainable = id(live) in trainable
        live, average = live.numpy(), average.numpy()
        expected = decay * start + (1 - decay) * live if is_trainable else live
        np.testing.assert_allclose(average, expected, rtol=1e-5, atol=1e-7)
        if is_trainable and live.size > 1:
            assert not np.allclose(average, live, rtol=0, atol=1e-7)
    assert gan.sampling_generator is gan.ema_generator


def test_mixed_precision_uses_loss_scaling_and_keeps_float32_outputs(params):
    config = tiny_train_config(params, mixed_precision=True)
    gan = build_gan(config, (28, 28, 1), seed=0)
    for optimizer in (gan.generator_optimizer, gan.discriminator_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert gan.generator.layers[1].compute_dtype == "float16"
    assert gan.discriminator.layers[1].compute_dtype == "float16"
    history = train_gan(gan, random_images(4), config, seed=0, callbacks=[], verbose=0)
    assert all(np.isfinite(values[0]) for values in history.history.values())
    images = gan.generator(np.zeros((2, 8), np.float32))
    assert images.dtype == "float32" and gan.discriminator(images).dtype == "float32"
    assert all(w.dtype == "float32" for w in gan.generator.trainable_weights)  # master weights


def test_same_seed_same_weights(params):
    config = tiny_train_config(params)
    images = random_images(8)
    weights = []
    for _ in range(2):
        gan = build_gan(config, (28, 28, 1), seed=5)
        train_gan(gan, images, config, seed=5, callbacks=[], verbose=0)
        weights.append(gan.generator.get_weights())
    for first, second in zip(*weights, strict=True):
        np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)


def test_the_xla_step_is_one_compiled_program_and_repeats_bit_for_bit(params):
    """Both networks' passes and updates compile to one XLA program (its HLO holds the
    convolutions), and the same seed trains to the same weights, bit for bit. (It does not
    repeat the plain step's values: two steps from one start differ beyond rounding.)"""
    config = tiny_train_config(params, conditional=True, ema_decay=0.9, xla=True)
    images, labels = random_images(8), np.arange(8) % 3
    weights = []
    for _ in range(2):
        gan = build_gan(config, (28, 28, 1), 5, num_classes=3)
        start = gan.generator.get_weights()
        train_gan(gan, images, config, seed=5, callbacks=[], verbose=0, labels=labels)
        weights.append(gan.ema_generator.get_weights() + gan.discriminator.get_weights())
        moved = zip(start, gan.generator.get_weights(), strict=True)
        assert any(not np.array_equal(before, after) for before, after in moved)
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)
    batch = (tf.constant(images[:4]), tf.constant(labels[:4, None], tf.int32))
    hlo = gan._update.experimental_get_compiler_ir(*batch)(stage="hlo")
    assert "convolution" in hlo and "ENTRY" in hlo
    plain = build_gan(config.model_copy(update={"xla": False}), (28, 28, 1), 5, num_classes=3)
    assert not isinstance(plain._update, tf.types.experimental.PolymorphicFunction)


def test_dataset_drops_partial_batch_and_rejects_oversized_batch():
    images = np.zeros((10, 28, 28, 1), np.float32)
    assert [int(batch.shape[0]) for batch in image_dataset(images, 4, seed=0)] == [4, 4]
    assert images_per_epoch(10, 4) == 8 and steps_per_epoch(20, 4, critic_steps=2) == 2
    with pytest.raises(ValueError, match=r"lower train\.batch_size"):
        image_dataset(images, 11, seed=0)


def test_a_budget_in_images_becomes_whole_epochs(params):
    budget = {"epochs": None, "images": 48_000, "steps": None, "batch_size": 32}
    by_images = params.train.model_copy(update=budget)
    assert training_epochs(by_images, 4_000) == 12  # batch 32: 4,000 images an epoch
    assert training_epochs(by_images, 56_000) == 1  # Fashion-MNIST: under one epoch
    assert training_epochs(by_images, 30_000) == 2  # 29,984 an epoch: rounded up
    by_epochs = by_images.model_copy(update={"epochs": 7, "images": None})
    assert training_epochs(by_epochs, 56_000) == 7


def test_a_budget_in_steps_becomes_whole_epochs_of_generator_updates(params):
    budget = {"epochs": None, "images": None, "steps": 3_000, "batch_size": 16}
    by_steps = params.train.model_copy(update=budget)
    assert training_epochs(by_steps, 4_000) == 12  # 250 steps an epoch
    assert training_epochs(by_steps.model_copy(update={"batch_size": 8}), 4_000) == 6
    # WGAN-GP's 5 critic batches per generator update: 50 updates an epoch.
    assert training_epochs(by_steps.model_copy(update={"critic_steps": 5}), 4_000) == 60
    assert training_epochs(by_steps, 3_990) == 13  # 249 steps an epoch: rounded up
    with pytest.raises(ValueError, match=r"no full step"):
        training_epochs(by_steps.model_copy(update={"batch_size": 64}), 40)


def test_epoch_order_depends_on_seed_and_epoch_only():
    images = np.arange(12, dtype=np.float32).reshape(12, 1, 1, 1)
    stream = [batch.numpy().ravel() for batch in image_dataset(images, 4, 7, epochs=3)]
    resumed = [batch.numpy().ravel() for batch in image_dataset(images, 4, 7, first_epoch=2)]
    np.testing.assert_array_equal(np.concatenate(stream[6:]), epoch_order(12, 7, 2))
    np.testing.assert_array_equal(np.concatenate(resumed), epoch_order(12, 7, 2))
    assert not np.array_equal(epoch_order(12, 7, 0), epoch_order(12, 7, 1))


def test_conditional_gan_on_unlabeled_data_is_a_clear_error(params):
    with pytest.raises(UnconditionableDataError, match=r"set train\.conditional: false"):
        build_gan(tiny_train_config(params, conditional=True), (28, 28, 1), seed=0, num_classes=0)
