"""DVC stage `train`: train the GAN, logging every epoch; checkpoint, and resume if killed."""

import os
from pathlib import Path

from gantrack.config import Params
from gantrack.distribute import is_chief
from gantrack.gan.checkpoints import OUTSIDE_REPOSITORY_VARIABLE, check_checkpoint_folder
from gantrack.gan.session import WORKER_OUTPUTS, TrainingSinks, train_generator
from gantrack.images import save_png
from gantrack.io import csv_sink, save_model
from gantrack.stage import progress_verbosity, run_stage
from gantrack.tracking.log import (
    epoch_metrics_sink,
    grid_image_sink,
    log_artifacts,
    log_metrics,
    set_tag,
)


def train(params: Params) -> None:
    paths = params.paths
    # A worker's checkpoints go to a scratch folder of its own (gantrack.stage.run_as_worker).
    if params.train.checkpoint_every and is_chief(os.environ):
        allowed = os.environ.get(OUTSIDE_REPOSITORY_VARIABLE) == "1"
        check_checkpoint_folder(paths.model_dump(), Path.cwd(), allow_outside=allowed)
    sinks = TrainingSinks(
        epochs=[csv_sink(paths.train_log), epoch_metrics_sink()],
        grids=[grid_image_sink("grids")],
        evaluations=[csv_sink(paths.train_eval_log), epoch_metrics_sink("eval")],
    )
    result = train_generator(params, sinks, progress_verbosity())
    save_model(result.generator, paths.generator / "last.keras")
    save_png(result.final_grid, paths.train_grid)
    log_artifacts(paths.train_log)
    # Quality per CPU-minute: `compare` sets FID against these (reports/recipes.md).
    log_metrics(
        {
            "training_seconds": result.training_seconds,
            "training_images_per_second": result.images_seen / result.training_seconds,
            # In-training scores are logged by epoch: epoch x this is the generator step.
            "steps_per_epoch": result.steps_per_epoch,
        }
    )
    set_tag("gantrack.xla", "on" if result.xla else "off")
    if result.xla_choice is not None:  # train.xla auto: what the probe measured
        choice = result.xla_choice
        probe = {
            "xla_probe.plain_steps_per_second": choice.plain_steps_per_second,
            "xla_probe.xla_steps_per_second": choice.xla_steps_per_second,
        }
        if choice.others_cpu_share is not None:
            probe["xla_probe.others_cpu_share"] = choice.others_cpu_share
        log_metrics(probe)
    if result.best_epoch is not None:
        log_metrics({"best_epoch": result.best_epoch, "best_fid": result.best_fid})
        log_artifacts(paths.train_eval_log)
        print(f"best epoch {result.best_epoch}: FID {result.best_fid:.2f} (evaluator)")


def main() -> None:
    run_stage("train", train, worker_outputs=WORKER_OUTPUTS)


if __name__ == "__main__":
    main()
