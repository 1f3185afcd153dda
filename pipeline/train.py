"""DVC stage `train`: train the GAN, logging every epoch's means and image grid."""

from gantrack.callbacks import EpochReport, GridSnapshot
from gantrack.config import Params
from gantrack.data import load_split
from gantrack.images import save_png
from gantrack.io import atomic_path, csv_sink
from gantrack.sampling import latent_vectors
from gantrack.stage import progress_verbosity, run_stage
from gantrack.tracking import epoch_metrics_sink, grid_image_sink, log_artifacts, log_generator
from gantrack.training import build_gan, images_per_epoch, train_gan


def train(params: Params) -> None:
    config, paths = params.train, params.paths
    images = load_split(paths.train_data).images  # (N, 28, 28, 1) in [-1, 1]
    gan = build_gan(config, images.shape[1:], params.seed)
    report = EpochReport(
        images_per_epoch(len(images), config.batch_size),
        sinks=[csv_sink(paths.train_log), epoch_metrics_sink()],
    )
    grid_latent = latent_vectors(config.grid_rows**2, config.latent_dim, params.seed)
    grids = GridSnapshot(gan.generator, grid_latent, config.grid_rows, [grid_image_sink("grids")])
    train_gan(
        gan, images, config, params.seed, callbacks=[report, grids], verbose=progress_verbosity()
    )
    with atomic_path(paths.generator) as temporary:
        gan.generator.save(temporary)
    save_png(grids.last_grid, paths.train_grid)
    log_artifacts(paths.train_log)
    log_generator(gan.generator)


def main() -> None:
    run_stage("train", train)


if __name__ == "__main__":
    main()
