import csv

import numpy as np
import pytest

from gantrack.io import atomic_path, csv_sink, load_arrays, load_json, save_arrays, save_json


def test_atomic_path_keeps_old_content_on_failure(tmp_path):
    target = tmp_path / "metrics.json"
    save_json({"fid": 1.0}, target)
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half-writ")
        raise RuntimeError("crash while writing")
    assert load_json(target) == {"fid": 1.0}
    assert list(tmp_path.iterdir()) == [target]  # no temporary left behind


def test_atomic_path_keeps_suffix_for_format_sniffing_writers(tmp_path):
    with atomic_path(tmp_path / "model.keras") as temporary:
        assert temporary.suffix == ".keras"
        temporary.write_text("x")
    assert (tmp_path / "model.keras").read_text() == "x"


def test_arrays_round_trip_and_missing_names(tmp_path):
    path = tmp_path / "split.npz"
    images = np.arange(12, dtype=np.float32).reshape(3, 2, 2, 1)
    save_arrays(path, images=images)
    np.testing.assert_array_equal(load_arrays(path, ("images",))["images"], images)
    with pytest.raises(ValueError, match=r"missing arrays \['labels'\]"):
        load_arrays(path, ("images", "labels"))
    with pytest.raises(FileNotFoundError, match="dvc repro"):
        load_arrays(tmp_path / "absent.npz", ("images",))


def test_csv_sink_rewrites_a_complete_file_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    sink = csv_sink(path)
    sink(1, {"epoch": 1, "d_loss": 1.5})
    sink(2, {"epoch": 2, "d_loss": 1.25})
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"epoch": "1", "d_loss": "1.5"}, {"epoch": "2", "d_loss": "1.25"}]
