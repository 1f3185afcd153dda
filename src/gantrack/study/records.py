"""A study's seed runs as files: results that travel through git where no store is shared.

``study save`` writes each seed run the store holds for a study, complete or failed, to
``reports/studies/<name>/runs/<point>-s<seed>.json``; ``study run``, ``status`` and
``report`` load the files into the store they use before they look at it. So a study can
be spread over machines that share no tracking server (each saves and commits its runs,
every clone loads them all), and a study stopped on one machine resumes on another
without rerunning what is saved.

A record holds what the study reads and the MLflow UI shows of a run: its params, its
tags, every metric's whole history (``[step, timestamp, value]``), its status and times.
It holds no artifacts (the generator, the pictures): those stay in the store that ran
it. A loaded run is a new run in this store, tagged :data:`ORIGIN_TAG` with the run id it
was saved from; loading again, or loading into the store that saved it, adds nothing.

One file per seed run, so that machines committing their own runs never edit the same
file. Non-finite metric values are written as ``null`` (strict JSON, :mod:`gantrack.io`)
and read back as NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gantrack.errors import GantrackError
from gantrack.io import MISSING_VALUES, load_json, save_json
from gantrack.study.spec import is_recipe_param
from gantrack.tracking.limits import log_in_batches
from gantrack.tracking.provenance import cpu_description

FORMAT = "gantrack.study.run/1"
ORIGIN_TAG = "gantrack.study.origin_run"  # the run id a loaded run was saved from
LOADED_FROM_TAG = "gantrack.study.loaded_from"  # the record file it was loaded from
# The CPU of the machine that saved the record: the run's own when it logged none (runs
# from before the gantrack.cpu tag, saved where they ran).
SAVED_ON_TAG = "gantrack.study.saved_on"
# Tags a record leaves out: the nesting is this store's (a loaded run nests under this
# store's parent), and the logged-model history names artifacts the record lacks.
SKIPPED_TAGS = (
    "mlflow.parentRunId",
    "mlflow.log-model.history",
    ORIGIN_TAG,
    LOADED_FROM_TAG,
    SAVED_ON_TAG,
)
STATUSES = ("FINISHED", "FAILED", "KILLED")
REQUIRED = {
    "format": str,
    "study": str,
    "point": str,
    "seed": int,
    "run_id": str,
    "status": str,
    "start_time": int,
    "params": dict,
    "tags": dict,
    "metrics": dict,
}


class RecordError(GantrackError, ValueError):
    """A run record that cannot be loaded as written."""


@dataclass(frozen=True)
class LoadOutcome:
    """What :func:`load_records` did: runs created, and records the store already held."""

    loaded: int
    present: int


def record_path(folder: Path, point: str, seed: int) -> Path:
    """``<folder>/<point>-s<seed>.json``."""
    return Path(folder) / f"{point}-s{seed}.json"


def run_record(client, run, study: str, point: str, seed: int) -> dict[str, Any]:
    """The record of one seed run: params, tags, every metric's history, status, times."""
    info = run.info
    tags = run.data.tags
    histories = {
        key: [
            [entry.step, entry.timestamp, entry.value]
            for entry in client.get_metric_history(info.run_id, key)
        ]
        for key in sorted(run.data.metrics)
    }
    return {
        "format": FORMAT,
        "study": study,
        "point": point,
        "seed": seed,
        "run_id": original_run_id(run),
        "run_name": info.run_name,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "saved": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpu": tags.get(SAVED_ON_TAG) or cpu_description(),  # a loaded run's: kept
        },
        "params": dict(sorted(run.data.params.items())),
        "tags": {key: value for key, value in sorted(tags.items()) if key not in SKIPPED_TAGS},
        "metrics": histories,
    }


def original_run_id(run) -> str:
    """The id of the run as it was first logged: a loaded run's :data:`ORIGIN_TAG`."""
    return run.data.tags.get(ORIGIN_TAG, run.info.run_id)


def save_records(
    client, study: str, seed_runs: Iterable, folder: Path, saved: Iterable[str] = ()
) -> list[Path]:
    """Write a record for every seed run that has a run (complete or failed) and is not
    among ``saved`` (original run ids already in a record); the paths written. A record
    of the same (point, seed) and recipe is replaced: a failed seed rerun and now
    complete. A FINISHED record is never replaced by a run that is not (another machine's
    measurement, pulled, against this store's failure of the same seed): it is kept. A
    complete one of another recipe (the point's params were edited since) is refused,
    before anything is written: replacing it would drop a committed measurement."""
    saved = set(saved)
    pending = []
    for seed_run in seed_runs:
        if seed_run.run is None or original_run_id(seed_run.run) in saved:
            continue
        run = client.get_run(seed_run.run.info.run_id)  # the tags as they are now
        path = record_path(folder, seed_run.point, seed_run.seed)
        record = run_record(client, run, study, seed_run.point, seed_run.seed)
        if path.exists():
            committed = check_record(load_json(path), path)
            if committed["status"] == "FINISHED" and record["status"] != "FINISHED":
                continue
            _check_same_recipe(path, committed, record)
        pending.append((path, record))
    for path, record in pending:
        save_json(record, path)
    return [path for path, _ in pending]


