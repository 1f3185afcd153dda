"""Generator steps per second of the recipe study's unequal recipes, against the default.

The recipe grid (studies/grid.yaml) compares recipes at equal generator steps. Three
recipes do unequal work per step: WGAN-GP updates its critic 5 times per generator step,
batch 8 halves each step's images, and ``train.base_filters: 32`` narrows both networks.
Their equal-wall-time budgets (studies/grid_equal_time.yaml) are the default's 3,000 steps
scaled by the step-rate ratio measured here:

    steps(recipe) = 3000 × rate(recipe) / rate(default)

Each recipe is ``build_gan`` + ``train_gan`` with params.yaml's train settings (XLA as
configured, conditional on 10 classes) plus its changes, on random images; they take turns,
one epoch each per round, so the machine's load hits them alike. Each epoch is timed from
the end of its first step (tracing, XLA compilation) to the end of its last, and the first
round is not kept. Ratios, not rates, carry across days and machines.

    PYTHONPATH=src python bench/bench_recipes.py --deterministic --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

RECIPES = {
    "default": {},
    "batch_8": {"batch_size": 8},
    "base_filters_32": {"base_filters": 32},
    "wgan_gp": {"loss": "wgan_gp", "critic_steps": 5},
}
BUDGET_STEPS = 3000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--num-images", type=int, default=1600, help="images per epoch")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (epochs)")
    parser.add_argument("--deterministic", action="store_true", help="as the train stage")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


class Recipe:
    """One recipe's GAN, trained one epoch per call."""

    def __init__(self, config, images: np.ndarray, labels: np.ndarray, seed: int):
        from gantrack.gan.training import build_gan

        self.config, self.images, self.labels, self.seed = config, images, labels, seed
        self.gan = build_gan(config, images.shape[1:], seed, num_classes=10)

    def epoch(self, epoch: int) -> float:
        """Seconds per step over one epoch, from the end of its first step to the end of
        its last: each ``fit`` call traces (and XLA compiles) its step anew, and that
        first step is not what a long run pays per step."""
        from gantrack.gan.training import train_gan

        config = self.config.model_copy(update={"epochs": epoch + 1})
        timer = StepTimer()
        train_gan(
            self.gan, self.images, config, self.seed, [timer], 0, self.labels, initial_epoch=epoch
        )
        return timer.seconds_per_step()


class StepTimer:
    """A Keras callback: the time at the end of every training step."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.ends = []

            def on_train_batch_end(self, batch, logs=None):
                self.ends.append(time.perf_counter())

            def seconds_per_step(self) -> float:
                return (self.ends[-1] - self.ends[0]) / (len(self.ends) - 1)

        return Timer()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import tensorflow as tf

    from gantrack.config import load_params

    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    base = load_params(args.params).train.model_copy(
        update={"epochs": 1, "images": None, "steps": None, "conditional": True}
    )
    rng = np.random.default_rng(args.seed)
    images = rng.uniform(-1, 1, (args.num_images, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, args.num_images)
    recipes = {
        name: Recipe(base.model_copy(update=changes), images, labels, args.seed)
        for name, changes in RECIPES.items()
    }
    seconds: dict[str, list[float]] = {name: [] for name in recipes}  # per step, per round
    for round_number in range(args.warmup + args.rounds):
        for name, recipe in recipes.items():
            elapsed = recipe.epoch(round_number)
            if round_number >= args.warmup:
                seconds[name].append(elapsed)
    rates = {name: 1 / statistics.median(times) for name, times in seconds.items()}
    print(
        f"xla {base.xla}, op determinism {'on' if args.deterministic else 'off'}, "
        f"{args.num_images} images an epoch, median of {args.rounds} epochs, "
        f"TensorFlow {tf.__version__}"
    )
    for name, rate in rates.items():
        ratio = rate / rates["default"]
        spread = ", ".join(f"{1 / t:.1f}" for t in seconds[name])
        print(
            f"{name:>16}: {rate:6.1f} steps/s  ratio {ratio:.3f}  equal-time budget "
            f"{BUDGET_STEPS * ratio:,.0f} steps  (epochs: {spread})"
        )


if __name__ == "__main__":
    main()
