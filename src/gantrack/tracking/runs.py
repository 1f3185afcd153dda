"""MLflow: one run per pipeline execution, whichever stages it runs.

DVC runs each stage as its own process, so stages share a *key* instead of a run object:
the pid and start time of the ``dvc`` process that launched them. The first stage creates
the run tagged with the key; later stages find it by the tag. A stage run outside DVC gets
a run of its own. The default store is ``<DVC_ROOT>/mlflow.db``: DVC sets ``DVC_ROOT`` to
the original repository even for ``--temp`` and queued experiments, so all runs land in
one store. Opening the run retries while a sqlite store is locked (parallel queue
workers), and a tracking server is checked with a short timeout before a stage does any
work. Everything logged after that goes through the run's spool and a background sender
(:mod:`gantrack.tracking.tracker`): a store that goes away mid-run costs no work.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from gantrack.config import Params, flatten_params
from gantrack.errors import GantrackError
from gantrack.tracking.spool import Spool
from gantrack.tracking.tracker import (
    Tracker,
    activated,
    active_tracker,
    is_locked_error,
    is_permanent,
    one_line,
)

DEFAULT_EXPERIMENT = "gantrack"
EXECUTION_KEY_TAG = "gantrack.execution_key"
STAGES_TAG = "gantrack.stages"
# The environment a run ran in: the SHA-256 of the repository's uv.lock (every package's
# version and hash), so two runs' environments compare by one tag.
LOCK_FILE = "uv.lock"
LOCK_TAG = "gantrack.lock_sha256"

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


@dataclass(frozen=True)
class TrackingContext:
    """Where and under which run a stage logs; built from the environment at the edge."""

    tracking_uri: str
    experiment_name: str
    repo_root: Path
    execution_key: str | None = None
    dvc_experiment: str | None = None
    dvc_baseline: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], script_root: Path) -> TrackingContext:
        """Read ``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME`` and DVC's variables."""
        repo_root = Path(environ.get("DVC_ROOT") or script_root).resolve()
        return cls(
            tracking_uri=environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(repo_root),
            experiment_name=environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT,
            repo_root=repo_root,
            execution_key=environ.get("GANTRACK_EXECUTION_KEY") or dvc_execution_key(),
            dvc_experiment=environ.get("DVC_EXP_NAME"),
            dvc_baseline=environ.get("DVC_EXP_BASELINE_REV"),
        )


def default_tracking_uri(repo_root: Path) -> str:
    return f"sqlite:///{(repo_root / 'mlflow.db').resolve()}"


def dvc_execution_key() -> str | None:
    """``"<pid>-<start time>"`` of the nearest ancestor ``dvc`` process (the start time
    keeps the key unique when a pid is reused), or None."""
    import psutil

    with contextlib.suppress(psutil.Error, OSError):
        for process in psutil.Process().parents():
            if _is_dvc(process.cmdline()):
                return f"{process.pid}-{process.create_time():.3f}"
    return None


def _is_dvc(command_line: list[str]) -> bool:
    # `.../bin/dvc repro`, `python .../bin/dvc exp run`, `python -m dvc repro`
    names = [Path(argument).name for argument in command_line[:3]]
    return "dvc" in names or command_line[2:4] == ["-m", "dvc"]


