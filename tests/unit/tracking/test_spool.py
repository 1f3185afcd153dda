import errno
import json
import os

import pytest

from gantrack.errors import GantrackError
from gantrack.tracking.spool import JOURNAL, Spool, SpoolDiskFullError, send, spools


def test_pending_is_what_was_neither_acknowledged_nor_refused(tmp_path):
    spool = Spool.open(tmp_path, "run1", "http://127.0.0.1:5000", "train")
    first = spool.append("metrics", {"metrics": {"d_loss": 1.0}, "step": 1})
    second = spool.append("tags", {"tags": {"a": "b"}})
    third = spool.append("params", {"params": {"x": "1"}})
    spool.acknowledge(first.seq)
    spool.reject(third.seq, "INVALID_PARAMETER_VALUE")
    assert [record.seq for record in spool.pending()] == [second.seq]
    assert spool.rejected() == [(third.seq, "INVALID_PARAMETER_VALUE")]


def test_a_reopened_spool_keeps_its_run_and_numbers_on(tmp_path):
    spool = Spool.open(tmp_path, "run1", "sqlite:///x.db", "train")
    spool.append("metrics", {"metrics": {"a": 1.0}, "step": 1})
    again = Spool.open(tmp_path, "run1", "ignored: the first store stays", "sample")
    assert (again.run_id, again.tracking_uri, again.stage) == ("run1", "sqlite:///x.db", "train")
    assert again.append("metrics", {"metrics": {"a": 2.0}, "step": 2}).seq == 2
    assert [record.data["step"] for record in again.pending()] == [1, 2]


def test_a_torn_last_line_is_skipped(tmp_path):
    spool = Spool.open(tmp_path, "run1", "sqlite:///x.db")
    spool.append("metrics", {"metrics": {"a": 1.0}, "step": 1})
    with open(spool.folder / JOURNAL, "a") as journal:
        journal.write('{"seq": 2, "kind": "metr')  # killed mid-write
    assert [record.seq for record in Spool(spool.folder).pending()] == [1]


def test_a_record_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    spool = Spool.open(tmp_path, "run1", "sqlite:///x.db")
    spool.append("metrics", {"metrics": {"a": 1.0}, "step": 1})
    with open(spool.folder / JOURNAL, "a") as journal:
        journal.write('{"seq": 2, "kind": "metr')  # killed mid-write
    reopened = Spool(spool.folder)  # the next process
    reopened.append("metrics", {"metrics": {"a": 3.0}, "step": 3})
    reopened.acknowledge(1)
    assert [record.data["step"] for record in Spool(spool.folder).pending()] == [3]


def test_a_full_disk_is_one_error_naming_the_spool_and_keeps_what_it_holds(tmp_path):
    spool = Spool.open(tmp_path, "run1", "sqlite:///x.db")
    spool.append("metrics", {"metrics": {"a": 1.0}, "step": 1})
    journal = spool.folder / JOURNAL
    kept = journal.read_bytes()
    journal.rename(tmp_path / "journal.kept")
    journal.symlink_to("/dev/full")  # every write: ENOSPC
    with pytest.raises(SpoolDiskFullError) as full:
        spool.append("metrics", {"metrics": {"a": 2.0}, "step": 2})
    message = str(full.value)
    assert isinstance(full.value, GantrackError) and full.value.errno == errno.ENOSPC
    assert f"the disk holding the tracking spool {spool.folder} is full" in message
    assert "python -m gantrack sync" in message and "\n" not in message
    journal.unlink()
    (tmp_path / "journal.kept").rename(journal)
    assert journal.read_bytes() == kept and [r.seq for r in spool.pending()] == [1]


def test_a_file_that_does_not_fit_is_a_full_disk_and_leaves_no_half_copy(tmp_path):
    source = tmp_path / "train_log.csv"
    source.write_text("epoch\n1\n")
    spool = Spool.open(tmp_path / "spool", "run1", "sqlite:///x.db")
    copy = spool.folder / "files" / "1" / source.name
    copy.parent.mkdir(parents=True)
    copy.symlink_to("/dev/full")
    with pytest.raises(SpoolDiskFullError, match="is full"):
        spool.append("artifact", {"artifact_path": None}, files={source.name: source})
    assert spool.pending() == [] and not os.path.lexists(copy)