def _check_same_recipe(path: Path, saved: Mapping[str, Any], record: Mapping[str, Any]) -> None:
    """Refuse to replace ``saved`` (read from ``path``) when its run logged other values of
    the params both runs hold (a param only one holds came or went with a version of the
    config)."""
    if saved["status"] != "FINISHED":
        return  # a failed or stopped run measured nothing
    old, new = saved["params"], record["params"]
    differ = sorted(
        key for key in old.keys() & new.keys() if old[key] != new[key] and is_recipe_param(key)
    )
    if differ:
        changes = ", ".join(f"{key} {old[key]} -> {new[key]}" for key in differ[:5])
        raise RecordError(
            f"{path} holds a run of another recipe ({changes}): the point's params changed "
            "since it was saved. Give the changed point a new name, or move the old record "
            "out of the folder, then save again"
        )


def read_records(folders: Iterable[Path]) -> list[dict[str, Any]]:
    """Every record in ``folders`` (a missing folder holds none), each checked whole; one
    :class:`RecordError` naming the file and the key for the first bad one."""
    records = []
    paths = sorted(path for folder in folders for path in Path(folder).glob("*.json"))
    for path in paths:
        try:
            record = load_json(path)
        except (OSError, ValueError) as error:
            raise RecordError(f"{path}: not a readable JSON run record ({error})") from error
        records.append(check_record(record, path))
    return records


def check_record(record: Any, path: Path) -> dict[str, Any]:
    """``record`` if it has every key of :data:`REQUIRED` with the right type."""
    if not isinstance(record, dict):
        raise RecordError(f"{path}: a run record is a JSON object, not {type(record).__name__}")
    if record.get("format") != FORMAT:
        raise RecordError(
            f"{path}: format {record.get('format')!r} is not {FORMAT!r} "
            "(save it again with `python -m gantrack study save`)"
        )
    for key, kind in REQUIRED.items():
        value = record.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise RecordError(f"{path}: key {key!r} must be a {kind.__name__}, got {value!r}")
    if record["status"] not in STATUSES:
        raise RecordError(f"{path}: status {record['status']!r} is not one of {STATUSES}")
    missing = record.get(MISSING_VALUES, {})
    for key, history in record["metrics"].items():
        if not isinstance(history, list) or not all(
            isinstance(entry, list) and len(entry) == 3 for entry in history
        ):
            raise RecordError(f"{path}: metric {key!r} must be a list of [step, timestamp, value]")
        for index, (step, timestamp, value) in enumerate(history):
            where = f"metrics.{key}.{index}.2"
            if value is None and where not in missing:
                raise RecordError(f"{path}: metric {key!r} has a null value with no reason")
            if value is not None and not _is_number(value):
                raise RecordError(f"{path}: metric {key!r} has a value not a number: {value!r}")
            if not all(_is_number(number, whole=True) for number in (step, timestamp)):
                raise RecordError(f"{path}: metric {key!r} has a step or timestamp not whole")
    for section in ("params", "tags"):
        for key, value in record[section].items():
            if not isinstance(value, str):
                raise RecordError(
                    f"{path}: {section[:-1]} {key!r} must be a string, as MLflow logs it; "
                    f"got {value!r}"
                )
    return record


def _is_number(value: Any, whole: bool = False) -> bool:
    kinds = int if whole else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool)


def load_records(
    client, experiment_id: str, records: Sequence[Mapping[str, Any]], runs: Sequence
) -> LoadOutcome:
    """Create a run in the store for each record it does not hold yet (by run id or
    :data:`ORIGIN_TAG`); ``runs`` are the experiment's runs as they are now."""
    held = {run.info.run_id for run in runs}
    held |= {run.data.tags[ORIGIN_TAG] for run in runs if ORIGIN_TAG in run.data.tags}
    loaded = present = 0
    for record in records:
        if record["run_id"] in held:
            present += 1
            continue
        _create(client, experiment_id, record)
        held.add(record["run_id"])
        loaded += 1
    return LoadOutcome(loaded, present)


def _create(client, experiment_id: str, record: Mapping[str, Any]) -> str:
    """A run holding the record. The origin tag, which makes later loads skip the record,
    is written last, and a run that could not be written whole is deleted: a half-loaded
    run must neither stand for the record nor stay behind as a run of the study."""
    from mlflow.entities import Metric, Param

    tags = {
        **record["tags"],
        LOADED_FROM_TAG: f"{record['study']}/{record['point']}-s{record['seed']}",
    }
    saved_on = (record.get("saved") or {}).get("cpu")
    if saved_on:
        tags[SAVED_ON_TAG] = saved_on
    run = client.create_run(
        experiment_id,
        start_time=record["start_time"],
        tags=tags,
        run_name=record.get("run_name"),
    )
    run_id = run.info.run_id
    params = [Param(key, str(value)) for key, value in record["params"].items()]
    metrics = [
        Metric(key, math.nan if value is None else float(value), timestamp, step)
        for key, history in record["metrics"].items()
        for step, timestamp, value in history
    ]
    try:
        log_in_batches(client.log_batch, run_id, params=params, metrics=metrics)
        client.set_terminated(run_id, record["status"], end_time=record.get("end_time"))
        client.set_tag(run_id, ORIGIN_TAG, record["run_id"])
    except BaseException:
        client.delete_run(run_id)
        raise
    return run_id
