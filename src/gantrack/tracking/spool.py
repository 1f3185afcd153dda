"""A run's durable journal of tracking calls, kept until the store acknowledges them.

Every metric, param, tag and artifact a stage logs is first appended here, then sent (see
:mod:`gantrack.tracking.tracker`). A tracking server that goes away mid-run therefore costs
nothing: what it did not acknowledge stays in the journal, and :func:`replay` sends it
later into the same run (``python -m gantrack sync``, or the next stage that reaches it).

Layout of one run's spool, ``<root>/<run_id>/``::

    run.json        {"run_id", "tracking_uri", "stage"}
    owner.lock      flock(2)ed by the process whose run this is, while it runs
    journal.jsonl   one JSON object per line, appended with flush + fsync:
                      {"seq": 3, "kind": "metrics", "time_ms": ..., "data": {...}}  a call
                      {"done": 3}                          the store acknowledged call 3
                      {"rejected": 3, "error": "..."}      the store refused it for good
    files/<seq>/    copies of logged files (a stage may rewrite its outputs afterwards)

Experiments queued side by side share one spool root, and each stage replays what it
finds there: a spool whose run is still going is left alone. Its owner holds an exclusive
``flock`` on ``owner.lock`` from :meth:`Spool.open` to :meth:`Spool.release`; a replay
takes the spool only when that lock is free (:meth:`Spool.claim`). The kernel drops the
lock when the owner dies, so a killed run's spool is replayable at once.

A killed process loses at most the line it was writing: a torn last line is skipped, and
the next append starts on a line of its own, so the record after it is never glued onto
it. A copied file is fsynced (with its folder) before the journal line that names it. A
full disk is :class:`SpoolDiskFullError`, one line naming the spool's folder; nothing the
journal holds is lost, and ``python -m gantrack sync`` sends it once there is space.
Replay is idempotent: an acknowledged call is never sent again, and a call sent but not
yet acknowledged when the process died is harmless to resend (metrics keep their original
timestamp and MLflow's store drops exact duplicates; params, tags, artifacts and the run's
end overwrite themselves with the same values).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gantrack.errors import GantrackError
from gantrack.io import fsync_path, load_json, save_json
from gantrack.tracking.limits import log_in_batches

JOURNAL = "journal.jsonl"
RUN_FILE = "run.json"
LOCK_FILE = "owner.lock"
KINDS = ("metrics", "params", "tags", "artifact", "end")
# What a write reports when the disk (or the user's quota on it) has no room left.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class SpoolDiskFullError(GantrackError, OSError):
    """The disk holding a spool is full; what the spool holds is kept for a replay."""

    def __init__(self, folder: Path, error: OSError) -> None:
        super().__init__(
            error.errno,
            f"the disk holding the tracking spool {folder} is full ({error.strerror}); free "
            "space on it, then `python -m gantrack sync` sends what the spool holds (nothing "
            "it journaled is lost)",
        )

    def __str__(self) -> str:
        return self.strerror


@dataclass(frozen=True)
class SpoolRecord:
    """One tracking call: ``kind`` (one of :data:`KINDS`) and its ``data``, made at ``time_ms``."""

    seq: int
    kind: str
    time_ms: int
    data: Mapping[str, Any]


class Spool:
    """The journal of one MLflow run (thread-safe: the stage appends, a sender acknowledges)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        info = load_json(self.folder / RUN_FILE)
        self.run_id: str = info["run_id"]
        self.tracking_uri: str = info["tracking_uri"]
        self.stage: str | None = info.get("stage")
        self._lock = threading.Lock()
        self._next_seq = max((record.seq for record in self.records()), default=0) + 1
        self._owned = False  # whether this object holds the spool (see _acquire)

    @classmethod
    def open(cls, root: Path, run_id: str, tracking_uri: str, stage: str | None = None) -> Spool:
        """The spool of ``run_id`` under ``root``, created if new (kept if it exists), owned
        by this process until :meth:`release` (waits while a replay holds it)."""
        folder = Path(root).resolve() / run_id
        _acquire(folder, wait=True)
        if not (folder / RUN_FILE).exists():
            info = {"run_id": run_id, "tracking_uri": tracking_uri, "stage": stage}
            save_json(info, folder / RUN_FILE)
        spool = cls(folder)
        spool._owned = True
        return spool

    def claim(self) -> bool:
        """Take the spool for a replay; False while its run's process still holds it."""
        if not self._owned:
            self._owned = _acquire(self.folder.resolve(), wait=False)
        return self._owned

    def release(self) -> None:
        """Let replays take the spool (this holder is done with it)."""
        if self._owned:
            _release(self.folder.resolve())
            self._owned = False

    def append(
        self, kind: str, data: Mapping[str, Any], files: Mapping[str, Path] | None = None
    ) -> SpoolRecord:
        """Journal a call before it is sent; ``files`` (name -> path) are copied in first,
        and the record's ``data["file"]`` names the copy (relative to the spool)."""
        if kind not in KINDS:
            raise ValueError(f"unknown spool record kind {kind!r}; known: {', '.join(KINDS)}")
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
            data = dict(data)
            for name, source in (files or {}).items():
                copy = self.folder / "files" / str(seq) / name
                self._copy(Path(source), copy)
                data["file"] = copy.relative_to(self.folder).as_posix()
            record = SpoolRecord(seq, kind, int(time.time() * 1000), data)
            line = {"seq": seq, "kind": kind, "time_ms": record.time_ms, "data": data}
            self._write(line)
        return record

    def acknowledge(self, seq: int) -> None:
        """The store has the call ``seq``: never send it again."""
        with self._lock:
            self._write({"done": seq})

    def reject(self, seq: int, error: str) -> None:
        """The store refused ``seq`` for good (a bad request): keep it, but do not resend."""
        with self._lock:
            self._write({"rejected": seq, "error": error})

    def records(self) -> list[SpoolRecord]:
        """Every call journaled, in order."""
        return [_record(line) for line in self._lines() if "kind" in line]

    def pending(self) -> list[SpoolRecord]:
        """The calls the store has neither acknowledged nor refused, in order (one read)."""
        calls, settled = [], set()
        for line in self._lines():
            if "kind" in line:
                calls.append(_record(line))
            settled.update(line[key] for key in ("done", "rejected") if key in line)
        return [record for record in calls if record.seq not in settled]

    def rejected(self) -> list[tuple[int, str]]:
        return [(line["rejected"], line["error"]) for line in self._lines() if "rejected" in line]

    def file(self, record: SpoolRecord) -> Path:
        return self.folder / record.data["file"]

    def remove(self) -> None:
        """Delete the spool (call once nothing is pending), then release it."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.release()

    def _copy(self, source: Path, copy: Path) -> None:
        """Copy ``source`` to ``copy`` and make it durable before any line names it."""
        try:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
            fsync_path(copy)
            fsync_path(copy.parent)
        except OSError as error:
            if error.errno not in DISK_FULL_ERRNOS:
                raise
            copy.unlink(missing_ok=True)  # a half copy no line refers to
            raise SpoolDiskFullError(self.folder, error) from None

    def _write(self, line: Mapping[str, Any]) -> None:
        try:
            self._append_line(json.dumps(line, allow_nan=True) + "\n")
        except OSError as error:
            if error.errno not in DISK_FULL_ERRNOS:
                raise
            raise SpoolDiskFullError(self.folder, error) from None

    def _append_line(self, text: str) -> None:
        """Append ``text`` on a line of its own, durably (flush + fsync).

        After a torn last line (a process killed mid-write, a write cut short by a full
        disk), a newline first: the torn line stays unreadable, ``text`` stays whole.
        """
        with open(self.folder / JOURNAL, "a+b") as journal:
            end = journal.seek(0, os.SEEK_END)
            torn = end > 0 and os.pread(journal.fileno(), 1, end - 1) != b"\n"
            journal.write((b"\n" if torn else b"") + text.encode("utf-8"))
            journal.flush()
            os.fsync(journal.fileno())

    def _lines(self) -> Iterator[dict[str, Any]]:
        path = self.folder / JOURNAL
        if not path.exists():
            return
        with open(path, encoding="utf-8") as journal:
            for text in journal:
                try:
                    yield json.loads(text)
                except json.JSONDecodeError:
                    continue  # the torn last line of a killed process


# flock(2) belongs to an open file, so two opens in one process would block each other:
# a process takes each spool's lock once and counts its holders (a stage re-opening its
# own run's spool, tests opening one twice). folder -> [descriptor, holders].
_held: dict[Path, list[int]] = {}
_held_lock = threading.Lock()


def _acquire(folder: Path, wait: bool) -> bool:
    """Hold ``folder``'s owner.lock (creating the folder); False if another process holds
    it and not ``wait``. Held already in this process: one more holder."""
    with _held_lock:
        if folder in _held:
            if not wait:
                return False  # a holder in this process is still writing it
            _held[folder][1] += 1
            return True
        while True:
            if wait:
                folder.mkdir(parents=True, exist_ok=True)
            elif not folder.is_dir():
                return False
            descriptor = _lock(folder / LOCK_FILE, wait)
            if descriptor is None:
                return False
            if _still_linked(descriptor, folder / LOCK_FILE):
                _held[folder] = [descriptor, 1]
                return True
            os.close(descriptor)  # a replay removed the spool meanwhile
            if not wait:
                return False


def _release(folder: Path) -> None:
    with _held_lock:
        holding = _held.get(folder)
        if holding is None:
            return
        holding[1] -= 1
        if holding[1] == 0:
            os.close(holding[0])
            del _held[folder]


def _lock(path: Path, wait: bool) -> int | None:
    """A descriptor of ``path`` holding its exclusive flock; None if held and not ``wait``."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def _still_linked(descriptor: int, path: Path) -> bool:
    """Whether ``descriptor`` is still the file at ``path`` (not one removed meanwhile)."""
    with contextlib.suppress(FileNotFoundError):
        status, current = os.fstat(descriptor), os.stat(path)
        return (status.st_dev, status.st_ino) == (current.st_dev, current.st_ino)
    return False


