import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_cifar10 import write_folder as write_cifar_folder

from gantrack.data import datasets, registry
from gantrack.data.cifar10 import PYTHON_URL
from gantrack.data.conversion import convert_image
from gantrack.data.datasets import (
    DEBIAN_FASHION_MNIST,
    CorruptDatasetError,
    DatasetNotFoundError,
    load_dataset,
)
from gantrack.data.mnist import read_idx


def write_idx(path: Path, array: np.ndarray) -> Path:
    """An unsigned-byte IDX file, written independently of the reader under test."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    content = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def fake_splits(num_train=20, num_test=10, seed=0):
    rng = np.random.default_rng(seed)
    make = lambda n: (  # noqa: E731
        rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        np.arange(n, dtype=np.uint8) % 10,
    )
    return make(num_train), make(num_test)


def write_idx_folder(folder: Path, splits, gz=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    (train_images, train_labels), (test_images, test_labels) = splits
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", train_images)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", train_labels)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", test_images)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", test_labels)
    return folder


def failing_download():
    raise OSError("no network in this test")


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, suffix):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / f"x{suffix}", array)), array)


def test_read_idx_rejects_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(CorruptDatasetError, match="bad-idx: not an unsigned-byte IDX"):
        read_idx(bad)
    truncated = write_idx(tmp_path / "cut", np.zeros((3, 28, 28), np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(CorruptDatasetError, match=r"cut: header says shape \(3, 28, 28\)"):
        read_idx(truncated)


def test_mnist_5k_is_the_offline_default(tmp_path):
    raw = load_dataset("mnist_5k", None, tmp_path)
    assert raw.images.shape == (5000, 28, 28, 1) and raw.images.dtype == np.uint8
    assert np.bincount(raw.labels).tolist() == [500] * 10
    assert raw.images.max() == 255 and raw.canonical_test is None


def test_mnist_from_idx_folder_source(tmp_path):
    splits = fake_splits()
    folder = write_idx_folder(tmp_path / "mnist", splits, gz=False)
    raw = load_dataset("mnist", folder, tmp_path / "keras", download=failing_download)
    assert raw.images.shape == (30, 28, 28, 1)  # a channel axis, the pixels as stored
    np.testing.assert_array_equal(raw.images[:20, ..., 0], splits[0][0])
    assert raw.canonical_test.sum() == 10 and raw.canonical_test[20:].all()
    assert str(folder) in raw.origin


def test_mnist_from_keras_style_npz(tmp_path):
    (x_train, y_train), (x_test, y_test) = fake_splits()
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    raw = load_dataset("mnist", path, tmp_path / "keras", download=failing_download)
    assert raw.labels.tolist() == y_train.tolist() + y_test.tolist()


def test_mnist_from_keras_cache(tmp_path):
    (x_train, y_train), (x_test, y_test) = fake_splits()
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    raw = load_dataset("mnist", None, tmp_path / "keras", download=failing_download)
    assert len(raw.labels) == 30 and "Keras cache" in raw.origin


def test_missing_dataset_lists_every_place_and_the_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset(
            "mnist", tmp_path / "absent.npz", tmp_path / "keras", download=failing_download
        )
    message = str(caught.value)
    assert f"data.source {tmp_path / 'absent.npz'}: not found" in message
    assert f"Keras cache {tmp_path / 'keras' / 'datasets' / 'mnist.npz'}: not found" in message
    assert "Keras download" in message and "no network in this test" in message
    assert "set data.source" in message


def test_fashion_mnist_places_include_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr("gantrack.data.datasets.DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("fashion_mnist", None, tmp_path / "keras", download=failing_download)
    assert "Debian package dataset-fashion-mnist" in str(caught.value)
    assert "apt-get install dataset-fashion-mnist" in str(caught.value)


def test_fashion_mnist_from_idx_source(tmp_path):
    folder = write_idx_folder(tmp_path / "fashion", fake_splits())
    raw = load_dataset("fashion_mnist", folder, tmp_path / "keras", download=failing_download)
    assert raw.class_names[9] == "Ankle boot" and len(raw.labels) == 30


@pytest.mark.skipif(
    not DEBIAN_FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist absent"
)
def test_fashion_mnist_from_debian_package(tmp_path):
    raw = load_dataset("fashion_mnist", None, tmp_path / "keras", download=failing_download)
    assert raw.images.shape == (70000, 28, 28, 1)
    assert np.bincount(raw.labels).tolist() == [7000] * 10


def test_corrupt_npz_is_named(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(CorruptDatasetError, match=r"mnist\.npz: not a readable \.npz"):
        load_dataset("mnist", path, tmp_path / "keras", download=failing_download)


def test_npz_with_missing_or_misshaped_arrays_is_named(tmp_path):
    (x_train, y_train), (x_test, y_test) = fake_splits()
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=x_train, y_train=y_train)
    with pytest.raises(
        CorruptDatasetError, match=r"partial.npz: missing arrays \['x_test', 'y_test'\]"
    ):
        load_dataset("mnist", path, tmp_path / "keras", download=failing_download)
    np.savez(path, x_train=x_train.reshape(20, 784), y_train=y_train, x_test=x_test, y_test=y_test)
    with pytest.raises(CorruptDatasetError, match=r"partial.npz: images have shape \(20, 784\)"):
        load_dataset("mnist", path, tmp_path / "keras", download=failing_download)


def test_folder_without_idx_files_is_named(tmp_path):
    with pytest.raises(CorruptDatasetError, match="folder lacks the IDX files"):
        load_dataset("mnist", tmp_path, tmp_path / "keras", download=failing_download)


def test_unknown_dataset_name_lists_valid_names(tmp_path):
    valid = "valid names: mnist_5k, mnist, fashion_mnist, cifar10, image_folder, npz"
    with pytest.raises(ValueError, match=valid):
        load_dataset("svhn", None, tmp_path)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def test_image_folder_with_classes_resized_and_coloured(tmp_path):
    grey = np.full((64, 64), 200, np.uint8)
    write_png(tmp_path / "photos" / "b" / "1.png", grey)
    write_png(tmp_path / "photos" / "a" / "2.png", grey)
    raw = load_dataset(
        "image_folder", tmp_path / "photos", tmp_path / "keras", image_size=32, channels=3
    )
    assert raw.images.shape == (2, 32, 32, 3) and (raw.images == 200).all()
    assert raw.labels.tolist() == [0, 1] and raw.class_names == ("a", "b")
    assert raw.labelled and raw.source_kind == "image_folder" and raw.canonical_test is None
    assert raw.origin == f"data.source {tmp_path / 'photos'}"


def test_image_folder_stop_and_skip_through_load_dataset(tmp_path):
    write_png(tmp_path / "good.png", np.zeros((28, 28), np.uint8))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(10))  # a header, no image
    with pytest.raises(CorruptDatasetError, match=r"bad\.png: cannot be read.*on_unreadable: skip"):
        load_dataset("image_folder", tmp_path, tmp_path / "keras")
    raw = load_dataset("image_folder", tmp_path, tmp_path / "keras", on_unreadable="skip")
    assert not raw.labelled and raw.images.shape == (1, 28, 28, 1)
    assert [item.file for item in raw.skipped] == ["bad.png"]


def test_own_data_missing_or_of_the_wrong_kind_is_explained(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"data\.source .*absent: not found"):
        load_dataset("image_folder", tmp_path / "absent", tmp_path / "keras")
    with pytest.raises(DatasetNotFoundError, match="an 'images' array"):
        load_dataset("npz", tmp_path / "absent.npz", tmp_path / "keras")
    np.savez(tmp_path / "x.npz", images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(CorruptDatasetError, match="use dataset: npz"):
        load_dataset("image_folder", tmp_path / "x.npz", tmp_path / "keras")
    with pytest.raises(ValueError, match=r"npz needs source: set data\.source to the \.npz file"):
        load_dataset("npz", None, tmp_path / "keras")
    with pytest.raises(ValueError, match="source must be null for mnist_5k"):
        load_dataset("mnist_5k", tmp_path / "mnist.npz", tmp_path / "keras")


def test_every_registered_dataset_has_its_loader():
    for entry in registry.DATASETS:
        assert callable(getattr(datasets, entry.loader)), entry


def test_npz_dataset_is_converted_to_the_configured_format(tmp_path):
    images = np.zeros((4, 64, 64, 3), np.uint8)
    images[..., 0] = 255  # pure red: luma (299 * 255) / 1000 -> 76
    path = tmp_path / "own.npz"
    np.savez(path, images=images, labels=np.array([0, 1, 0, 1]))
    raw = load_dataset("npz", path, tmp_path / "keras", image_size=28, channels=1)
    assert raw.images.shape == (4, 28, 28, 1) and (raw.images == 76).all()
    assert raw.labels.tolist() == [0, 1, 0, 1] and raw.class_names == ("0", "1")
    np.savez(path, images=images)
    assert not load_dataset("npz", path, tmp_path / "keras", channels=3).labelled


@pytest.mark.parametrize(
    "cache_folder", ["cifar-10-batches-py", "cifar-10-batches-py-target/cifar-10-batches-py"]
)
def test_cifar10_from_the_keras_cache(tmp_path, cache_folder):
    write_cifar_folder(tmp_path / "keras" / "datasets" / cache_folder, "py", per_batch=2)
    raw = load_dataset(
        "cifar10", None, tmp_path / "keras", failing_download, image_size=32, channels=3
    )
    assert raw.images.shape == (12, 32, 32, 3) and raw.canonical_test.sum() == 2
    assert raw.class_names[0] == "airplane" and raw.source_kind == "cifar10_python"
    assert "Keras cache" in raw.origin


def test_cifar10_source_comes_first_and_missing_lists_places(tmp_path):
    written = write_cifar_folder(tmp_path / "bin", "bin", per_batch=1)
    raw = load_dataset("cifar10", tmp_path / "bin", tmp_path / "keras", failing_download)
    assert raw.images.shape == (6, 28, 28, 1) and raw.source_kind == "cifar10_binary"
    # 32 x 32 RGB -> 28 x 28 grey goes through the same conversion as any image
    expected = convert_image(Image.fromarray(written["test_batch"][0][0]), 28, 1)
    np.testing.assert_array_equal(raw.images[5], expected)
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("cifar10", None, tmp_path / "keras", failing_download)
    message = str(caught.value)
    assert "cifar-10-batches-py: not found" in message and "no network in this test" in message
    assert "cifar-10-binary.tar.gz" in message
    assert f"Keras download of cifar10 from {PYTHON_URL}" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorruptDatasetError, match="empty: holds no CIFAR-10 batches"):
        load_dataset("cifar10", tmp_path / "empty", tmp_path / "keras", failing_download)
