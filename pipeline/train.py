"""DVC stage `train`: train the GAN, logging every epoch; checkpoint, and resume if killed."""

from pathlib import Path

import numpy as np

from gantrack.callbacks import (
    EpochReport,
    GridSnapshot,
    NonFiniteLossCheck,
    PeriodicCheckpoint,
    PeriodicEvaluation,
)
from gantrack.checkpoint import (
    latest_checkpoint,
    restore_checkpoint,
    save_checkpoint,
    share_chiefs_resume,
)
from gantrack.config import Params
from gantrack.data import load_split
from gantrack.distribute import make_strategy
from gantrack.evaluation import load_reference, quick_scorer, reference_file
from gantrack.images import save_png
from gantrack.io import atomic_path, csv_sink
from gantrack.sampling import class_labels, generator_inputs, grid_inputs, latent_vectors
from gantrack.stage import (
    deterministic_ops,
    feature_network,
    progress_verbosity,
    run_stage,
    save_model,
    training_fingerprint,
)
from gantrack.tracking import epoch_metrics_sink, grid_image_sink, log_artifacts, log_metrics
from gantrack.training import build_gan, build_state, images_per_epoch, train_gan


def periodic_evaluation(
    params: Params, generator, best_path: Path, num_classes: int | None, strategy
) -> PeriodicEvaluation:
    """FID and KID with the evaluator every `train.eval_every` epochs; saves the best."""
    config = params.train
    network = feature_network("evaluator", params, strategy)  # runs on every replica
    reference = load_reference(reference_file(params.paths.reference_dir, "evaluator"))
    scorer = quick_scorer(
        reference, config.eval_kid_subsets, min(1000, config.eval_num_images), params.seed
    )
    # Latent vectors of their own seed, apart from the grid's, fixed for every epoch.
    latent = latent_vectors(config.eval_num_images, config.latent_dim, params.seed + 1)
    labels = None if num_classes is None else class_labels(len(latent), num_classes)
    return PeriodicEvaluation(
        generator,
        generator_inputs(latent, labels),
        score=lambda images: scorer(network.extract(images, 500, verbose=0)[0]),
        every=config.eval_every,
        sinks=[csv_sink(params.paths.train_eval_log), epoch_metrics_sink("eval")],
        on_best=lambda epoch, model: save_model(model, best_path),
    )


def resume(
    params: Params, gan, fingerprint: str, report, grids, evaluation, best_path: Path
) -> int:
    """Restore the last checkpoint if it was made by these very settings; its epoch, or 0."""
    checkpoint = latest_checkpoint(params.paths.checkpoints)
    if checkpoint is None:
        return 0
    if checkpoint.fingerprint != fingerprint:
        print(
            f"checkpoint {checkpoint.path} was made with other params, data or code: "
            "not resuming it; training from the start"
        )
        return 0
    restore_checkpoint(checkpoint, gan)
    report.replay(checkpoint.history["train_log"])
    grids.replay(checkpoint.epoch)
    if evaluation is not None:
        evaluation.replay(checkpoint.history["train_eval"])
        if (best := checkpoint.file("best.keras")) is not None:
            with atomic_path(best_path) as temporary:
                temporary.write_bytes(best.read_bytes())
    print(f"resuming from {checkpoint.path} after epoch {checkpoint.epoch}")
    return checkpoint.epoch


def train(params: Params) -> None:
    config, paths = params.train, params.paths
    deterministic_ops()  # bit-identical resume needs deterministic kernels
    split = load_split(paths.train_data)  # images (N, H, W, C) in [-1, 1], labels (N,)
    # Unlabeled data (every label UNLABELED = -1) has 0 classes: build_gan then stops.
    num_classes = max(int(np.max(split.labels)) + 1, 0) if config.conditional else None
    # Variables made in the strategy's scope are mirrored; fit() then runs every step on
    # all replicas (train.batch_size is the global batch).
    strategy = make_strategy(config.distribute, config.devices)
    with strategy.scope():
        gan = build_gan(config, split.images.shape[1:], params.seed, num_classes)
    if strategy.num_replicas_in_sync > 1:
        print(f"training on {strategy.num_replicas_in_sync} replicas ({config.distribute})")
    generator = gan.sampling_generator  # the weight average when train.ema_decay is set
    best_path = paths.generator / "best.keras"
    report = EpochReport(
        images_per_epoch(len(split.images), config.batch_size, config.critic_steps),
        sinks=[csv_sink(paths.train_log), epoch_metrics_sink()],
    )
    inputs, rows = grid_inputs(config.latent_dim, config.grid_rows, params.seed, num_classes)
    grids = GridSnapshot(generator, inputs, rows, [grid_image_sink("grids")])
    callbacks = [NonFiniteLossCheck(), report, grids]
    evaluation = None
    if config.eval_every:
        evaluation = periodic_evaluation(params, generator, best_path, num_classes, strategy)
        callbacks.append(evaluation)
    fingerprint = training_fingerprint(params, split)
    # The optimisers' slots now, on every process alike: a checkpoint restores into them,
    # and under multi_worker each variable's creation is a collective all workers join.
    build_state(gan)
    first_epoch = 0
    if strategy.extended.should_checkpoint:  # false only on a multi_worker non-chief
        first_epoch = resume(params, gan, fingerprint, report, grids, evaluation, best_path)
    first_epoch = share_chiefs_resume(gan, first_epoch)  # multi_worker: to every worker
    if first_epoch and not strategy.extended.should_checkpoint:
        print(f"resuming after epoch {first_epoch} with the chief's training state")
    if config.checkpoint_every:

        def save(epoch: int) -> None:
            history = {
                "train_log": report.rows,
                "train_eval": [] if evaluation is None else evaluation.rows,
            }
            files = {"best.keras": best_path}
            save_checkpoint(paths.checkpoints, gan, epoch, fingerprint, history, files)

        callbacks.append(PeriodicCheckpoint(config.checkpoint_every, save))
    train_gan(
        gan,
        split.images,
        config,
        params.seed,
        callbacks,
        progress_verbosity(),
        split.labels,
        initial_epoch=first_epoch,
    )
    save_model(generator, paths.generator / "last.keras")
    save_png(grids.last_grid if grids.last_grid is not None else grids.draw(), paths.train_grid)
    log_artifacts(paths.train_log)
    if config.eval_every:
        log_metrics({"best_epoch": evaluation.best_epoch, "best_fid": evaluation.best_fid})
        log_artifacts(paths.train_eval_log)
        print(f"best epoch {evaluation.best_epoch}: FID {evaluation.best_fid:.2f} (evaluator)")


# What a non-chief worker of a multi_worker cluster writes to scratch instead.
OUTPUTS = ("generator", "train_log", "train_grid", "train_eval_log", "checkpoints")


def main() -> None:
    run_stage("train", train, worker_outputs=OUTPUTS)


if __name__ == "__main__":
    main()
