"""Keras callbacks: the side effects of training (timing, logs, grids), kept out of the model.

Each callback takes plain functions ("sinks") for where its results go, so the library
never knows about files or MLflow and the tests can collect results in a list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import keras
import numpy as np

from gantrack.epoch_report import EpochSink
from gantrack.errors import GantrackError
from gantrack.images import make_grid

GridSink = Callable[[int, np.ndarray], None]
# A generator's input: latent vectors (N, latent_dim), or [latents, labels (N, 1)] when
# the generator is conditional.
GeneratorInputs = np.ndarray | Sequence[np.ndarray]


class NonFiniteLossError(GantrackError, FloatingPointError):
    """A loss became NaN or infinite: training stopped at that step."""

    def __init__(self, epoch: int, step: int, values: dict[str, float]):
        self.epoch, self.step, self.values = epoch, step, values
        shown = ", ".join(f"{name} = {value}" for name, value in values.items())
        super().__init__(
            f"non-finite loss at epoch {epoch}, step {step} ({shown}); training stopped and "
            "the last good checkpoint was kept. Lower the learning rates, add a stabiliser "
            "(train.spectral_norm, train.r1_gamma) or try another train.loss"
        )


class GridSnapshot(keras.callbacks.Callback):
    """After each epoch, draws images from the same fixed latent vectors and tiles them.

    Fixed latent vectors make the grids of successive epochs comparable: one sees the same
    "digits" sharpen rather than a new random draw each time.
    """

    def __init__(
        self,
        generator: keras.Model,
        inputs: GeneratorInputs,
        rows: int,
        sinks: list[GridSink],
    ):
        super().__init__()
        self.generator = generator
        self.inputs = inputs
        self.rows = rows
        self.sinks = sinks
        self.last_grid: np.ndarray | None = None

    def draw(self) -> np.ndarray:
        """The grid of the generator as it is now."""
        images = keras.ops.convert_to_numpy(self.generator(self.inputs, training=False))
        return make_grid(images, self.rows)

    def on_epoch_end(self, epoch, logs=None):
        self.last_grid = self.draw()
        for sink in self.sinks:
            sink(epoch + 1, self.last_grid)

    def replay(self, epoch: int) -> None:
        """A resumed run: the restored generator's grid as epoch ``epoch``'s (1-based).

        The earlier epochs' grids went to the interrupted run; this gives the new run the
        grid it resumes from, so even a run with no epoch left to train shows one.
        """
        self.on_epoch_end(epoch - 1)


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
        inputs: GeneratorInputs,
        score: Callable[[np.ndarray], dict[str, float]],
        every: int,
        sinks: list[EpochSink],
        on_best: Callable[[int, keras.Model], None],
    ):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.generator = generator
        self.inputs = inputs
        self.score = score
        self.every = every
        self.sinks = sinks
        self.on_best = on_best
        self.best_epoch: int | None = None
        self.best_fid = np.inf
        self.rows: list[dict[str, float]] = []

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        if number % self.every and number != self.params.get("epochs"):
            return
        images = self.generator.predict(self.inputs, batch_size=500, verbose=0)
        row = {"epoch": number, **{key: float(value) for key, value in self.score(images).items()}}
        if self._take(row):
            self.on_best(number, self.generator)

    def replay(self, rows: list[dict[str, float]]) -> None:
        """Take scored rows of earlier epochs (a resumed run): sinks and best, no saving.

        The best generator of those epochs is the caller's to restore (the checkpoint
        keeps a copy).
        """
        for row in rows:
            self._take(row)

    def _take(self, row: dict[str, float]) -> bool:
        """Record ``row``; True when it is the best so far."""
        self.rows.append(row)
        for sink in self.sinks:
            sink(int(row["epoch"]), row)
        if row["fid"] < self.best_fid:
            self.best_fid, self.best_epoch = row["fid"], int(row["epoch"])
            return True
        return False


class NonFiniteLossCheck(keras.callbacks.Callback):
    """Stops training at the first step whose loss is NaN or infinite, naming the step.

    The step's logs are the running means of the epoch (``keras.metrics.Mean``), and a mean
    becomes non-finite at exactly the step whose value is, so checking the means after
    each step finds that step. Raising (rather than ``stop_training``) ends ``fit`` at
    once, before any later callback can save a checkpoint of the broken weights. Reading
    the two scalars costs one host synchronisation per step (free on a CPU).
    """

    def __init__(self, names: Sequence[str] = ("d_loss", "g_loss")):
        super().__init__()
        self.names = tuple(names)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        values = {name: float(logs[name]) for name in self.names if name in (logs or {})}
        if not all(math.isfinite(value) for value in values.values()):
            raise NonFiniteLossError(self._epoch, batch + 1, values)


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Every ``every`` epochs, and after the last, hands the epoch number to ``save``.

    Put it last in the callback list: it then runs after the epoch's logs, grid and
    evaluation, so the checkpoint's history includes them.
    """

    def __init__(self, every: int, save: Callable[[int], None]):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.every = every
        self.save = save

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        if number % self.every == 0 or number == self.params.get("epochs"):
            self.save(number)
