"""DVC stage `sample`: draw `sample.num_images` images from the trained generator."""

import keras

from gantrack.config import Params
from gantrack.images import make_grid, save_png
from gantrack.io import save_arrays
from gantrack.sampling import generate_images
from gantrack.stage import run_stage
from gantrack.tracking import log_artifacts


def sample(params: Params) -> None:
    config, paths = params.sample, params.paths
    generator = keras.models.load_model(paths.generator, compile=False, safe_mode=True)
    images = generate_images(generator, config.num_images, config.seed)
    save_arrays(paths.samples, images=images)
    save_png(make_grid(images[: config.grid_rows**2], config.grid_rows), paths.sample_grid)
    log_artifacts(paths.sample_grid)
    print(f"sampled {len(images)} images with seed {config.seed}")


def main() -> None:
    run_stage("sample", sample)


if __name__ == "__main__":
    main()
