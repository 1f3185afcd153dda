"""Writing files so that a crash never leaves one half-written.

Every writer goes through :func:`atomic_path`: the content is written to a temporary file
beside the target, fsynced, and moved over it with ``os.replace`` (atomic on POSIX and
Windows) only once complete; then the folder is fsynced, so the rename itself survives a
power cut. A reader therefore sees the old file or the new one, never a mixture, and
never an empty file where the new one should be (what a rename of unsynced data can
leave after a crash on ext4 or XFS).

JSON is written strictly (``allow_nan=False``): NaN and ±Infinity are not JSON, and
readers other than Python's refuse them. A non-finite number is written as ``null``, and
the reason goes under the top-level key :data:`MISSING_VALUES`, by dotted path:
``{"evaluator": {"fid": null}, "missing_values": {"evaluator.fid": "NaN: not a finite
number"}}``. The gate reads a ``null`` metric as missing; ``dvc metrics show`` leaves it
out and shows the reason.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

# The top-level key of a JSON file that lists its null values and why each is missing.
MISSING_VALUES = "missing_values"


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``target``, on error it is removed.

    The temporary file is not created here, so the writer creates it with the usual
    permissions, and the real suffix stays last (Keras and Pillow choose the format by it).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:12]}.tmp{target.suffix}")
    try:
        yield temporary
        if temporary.is_file():
            fsync_path(temporary)  # the content on disk before the name points at it
        os.replace(temporary, target)
        fsync_path(target.parent)  # the rename itself
    finally:
        temporary.unlink(missing_ok=True)


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's data and metadata to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def save_json(data: Mapping[str, Any], path: Path | str) -> None:
    """Write ``data`` as strict JSON, atomically; non-finite numbers become ``null`` with
    their reason under :data:`MISSING_VALUES` (module docstring)."""
    missing: dict[str, str] = {}
    finite = _finite(data, "", missing)
    if missing:
        finite[MISSING_VALUES] = {**finite.get(MISSING_VALUES, {}), **missing}
    text = json.dumps(finite, indent=2, sort_keys=False, allow_nan=False) + "\n"
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def _finite(value: Any, where: str, missing: dict[str, str]) -> Any:
    """``value`` with each non-finite float replaced by None and its reason put in ``missing``."""
    if isinstance(value, float) and not math.isfinite(value):
        missing[where] = f"{json.dumps(value)}: not a finite number"
        return None
    if isinstance(value, Mapping):
        return {key: _finite(item, _join(where, key), missing) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item, _join(where, index), missing) for index, item in enumerate(value)]
    return value


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def load_json(path: Path | str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_arrays(path: Path | str, **arrays: np.ndarray) -> None:
    """Save named arrays to an uncompressed ``.npz`` (fast to read; DVC deduplicates)."""
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        np.savez(handle, **arrays)


def load_arrays(
    path: Path | str, names: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """Load the named arrays from an ``.npz``; an error names the file and what is missing.

    Arrays in ``optional`` are loaded when the file has them (a conditional generator's
    samples carry ``labels``) and left out of the result when not.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; run the stage that writes it (dvc repro)")
    with np.load(path, allow_pickle=False) as archive:
        missing = [name for name in names if name not in archive]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}; found {sorted(archive.files)}")
        present = [name for name in optional if name in archive]
        return {name: archive[name] for name in (*names, *present)}


def save_csv(rows: list[Mapping[str, Any]], path: Path | str) -> None:
    """Write rows (dicts with the same keys) as CSV, columns in the first row's order."""
    import csv

    with (
        atomic_path(path) as temporary,
        temporary.open("w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)


def load_csv(path: Path | str) -> list[dict[str, float]]:
    """A numeric CSV log's rows (as written by :func:`save_csv`), values as floats."""
    import csv

    with Path(path).open(newline="", encoding="utf-8") as handle:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def save_text(text: str, path: Path | str) -> None:
    """Write ``text`` as UTF-8, atomically (a reader never sees half a page)."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def csv_sink(path: Path | str):
    """A sink for :class:`gantrack.epoch_report.EpochReport`: rewrites the whole CSV each epoch.

    Rewriting (atomically) rather than appending keeps the file complete and parseable
    at every moment, even if training is killed mid-write.
    """
    rows: list[Mapping[str, Any]] = []

    def sink(epoch: int, row: Mapping[str, Any]) -> None:
        rows.append(row)
        save_csv(rows, path)

    return sink


def save_model(model: Any, path: Path | str) -> None:
    """Save a Keras model atomically (a crash leaves the previous file, never half of one)."""
    with atomic_path(path) as temporary:
        model.save(temporary)


def keras_home(environ: Mapping[str, str]) -> Path:
    """Keras's cache root, by Keras's own rule: ``$KERAS_HOME``, else ``~/.keras``."""
    return Path(environ.get("KERAS_HOME") or Path.home() / ".keras")