def _record(line: Mapping[str, Any]) -> SpoolRecord:
    return SpoolRecord(line["seq"], line["kind"], line["time_ms"], line["data"])


def spool_root(repo_root: Path) -> Path:
    """Where runs' spools live: ``<repo>/.gantrack/spool`` (git-ignored)."""
    return Path(repo_root) / ".gantrack" / "spool"


def spools(root: Path) -> list[Spool]:
    """Every run's spool under ``root`` (oldest first)."""
    if not Path(root).is_dir():
        return []
    folders = [folder for folder in Path(root).iterdir() if (folder / RUN_FILE).is_file()]
    return [Spool(folder) for folder in sorted(folders, key=lambda f: f.stat().st_mtime)]


def send(client, spool: Spool, record: SpoolRecord) -> None:
    """Make the call ``record`` with an ``MlflowClient``: the one place records become calls."""
    from mlflow.entities import Metric, Param, RunTag

    run_id, data = spool.run_id, record.data
    if record.kind == "metrics":
        step = data.get("step") or 0
        values = data["metrics"].items()
        metrics = [Metric(key, float(value), record.time_ms, step) for key, value in values]
        log_in_batches(client.log_batch, run_id, metrics=metrics)
    elif record.kind == "params":
        params = [Param(key, str(value)) for key, value in data["params"].items()]
        log_in_batches(client.log_batch, run_id, params=params)
    elif record.kind == "tags":
        tags = [RunTag(key, str(value)) for key, value in data["tags"].items()]
        log_in_batches(client.log_batch, run_id, tags=tags)
    elif record.kind == "artifact":
        client.log_artifact(run_id, str(spool.file(record)), data.get("artifact_path"))
    elif record.kind == "end":
        client.set_terminated(run_id, data["status"], end_time=record.time_ms)
    else:
        raise ValueError(f"unknown spool record kind {record.kind!r}")
