import os
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrack.data.image_folder import (
    MAX_IMAGE_PIXELS,
    list_image_files,
    read_image_file,
    read_image_folder,
)
from gantrack.errors import CorruptDatasetError, UnreadableImageError


def write_image(path: Path, value, size=(40, 40), mode="RGB") -> Path:
    """A solid image; the format comes from the suffix (Pillow)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)
    return path


def write_truncated_png(path: Path) -> Path:
    write_image(path, (10, 20, 30))
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    return path


def test_class_subfolders_give_labels_and_sorted_class_names(tmp_path):
    write_image(tmp_path / "zebra" / "a.png", (255, 255, 255))
    write_image(tmp_path / "apple" / "b.jpg", (0, 0, 0))
    write_image(tmp_path / "apple" / "nested" / "c.jpeg", (0, 0, 0))
    write_image(tmp_path / "mango" / "d.PNG", (128, 128, 128))
    folder = read_image_folder(tmp_path, 32, 1, "stop")
    assert folder.class_names == ("apple", "mango", "zebra")
    # files in sorted order of relative path: apple/b, apple/nested/c, mango/d, zebra/a
    assert folder.labels.tolist() == [0, 0, 1, 2]
    assert folder.images.shape == (4, 32, 32, 1) and folder.images.dtype == np.uint8
    assert folder.images[3].min() == 255 and folder.images[2].max() == 128


def test_flat_folder_is_unlabeled(tmp_path):
    write_image(tmp_path / "one.png", (1, 1, 1))
    write_image(tmp_path / "sub" / "two.png", (2, 2, 2))  # an image at the top: no classes
    folder = read_image_folder(tmp_path, 28, 3, "stop")
    assert folder.labels is None and folder.class_names == ()
    assert folder.images.shape == (2, 28, 28, 3)
    assert folder.images[0].max() == 1 and folder.images[1].max() == 2


def test_hidden_and_other_files_are_not_read_but_counted(tmp_path):
    write_image(tmp_path / "a" / "x.png", 0)
    write_image(tmp_path / ".thumbnails" / "y.png", 0)
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "a" / "notes.txt").write_text("hi")
    (tmp_path / "a" / "README").write_text("hi")
    files, ignored = list_image_files(tmp_path)
    assert [str(path) for path in files] == ["a/x.png"]
    assert ignored == {"(no suffix)": 1, ".txt": 1}
    assert read_image_folder(tmp_path, 28, 1, "stop").ignored_files == ignored


def unreadable_folder(tmp_path: Path) -> Path:
    write_image(tmp_path / "cats" / "1.png", (255, 0, 0))
    write_truncated_png(tmp_path / "cats" / "2.png")
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "3.jpg").write_text("not an image at all")
    write_image(tmp_path / "dogs" / "4.png", (0, 255, 0))
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(tmp_path / "dogs" / "5.png")
    return tmp_path


def test_stop_names_the_first_unreadable_file_and_suggests_skip(tmp_path):
    folder = unreadable_folder(tmp_path)
    with pytest.raises(UnreadableImageError) as caught:
        read_image_folder(folder, 28, 3, "stop")
    message = str(caught.value)
    assert str(folder / "cats" / "2.png") in message and "truncated" in message
    assert "data.on_unreadable: skip" in message
    assert isinstance(caught.value, CorruptDatasetError)


def test_skip_lists_every_unreadable_file_with_its_reason(tmp_path):
    result = read_image_folder(unreadable_folder(tmp_path), 28, 3, "skip")
    reasons = {item.file: item.reason for item in result.skipped}
    assert list(reasons) == ["cats/2.png", "dogs/3.jpg", "dogs/5.png"]
    assert "truncated" in reasons["cats/2.png"]
    assert reasons["dogs/3.jpg"] == "not a PNG or JPEG image"
    assert "mode 'I;16'" in reasons["dogs/5.png"] and "8-bit" in reasons["dogs/5.png"]
    # the readable ones, with their labels
    assert result.labels.tolist() == [0, 1] and result.class_names == ("cats", "dogs")
    assert (result.images[0] == (255, 0, 0)).all() and (result.images[1] == (0, 255, 0)).all()


def test_only_png_and_jpeg_decoders_run(tmp_path):
    path = tmp_path / "disguised.png"
    Image.new("RGB", (8, 8)).save(path, format="BMP")
    with pytest.raises(UnreadableImageError, match="not a PNG or JPEG image"):
        read_image_file(path, 28, 1)


def test_exif_orientation_is_applied(tmp_path):
    # A 20 x 10 landscape image whose EXIF says "rotate 90°": it is shown as 10 x 20.
    pixels = np.zeros((10, 20), dtype=np.uint8)
    pixels[:, :10] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=100)
    upright = read_image_file(path, 10, 1)[..., 0]
    # Displayed upright the white half is on top; the centre crop keeps rows 5..14 of 20.
    assert upright[:5].mean() > 200 and upright[5:].mean() < 50


def test_empty_or_all_unreadable_folders_stop(tmp_path):
    with pytest.raises(CorruptDatasetError, match="no image files found"):
        read_image_folder(tmp_path, 28, 1, "skip")
    write_truncated_png(tmp_path / "bad.png")
    with pytest.raises(CorruptDatasetError, match=r"none of its 1 image files could be read"):
        read_image_folder(tmp_path, 28, 1, "skip")


def test_unknown_policy_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="valid: stop, skip"):
        read_image_folder(tmp_path, 28, 1, "ignore")


@contextmanager
def at_most(seconds: int):
    """Fail instead of hanging: SIGALRM interrupts a blocking open()."""

    def hung(*_):
        raise TimeoutError(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_fifo_named_png_is_not_read_and_the_card_says_so(tmp_path):
    write_image(tmp_path / "cats" / "1.png", (255, 0, 0))
    os.mkfifo(tmp_path / "cats" / "2.png")  # opening it for reading waits for a writer
    with at_most(5):
        folder = read_image_folder(tmp_path, 28, 1, "stop")
    assert len(folder.images) == 1
    assert folder.ignored_files == {"(not a regular file)": 1}


def test_a_symlink_to_an_image_outside_the_folder_is_not_training_data(tmp_path):
    data, elsewhere = tmp_path / "data", tmp_path / "private"
    write_image(data / "cats" / "1.png", (255, 0, 0))
    write_image(elsewhere / "secret.png", (0, 0, 255))
    (data / "cats" / "2.png").symlink_to(elsewhere / "secret.png")
    (data / "dogs").symlink_to(elsewhere, target_is_directory=True)  # a linked class folder
    folder = read_image_folder(data, 28, 3, "stop")
    assert len(folder.images) == 1 and folder.class_names == ("cats",)
    assert folder.ignored_files == {"(symbolic link)": 2}


def test_a_file_swapped_for_a_symlink_after_listing_is_refused(tmp_path):
    write_image(tmp_path / "secret.png", (0, 0, 255))
    (tmp_path / "swapped.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(UnreadableImageError, match="not a regular file"):
        read_image_file(tmp_path / "swapped.png", 28, 1)


def test_an_image_of_more_pixels_than_the_cap_is_an_error_not_a_warning(tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("1", (12_000, 12_000)).save(huge)  # 144 M pixels: Pillow only warned
    with pytest.raises(UnreadableImageError) as refused:
        read_image_file(huge, 28, 1)
    reason = refused.value.reason
    assert reason.startswith(
        f"12000×12000 = 144,000,000 pixels, above the cap of {MAX_IMAGE_PIXELS:,}"
    )
