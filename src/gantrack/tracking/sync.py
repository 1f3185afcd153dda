"""Replay spooled tracking calls into their runs (``python -m gantrack sync``).

A run's spool (:mod:`gantrack.tracking.spool`) holds the calls its store did not
acknowledge. Replaying sends them in their original order into the same run id, with
their original timestamps, and journals each acknowledgement: a second replay finds
nothing to send, and one interrupted half-way resumes where it stopped. A run whose
spool held its end (``FINISHED``) ends as it would have without the outage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gantrack.tracking.spool import Spool, send, spools
from gantrack.tracking.tracker import is_permanent, one_line


@dataclass(frozen=True)
class Replay:
    """What one run's replay did: calls ``sent``, ``rejected`` for good, still ``pending``."""

    run_id: str
    stage: str | None
    sent: int
    rejected: int
    pending: int
    error: str | None = None  # why it stopped early (the store did not answer)


def replay(spool: Spool, client) -> Replay:
    """Send ``spool``'s pending calls in order with ``client``; delete it when all are in.

    Stops at the first call the store does not answer (that call and the rest stay
    spooled); a call it refuses for good is marked rejected and skipped.
    """
    sent = rejected = 0
    records = spool.pending()
    for index, record in enumerate(records):
        try:
            send(client, spool, record)
        except Exception as error:
            if not is_permanent(error):
                left = len(records) - index
                return Replay(spool.run_id, spool.stage, sent, rejected, left, one_line(error))
            spool.reject(record.seq, one_line(error))
            rejected += 1
            continue
        spool.acknowledge(record.seq)
        sent += 1
    if not spool.rejected():
        spool.remove()
    return Replay(spool.run_id, spool.stage, sent, rejected, 0)


def replay_all(
    root: Path,
    tracking_uri: str,
    say: Callable[[str], None] = print,
    only_own_store: bool = True,
) -> list[Replay]:
    """Replay every spool under ``root`` into ``tracking_uri``.

    With ``only_own_store`` (what a stage does before it starts), only spools recorded for
    ``tracking_uri`` are replayed: their run ids exist in no other store. ``sync
    --tracking-uri`` turns it off for a server that came back at another address. A spool
    whose run is still going in another process (:meth:`Spool.claim`) is left alone.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    results = []
    for spool in spools(root):
        if only_own_store and spool.tracking_uri != tracking_uri:
            continue
        if not spool.claim():
            continue  # its run is still going (another queued experiment): not ours
        try:
            if not spool.pending():
                if not spool.rejected():
                    spool.remove()
                continue
            result = replay(spool, client)
            results.append(result)
            say(describe(result, spool))
        finally:
            spool.release()
    return results


def describe(result: Replay, spool: Spool) -> str:
    """One line on a run's replay."""
    run = f"run {result.run_id}" + (f" ({result.stage})" if result.stage else "")
    line = f"{run}: replayed {result.sent} spooled records"
    if result.rejected:
        line += f"; {result.rejected} refused by the store (listed in {spool.folder})"
    if result.pending:
        line += f"; {result.pending} still spooled: {result.error}"
    return line
