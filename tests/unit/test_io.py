import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gantrack.gate.rules import GateRule, decide
from gantrack.gate.seed_sets import (
    SeedResult,
    SeedSet,
    read_seed_set,
    seed_from_metrics,
    write_seed_set,
)
from gantrack.io import (
    MISSING_VALUES,
    atomic_path,
    csv_sink,
    load_arrays,
    load_json,
    save_arrays,
    save_json,
)

BIN = Path(sys.executable).parent


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


def strict_json(path):
    """Parse as JSON readers other than Python's do: NaN and Infinity are not JSON."""

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


NON_FINITE = {
    "evaluator": {"fid": float("-inf"), "kid": float("nan"), "inception_score": 6.3},
    "per_class": [1.0, float("inf")],
}


def test_non_finite_numbers_are_written_as_null_with_the_reason_beside(tmp_path):
    path = tmp_path / "metrics.json"
    save_json(NON_FINITE, path)
    written = strict_json(path)
    assert written["evaluator"] == {"fid": None, "kid": None, "inception_score": 6.3}
    assert written["per_class"] == [1.0, None]
    assert written[MISSING_VALUES] == {
        "evaluator.fid": "-Infinity: not a finite number",
        "evaluator.kid": "NaN: not a finite number",
        "per_class.1": "Infinity: not a finite number",
    }
    save_json({"fid": 1.0}, path)
    assert MISSING_VALUES not in strict_json(path)  # only when something is missing


def test_the_gate_and_dvc_still_read_a_metrics_file_with_a_missing_value(tmp_path, params):
    path = tmp_path / "metrics.json"
    save_json({"evaluator": {**NON_FINITE["evaluator"], "precision": 0.7}}, path)
    metrics = json.loads(path.read_text())
    assert metrics["evaluator"]["fid"] is None  # strict JSON: -inf written as null
    seed = seed_from_metrics(metrics, "evaluator", 42, source=str(path))
    candidate = SeedSet("evaluator", (seed,))
    write_seed_set(candidate, tmp_path / "candidate.json")
    base = SeedSet(
        "evaluator",
        tuple(SeedResult(s, {"fid": 3.0 + s, "classes_covered": 10.0}) for s in range(10)),
    )
    result = decide(
        base, read_seed_set(tmp_path / "candidate.json"), GateRule.from_config(params.gate)
    )
    assert result.verdict == "regression"  # a missing FID is no longer a passing FID
    assert any("fid is NaN" in failure for failure in result.failures)
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    shown = subprocess.run(
        [BIN / "dvc", "metrics", "show", "metrics.json", "--json"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(shown.stdout)[""]["data"]["metrics.json"]["data"]
    assert data["evaluator"]["precision"] == 0.7 and "fid" not in data["evaluator"]


def test_atomic_writes_reach_the_disk_before_and_after_the_rename(tmp_path, monkeypatch):
    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source, target):
        events.append(("replace", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "metrics.json"
    save_json({"fid": 1.0}, target)
    (synced_file, renamed, synced_folder) = events
    assert synced_file[0] == "fsync" and synced_file[1].endswith(".tmp.json")
    assert renamed == ("replace", str(target))
    assert synced_folder == ("fsync", str(tmp_path))
