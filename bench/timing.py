"""What the training benchmarks share: epoch timing, trainers taking turns, the rate table.

Imported by the scripts in this folder (run as ``python bench/<script>.py``, which puts
this folder on ``sys.path``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


class EpochTimer:
    """A Keras callback recording each epoch's wall time (fit's own overhead outside)."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds = time.perf_counter() - self.start

        return Timer()


def take_turns(
    trainers: Mapping[str, object],
    run_epoch: Callable[[object, int], float],
    warmup: int,
    rounds: int,
) -> dict[str, list[float]]:
    """Each trainer runs one epoch per round, in turn; the seconds of the timed rounds.

    Taking turns makes a change in the machine's load hit every trainer alike; the first
    ``warmup`` rounds (tracing, autotuning) are not kept.
    """
    seconds: dict[str, list[float]] = {name: [] for name in trainers}
    for round_number in range(warmup + rounds):
        for name, trainer in trainers.items():
            elapsed = run_epoch(trainer, round_number)
            if round_number >= warmup:
                seconds[name].append(elapsed)
    return seconds


def print_rates(seconds: Mapping[str, list[float]], images: int, baseline: str) -> dict:
    """Print images/s (median over the rounds) per trainer, its ratio to ``baseline``'s and
    each epoch's rate; returns the medians."""
    rates = {name: images / statistics.median(times) for name, times in seconds.items()}
    for name, rate in rates.items():
        spread = ", ".join(f"{images / t:.0f}" for t in seconds[name])
        ratio = rate / rates[baseline]
        print(f"{name:>18}: {rate:9.1f} images/s  ratio {ratio:.3f}  (epochs: {spread})")
    return rates
