import numpy as np
import pytest

from gantrack.config import CROSS_ENTROPY_LOSSES, LOSS_NAMES
from gantrack.gan.losses import LOSSES, get_loss


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


REAL = np.array([[2.0], [-1.0], [0.0]], dtype=np.float32)
FAKE = np.array([[-3.0], [0.5], [1.0]], dtype=np.float32)


def test_cross_entropy_discriminator_loss_is_binary_cross_entropy():
    expected = -np.mean(np.log(sigmoid(REAL))) - np.mean(np.log(1.0 - sigmoid(FAKE)))
    for name in CROSS_ENTROPY_LOSSES:
        value = float(get_loss(name).discriminator(REAL, FAKE))
        assert value == pytest.approx(expected, rel=1e-6)


def test_non_saturating_generator_loss():
    expected = -np.mean(np.log(sigmoid(FAKE)))
    assert float(get_loss("non_saturating").generator(FAKE)) == pytest.approx(expected, rel=1e-6)


def test_minimax_generator_loss_is_the_seed_formula():
    expected = np.mean(np.log(1.0 - sigmoid(FAKE)))
    assert float(get_loss("minimax").generator(FAKE)) == pytest.approx(expected, rel=1e-6)


# Hand-computed on REAL = (2, -1, 0), FAKE = (-3, 0.5, 1):
# wgan_gp  D: mean(fake) - mean(real) = -1.5/3 - 1/3 = -5/6;      G: -mean(fake) = 0.5
# hinge    D: mean(relu(1 - real)) + mean(relu(1 + fake)) = (0 + 2 + 1)/3 + (0 + 1.5 + 2)/3
#          = 1 + 3.5/3;                                           G: -mean(fake) = 0.5
# least_squares D: ½ mean((real - 1)²) + ½ mean(fake²) = ½ (1 + 4 + 1)/3 + ½ (9 + .25 + 1)/3
#          G: ½ mean((fake - 1)²) = ½ (16 + 0.25 + 0)/3
HAND_COMPUTED = {
    "wgan_gp": (-5.0 / 6.0, 0.5),
    "hinge": (1.0 + 3.5 / 3, 0.5),
    "least_squares": (0.5 * 6 / 3 + 0.5 * 10.25 / 3, 0.5 * 16.25 / 3),
}


@pytest.mark.parametrize("name", sorted(HAND_COMPUTED))
def test_other_losses_on_hand_computed_logits(name):
    discriminator, generator = HAND_COMPUTED[name]
    pair = get_loss(name)
    assert float(pair.discriminator(REAL, FAKE)) == pytest.approx(discriminator, rel=1e-6)
    assert float(pair.generator(FAKE)) == pytest.approx(generator, rel=1e-6)
    np.testing.assert_array_equal(np.asarray(pair.score(REAL)), REAL)  # raw critic scores


def test_one_sided_label_smoothing_changes_only_the_real_target():
    alpha = 0.1
    real, fake = sigmoid(REAL), sigmoid(FAKE)
    expected = -np.mean((1 - alpha) * np.log(real) + alpha * np.log(1 - real)) - np.mean(
        np.log(1 - fake)
    )
    pair = get_loss("non_saturating", label_smoothing=alpha)
    assert float(pair.discriminator(REAL, FAKE)) == pytest.approx(expected, rel=1e-6)
    # Generated images keep target 0: the smoothed loss equals the plain one on them alone.
    zero_real = np.full_like(REAL, 50.0)
    plain = float(get_loss("non_saturating").discriminator(zero_real, FAKE))
    smooth_fake_part = float(pair.discriminator(zero_real, FAKE)) - alpha * 50.0
    assert smooth_fake_part == pytest.approx(plain, rel=1e-4)
    with pytest.raises(ValueError, match="cross-entropy"):
        get_loss("hinge", label_smoothing=alpha)


def test_losses_are_finite_for_extreme_logits():
    logits = np.array([[-200.0], [200.0]], dtype=np.float32)
    for name in LOSS_NAMES:
        pair = get_loss(name)
        assert np.isfinite(float(pair.generator(logits)))
        assert np.isfinite(float(pair.discriminator(logits, logits)))


def test_registry_matches_config_names_and_rejects_unknown():
    assert set(LOSSES) == set(LOSS_NAMES)
    # Label smoothing is accepted by exactly the cross-entropy losses config names.
    smoothable = set()
    for name in LOSS_NAMES:
        try:
            get_loss(name, label_smoothing=0.1)
            smoothable.add(name)
        except ValueError as error:
            assert "label smoothing applies to the cross-entropy losses" in str(error)
    assert smoothable == set(CROSS_ENTROPY_LOSSES)
    with pytest.raises(ValueError, match="valid names: hinge, least_squares, minimax"):
        get_loss("wasserstein")
