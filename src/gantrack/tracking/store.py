"""Reaching the MLflow store: whether a server answers, retries while a sqlite store is
locked, and bounds on MLflow's HTTP calls.

Opening a run retries while a sqlite store is locked (parallel queue workers), as does
every call of a study's client, and a tracking server is checked with a short timeout
before a stage does any work.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, MutableMapping
from typing import ParamSpec, TypeVar

from gantrack.errors import GantrackError
from gantrack.tracking.tracker import is_locked_error

# Writes retry for about 1 + 2 + 4 + 8 + 8 + 8 = 31 s (plus MLflow's own 20 s busy wait per
# attempt): far longer than any write of another stage holds the lock, yet bounded.
LOCK_RETRY_ATTEMPTS = 7
LOCK_RETRY_FIRST_DELAY_S = 1.0
LOCK_RETRY_MAX_DELAY_S = 8.0
SERVER_CHECK_TIMEOUT_S = 5.0
# One HTTP call to the store gives up after about 3 x 10 s (+ 1 + 2 s of backoff).
HTTP_REQUEST_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}

Result = TypeVar("Result")
Arguments = ParamSpec("Arguments")


class TrackingStoreError(GantrackError):
    """The MLflow store cannot be reached or stays locked."""


def retry_when_locked(
    action: Callable[Arguments, Result],
    attempts: int = LOCK_RETRY_ATTEMPTS,
    first_delay: float = LOCK_RETRY_FIRST_DELAY_S,
    max_delay: float = LOCK_RETRY_MAX_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[Arguments, Result]:
    """``action`` retried while the store is locked, waiting d, 2d, 4d, ... (≤ ``max_delay``).

    Waits are jittered by ±25% so two writers that collided do not collide again in step.
    Other errors propagate at once. Wrap only idempotent writes (sqlite rolls back a locked
    transaction, so a locked write wrote nothing).
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")

    @functools.wraps(action)
    def retrying(*args: Arguments.args, **kwargs: Arguments.kwargs) -> Result:
        delay = first_delay
        for attempt in range(1, attempts + 1):
            try:
                return action(*args, **kwargs)
            except Exception as error:
                if not is_locked_error(error):
                    raise
                if attempt == attempts:
                    raise TrackingStoreError(
                        f"the MLflow store stayed locked through {attempts} attempts of "
                        f"{getattr(action, '__name__', 'a write')}: another process holds "
                        "a write lock on the sqlite database; retry when it has finished, or "
                        "use a tracking server (MLFLOW_TRACKING_URI=http://...) for many "
                        "parallel experiments"
                    ) from error
            sleep(delay * random.uniform(0.75, 1.25))
            delay = min(2 * delay, max_delay)
        raise AssertionError("unreachable")

    return retrying


class LockRetryingClient:
    """An MLflow client whose every call is :func:`retry_when_locked`.

    For a process that writes to the store while queue workers' stages write to it too (a
    study recording its recipes). Every call qualifies: a read cannot be half done, and a
    write that met the lock was rolled back, so calling it again cannot write twice.
    Attributes that are not callable pass through unchanged.
    """

    def __init__(self, client, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return retry_when_locked(attribute, sleep=self._sleep)


def is_server(tracking_uri: str) -> bool:
    """Whether the store is an MLflow server (http/https) rather than local sqlite or files."""
    return tracking_uri.startswith(("http://", "https://"))


def check_tracking_server(tracking_uri: str, timeout: float = SERVER_CHECK_TIMEOUT_S) -> None:
    """Raise :class:`TrackingStoreError` if an ``http(s)://`` store's ``/health`` fails.

    Without it, MLflow's HTTP client retries a dead server for minutes, after the work.
    """
    if not is_server(tracking_uri):
        return
    import requests

    url = tracking_uri.rstrip("/") + "/health"
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as error:
        raise TrackingStoreError(
            f"MLflow tracking server {tracking_uri} is unreachable ({type(error).__name__}: "
            f"{error}); start it (mlflow server --host 127.0.0.1 --port ...), or point "
            "MLFLOW_TRACKING_URI at a running one, or unset MLFLOW_TRACKING_URI to use the "
            "local sqlite store"
        ) from None
    if response.status_code >= 500:
        raise TrackingStoreError(
            f"MLflow tracking server {tracking_uri} answered {url} with HTTP "
            f"{response.status_code}; check the server's log, or unset MLFLOW_TRACKING_URI "
            "to use the local sqlite store"
        )


def bound_http_requests(environ: MutableMapping[str, str]) -> None:
    """The project's bounds on MLflow's HTTP calls, unless the user set their own.

    MLflow's defaults (a 120 s timeout, 7 retries with exponential backoff) make one call
    to a dead server take minutes; the tracker retries on its own schedule instead.
    """
    for name, value in HTTP_REQUEST_BOUNDS.items():
        environ.setdefault(name, value)
