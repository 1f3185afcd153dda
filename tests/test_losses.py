import numpy as np
import pytest

from gantrack.config import LOSS_NAMES
from gantrack.losses import LOSSES, get_loss


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


REAL = np.array([[2.0], [-1.0], [0.0]], dtype=np.float32)
FAKE = np.array([[-3.0], [0.5], [1.0]], dtype=np.float32)


def test_discriminator_loss_is_binary_cross_entropy():
    expected = -np.mean(np.log(sigmoid(REAL))) - np.mean(np.log(1.0 - sigmoid(FAKE)))
    for name in LOSS_NAMES:
        value = float(get_loss(name).discriminator(REAL, FAKE))
        assert value == pytest.approx(expected, rel=1e-6)


def test_non_saturating_generator_loss():
    expected = -np.mean(np.log(sigmoid(FAKE)))
    assert float(get_loss("non_saturating").generator(FAKE)) == pytest.approx(expected, rel=1e-6)


def test_minimax_generator_loss_is_the_seed_formula():
    expected = np.mean(np.log(1.0 - sigmoid(FAKE)))
    assert float(get_loss("minimax").generator(FAKE)) == pytest.approx(expected, rel=1e-6)


def test_losses_are_finite_for_extreme_logits():
    logits = np.array([[-200.0], [200.0]], dtype=np.float32)
    for name in LOSS_NAMES:
        pair = get_loss(name)
        assert np.isfinite(float(pair.generator(logits)))
        assert np.isfinite(float(pair.discriminator(logits, logits)))


def test_registry_matches_config_names_and_rejects_unknown():
    assert set(LOSSES) == set(LOSS_NAMES)
    with pytest.raises(ValueError, match="valid names: minimax, non_saturating"):
        get_loss("wasserstein")
