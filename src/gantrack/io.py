"""Writing files so that a crash never leaves one half-written.

Every writer goes through :func:`atomic_path`: the content is written to a temporary file
beside the target and moved over it with ``os.replace`` (atomic on POSIX and Windows) only
once complete. A reader therefore sees the old file or the new one, never a mixture.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np


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
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def save_json(data: Mapping[str, Any], path: Path | str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


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
