import numpy as np
import pytest

from gantrack.data import (
    array_checksum,
    data_card,
    load_split,
    prepare_splits,
    save_split,
    scale_images,
    stratified_split,
    subsample_per_class,
)
from gantrack.datasets import MNIST_CLASSES, RawDataset


def make_raw(per_class=10, canonical=False) -> RawDataset:
    labels = np.repeat(np.arange(10), per_class)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (len(labels), 28, 28, 1), dtype=np.uint8)
    canonical_test = (np.arange(len(labels)) % per_class == 0) if canonical else None
    return RawDataset(images, labels, MNIST_CLASSES, "test", canonical_test)


def test_scale_images_maps_0_255_to_minus_one_one_keeping_the_shape():
    scaled = scale_images(np.array([[[[0], [255]], [[127], [128]]]], dtype=np.uint8))
    assert scaled.shape == (1, 2, 2, 1) and scaled.dtype == np.float32
    # x / 127.5 - 1, worked by hand: 0 -> -1, 255 -> 1, 127 -> -0.00392..., 128 -> 0.00392...
    np.testing.assert_allclose(scaled.ravel(), [-1.0, 1.0, -1 / 255, 1 / 255], atol=1e-7)


def test_stratified_split_is_disjoint_complete_proportional_and_seeded():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    train, test = stratified_split(labels, 0.2, seed=3)
    assert np.intersect1d(train, test).size == 0
    assert np.union1d(train, test).tolist() == list(range(100))
    assert np.bincount(labels[test]).tolist() == [2, 4, 6, 8]
    again = stratified_split(labels, 0.2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, test), again, strict=True))
    assert not np.array_equal(test, stratified_split(labels, 0.2, seed=4)[1])


def test_stratified_split_keeps_every_class_on_both_sides():
    labels = np.array([0, 0, 1, 1, 1])
    train, test = stratified_split(labels, 0.01, seed=0)
    assert set(labels[train]) == {0, 1} and set(labels[test]) == {0, 1}
    with pytest.raises(ValueError, match="class 2 has 1 image"):
        stratified_split(np.array([0, 0, 2]), 0.5, seed=0)


def test_prepared_splits_are_not_sorted_by_class():
    train, test = prepare_splits(make_raw(per_class=20), "stratified", 0.5, None, seed=0)
    for split in (train, test):
        first_tenth = split.labels[: len(split.labels) // 10]
        assert len(set(first_tenth.tolist())) > 3  # a sorted split would hold one class here


def test_subsample_per_class():
    labels = np.repeat(np.arange(3), 10)
    kept = subsample_per_class(labels, 4, seed=0)
    assert np.bincount(labels[kept]).tolist() == [4, 4, 4]


def test_prepare_splits_stratified_and_canonical():
    train, test = prepare_splits(make_raw(), "stratified", 0.2, None, seed=0)
    assert train.images.shape == (80, 28, 28, 1) and test.images.shape == (20, 28, 28, 1)
    assert train.images.min() >= -1.0 and train.images.max() <= 1.0
    train, test = prepare_splits(make_raw(canonical=True), "canonical", 0.2, None, seed=0)
    assert len(test.labels) == 10 and np.bincount(test.labels).tolist() == [1] * 10
    with pytest.raises(ValueError, match="no published test split"):
        prepare_splits(make_raw(), "canonical", 0.2, None, seed=0)


def test_data_card_counts_and_checksum(tmp_path):
    raw = make_raw()
    train, test = prepare_splits(raw, "stratified", 0.2, 6, seed=0)
    card = data_card("mnist_5k", raw, train, test, "stratified", 0)
    assert card["train"]["images_per_class"]["3"] == 5
    assert card["test"]["num_images"] == 10
    assert card["sha256"] == array_checksum(train.images, train.labels, test.images, test.labels)
    changed = train.images.copy()
    changed[0, 0, 0, 0] += 0.5
    assert array_checksum(changed, train.labels) != card["train"]["sha256"]
    save_split(tmp_path / "train.npz", train)
    loaded = load_split(tmp_path / "train.npz")
    assert array_checksum(loaded.images, loaded.labels) == card["train"]["sha256"]
