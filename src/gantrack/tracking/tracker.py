"""Logging that never waits on the tracking store: a spool in front, a sender behind.

A stage's logging calls (:mod:`gantrack.tracking.log`) go to the active :class:`Tracker`.
It journals each call in the run's :class:`~gantrack.tracking.spool.Spool` (a local file
append) and returns; one background thread sends the calls to MLflow in order. So the
training loop's speed never depends on the server's: a slow, stalled or dead server only
delays the sender.

When a send fails for a reason that may pass (connection refused, timeout, HTTP 5xx, a
read-only sqlite store, a full disk under the artifact store), the tracker says so in one
line, keeps journaling, and retries the same call every ``retry_interval_s``; a
store that comes back gets everything, in order. A locked sqlite store (another writer,
e.g. parallel queue workers) is retried within a second, quietly. When the stage ends,
the tracker waits at most ``DRAIN_TIMEOUT_S`` for the sender; what is left stays in the
spool for ``python -m gantrack sync``. A call the store refuses for good (MLflow's
INVALID_PARAMETER_VALUE and the like) is marked rejected and reported, not retried forever.

A full disk under the spool is not the store's fault: the stage's own append raises
:class:`~gantrack.tracking.spool.SpoolDiskFullError` at once, and when the sender's
acknowledgement hits it, the sender stops and :meth:`Tracker.flush` and
:meth:`Tracker.close` raise it, instead of waiting out the drain timeout and blaming
the store. The spool keeps what it holds for ``python -m gantrack sync``.
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gantrack.tracking.spool import Spool, SpoolDiskFullError, SpoolRecord, send

RETRY_INTERVAL_S = 10.0
LOCKED_RETRY_S = 1.0  # a locked sqlite store (another writer) frees up within seconds
DRAIN_TIMEOUT_S = 30.0
# MLflow error codes that a retry cannot fix: the call itself is wrong.
PERMANENT_ERROR_CODES = frozenset(
    {
        "INVALID_PARAMETER_VALUE",
        "RESOURCE_ALREADY_EXISTS",
        "RESOURCE_DOES_NOT_EXIST",
        "BAD_REQUEST",
        "INVALID_STATE",
    }
)
_STOP = object()


def is_locked_error(error: BaseException | None) -> bool:
    """True for sqlite's "database (table) is locked", raw or wrapped by MLflow/SQLAlchemy."""
    while error is not None:
        if "database is locked" in str(error) or "database table is locked" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def is_permanent(error: BaseException) -> bool:
    """True when resending the same call cannot succeed (MLflow refused it as invalid)."""
    return getattr(error, "error_code", None) in PERMANENT_ERROR_CODES