def test_a_copied_file_is_on_disk_before_the_line_that_names_it(tmp_path, monkeypatch):
    source = tmp_path / "train_log.csv"
    source.write_text("epoch\n1\n")
    spool = Spool.open(tmp_path / "spool", "run1", "sqlite:///x.db")
    synced, real_fsync = [], os.fsync

    def fsync(descriptor):
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    spool.append("artifact", {"artifact_path": None}, files={source.name: source})
    copy = str(spool.folder / "files" / "1" / source.name)
    assert copy in synced and str(spool.folder / JOURNAL) in synced
    assert synced.index(copy) < synced.index(str(spool.folder / JOURNAL))


def test_a_logged_file_is_copied_as_it_was(tmp_path):
    source = tmp_path / "train_log.csv"
    source.write_text("epoch\n1\n")
    spool = Spool.open(tmp_path / "spool", "run1", "sqlite:///x.db")
    record = spool.append("artifact", {"artifact_path": None}, files={source.name: source})
    source.write_text("epoch\n1\n2\n")  # the stage rewrites its output later
    copy = spool.file(record)
    assert copy.name == "train_log.csv" and copy.read_text() == "epoch\n1\n"


def test_unknown_kinds_are_refused(tmp_path):
    spool = Spool.open(tmp_path, "run1", "sqlite:///x.db")
    with pytest.raises(ValueError, match="unknown spool record kind 'metric'"):
        spool.append("metric", {})


def test_spools_lists_runs_and_removed_ones_vanish(tmp_path):
    for run in ("a", "b"):
        Spool.open(tmp_path, run, "sqlite:///x.db")
    (tmp_path / "stray").mkdir()
    found = spools(tmp_path)
    assert sorted(spool.run_id for spool in found) == ["a", "b"]
    found[0].remove()
    assert len(spools(tmp_path)) == 1
    assert spools(tmp_path / "absent") == []


class RecordingClient:
    def __init__(self):
        self.calls = []

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        self.calls.append(("log_batch", run_id, list(metrics), list(params), list(tags)))

    def log_artifact(self, run_id, local_path, artifact_path=None):
        self.calls.append(("log_artifact", run_id, local_path, artifact_path))

    def set_terminated(self, run_id, status, end_time=None):
        self.calls.append(("set_terminated", run_id, status, end_time))


def test_records_become_calls_with_their_own_time_and_step(tmp_path):
    spool = Spool.open(tmp_path, "run1", "sqlite:///x.db")
    client = RecordingClient()
    metrics = spool.append("metrics", {"metrics": {"d_loss": 0.5}, "step": 3})
    send(client, spool, metrics)
    (_, run_id, [metric], _, _) = client.calls[-1]
    assert run_id == "run1"
    assert (metric.key, metric.value, metric.step, metric.timestamp) == (
        "d_loss",
        0.5,
        3,
        metrics.time_ms,
    )
    params = {f"p{index}": index for index in range(250)}  # MLflow takes 100 per batch
    send(client, spool, spool.append("params", {"params": params}))
    assert [len(call[3]) for call in client.calls[1:]] == [100, 100, 50]
    end = spool.append("end", {"status": "FINISHED"})
    send(client, spool, end)
    assert client.calls[-1] == ("set_terminated", "run1", "FINISHED", end.time_ms)


def test_the_journal_is_json_lines(tmp_path):
    spool = Spool.open(tmp_path, "run1", "sqlite:///x.db")
    spool.append("metrics", {"metrics": {"a": float("nan")}, "step": 1})
    spool.acknowledge(1)
    lines = (spool.folder / JOURNAL).read_text().splitlines()
    assert json.loads(lines[1]) == {"done": 1}
