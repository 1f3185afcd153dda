import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from gantrack.data.cifar10 import (
    read_binary_batch,
    read_cifar10_folder,
    read_python_batch,
)
from gantrack.errors import CorruptDatasetError

BATCHES = [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]


def stand_in_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (count, 32, 32, 3) images (channels last) and labels 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    return images, (np.arange(count) + seed) % 10


def write_binary_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """The documented record layout, byte by byte: a label, then 1024 R, 1024 G, 1024 B."""
    records = bytearray()
    for image, label in zip(images, labels, strict=True):
        records.append(int(label))
        for channel in range(3):
            for row in range(32):
                for column in range(32):
                    records.append(int(image[row, column, channel]))
    path.write_bytes(bytes(records))
    return path


class Python2Pickler(pickle._Pickler):
    """Pickles text and bytes as Python 2 pickled its ``str``, as the published batches are.

    Python 3's protocol 2 writes bytes as a call of ``_codecs.encode``, which the published
    files never contain (and the restricted unpickler refuses), and text as unicode, where
    Python 2 (numpy's dtype codes, dict keys) wrote byte strings.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_str(self, value: bytes | str) -> None:
        if isinstance(value, str):
            value = value.encode("latin-1")
        if len(value) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(value)]) + value)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(value)) + value)
        self.memoize(value)

    dispatch[bytes] = dispatch[str] = save_python2_str


def python2_pickle(value) -> bytes:
    with io.BytesIO() as buffer:
        Python2Pickler(buffer, protocol=2).dump(value)
        return buffer.getvalue()


def write_python_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """As the Python version stores it: a dict with a (N, 3072) channel-major array."""
    data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {b"batch_label": b"stand-in", b"labels": [int(x) for x in labels], b"data": data}
    path.write_bytes(python2_pickle(batch))
    return path


def write_folder(folder: Path, version: str, per_batch=2) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    write, suffix = {"bin": (write_binary_batch, ".bin"), "py": (write_python_batch, "")}[version]
    written = {}
    for seed, name in enumerate(BATCHES):
        written[name] = stand_in_images(per_batch, seed)
        write(folder / f"{name}{suffix}", *written[name])
    return written


def test_binary_batch_round_trip(tmp_path):
    images, labels = stand_in_images(3, seed=1)
    read_images, read_labels = read_binary_batch(
        write_binary_batch(tmp_path / "b.bin", images, labels)
    )
    np.testing.assert_array_equal(read_images, images)
    assert read_labels.tolist() == labels.tolist() and read_labels.dtype == np.int64


def test_binary_batch_of_a_known_pixel(tmp_path):
    # One record: label 7, then red plane = 1, green plane = 2, blue plane = 3, except the
    # blue value of row 0, column 1 (byte 1 + 2048 + 1) = 200.
    record = bytearray([7] + [1] * 1024 + [2] * 1024 + [3] * 1024)
    record[1 + 2048 + 1] = 200
    path = tmp_path / "one.bin"
    path.write_bytes(bytes(record))
    images, labels = read_binary_batch(path)
    assert labels.tolist() == [7]
    assert images[0, 0, 0].tolist() == [1, 2, 3] and images[0, 0, 1].tolist() == [1, 2, 200]


def test_binary_batch_of_partial_records_is_named(tmp_path):
    path = tmp_path / "cut.bin"
    path.write_bytes(bytes(3073 + 100))
    with pytest.raises(CorruptDatasetError, match=r"cut\.bin: 3173 bytes is not a whole number"):
        read_binary_batch(path)


@pytest.mark.parametrize("version", ["bin", "py"])
def test_folder_gives_the_canonical_split(tmp_path, version):
    written = write_folder(tmp_path / "batches", version, per_batch=2)
    (
        (train_images, train_labels),
        (test_images, test_labels),
    ) = read_cifar10_folder(tmp_path / "batches")[0]
    assert train_images.shape == (10, 32, 32, 3) and test_images.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(train_images[2:4], written["data_batch_2"][0])
    np.testing.assert_array_equal(test_images, written["test_batch"][0])
    assert test_labels.tolist() == written["test_batch"][1].tolist()
    assert len(train_labels) == 10


def test_folder_is_also_found_one_level_down_and_absent_is_none(tmp_path):
    write_folder(tmp_path / "cifar-10-batches-bin", "bin", per_batch=1)
    assert read_cifar10_folder(tmp_path)[1] == "cifar10_binary"
    assert read_cifar10_folder(tmp_path / "elsewhere") is None


def test_partial_set_of_batches_names_the_missing_ones(tmp_path):
    write_folder(tmp_path, "bin", per_batch=1)
    (tmp_path / "data_batch_3.bin").unlink()
    with pytest.raises(CorruptDatasetError, match=r"\['data_batch_3.bin'\] are missing"):
        read_cifar10_folder(tmp_path)


def test_python_batch_as_numpy_1_pickled_it(tmp_path):
    # The published files name numpy 1's module; numpy 2 pickles name numpy._core.
    images, labels = stand_in_images(2, seed=3)
    path = write_python_batch(tmp_path / "batch", images, labels)
    content = path.read_bytes()
    assert b"numpy._core.multiarray" in content
    path.write_bytes(content.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    np.testing.assert_array_equal(read_python_batch(path)[0], images)


class RunsCommand:
    """What an attacker would pickle: loading it calls os.system(command)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("payload", ["os.system", "builtins.eval"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    gadget = RunsCommand(f"touch {marker}") if payload == "os.system" else CallsEval()
    path = tmp_path / "data_batch_1"
    path.write_bytes(python2_pickle({b"data": gadget, b"labels": [0]}))
    with pytest.raises(CorruptDatasetError) as caught:
        read_python_batch(path)
    message = str(caught.value)
    assert str(path) in message and "refused to load" in message and "malicious" in message
    assert ("system" in message) if payload == "os.system" else ("eval" in message)
    assert not marker.exists()


def test_python_batch_of_the_wrong_content_is_named(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(python2_pickle({b"data": [1, 2, 3], b"labels": [0]}))
    with pytest.raises(CorruptDatasetError, match="'data' is not a uint8"):
        read_python_batch(path)
    path.write_bytes(b"\x80\x02garbage")
    with pytest.raises(CorruptDatasetError, match="not a readable CIFAR-10 batch"):
        read_python_batch(path)
