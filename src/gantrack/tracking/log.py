"""What a stage calls to log: metrics, artifacts, tags and sinks for training's rows.

Each call goes to the active :class:`~gantrack.tracking.tracker.Tracker` (opened by
:func:`gantrack.tracking.runs.stage_run`), which spools it and sends it in the background:
a store that goes away mid-run costs no work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gantrack.tracking.tracker import active_tracker


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
