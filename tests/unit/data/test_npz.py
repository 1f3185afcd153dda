import io
import time
import zipfile

import numpy as np
import pytest

from gantrack.data import npz
from gantrack.data.npz import MAX_CLASSES, read_images_npz
from gantrack.errors import CorruptDatasetError


def save(tmp_path, **arrays):
    path = tmp_path / "own.npz"
    np.savez(path, **arrays)
    return path


def test_images_with_labels_and_class_names(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (6, 20, 20, 3), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    names = np.array(["cat", "dog", "owl"])
    read_images, read_labels, class_names = read_images_npz(
        save(tmp_path, images=images, labels=labels, class_names=names)
    )
    np.testing.assert_array_equal(read_images, images)
    assert read_labels.dtype == np.int64 and read_labels.tolist() == labels.tolist()
    assert class_names == ("cat", "dog", "owl")


def test_images_without_labels_are_unlabeled(tmp_path):
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    read_images, labels, class_names = read_images_npz(save(tmp_path, images=images))
    assert read_images.shape == (4, 28, 28) and labels is None and class_names == ()


def test_default_class_names_run_to_the_largest_label(tmp_path):
    _, _, class_names = read_images_npz(
        save(tmp_path, images=np.zeros((2, 8, 8), np.uint8), labels=np.array([0, 3]))
    )
    assert class_names == ("0", "1", "2", "3")


def test_floats_in_0_1_and_wider_integers_become_uint8(tmp_path):
    floats = np.array([0.0, 0.5, 1.0, 0.2]).reshape(1, 2, 2).astype(np.float32)
    assert read_images_npz(save(tmp_path, images=floats))[0].ravel().tolist() == [0, 128, 255, 51]
    integers = np.array([0, 7, 255, 9], dtype=np.int64).reshape(1, 2, 2)
    read = read_images_npz(save(tmp_path, images=integers))[0]
    assert read.dtype == np.uint8 and read.ravel().tolist() == [0, 7, 255, 9]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((1, 8, 8), np.uint8)}, r"no array named 'images' \(found \[\]"),
        ({"images": np.zeros((2, 64), np.uint8)}, r"'images' has shape \(2, 64\)"),
        ({"images": np.zeros((2, 8, 8, 4), np.uint8)}, r"'images' has shape \(2, 8, 8, 4\)"),
        ({"images": np.zeros((0, 8, 8), np.uint8)}, r"'images' has shape \(0, 8, 8\)"),
        ({"images": np.full((1, 8, 8), 300, np.int32)}, r"range over \[300, 300\]"),
        ({"images": np.full((1, 8, 8), -0.5)}, r"floats must lie in \[0, 1\].*\(images \+ 1\) / 2"),
        ({"images": np.full((1, 8, 8), np.nan)}, "NaN"),
        ({"images": np.zeros((1, 8, 8), bool)}, "'images' are bool"),
        (
            {"images": np.zeros((2, 8, 8), np.uint8), "labels": np.array([0.0, 1.0])},
            r"'labels' are float64 of shape \(2,\); expected integers of shape \(2,\)",
        ),
        (
            {"images": np.zeros((2, 8, 8), np.uint8), "labels": np.array([0, 1, 1])},
            r"'labels' are int64 of shape \(3,\)",
        ),
        ({"images": np.zeros((1, 8, 8), np.uint8), "labels": np.array([-1])}, "include -1"),
        (
            {
                "images": np.zeros((2, 8, 8), np.uint8),
                "labels": np.array([0, 2]),
                "class_names": np.array(["a", "b"]),
            },
            "labels go up to 2 but there are only 2 class_names",
        ),
        (
            {"images": np.zeros((1, 8, 8), np.uint8), "class_names": np.array(["a"])},
            "has 'class_names' but no 'labels'",
        ),
    ],
)
def test_wrong_arrays_are_named(tmp_path, arrays, message):
    path = save(tmp_path, **arrays)
    with pytest.raises(CorruptDatasetError, match=message) as caught:
        read_images_npz(path)
    assert str(caught.value).startswith(str(path))


def test_unreadable_files_are_named_and_absent_is_none(tmp_path):
    assert read_images_npz(tmp_path / "absent.npz") is None
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(CorruptDatasetError, match=r"bad\.npz: not a readable \.npz"):
        read_images_npz(bad)
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, images=np.array([object()], dtype=object))
    with pytest.raises(CorruptDatasetError, match=r"objects\.npz: not a readable \.npz.*Object"):
        read_images_npz(pickled)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(CorruptDatasetError, match=r"single array, not an \.npz"):
        read_images_npz(single)
    with pytest.raises(CorruptDatasetError, match="is a folder"):
        read_images_npz(tmp_path)


def test_a_huge_label_is_refused_at_once_not_named_class_by_class(tmp_path):
    path = save(tmp_path, images=np.zeros((2, 8, 8), np.uint8), labels=np.array([0, 2**62]))
    started = time.perf_counter()
    with pytest.raises(CorruptDatasetError) as refused:
        read_images_npz(path)
    assert time.perf_counter() - started < 1.0
    message = str(refused.value)
    assert f"labels go up to {2**62:,}" in message and f"at most {MAX_CLASSES:,} classes" in message
    assert "\n" not in message


def npz_with_header(path, name, shape, data: bytes):
    """An .npz whose ``name`` array claims ``shape`` (uint8) in its header, holding ``data``."""
    member = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(member, header)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}.npy", member.getvalue() + data)
    return path


def test_a_header_claiming_more_than_the_file_holds_is_named_not_allocated(tmp_path):
    path = npz_with_header(tmp_path / "liar.npz", "images", (1_000_000, 1000, 1000), bytes(64))
    with pytest.raises(CorruptDatasetError) as refused:  # was a raw MemoryError
        read_images_npz(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: 'images' claims shape (1000000, 1000, 1000)")
    assert "931.3 GiB" in message and "holds 64 bytes" in message


def test_an_array_larger_than_the_memory_free_is_named_before_loading(tmp_path, monkeypatch):
    path = save(tmp_path, images=np.zeros((4, 32, 32), np.uint8))
    monkeypatch.setattr(npz, "available_memory", lambda: 1000)  # bytes
    with pytest.raises(CorruptDatasetError, match=r"'images' needs 4\.0 KiB of memory; "):
        read_images_npz(path)
