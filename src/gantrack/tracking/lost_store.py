"""The lost-server policy (``mlflow.on_lost_server``): what a stage does when the MLflow
store went away while it ran: warn and carry on (``spool``), or fail (``fail``, exit 2).

Logged calls are spooled and replayed later (:mod:`gantrack.tracking.spool`), so either
way the stage's outputs are written and nothing logged is lost.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from gantrack.tracking.store import TrackingStoreError
from gantrack.tracking.tracker import Tracker, active_tracker, is_permanent, one_line


def report_lost_store(stage: str, tracker: Tracker, pending: int, on_lost_server: str) -> None:
    """One line: the store went away, N calls are spooled, how to replay them.

    ``on_lost_server`` ``"fail"`` raises :class:`TrackingStoreError` (exit 2; the outputs
    and the spool are kept), ``"spool"`` prints a warning and the stage succeeds.
    """
    message = (
        f"the MLflow store {tracker.store} went away during the run ({tracker.lost_reason}); "
        f"{pending} records are spooled in {tracker.spool.folder}; the outputs are written. "
        "Replay them into the same run with `python -m gantrack sync` once it is back "
        "(the next stage that reaches it does so too)"
    )
    _warn_or_fail(message, on_lost_server, f"gantrack {stage}")


def _warn_or_fail(message: str, on_lost_server: str, speaker: str = "gantrack") -> None:
    """``mlflow.on_lost_server``: ``"fail"`` raises :class:`TrackingStoreError` (exit 2),
    ``"spool"`` prints ``message`` as a warning and carries on."""
    if on_lost_server == "fail":
        raise TrackingStoreError(message + " [mlflow.on_lost_server: fail]") from None
    print(f"{speaker}: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def unless_store_lost(what: str, on_lost_server: str) -> Iterator[None]:
    """Run a block of direct MLflow calls that are not spooled (logging a model, which is
    many files and a registry entry). If the store stops answering inside it, say in one
    line what was skipped and how to redo it; with ``on_lost_server`` ``"fail"``, raise
    :class:`TrackingStoreError` instead. Errors of the calls themselves propagate."""
    import requests
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, requests.RequestException, OSError, TrackingStoreError) as error:
        if is_permanent(error):
            raise
        message = (
            f"{what} was skipped: the MLflow store {active_tracker().store} did not answer "
            f"({one_line(error)}); once it is back, `dvc repro --force <stage>` logs it"
        )
        _warn_or_fail(message, on_lost_server)
