"""DVC stage `sample`: draw `sample.num_images` images from the chosen generator."""

import keras

from gantrack.config import Params
from gantrack.images import make_grid, save_png
from gantrack.io import save_arrays
from gantrack.sampling import generate_images
from gantrack.stage import run_stage
from gantrack.tracking import log_artifacts, log_generator


def sample(params: Params) -> None:
    config, paths = params.sample, params.paths
    generator_path = paths.generator / f"{config.generator}.keras"
    generator = keras.models.load_model(generator_path, compile=False, safe_mode=True)
    images = generate_images(generator, config.num_images, config.seed)
    save_arrays(paths.samples, images=images)
    save_png(make_grid(images[: config.grid_rows**2], config.grid_rows), paths.sample_grid)
    log_artifacts(paths.sample_grid)
    log_generator(generator)
    print(f"sampled {len(images)} images from {generator_path} with seed {config.seed}")


def main() -> None:
    run_stage("sample", sample)


if __name__ == "__main__":
    main()
