"""DVC stage `sample`: draw `sample.num_images` images from the chosen generator.

Also logs the generator to MLflow twice (gantrack.registry): the Keras network, and the
request-table sampler that is registered as `mlflow.registered_model`@candidate.
"""

import keras

from gantrack.config import Params
from gantrack.images import make_grid, save_png
from gantrack.io import save_arrays
from gantrack.registry import log_generator, log_sampler, register_candidate
from gantrack.sampling import generate_images
from gantrack.stage import run_stage
from gantrack.tracking import log_artifacts


def sample(params: Params) -> None:
    config, paths = params.sample, params.paths
    generator_path = paths.generator / f"{config.generator}.keras"
    generator = keras.models.load_model(generator_path, compile=False, safe_mode=True)
    images = generate_images(generator, config.num_images, config.seed)
    save_arrays(paths.samples, images=images)
    save_png(make_grid(images[: config.grid_rows**2], config.grid_rows), paths.sample_grid)
    log_artifacts(paths.sample_grid)
    # The Keras model's signature is latent -> image: a conditional generator (a label input
    # too) is logged as the sampler only, whose requests carry the label.
    conditional = len(generator.inputs) > 1
    network = None if conditional else log_generator(generator)
    sampler = log_sampler(generator_path, images.shape[1:], conditional=conditional)
    if params.mlflow.registered_model:
        tags = {"gantrack.generator": config.generator}
        if network is not None:
            tags["gantrack.generator_model"] = network.model_uri
        version = register_candidate(sampler.model_uri, params.mlflow.registered_model, tags)
        print(f"registered {version.name} version {version.version} as @candidate")
    print(f"sampled {len(images)} images from {generator_path} with seed {config.seed}")


def main() -> None:
    run_stage("sample", sample)


if __name__ == "__main__":
    main()
