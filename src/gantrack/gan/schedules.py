"""Learning-rate schedules of the GAN's optimisers."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="gantrack")
class LinearTailDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant, then linear to 0 over the last ``decay_steps`` of ``total_steps``:

    ``rate(t) = initial × min(1, max(0, (total_steps − t) / decay_steps))``

    for the optimiser's step count ``t`` (0-based: the first update uses ``t = 0``). The
    rate reaches 0 at ``t = total_steps``, one step after the last update, so no update is
    wasted at rate 0. CycleGAN (Zhu et al. 2017) trains this way: constant, then a linear
    decay to zero. A function of the step count alone, so a run resumed from a checkpoint
    (which restores the count) continues on the same schedule.
    """

    def __init__(self, initial: float, total_steps: int, decay_steps: int):
        if total_steps < 1 or not 1 <= decay_steps <= total_steps:
            raise ValueError(
                f"need 1 <= decay_steps <= total_steps, got decay_steps {decay_steps} and "
                f"total_steps {total_steps}"
            )
        self.initial = float(initial)
        self.total_steps = int(total_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        remaining = (self.total_steps - ops.cast(step, "float32")) / self.decay_steps
        return self.initial * ops.clip(remaining, 0.0, 1.0)

    def get_config(self) -> dict:
        return {
            "initial": self.initial,
            "total_steps": self.total_steps,
            "decay_steps": self.decay_steps,
        }


def learning_rate(initial: float, total_steps: int | None, decay_fraction: float):
    """``initial`` when ``decay_fraction`` is 0, else a :class:`LinearTailDecay` over the last
    ``decay_fraction`` of ``total_steps`` (at least one step)."""
    if decay_fraction == 0:
        return initial
    if total_steps is None:
        raise ValueError(
            "a learning-rate decay needs the run's total steps: pass total_steps to build_gan"
        )
    decay_steps = max(1, round(decay_fraction * total_steps))
    return LinearTailDecay(initial, total_steps, decay_steps)