def one_line(error: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, at most ``limit`` characters."""
    text = str(error).strip().splitlines()
    message = f"{type(error).__name__}: {text[0] if text else ''}"
    return message if len(message) <= limit else message[: limit - 1] + "…"


@dataclass
class Logged:
    """What the stage logged (for its run record when the store cannot be read back)."""

    metrics: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: set[str] = field(default_factory=set)  # top-level artifact names


class Tracker:
    """Journal each call in ``spool``; send it with ``client`` (an ``MlflowClient``) behind."""

    def __init__(
        self,
        client,
        spool: Spool,
        store: str,
        retry_interval_s: float = RETRY_INTERVAL_S,
        say: Callable[[str], None] = print,
    ):
        self.client, self.spool, self.store = client, spool, store
        self.retry_interval_s = retry_interval_s
        self.say = say
        self.logged = Logged()
        self.lost_reason: str | None = None  # set while the store is not answering
        self.spool_error: SpoolDiskFullError | None = None  # what stopped the sender
        self.rejected = 0
        self._queue: queue.Queue = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = threading.Event()
        self._wake = threading.Event()  # cuts a retry wait short
        self._failures = 0  # failed attempts so far
        self._sender = threading.Thread(target=self._send_all, name="gantrack-tracker", daemon=True)
        self._sender.start()

    @property
    def lost(self) -> bool:
        return self.lost_reason is not None

    # ---- the calls a stage makes ----

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if metrics:
            self.logged.metrics.update(metrics)
            self._record("metrics", {"metrics": dict(metrics), "step": step})

    def log_params(self, params: Mapping[str, Any]) -> None:
        if params:
            self._record("params", {"params": {key: str(value) for key, value in params.items()}})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if tags:
            tags = {key: str(value) for key, value in tags.items()}
            self.logged.tags.update(tags)
            self._record("tags", {"tags": tags})

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Log the file ``path`` as it is now (copied into the spool) under ``folder``."""
        path = Path(path)
        self.logged.artifacts.add(folder.split("/")[0] if folder else path.name)
        self._record("artifact", {"artifact_path": folder}, files={path.name: path})

    def log_image(self, picture: np.ndarray, artifact_file: str) -> None:
        """Log a uint8 picture ``(H, W)`` or ``(H, W, C)`` as the PNG ``artifact_file``."""
        self._log_written(artifact_file, lambda path: _write_png(picture, path))

    def log_dict(self, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """Log ``dictionary`` as the JSON file ``artifact_file``."""
        import json

        text = json.dumps(dictionary, indent=2)
        self._log_written(artifact_file, lambda path: path.write_text(text, encoding="utf-8"))

    # ---- the stage's end ----

    def flush(self, timeout: float = DRAIN_TIMEOUT_S) -> bool:
        """Wait until the store has every call so far; False if it did not within
        ``timeout``. A store that is not answering gets one immediate retry, not the wait."""
        deadline = time.monotonic() + timeout
        failures = self._failures
        if self.lost:
            self._wake.set()  # retry now rather than after the retry interval
        while time.monotonic() < deadline:
            if self.spool_error is not None:
                raise self.spool_error
            if self._idle.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
                return True
            if self.lost and self._failures > failures:
                return False  # the retry failed too
        return False

    def close(self, status: str, timeout: float = DRAIN_TIMEOUT_S) -> int:
        """End the run with ``status``, give the sender at most ``timeout`` s, and stop it.

        Returns how many calls are still spooled (0: the store has the whole run, and the
        spool is deleted). Raises :class:`SpoolDiskFullError` when the spool's disk is full,
        with the sender stopped and the spool kept.
        """
        try:
            self._record("end", {"status": status})
            if not self.flush(timeout) and not self.lost:
                self.lost_reason = f"no answer within {timeout:.0f} s"
        except SpoolDiskFullError:
            self._stop_sender()
            self.spool.release()  # kept as it is, for a replay
            raise
        self._stop_sender()
        pending = len(self.spool.pending())
        if pending == 0:
            self.spool.remove()
        self.spool.release()  # what is left is for a replay (sync, or the next stage)
        return pending

    # ---- inside ----

    def _stop_sender(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._queue.put(_STOP)
        self._sender.join(timeout=1.0)

    def _log_written(self, artifact_file: str, write: Callable[[Path], Any]) -> None:
        import tempfile

        folder, _, name = artifact_file.rpartition("/")
        with tempfile.TemporaryDirectory(prefix="gantrack-artifact-") as scratch:
            path = Path(scratch, name)
            write(path)
            self.log_artifact(path, folder or None)

    def _record(
        self, kind: str, data: Mapping[str, Any], files: Mapping[str, Path] | None = None
    ) -> None:
        record = self.spool.append(kind, data, files)
        self._idle.clear()
        self._queue.put(record)

    def _send_all(self) -> None:
        while (record := self._queue.get()) is not _STOP:
            try:
                if not self._send(record):
                    return  # stopping while the store is away: the rest stays spooled
            except SpoolDiskFullError as error:
                self.spool_error = error  # flush and close raise it in the stage's thread
                self.say(f"gantrack: {error}")
                return
            if self._queue.empty():
                self._idle.set()

    def _send(self, record: SpoolRecord) -> bool:
        """Send one call until it is acknowledged or refused; False if stopped first."""
        while not self._stopping.is_set():
            try:
                send(self.client, self.spool, record)
            except Exception as error:
                if is_permanent(error):
                    self.rejected += 1
                    self.spool.reject(record.seq, one_line(error))
                    reason = one_line(error)
                    self.say(f"gantrack: the MLflow store refused a {record.kind} call: {reason}")
                    return True
                self._failures += 1
                if is_locked_error(error):  # busy, not gone: retry soon, quietly
                    self._wake.wait(LOCKED_RETRY_S * random.uniform(0.75, 1.25))
                    self._wake.clear()
                    continue
                if not self.lost:
                    self.lost_reason = one_line(error)
                    self.say(
                        f"gantrack: the MLflow store {self.store} is not answering "
                        f"({self.lost_reason}); logging goes on into {self.spool.folder}"
                    )
                self._wake.wait(self.retry_interval_s)
                self._wake.clear()
                continue
            self.spool.acknowledge(record.seq)
            if self.lost:
                self.lost_reason = None
                self.say(f"gantrack: the MLflow store {self.store} is back; sending the spool")
            return True
        return False


def _write_png(picture: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.asarray(picture, dtype=np.uint8)).save(path, format="PNG")


# The tracker of the stage that is running, if any (one stage per process).
_active: Tracker | None = None


@contextlib.contextmanager
def activated(tracker: Tracker) -> Iterator[Tracker]:
    """Make ``tracker`` the one :func:`active_tracker` returns inside the block."""
    global _active
    previous, _active = _active, tracker
    try:
        yield tracker
    finally:
        _active = previous


def active_tracker() -> Tracker:
    """The running stage's tracker; a ``RuntimeError`` outside a stage."""
    if _active is None:
        raise RuntimeError(
            "no MLflow run is open: gantrack logs inside a stage (gantrack.stage.run_stage)"
        )
    return _active
