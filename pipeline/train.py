"""DVC stage `train`: train the GAN, logging every epoch's means, image grid and FID."""

from pathlib import Path

from gantrack.callbacks import EpochReport, GridSnapshot, PeriodicEvaluation
from gantrack.config import Params
from gantrack.data import load_split
from gantrack.evaluation import load_reference, quick_scorer, reference_file
from gantrack.images import save_png
from gantrack.io import csv_sink
from gantrack.sampling import latent_vectors
from gantrack.stage import feature_network, progress_verbosity, run_stage, save_model
from gantrack.tracking import epoch_metrics_sink, grid_image_sink, log_artifacts, log_metrics
from gantrack.training import build_gan, images_per_epoch, train_gan


def periodic_evaluation(params: Params, generator, best_path: Path) -> PeriodicEvaluation:
    """FID and KID with the evaluator every `train.eval_every` epochs; saves the best."""
    config = params.train
    network = feature_network("evaluator", params)
    reference = load_reference(reference_file(params.paths.reference_dir, "evaluator"))
    scorer = quick_scorer(
        reference, config.eval_kid_subsets, min(1000, config.eval_num_images), params.seed
    )
    # Latent vectors of their own seed, apart from the grid's, fixed for every epoch.
    latent = latent_vectors(config.eval_num_images, config.latent_dim, params.seed + 1)
    return PeriodicEvaluation(
        generator,
        latent,
        score=lambda images: scorer(network.extract(images, 500, verbose=0)[0]),
        every=config.eval_every,
        sinks=[csv_sink(params.paths.train_eval_log), epoch_metrics_sink("eval")],
        on_best=lambda epoch, model: save_model(model, best_path),
    )


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
    callbacks = [report, grids]
    if config.eval_every:
        evaluation = periodic_evaluation(params, gan.generator, paths.generator / "best.keras")
        callbacks.append(evaluation)
    train_gan(gan, images, config, params.seed, callbacks, verbose=progress_verbosity())
    save_model(gan.generator, paths.generator / "last.keras")
    save_png(grids.last_grid, paths.train_grid)
    log_artifacts(paths.train_log)
    if config.eval_every:
        log_metrics({"best_epoch": evaluation.best_epoch, "best_fid": evaluation.best_fid})
        log_artifacts(paths.train_eval_log)
        print(f"best epoch {evaluation.best_epoch}: FID {evaluation.best_fid:.2f} (evaluator)")


def main() -> None:
    run_stage("train", train)


if __name__ == "__main__":
    main()
