"""Training throughput (images/s) by strategy and precision: the GPU check of issue 7.

Up to four trainers of the same DCGAN (``gantrack.gan.training.build_gan`` + ``train_gan``, the
train params of ``params.yaml`` otherwise), same global batch, in one process:

a. ``one device, fp32``: ``train.distribute: none``;
b. ``one device, mixed``: ``none`` + ``train.mixed_precision`` (mixed_float16);
c. ``mirrored, fp32``: ``MirroredStrategy`` over every local GPU (or ``--cpu-devices``);
d. ``mirrored, mixed``: both.

The trainers take turns, one epoch each per round, so a change in the machine's load hits
all of them alike; the first ``--warmup`` rounds (tracing, autotuning) are not timed, and
each figure is the median over the timed rounds. Epoch time is fit's own epoch (from the
first step to the end of the last). Images are random: the work per image does not depend
on their values. Mixed precision pays off on GPUs with tensor cores (compute capability
7.0 and later); on a CPU it is expected to be slower.

    PYTHONPATH=src python bench/bench_distribute.py                      # the GPUs present
    PYTHONPATH=src python bench/bench_distribute.py --image-size 64 --channels 3
    PYTHONPATH=src python bench/bench_distribute.py --cpu-devices 2 --precisions fp32  # CPU
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from timing import EpochTimer, print_rates, take_turns


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--num-images", type=int, default=8192, help="images per epoch")
    parser.add_argument("--batch-size", type=int, default=None, help="global batch")
    parser.add_argument("--image-size", type=int, default=28, choices=(28, 32, 64))
    parser.add_argument("--channels", type=int, default=1, choices=(1, 3))
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (epochs)")
    parser.add_argument(
        "--cpu-devices", type=int, default=0, help="mirror on N logical CPU devices, not GPUs"
    )
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["fp32", "mixed"],
        choices=["fp32", "mixed"],
        help="fp32 alone on a CPU: float16 there is emulated, many times slower",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


class Trainer:
    """One configuration, built in its strategy's scope; one epoch per call."""

    def __init__(self, config, image_shape, seed: int):
        from gantrack.distribute import make_strategy
        from gantrack.gan.training import build_gan

        self.config, self.seed = config, seed
        self.strategy = make_strategy(config.distribute, config.devices)
        with self.strategy.scope():
            self.gan = build_gan(config, image_shape, seed)

    def epoch(self, images: np.ndarray, epoch: int) -> float:
        from gantrack.gan.training import train_gan

        timer = EpochTimer()
        config = self.config.model_copy(update={"epochs": epoch + 1})
        train_gan(self.gan, images, config, self.seed, [timer], verbose=0, initial_epoch=epoch)
        return timer.seconds


def configurations(base, devices: list[str] | None, precisions: list[str]) -> dict:
    """The train configs: one device and mirrored, each in every precision asked for."""
    strategies = {
        "one device": {"distribute": "none", "devices": None},
        "mirrored": {"distribute": "mirrored", "devices": devices},
    }
    return {
        f"{strategy}, {precision}": base.model_copy(
            update={**changes, "mixed_precision": precision == "mixed"}
        )
        for strategy, changes in strategies.items()
        for precision in dict.fromkeys(["fp32", *precisions])  # fp32: the baseline
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from gantrack.config import load_params
    from gantrack.distribute import split_host_cpu

    devices = None
    if args.cpu_devices:
        split_host_cpu(args.cpu_devices)  # before TensorFlow starts
        devices = [f"/cpu:{index}" for index in range(args.cpu_devices)]
    import tensorflow as tf

    from gantrack.gan.training import images_per_epoch

    gpus = tf.config.list_physical_devices("GPU")
    base = load_params(args.params).train.model_copy(
        update={"eval_every": 0, "ema_decay": None, "distribute": "none", "devices": None}
    )
    if args.batch_size:
        base = base.model_copy(update={"batch_size": args.batch_size})
    image_shape = (args.image_size, args.image_size, args.channels)
    images = np.random.default_rng(args.seed).uniform(-1, 1, (args.num_images, *image_shape))
    images = images.astype(np.float32)
    trainers = {
        name: Trainer(config, image_shape, args.seed)
        for name, config in configurations(base, devices, args.precisions).items()
    }
    seconds = take_turns(
        trainers, lambda trainer, epoch: trainer.epoch(images, epoch), args.warmup, args.rounds
    )

    count = images_per_epoch(args.num_images, base.batch_size)
    replicas = trainers["mirrored, fp32"].strategy.num_replicas_in_sync
    names = [gpu.name for gpu in gpus] if gpus and not devices else devices or ["cpu"]
    print(
        f"{image_shape} images, global batch {base.batch_size}, {count} images/epoch, "
        f"median of {args.rounds} epochs; mirrored on {replicas} replicas ({', '.join(names)}); "
        f"TensorFlow {tf.__version__}"
    )
    rates = print_rates(seconds, count, baseline="one device, fp32")
    if args.json:
        args.json.write_text(json.dumps({"rates": rates, "seconds": seconds}, indent=1))


if __name__ == "__main__":
    main()
