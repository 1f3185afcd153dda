import numpy as np
import pytest
from support.configs import tiny_train_config

from gantrack.gan.schedules import LinearTailDecay, learning_rate
from gantrack.gan.training import build_gan, train_gan


def test_the_rate_is_constant_then_falls_linearly_to_zero_at_the_end():
    schedule = LinearTailDecay(1e-3, total_steps=100, decay_steps=40)
    rates = np.array([float(schedule(step)) for step in range(101)])
    # Independently: constant through step 60, then (100 - t) / 40 of the initial rate.
    expected = [1e-3 if step <= 60 else 1e-3 * (100 - step) / 40 for step in range(101)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert rates[99] > 0 and rates[100] == 0  # the last update (t = 99) is not wasted


def test_a_rate_without_decay_is_the_plain_number_and_a_decay_needs_the_length():
    assert learning_rate(2e-4, None, 0.0) == 2e-4
    with pytest.raises(ValueError, match="total steps"):
        learning_rate(2e-4, None, 0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        LinearTailDecay(1e-3, total_steps=10, decay_steps=11)


def test_the_gan_trains_on_the_decayed_rates(params):
    """The optimisers hold the schedule and follow it through a run."""
    config = tiny_train_config(params, learning_rate_decay_fraction=0.5, critic_steps=2)
    gan = build_gan(config, (28, 28, 1), seed=0, total_steps=4)
    generator_rate = gan.generator_optimizer.learning_rate
    schedule = gan.generator_optimizer._learning_rate
    assert isinstance(schedule, LinearTailDecay) and schedule.total_steps == 4
    assert gan.discriminator_optimizer._learning_rate.total_steps == 8  # 2 critic updates each
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32)
    train_gan(gan, images, config, seed=0, callbacks=[], verbose=0)  # 2 steps of 8 images
    train_gan(gan, images, config, seed=0, callbacks=[], verbose=0, initial_epoch=0)
    assert int(gan.generator_optimizer.iterations) == 4
    assert int(gan.discriminator_optimizer.iterations) == 8  # 2 critic updates a step
    assert float(gan.discriminator_optimizer.learning_rate) == 0.0
    assert float(generator_rate) == pytest.approx(params.train.generator_learning_rate)
    assert float(gan.generator_optimizer.learning_rate) == 0.0  # the end of the schedule
