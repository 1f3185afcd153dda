"""Training throughput (images/s): gantrack's ``GAN.fit`` against a plain TensorFlow loop.

Three trainers of the same DCGAN (``gantrack.gan.networks``), batch, optimisers and data
pipeline (``gantrack.gan.training.image_dataset``), in one process on the same machine:

a. ``plain-constant``: the TensorFlow DCGAN tutorial's loop, a ``@tf.function`` step with
   two ``GradientTape``\\ s and ``BinaryCrossentropy(from_logits=True)``, fed one constant
   batch (a tensor already in memory: no input pipeline at all), as many steps as an epoch;
   the baseline, the fastest a step of these networks runs here;
a2. ``plain``: the same loop fed by gantrack's input pipeline (shuffle, batch, prefetch);
b. ``gantrack``: ``train_gan`` with the train params of ``params.yaml`` (default settings)
   and no callbacks;
c. ``gantrack+logs``: the same with the stage's per-epoch callbacks:
   ``NonFiniteLossCheck``, ``EpochReport`` with its CSV sink, ``GridSnapshot`` writing a
   PNG and ``TrainingProgress`` (the train stage's epoch, less MLflow's background sender);
d. ``gantrack+ema+logs``: c with ``ema_decay`` (``--ema-decay``, 0.999);
e. ``gantrack+xla+logs``: c with ``train.xla`` (the default): the step compiled by XLA.

a-d run without XLA, as the plain loop does, so their ratios measure gantrack's overhead;
e measures what XLA buys on top.

The ratios against ``plain-constant`` split the train stage's distance from a bare step
into the input pipeline (``plain``), Keras's ``fit`` and the model (``gantrack``), the
stage's callbacks (``gantrack+logs``), EMA and XLA; ``--deterministic`` adds op determinism.

The trainers take turns, one epoch each per round, so a change in the machine's load
hits all of them alike; the first ``--warmup`` rounds (tracing) are not timed, and each
trainer's figure is the median over the timed rounds. Epoch time excludes building the
dataset iterator (timed from the first step to the end of the last). Images are random:
the work per image does not depend on their values.

``--deterministic`` turns on ``tf.config.experimental.enable_op_determinism()`` for the
whole process, as the train stage does; run once with and once without to see its cost.

    PYTHONPATH=src python bench/bench_training.py
    PYTHONPATH=src python bench/bench_training.py --deterministic
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import EpochTimer, print_rates, take_turns


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--num-images", type=int, default=2048, help="images per epoch")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (epochs)")
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--deterministic", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


class PlainLoop:
    """The TensorFlow DCGAN tutorial's training loop on gantrack's networks."""

    def __init__(self, config, image_shape, seed: int):
        import keras
        import tensorflow as tf

        from gantrack.gan.networks import build_discriminator, build_generator

        keras.utils.set_random_seed(seed)
        self.config = config
        generator = build_generator(config.latent_dim, image_shape)
        discriminator = build_discriminator(image_shape)
        cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        generator_optimizer = keras.optimizers.Adam(
            config.generator_learning_rate, config.beta_1, config.beta_2
        )
        discriminator_optimizer = keras.optimizers.Adam(
            config.discriminator_learning_rate, config.beta_1, config.beta_2
        )

        @tf.function
        def train_step(images):
            noise = tf.random.normal([tf.shape(images)[0], config.latent_dim])
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                generated_images = generator(noise, training=True)
                real_output = discriminator(images, training=True)
                fake_output = discriminator(generated_images, training=True)
                gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
                disc_loss = cross_entropy(tf.ones_like(real_output), real_output) + (
                    cross_entropy(tf.zeros_like(fake_output), fake_output)
                )
            gen_gradients = gen_tape.gradient(gen_loss, generator.trainable_variables)
            disc_gradients = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
            generator_optimizer.apply_gradients(
                zip(gen_gradients, generator.trainable_variables, strict=True)
            )
            discriminator_optimizer.apply_gradients(
                zip(disc_gradients, discriminator.trainable_variables, strict=True)
            )
            return gen_loss, disc_loss

        self.train_step = train_step

    def constant_epoch(self, images: np.ndarray, seed: int, epoch: int) -> float:
        """As many steps as an epoch, each on the same batch, already a tensor."""
        import tensorflow as tf

        from gantrack.gan.training import steps_per_epoch

        batch = tf.constant(images[: self.config.batch_size])
        steps = steps_per_epoch(len(images), self.config.batch_size)
        start = time.perf_counter()
        for _ in range(steps):
            losses = self.train_step(batch)
        float(losses[0])  # wait for the last step
        return time.perf_counter() - start

    def epoch(self, images: np.ndarray, seed: int, epoch: int) -> float:
        from gantrack.gan.training import image_dataset

        iterator = iter(image_dataset(images, self.config.batch_size, seed, first_epoch=epoch))
        start = time.perf_counter()
        for batch in iterator:
            losses = self.train_step(batch)
        float(losses[0])  # wait for the last step
        return time.perf_counter() - start


class GantrackFit:
    """gantrack's ``build_gan`` + ``train_gan``, one epoch per call."""

    def __init__(self, config, image_shape, seed: int, logging_folder: Path | None = None):
        from gantrack.epoch_report import EpochReport, TrainingProgress
        from gantrack.gan.callbacks import GridSnapshot, NonFiniteLossCheck
        from gantrack.gan.sampling import grid_inputs
        from gantrack.gan.training import build_gan
        from gantrack.images import save_png
        from gantrack.io import csv_sink

        self.config, self.seed = config, seed
        self.gan = build_gan(config, image_shape, seed)
        self.timer = EpochTimer()
        self.callbacks = []
        if logging_folder is not None:
            inputs, rows = grid_inputs(config.latent_dim, config.grid_rows, seed)
            self.callbacks = [
                NonFiniteLossCheck(),
                EpochReport(1, sinks=[csv_sink(logging_folder / "log.csv")]),
                GridSnapshot(
                    self.gan.sampling_generator,
                    inputs,
                    rows,
                    [lambda epoch, grid: save_png(grid, logging_folder / "grid.png")],
                ),
                TrainingProgress(periodic=True, write=lambda line: None),
            ]

    def epoch(self, images: np.ndarray, seed: int, epoch: int) -> float:
        from gantrack.gan.training import train_gan

        config = self.config.model_copy(update={"epochs": epoch + 1})
        callbacks = [*self.callbacks, self.timer]
        train_gan(self.gan, images, config, seed, callbacks, verbose=0, initial_epoch=epoch)
        return self.timer.seconds


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import tensorflow as tf

    from gantrack.config import load_params
    from gantrack.gan.training import images_per_epoch

    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    # Unconditional throughout: the plain loop has no labels to condition on (the default's
    # label embedding and one-hot channels add little to the 28x28x64 layers' cost).
    config = load_params(args.params).train.model_copy(
        update={"conditional": False, "xla": False}
    )
    image_shape = (28, 28, 1)
    rng = np.random.default_rng(args.seed)
    images = rng.uniform(-1, 1, (args.num_images, *image_shape)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        constant = PlainLoop(config, image_shape, args.seed)
        constant.epoch = constant.constant_epoch
        trainers = {
            "plain-constant": constant,
            "plain": PlainLoop(config, image_shape, args.seed),
            "gantrack": GantrackFit(config, image_shape, args.seed),
            "gantrack+logs": GantrackFit(config, image_shape, args.seed, Path(folder)),
            "gantrack+ema+logs": GantrackFit(
                config.model_copy(update={"ema_decay": args.ema_decay}),
                image_shape,
                args.seed,
                Path(folder),
            ),
            "gantrack+xla+logs": GantrackFit(
                config.model_copy(update={"xla": True}), image_shape, args.seed, Path(folder)
            ),
        }
        seconds = take_turns(
            trainers,
            lambda trainer, epoch: trainer.epoch(images, args.seed, epoch),
            args.warmup,
            args.rounds,
        )
    count = images_per_epoch(args.num_images, config.batch_size)
    print(
        f"batch {config.batch_size}, {count} images/epoch, median of {args.rounds} epochs, "
        f"op determinism {'on' if args.deterministic else 'off'}, TensorFlow {tf.__version__}"
    )
    print_rates(seconds, count, baseline="plain-constant")


if __name__ == "__main__":
    main()
