import errno
import threading
import time

import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from gantrack.tracking.spool import Spool, SpoolDiskFullError
from gantrack.tracking.sync import replay
from gantrack.tracking.tracker import Tracker, activated, active_tracker


class Client:
    """An MlflowClient stand-in: records metrics; ``gate`` blocks calls, ``error`` fails them."""

    def __init__(self, error=None, fail_once=None):
        self.metrics = []
        self.ended = None
        self.error = error
        self.fail_once = fail_once  # raised by the next call only
        self.gate = threading.Event()
        self.gate.set()

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        self.gate.wait()
        if self.error is not None:
            raise self.error
        if self.fail_once is not None:
            error, self.fail_once = self.fail_once, None
            raise error
        self.metrics += [(metric.key, metric.step, metric.value) for metric in metrics]

    def log_artifact(self, run_id, local_path, artifact_path=None):
        if self.error is not None:
            raise self.error

    def set_terminated(self, run_id, status, end_time=None):
        if self.error is not None:
            raise self.error
        self.ended = status


def tracker(tmp_path, client, lines=None, retry_interval_s=0.05):
    spool = Spool.open(tmp_path / "spool", "run1", "http://127.0.0.1:1")
    say = lines.append if lines is not None else print
    return Tracker(client, spool, "http://127.0.0.1:1", retry_interval_s, say)


def test_logging_does_not_wait_for_a_stalled_store(tmp_path):
    client = Client()
    client.gate.clear()  # every call hangs, as on a server that stopped answering
    logging = tracker(tmp_path, client)
    started = time.perf_counter()
    for step in range(1, 51):
        logging.log_metrics({"d_loss": 1.0 / step}, step=step)
    assert time.perf_counter() - started < 1.0  # 50 calls: local appends, no sends awaited
    assert client.metrics == []
    client.gate.set()
    assert logging.close("FINISHED") == 0
    assert client.metrics == [("d_loss", step, 1.0 / step) for step in range(1, 51)]
    assert client.ended == "FINISHED"
    assert not logging.spool.folder.exists()  # all acknowledged: nothing left to replay


def test_a_full_disk_under_the_spool_is_named_at_once_not_blamed_on_the_store(tmp_path):
    client, lines = Client(), []
    logging = tracker(tmp_path, client, lines)
    journal_line = logging.spool._append_line

    def disk_full_for_acknowledgements(text):
        if '"done"' in text:
            raise OSError(errno.ENOSPC, "No space left on device")
        journal_line(text)

    logging.spool._append_line = disk_full_for_acknowledgements
    logging.log_metrics({"d_loss": 1.0}, step=1)
    started = time.perf_counter()
    with pytest.raises(SpoolDiskFullError, match=f"tracking spool {logging.spool.folder} is full"):
        logging.flush(timeout=10.0)
    assert time.perf_counter() - started < 2.0  # not the drain timeout
    assert not logging.lost  # the store answered: it is not blamed
    assert not any("not answering" in line for line in lines)
    assert [record.seq for record in logging.spool.pending()] == [1]  # kept for a replay
    with pytest.raises(SpoolDiskFullError):
        logging.close("FINISHED", timeout=10.0)
    assert logging.spool.claim()  # released: `gantrack sync` may replay it
    assert [record.kind for record in logging.spool.pending()] == ["metrics", "end"]


def test_a_store_that_goes_away_leaves_everything_spooled_and_one_line(tmp_path):
    client, lines = Client(), []
    logging = tracker(tmp_path, client, lines)
    logging.log_metrics({"d_loss": 1.0}, step=1)
    assert logging.flush(5.0)
    client.error = MlflowException("API request to http://127.0.0.1:1/... failed: refused")
    for step in (2, 3):
        logging.log_metrics({"d_loss": 1.0 / step}, step=step)
    picture = np.zeros((4, 4), np.uint8)
    logging.log_image(picture, "grids/epoch_003.png")
    started = time.perf_counter()
    pending = logging.close("FINISHED", timeout=5.0)
    assert time.perf_counter() - started < 2.0  # a lost store is not waited for
    assert pending == 4  # two metrics, the grid, the run's end
    assert logging.lost and "refused" in logging.lost_reason
    assert len([line for line in lines if "not answering" in line]) == 1
    assert logging.logged.artifacts == {"grids"}
    # The store comes back: a replay sends the rest, in order, and the run ends.
    client.error = None
    result = replay(Spool(logging.spool.folder), client)
    assert (result.sent, result.pending) == (4, 0)
    assert client.metrics == [("d_loss", 1, 1.0), ("d_loss", 2, 0.5), ("d_loss", 3, 1.0 / 3)]
    assert client.ended == "FINISHED"


def test_a_store_that_comes_back_mid_run_gets_everything_in_order(tmp_path):
    client, lines = Client(MlflowException("connection refused")), []
    logging = tracker(tmp_path, client, lines)
    for step in (1, 2, 3):
        logging.log_metrics({"g_loss": float(step)}, step=step)
    time.sleep(0.2)  # a few failed retries
    client.error = None
    assert logging.close("FINISHED") == 0
    assert [step for _, step, _ in client.metrics] == [1, 2, 3]
    assert any("is back" in line for line in lines)


def test_a_call_the_store_refuses_is_not_retried_forever(tmp_path):
    refused = MlflowException("param changed", error_code=INVALID_PARAMETER_VALUE)
    client, lines = Client(fail_once=refused), []
    logging = tracker(tmp_path, client, lines)
    logging.log_params({"train.epochs": 3})
    assert logging.close("FINISHED") == 0
    assert logging.rejected == 1 and not logging.lost
    assert any("refused a params call" in line for line in lines)


def test_logging_outside_a_stage_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="no MLflow run is open"):
        active_tracker()
    logging = tracker(tmp_path, Client())
    with activated(logging):
        assert active_tracker() is logging
    logging.close("FINISHED")


@pytest.mark.parametrize(
    "error, words",
    [
        (MlflowException("(OperationalError) attempt to write a readonly database"), "readonly"),
        (OSError(28, "No space left on device", "/srv/mlartifacts/1"), "No space left"),
    ],
    ids=["read-only sqlite", "full artifact disk"],
)
def test_a_store_that_cannot_write_is_named_and_nothing_is_lost(tmp_path, error, words):
    client, lines = Client(error), []
    logging = tracker(tmp_path, client, lines)
    logging.log_metrics({"d_loss": 1.0}, step=1)
    logging.log_artifact(tmp_path / "spool" / "run1" / "run.json")
    assert logging.close("FINISHED", timeout=5.0) == 3
    (line,) = lines
    assert "http://127.0.0.1:1 is not answering" in line
    assert words in line


def test_a_locked_store_is_retried_quietly_until_free(tmp_path):
    locked = MlflowException("(sqlite3.OperationalError) database is locked")
    client, lines = Client(fail_once=locked), []
    logging = tracker(tmp_path, client, lines)
    logging.log_metrics({"d_loss": 1.0}, step=1)
    assert logging.close("FINISHED", timeout=10.0) == 0
    assert client.metrics == [("d_loss", 1, 1.0)] and lines == []
