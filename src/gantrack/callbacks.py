"""Keras callbacks: the side effects of training (timing, logs, grids), kept out of the model.

Each callback takes plain functions ("sinks") for where its results go, so the library
never knows about files or MLflow and the tests can collect results in a list.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np

from gantrack.images import make_grid

EpochSink = Callable[[int, dict[str, float]], None]
GridSink = Callable[[int, np.ndarray], None]


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
        self.rows.append(row)
        for sink in self.sinks:
            sink(epoch + 1, row)


class GridSnapshot(keras.callbacks.Callback):
    """After each epoch, draws images from the same fixed latent vectors and tiles them.

    Fixed latent vectors make the grids of successive epochs comparable: one sees the same
    "digits" sharpen rather than a new random draw each time.
    """

    def __init__(
        self, generator: keras.Model, latent: np.ndarray, rows: int, sinks: list[GridSink]
    ):
        super().__init__()
        self.generator = generator
        self.latent = latent
        self.rows = rows
        self.sinks = sinks
        self.last_grid: np.ndarray | None = None

    def on_epoch_end(self, epoch, logs=None):
        images = keras.ops.convert_to_numpy(self.generator(self.latent, training=False))
        self.last_grid = make_grid(images, self.rows)
        for sink in self.sinks:
            sink(epoch + 1, self.last_grid)


class PeriodicEvaluation(keras.callbacks.Callback):
    """Every ``every`` epochs, and after the last, scores images from fixed latent vectors.

    ``score`` maps generated images ``(N, H, W, C)`` to a dict with at least ``fid``; each
    scored epoch's row goes to ``sinks``, and whenever the FID improves, ``on_best`` gets the
    epoch and the generator (to save it). GAN quality oscillates from epoch to epoch, so the
    best scored epoch is often much better than the last.
    """

    def __init__(
        self,
        generator: keras.Model,
        latent: np.ndarray,
        score: Callable[[np.ndarray], dict[str, float]],
        every: int,
        sinks: list[EpochSink],
        on_best: Callable[[int, keras.Model], None],
    ):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.generator = generator
        self.latent = latent
        self.score = score
        self.every = every
        self.sinks = sinks
        self.on_best = on_best
        self.best_epoch: int | None = None
        self.best_fid = np.inf

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        if number % self.every and number != self.params.get("epochs"):
            return
        images = self.generator.predict(self.latent, batch_size=500, verbose=0)
        row = {"epoch": number, **{key: float(value) for key, value in self.score(images).items()}}
        for sink in self.sinks:
            sink(number, row)
        if row["fid"] < self.best_fid:
            self.best_fid, self.best_epoch = row["fid"], number
            self.on_best(number, self.generator)
