"""Which files the run records name: the ones `python -m gantrack push` uploads."""

import pytest
import yaml

from gantrack.tracking.run_cache import RunCacheError, run_record_output_hashes


def write_record(runs, stage_key: str, value_key: str, outs: list[dict]) -> None:
    path = runs / stage_key[:2] / stage_key / value_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"cmd": "python pipeline/train.py", "outs": outs}))


def out(path: str, md5: str) -> dict:
    return {"path": path, "hash": "md5", "md5": md5, "size": 1}


def test_every_output_file_of_every_record_is_named_once(tmp_path):
    runs = tmp_path / "runs"
    write_record(runs, "ab12", "v1", [out("reports/train_log.csv", "1" * 32),
                                      out("models/generator", "2" * 32 + ".dir")])  # fmt: skip
    write_record(runs, "ab12", "v2", [out("reports/train_log.csv", "3" * 32)])
    write_record(runs, "cd34", "v1", [out("reports/metrics.json", "1" * 32)])  # same file
    # Folders: only the records' files; the .dir listing is dvc push's own business.
    assert run_record_output_hashes(runs) == {"1" * 32, "3" * 32}


def test_no_run_cache_names_nothing(tmp_path):
    assert run_record_output_hashes(tmp_path / "runs") == set()


def test_an_unreadable_record_is_named(tmp_path):
    record = tmp_path / "runs" / "ab" / "ab12" / "v1"
    record.parent.mkdir(parents=True)
    record.write_text("outs: [unclosed")
    with pytest.raises(RunCacheError, match=r"cannot read the run record .*v1"):
        run_record_output_hashes(tmp_path / "runs")
