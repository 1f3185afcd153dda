"""Feature-extraction throughput (images/s) of each feature network on this machine.

InceptionV3 runs with randomly initialised weights and the evaluator untrained: the work
per image, hence the throughput, does not depend on the weights' values, and neither file
needs the internet. ``inception_2015`` runs only when ``--inception-2015-graph`` points at
``classify_image_graph_def.pb``. Each network is loaded (which builds and traces it) and
warmed up on one batch before the timed pass over ``--num-images`` random images.

    PYTHONPATH=src python bench/bench_feature_extraction.py --num-images 200
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

NETWORKS = ("evaluator", "inception_v3", "inception_2015")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=500, help="images timed per network")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument("--inception-2015-graph", type=Path, default=None)
    parser.add_argument("--resize-method", default="bilinear", help="for inception_v3")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def make_standins(folder: Path) -> dict[str, Path]:
    """Random-init InceptionV3 weights and an untrained evaluator, saved in ``folder``."""
    import keras

    from gantrack.evaluation.evaluator import build_evaluator

    weights = folder / "inception_v3_random.weights.h5"
    keras.applications.InceptionV3(include_top=True, weights=None).save_weights(weights)
    evaluator = folder / "evaluator_untrained.keras"
    build_evaluator((28, 28, 1), 10).save(evaluator)
    return {"inception_v3_weights": weights, "evaluator_path": evaluator}


def benchmark(name: str, images: np.ndarray, args, standins: dict[str, Path]) -> str:
    """One row: load time, throughput and output widths of network ``name``."""
    from gantrack.evaluation.feature_networks.registry import load_feature_network

    if name == "inception_2015" and args.inception_2015_graph is None:
        return f"{name:<15} skipped: no --inception-2015-graph"
    started = time.perf_counter()
    network = load_feature_network(
        name,
        evaluator_path=standins["evaluator_path"],
        inception_v3_weights=standins["inception_v3_weights"],
        resize_method=args.resize_method,
        inception_2015_graph=args.inception_2015_graph,
        keras_home=standins["evaluator_path"].parent,  # never used: weights are given
        download=_no_download,
    )
    load_seconds = time.perf_counter() - started
    network.extract(images[: args.batch_size], args.batch_size, verbose=0)  # warm-up
    outputs, images_per_second = network.extract(images, args.batch_size, verbose=0)
    widths = f"{outputs.features.shape[1]}-d features, {outputs.probabilities.shape[1]} classes"
    return f"{name:<15} {images_per_second:8.1f} images/s   (load {load_seconds:4.1f} s; {widths})"


def _no_download():
    raise OSError("the benchmark never downloads")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import tensorflow as tf

    rng = np.random.default_rng(args.seed)
    images = rng.uniform(-1, 1, (args.num_images, 28, 28, 1)).astype(np.float32)
    gpus = [device.name for device in tf.config.list_physical_devices("GPU")] or ["none"]
    print(
        f"TensorFlow {tf.__version__}; CPU cores usable: {len(os.sched_getaffinity(0))}; "
        f"GPUs: {', '.join(gpus)}"
    )
    print(
        f"{args.num_images} images (28, 28, 1) in [-1, 1], batch {args.batch_size}; "
        f"inception_v3 resize: {args.resize_method}"
    )
    print(
        "InceptionV3 has random weights and the evaluator is untrained: throughput does "
        "not depend on the weights' values."
    )
    with tempfile.TemporaryDirectory() as folder:
        standins = make_standins(Path(folder))
        for name in args.networks:
            print(benchmark(name, images, args, standins), flush=True)


if __name__ == "__main__":
    main()
