"""DVC stage `sample`: draw `sample.num_images` images from the chosen generator.

A conditional generator draws class `sample.label` (null: every class in turn), and the
grid then shows one row per class. The interpolation grid slerps between fixed latent
pairs, a row each (a conditional generator holds the row's class fixed).

Also logs the generator to MLflow twice (gantrack.tracking.registry): the Keras network, and the
request-table sampler that is registered as `mlflow.registered_model`@candidate.
"""

import keras

from gantrack.config import Params
from gantrack.gan.networks import num_classes_of
from gantrack.gan.sampling import (
    class_labels,
    generate_images,
    interpolation_inputs,
    latent_dim_of,
)
from gantrack.images import make_grid, rows_by_class, save_png
from gantrack.io import save_arrays
from gantrack.stage import run_stage
from gantrack.tracking.log import log_artifacts
from gantrack.tracking.lost_store import unless_store_lost
from gantrack.tracking.registry import log_generator, log_sampler, register_candidate


def sample(params: Params) -> None:
    config, paths = params.sample, params.paths
    generator_path = paths.generator / f"{config.generator}.keras"
    generator = keras.models.load_model(generator_path, compile=False, safe_mode=True)
    num_classes = num_classes_of(generator)
    if num_classes is None:
        images = generate_images(generator, config.num_images, config.seed)
        save_arrays(paths.samples, images=images)
        grid = make_grid(images[: config.grid_rows**2], config.grid_rows)
    else:
        labels = class_labels(config.num_images, num_classes, config.label)
        images = generate_images(generator, config.num_images, config.seed, labels=labels)
        save_arrays(paths.samples, images=images, labels=labels)
        shown = rows_by_class(images, labels, num_classes, config.grid_rows)
        grid = make_grid(shown, num_classes)  # one row per class, grid_rows columns
    save_png(grid, paths.sample_grid)
    rows = num_classes or config.grid_rows  # conditional: one row per class
    inputs = interpolation_inputs(
        latent_dim_of(generator), rows, config.grid_rows, config.seed, num_classes
    )
    interpolation = generator.predict(inputs, verbose=0)
    save_png(make_grid(interpolation, rows), paths.interpolation)
    log_artifacts(paths.sample_grid, paths.interpolation)
    # The Keras model's signature is latent -> image: a conditional generator (a label input
    # too) is logged as the sampler only, whose requests carry the label.
    conditional = num_classes is not None
    print(f"sampled {len(images)} images from {generator_path} with seed {config.seed}")
    with unless_store_lost("logging the generator models", params.mlflow.on_lost_server):
        network = None if conditional else log_generator(generator)
        sampler = log_sampler(generator_path, images.shape[1:], conditional=conditional)
        if params.mlflow.registered_model:
            tags = {"gantrack.generator": config.generator}
            if network is not None:
                tags["gantrack.generator_model"] = network.model_uri
            model = params.mlflow.registered_model
            version = register_candidate(sampler.model_uri, model, tags)
            print(f"registered {version.name} version {version.version} as @candidate")


def main() -> None:
    run_stage("sample", sample)


if __name__ == "__main__":
    main()
