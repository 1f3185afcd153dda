"""Reports of any Keras training (the GAN's, the evaluator's): per-epoch rows with timing
(:class:`EpochReport`), and the expected duration and progress (:class:`TrainingProgress`).

A sink is a plain function ``(epoch, row)``: the callback never knows whether its rows go
to a CSV file, MLflow or a test's list.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras

EpochSink = Callable[[int, dict[str, float]], None]


class EpochReport(keras.callbacks.Callback):
    """Adds ``seconds`` and ``images_per_second`` to each epoch's logs and hands them on.

    Epochs are numbered from 1 here and everywhere gantrack reports them (MLflow step,
    ``train_log.csv``), so "epoch 3" means "after three passes over the data".
    """

    def __init__(self, images_per_epoch: int, sinks: list[EpochSink]):
        super().__init__()
        self.images_per_epoch = images_per_epoch
        self.sinks = sinks
        self.rows: list[dict[str, float]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._started
        # Mutating `logs` passes the timing on to callbacks that run after this one.
        logs = logs if logs is not None else {}
        logs["seconds"] = seconds
        logs["images_per_second"] = self.images_per_epoch / seconds
        row = {"epoch": epoch + 1, **{key: float(value) for key, value in logs.items()}}
        self.replay([row])

    def replay(self, rows: list[dict[str, float]]) -> None:
        """Take rows as if their epochs had just ended (a resumed run's earlier epochs)."""
        for row in rows:
            self.rows.append(row)
            for sink in self.sinks:
                sink(int(row["epoch"]), row)

    @property
    def training_seconds(self) -> float:
        """Seconds spent in the epochs so far, resumed ones included; in-training scoring,
        which runs after this callback, is not counted."""
        return float(sum(row["seconds"] for row in self.rows))


def _duration(seconds: float) -> str:
    """``1 h 02 min``, ``4 min 05 s`` or ``12 s``."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class TrainingProgress(keras.callbacks.Callback):
    """Says how long training will take, and where it is when nobody sees a progress bar.

    Once ``warmup_steps`` (graph tracing, caches) plus ``measure_steps`` steps have run, it
    prints the expected duration of the whole run at the measured rate. With
    ``periodic=True`` (output to a file or CI log, where Keras prints one line per epoch
    only) it also prints a line every ``every_s`` seconds: the step, the rate, and the
    ETA of the epoch and of the run. Keras passes the epochs and steps per epoch.
    """

    def __init__(
        self,
        periodic: bool,
        every_s: float = 30.0,
        warmup_steps: int = 5,
        measure_steps: int = 20,
        clock: Callable[[], float] = time.monotonic,
        write: Callable[[str], None] = print,
    ):
        super().__init__()
        self.periodic, self.every_s = periodic, every_s
        self.warmup_steps, self.measure_steps = warmup_steps, measure_steps
        self.clock, self.write = clock, write
        self.steps_run = 0
        self.first_epoch: int | None = None
        self.measured_from: float | None = None
        self.rate: float | None = None  # steps per second
        self.last_line = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.first_epoch is None:
            self.first_epoch = epoch
            self.last_line = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        self.steps_run += 1
        now = self.clock()
        if self.steps_run == self.warmup_steps:
            self.measured_from = now
        elif self.steps_run == self.warmup_steps + self.measure_steps:
            self.rate = self.measure_steps / max(now - self.measured_from, 1e-9)
            self.write(self._expected())
        if self.periodic and self.rate and now - self.last_line >= self.every_s:
            self.last_line = now
            self.write(self._status(batch))

    def _steps_left(self, batch: int) -> tuple[int, int]:
        """(steps left in this epoch, steps left in the run) after ``batch``."""
        steps, epochs = self.params["steps"], self.params["epochs"]
        in_epoch = steps - (batch + 1)
        return in_epoch, in_epoch + (epochs - self.epoch - 1) * steps

    def _expected(self) -> str:
        steps, epochs = self.params["steps"], self.params["epochs"]
        total = (epochs - self.first_epoch) * steps
        return (
            f"expected training time: {_duration(total / self.rate)} "
            f"({epochs - self.first_epoch} epochs of {steps} steps at {self.rate:.1f} steps/s)"
        )

    def _status(self, batch: int) -> str:
        in_epoch, in_run = self._steps_left(batch)
        return (
            f"epoch {self.epoch + 1}/{self.params['epochs']}: step {batch + 1}/"
            f"{self.params['steps']}, {self.rate:.1f} steps/s; epoch done in "
            f"{_duration(in_epoch / self.rate)}, training in {_duration(in_run / self.rate)}"
        )