def git_state(repo_root: Path) -> tuple[str | None, bool | None, str | None]:
    """(commit, dirty, branch) of the git work tree at ``repo_root``; Nones outside git.

    The branch is None on a detached HEAD (CI checkouts, DVC's experiment copies).
    """
    outputs = []
    for arguments in (
        ["rev-parse", "HEAD"],
        ["status", "--porcelain", "--untracked-files=no"],
        ["symbolic-ref", "--quiet", "--short", "HEAD"],
    ):
        try:
            result = subprocess.run(
                ["git", *arguments], cwd=repo_root, capture_output=True, text=True, check=True
            )
            outputs.append(result.stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            outputs.append(None)
    commit, status, branch = outputs
    return commit, (None if status is None else bool(status)), branch or None


def run_name(commit: str | None, dirty: bool | None, branch: str | None) -> str | None:
    """What a `dvc repro` run is called in the MLflow UI: ``main@1a2b3c4``, ``+dirty`` when
    the work tree has uncommitted changes; None (MLflow's random name) outside git."""
    if commit is None:
        return None
    name = f"{branch}@{commit[:7]}" if branch else commit[:7]
    return f"{name}+dirty" if dirty else name


@contextlib.contextmanager
def stage_run(
    stage: str, params: Params, context: TrackingContext, work_dir: Path
) -> Iterator[Any]:
    """Open (or re-open) this execution's MLflow run for ``stage``; yields the active run.

    Logs the flattened params and tags (git commit and dirty flag, DVC experiment and
    baseline, dataset, the stages run so far, the SHA-256 of uv.lock: the environment).
    Everything logged inside goes through a
    :class:`~gantrack.tracking.tracker.Tracker` and the run's spool; an exception inside
    ends the run FAILED. A store that went away mid-run is reported in one line when the
    block ends (:func:`report_lost_store`), after the stage's outputs are written.
    """
    import mlflow

    mlflow.set_tracking_uri(context.tracking_uri)
    commit, dirty, branch = git_state(work_dir)
    # A DVC experiment keeps its own name; a plain `dvc repro` is named by its code.
    name = context.dvc_experiment or run_name(commit, dirty, branch)
    run = retry_when_locked(_open_run)(context, name)
    spool = Spool.open(spool_root(context.repo_root), run.info.run_id, context.tracking_uri, stage)
    tracker = Tracker(mlflow.MlflowClient(context.tracking_uri), spool, context.tracking_uri)
    with activated(tracker):
        try:
            tags = {
                EXECUTION_KEY_TAG: context.execution_key,
                STAGES_TAG: ",".join(filter(None, [run.data.tags.get(STAGES_TAG), stage])),
                MLFLOW_GIT_COMMIT: commit,
                "gantrack.git_dirty": None if dirty is None else str(dirty).lower(),
                "dvc.experiment": context.dvc_experiment,
                "dvc.baseline": context.dvc_baseline,
                "gantrack.dataset": params.data.dataset,
                LOCK_TAG: lock_sha256(context.repo_root),
            }
            tracker.set_tags({key: value for key, value in tags.items() if value is not None})
            tracker.log_params(flatten_params(params))
            yield run
        except BaseException:
            _end(tracker, "FAILED")
            raise
        pending = _end(tracker, "FINISHED")
    if pending:
        report_lost_store(stage, tracker, pending, params.mlflow.on_lost_server)


def lock_sha256(repo_root: Path) -> str | None:
    """SHA-256 of ``<repo_root>/uv.lock``, or None where there is none (no tag then)."""
    path = Path(repo_root) / LOCK_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _end(tracker: Tracker, status: str) -> int:
    """End the run through the tracker; forget MLflow's own handle on it without a call
    (also when closing raises: a full disk under the spool)."""
    try:
        return tracker.close(status)
    finally:
        _forget_active_run()


def _forget_active_run() -> None:
    """Drop the run from MLflow's stack of active runs without calling the store.

    The tracker has already ended the run (or spooled its end); ``mlflow.end_run`` would
    call the store again, and at exit MLflow's atexit hook would, possibly ending a run
    whose spool is not replayed yet. MLflow has no public call for this; a test checks it.
    """
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    if stack:
        stack.pop()


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


def spool_root(repo_root: Path) -> Path:
    """Where runs' spools live: ``<repo>/.gantrack/spool`` (git-ignored)."""
    return Path(repo_root) / ".gantrack" / "spool"


def bound_http_requests(environ: MutableMapping[str, str]) -> None:
    """The project's bounds on MLflow's HTTP calls, unless the user set their own.

    MLflow's defaults (a 120 s timeout, 7 retries with exponential backoff) make one call
    to a dead server take minutes; the tracker retries on its own schedule instead.
    """
    for name, value in HTTP_REQUEST_BOUNDS.items():
        environ.setdefault(name, value)


def _open_run(context: TrackingContext, name: str | None):
    """Resume the run an earlier stage of this execution created, or start it."""
    import mlflow

    if mlflow.get_experiment_by_name(context.experiment_name) is None:
        # A new experiment in the default store keeps artifacts beside the store, not in
        # ./mlruns of a --temp copy that DVC deletes afterwards.
        location = None
        if context.tracking_uri == default_tracking_uri(context.repo_root):
            location = (context.repo_root / "mlartifacts").as_uri()
        # Another process may create it between the look-up and here: that is fine.
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            mlflow.create_experiment(context.experiment_name, artifact_location=location)
    experiment = mlflow.set_experiment(context.experiment_name)
    if context.execution_key is None:
        return mlflow.start_run(run_name=name)
    existing = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{EXECUTION_KEY_TAG}` = '{context.execution_key}'",
        max_results=1,
        output_format="list",
    )
    if existing:
        return mlflow.start_run(run_id=existing[0].info.run_id)
    # The key is set at creation, in the same write: if a locked store fails a later write,
    # the retry finds this run instead of creating a second one.
    tags = {EXECUTION_KEY_TAG: context.execution_key}
    return mlflow.start_run(run_name=name, tags=tags)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None, prefix: str = "") -> None:
    """Log numeric values (nested dicts flattened with dots); non-numbers are skipped."""
    flat: dict[str, float] = {}

    def walk(name: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{name}.{key}" if name else str(key), item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)

    walk(prefix, metrics)
    active_tracker().log_metrics(flat, step=step)


def epoch_metrics_sink(prefix: str = "") -> Callable[[int, Mapping[str, float]], None]:
    """A sink for :class:`gantrack.epoch_report.EpochReport`: each epoch's row, step = epoch."""

    def sink(epoch: int, row: Mapping[str, float]) -> None:
        row = {key: value for key, value in row.items() if key != "epoch"}
        log_metrics(row, step=epoch, prefix=prefix)

    return sink


def grid_image_sink(folder: str) -> Callable[[int, Any], None]:
    """A sink for :class:`gantrack.gan.callbacks.GridSnapshot`: ``<folder>/epoch_007.png``."""

    def sink(epoch: int, grid: Any) -> None:
        active_tracker().log_image(grid, artifact_file=f"{folder}/epoch_{epoch:03d}.png")

    return sink


def log_artifacts(*paths: Path, folder: str | None = None) -> None:
    """Log files as they are now (the spool keeps a copy until the store has it)."""
    for path in paths:
        active_tracker().log_artifact(Path(path), folder)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> None:
    active_tracker().log_dict(dictionary, artifact_file)


def set_tag(key: str, value: str) -> None:
    active_tracker().set_tags({key: value})


def flush() -> bool:
    """Wait until the store has everything logged so far; False if it is not answering."""
    return active_tracker().flush()


def is_server(tracking_uri: str) -> bool:
    """Whether the store is an MLflow server (http/https) rather than local sqlite or files."""
    return tracking_uri.startswith(("http://", "https://"))


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    """The MLflow UI page of a run, or None for a local store (sqlite, file) with no UI."""
    if not is_server(tracking_uri):
        return None
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def latest_run_for_commit(client, experiment_name: str, commit: str):
    """The newest run of ``experiment_name`` tagged with git ``commit``, or None."""
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{MLFLOW_GIT_COMMIT}` = '{commit}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None
