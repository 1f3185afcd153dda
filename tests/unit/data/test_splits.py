import hashlib
import json

import numpy as np
import pytest
import yaml

from gantrack.data.datasets import MNIST_CLASSES, RawDataset, load_dataset
from gantrack.data.image_folder import SkippedFile
from gantrack.data.splits import (
    UNLABELED,
    SplitError,
    UnlabeledDataError,
    array_checksum,
    data_card,
    evaluator_num_classes,
    load_split,
    prepare_splits,
    save_split,
    scale_images,
    stratified_split,
    subsample_per_class,
)
from gantrack.errors import GantrackError
from gantrack.io import save_json


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


def make_unlabeled(count=20) -> RawDataset:
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    skipped = (SkippedFile("cats/bad.png", "not a PNG or JPEG image"),)
    return RawDataset(
        images, None, (), "data.source /photos", source_kind="image_folder", skipped=skipped
    )


def test_unlabeled_data_gets_a_seeded_random_split():
    raw = make_unlabeled(20)
    train, test = prepare_splits(raw, "stratified", 0.25, None, seed=0)
    assert len(train.labels) == 15 and len(test.labels) == 5  # round(20 * 0.25)
    assert (train.labels == UNLABELED).all() and (test.labels == UNLABELED).all()
    assert train.images.shape == (15, 32, 32, 3)
    # every image once, on one side: compare the pixel rows as sets
    rows = {image.tobytes() for image in np.concatenate([train.images, test.images])}
    assert rows == {image.tobytes() for image in scale_images(raw.images)}
    again = prepare_splits(raw, "stratified", 0.25, None, seed=0)[1]
    np.testing.assert_array_equal(again.images, test.images)
    other = prepare_splits(raw, "stratified", 0.25, None, seed=1)[1]
    assert not np.array_equal(other.images, test.images)
    capped = prepare_splits(raw, "stratified", 0.25, 8, seed=0)  # a cap on the total
    assert len(capped[0].labels) + len(capped[1].labels) == 8


def test_too_few_images_to_split_is_a_user_error():
    with pytest.raises(SplitError, match="holds 1 image"):
        prepare_splits(make_unlabeled(1), "stratified", 0.2, None, seed=0)
    raw = make_raw(per_class=3)
    lonely = RawDataset(raw.images[:19], raw.labels[:19], MNIST_CLASSES, "data.source /x")
    with pytest.raises(SplitError, match=r"classes '6' \(1 image\) have fewer than 2"):
        prepare_splits(lonely, "stratified", 0.2, None, seed=0)
    assert issubclass(SplitError, GantrackError)


def test_data_card_of_unlabeled_data_with_skipped_files():
    raw = make_unlabeled(10)
    train, test = prepare_splits(raw, "stratified", 0.2, None, seed=0)
    card = data_card("image_folder", raw, train, test, "stratified", 0)
    assert card["labelled"] is False and card["num_classes"] == 0 and card["class_names"] == []
    assert card["split"] == "random" and card["source_kind"] == "image_folder"
    assert (card["image_size"], card["channels"]) == (32, 3)
    assert card["num_skipped"] == 1
    assert card["skipped"] == [{"file": "cats/bad.png", "reason": "not a PNG or JPEG image"}]
    assert card["train"]["images_per_class"] == {} and card["test"]["num_images"] == 2
    json.dumps(card)  # the card is written as JSON: plain types only


def test_data_card_of_labelled_data_names_the_classes():
    raw = make_raw()
    card = data_card("mnist_5k", raw, *prepare_splits(raw, "stratified", 0.2, None, 0), "s", 0)
    assert card["labelled"] is True and card["num_classes"] == 10
    assert card["class_names"] == list(MNIST_CLASSES) and card["num_skipped"] == 0
    assert (card["image_size"], card["channels"]) == (28, 1)


def test_evaluator_needs_labels_of_at_least_two_classes():
    raw = make_raw()
    card = data_card("mnist_5k", raw, *prepare_splits(raw, "stratified", 0.2, None, 0), "s", 0)
    assert evaluator_num_classes(card) == 10
    unlabeled = make_unlabeled(10)
    card = data_card(
        "npz", unlabeled, *prepare_splits(unlabeled, "stratified", 0.2, None, 0), "s", 0
    )
    with pytest.raises(UnlabeledDataError) as caught:
        evaluator_num_classes(card)
    message = str(caught.value)
    assert "needs class labels" in message and "labelled: false" in message
    assert "sub-folder" in message and "'labels' array" in message
    one_class = {**card, "labelled": True, "num_classes": 1, "class_names": ["cats"]}
    with pytest.raises(UnlabeledDataError, match=r"at least 2 classes.*has 1"):
        evaluator_num_classes(one_class)


def test_default_params_give_the_committed_data_card(params, repo_root, tmp_path):
    """28 x 28 greyscale at the default 28/1: no resampling, the committed run's exact bytes.

    The data card is a DVC output (not in git): dvc.lock holds the md5 of the committed
    run's card, whose sha256 covers every image and label of both splits.
    """
    lock = yaml.safe_load((repo_root / "dvc.lock").read_text())
    (committed,) = [
        out["md5"]
        for out in lock["stages"]["prepare"]["outs"]
        if out["path"] == str(params.paths.data_card)
    ]
    data = params.data
    raw = load_dataset(data.dataset, data.source, repo_root / "no-keras-home")
    train, test = prepare_splits(
        raw, data.split, data.test_fraction, data.max_images_per_class, params.seed
    )
    card = data_card(data.dataset, raw, train, test, data.split, params.seed)
    save_json(card, tmp_path / "data_card.json")
    assert hashlib.md5((tmp_path / "data_card.json").read_bytes()).hexdigest() == committed
