import numpy as np
import pytest

from gantrack.evaluation.metrics.classes import class_statistics


def one_hot(labels, num_classes=10):
    return np.eye(num_classes)[np.asarray(labels)]


BALANCED_LABELS = np.repeat(np.arange(10), 20)  # 20 real samples of each of 10 classes


def test_balanced_generator_covers_all_classes_with_zero_kl():
    statistics = class_statistics(one_hot(np.arange(200) % 10), BALANCED_LABELS, 10)
    assert statistics["classes_covered"] == 10
    assert statistics["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert statistics["samples_per_class"] == [20] * 10


def test_collapse_to_one_class_gives_log_number_of_classes():
    statistics = class_statistics(one_hot(np.full(50, 7)), BALANCED_LABELS, 10)
    assert statistics["classes_covered"] == 1
    assert statistics["class_kl"] == pytest.approx(np.log(10))
    assert statistics["samples_per_class"] == [0] * 7 + [50, 0, 0]


def test_kl_of_a_skewed_histogram_against_unbalanced_real_labels():
    # Generated 3:1, real 1:3 over two classes: KL = 3/4 log 3 + 1/4 log(1/3) = 1/2 log 3.
    generated = one_hot([0, 0, 0, 1], num_classes=2)
    statistics = class_statistics(generated, np.array([0, 1, 1, 1]), num_classes=2)
    assert statistics["class_kl"] == pytest.approx(0.5 * np.log(3))
    assert statistics["samples_per_class"] == [3, 1]
    assert statistics["smallest_class_share"] == 0.25
    assert statistics["largest_class_share"] == 0.75


def test_class_shares_of_a_balanced_and_a_collapsed_generator():
    balanced = class_statistics(one_hot(np.arange(200) % 10), BALANCED_LABELS, 10)
    assert balanced["smallest_class_share"] == balanced["largest_class_share"] == 0.1
    collapsed = class_statistics(one_hot(np.full(50, 7)), BALANCED_LABELS, 10)
    assert (collapsed["smallest_class_share"], collapsed["largest_class_share"]) == (0.0, 1.0)


def test_only_the_argmax_counts():
    probabilities = np.array([[0.4, 0.35, 0.25], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])
    statistics = class_statistics(probabilities, np.array([0, 1, 2]), num_classes=3)
    assert statistics["samples_per_class"] == [1, 0, 2]
    assert statistics["classes_covered"] == 2


def test_threshold_is_inclusive():
    # 100 samples: class 0 gets 98, classes 1 and 2 one each (exactly the 1% threshold).
    generated = one_hot([0] * 98 + [1, 2], num_classes=3)
    real = np.array([0, 1, 2])
    assert class_statistics(generated, real, 3, threshold=0.01)["classes_covered"] == 3
    assert class_statistics(generated, real, 3, threshold=0.02)["classes_covered"] == 1


def test_empty_real_class_is_rejected():
    with pytest.raises(ValueError, match=r"no samples of classes \[3\]"):
        class_statistics(one_hot([0, 1]), np.array([0, 1, 2, 4, 5, 6, 7, 8, 9]), 10)


def test_inputs_are_validated():
    with pytest.raises(ValueError, match=r"shape \(M >= 1, 10\)"):
        class_statistics(np.zeros((5, 9)), BALANCED_LABELS, 10)
    with pytest.raises(ValueError, match=r"must lie in \[0, 10\)"):
        class_statistics(one_hot([0]), np.array([0, 10]), 10)
    with pytest.raises(ValueError, match="integers"):
        class_statistics(one_hot([0]), BALANCED_LABELS.astype(float), 10)
    with pytest.raises(ValueError, match="threshold must be"):
        class_statistics(one_hot([0]), BALANCED_LABELS, 10, threshold=0.0)
