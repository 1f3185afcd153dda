"""The per-epoch report of any Keras training (the GAN's, the evaluator's): timing and sinks.

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
