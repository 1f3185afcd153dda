"""One run of the `train` stage: build the GAN, resume it if a checkpoint allows, fit, report.

Resume: every ``train.checkpoint_every`` epochs the whole training state goes to
``paths.checkpoints`` (:mod:`gantrack.gan.checkpoints`). A rerun resumes from the latest
checkpoint only if its fingerprint (:func:`training_fingerprint`) matches these params,
data, code and library versions, and then ends bit-identical to an uninterrupted run:
each epoch's data order is a function of (seed, epoch), and op determinism is on.

Results leave through sinks (plain functions, see :mod:`gantrack.gan.callbacks`): the
caller decides whether rows go to CSV files, MLflow or a list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import keras
import numpy as np

from gantrack.config import Params, TrainConfig
from gantrack.data.splits import Split, array_checksum, load_split
from gantrack.distribute import make_strategy
from gantrack.epoch_report import EpochReport, EpochSink, TrainingProgress
from gantrack.evaluation.feature_networks.base import on_replicas
from gantrack.evaluation.feature_networks.evaluator_network import load_evaluator_network
from gantrack.evaluation.in_training import quick_scorer
from gantrack.evaluation.reference import load_reference, reference_file
from gantrack.gan.callbacks import (
    GridSink,
    GridSnapshot,
    NonFiniteLossCheck,
    PeriodicCheckpoint,
    PeriodicEvaluation,
)
from gantrack.gan.checkpoints import (
    fingerprint,
    latest_checkpoint,
    restore_checkpoint,
    save_checkpoint,
    share_chiefs_resume,
)
from gantrack.gan.sampling import class_labels, generator_inputs, grid_inputs, latent_vectors
from gantrack.gan.training import (
    build_gan,
    build_state,
    check_batch_fits,
    images_per_epoch,
    steps_per_epoch,
    train_gan,
    training_epochs,
)
from gantrack.gan.xla_probe import XlaChoice, choose_xla
from gantrack.io import atomic_path, save_model

# The ``paths`` keys a non-chief worker of a multi_worker cluster writes to scratch instead.
WORKER_OUTPUTS = ("generator", "train_log", "train_grid", "train_eval_log", "checkpoints")


@dataclass(frozen=True)
class TrainingSinks:
    """Where training's results go, each a list of sinks."""

    epochs: list[EpochSink]  # one row per epoch: losses, discriminator scores, timing
    grids: list[GridSink]  # the grid of images from fixed latent vectors, every epoch
    evaluations: list[EpochSink]  # in-training FID and KID, every train.eval_every epochs


@dataclass(frozen=True)
class TrainingResult:
    """The trained generator (the weight average when ``train.ema_decay`` is set)."""

    generator: keras.Model
    final_grid: np.ndarray
    best_epoch: int | None  # None when in-training evaluation is off
    best_fid: float | None
    training_seconds: float  # the epochs' time (resumed ones included), not in-training scoring
    images_seen: int  # real images the discriminator saw: epochs x images per epoch
    steps_per_epoch: int  # generator updates per epoch: epoch x this = generator steps
    xla: bool  # whether the step was XLA-compiled
    xla_choice: XlaChoice | None  # train.xla auto: the probe's decision and rates


def train_generator(params: Params, sinks: TrainingSinks, verbose: int) -> TrainingResult:
    """Train the GAN of ``params.train`` on the train split; writes checkpoints and best.keras."""
    config, paths = params.train, params.paths
    deterministic_ops()  # bit-identical resume needs deterministic kernels
    split = load_split(paths.train_data)  # images (N, H, W, C) in [-1, 1], labels (N,)
    if config.epochs is None:
        epochs = training_epochs(config, len(split.images))
        length = (
            f"train.images {config.images:,}"
            if config.steps is None
            else (f"train.steps {config.steps:,}")
        )
        print(f"{length}: {epochs} epochs of {len(split.images):,} images")
        config = config.model_copy(update={"epochs": epochs})
    total_steps = config.epochs * steps_per_epoch(
        len(split.images), config.batch_size, config.critic_steps
    )
    # Unlabeled data (every label UNLABELED = -1) has 0 classes: build_gan then stops.
    num_classes = max(int(np.max(split.labels)) + 1, 0) if config.conditional else None
    check_batch_fits(len(split.images), config.batch_size * config.critic_steps)  # before a probe
    # The data checksum and the package's source hash are costly on large data: once.
    read_inputs = training_inputs(split)
    xla_choice = None
    if config.xla == "auto":  # decided on this machine, by a timed probe (cached)
        if config.distribute != "none":
            config = config.model_copy(update={"xla": False})  # distributed steps: no XLA
        elif (resumed := checkpoint_step(paths.checkpoints, config, read_inputs)) is not None:
            step = "the XLA step" if resumed else "the plain step"
            print(f"train.xla auto: {step}, the one the checkpoint to resume was made with")
            config = config.model_copy(update={"xla": resumed})
        else:
            xla_choice = choose_xla(config, split.images.shape[1:], num_classes)
            print(xla_choice.reason)
            config = config.model_copy(update={"xla": xla_choice.use_xla})
    # Variables made in the strategy's scope are mirrored; fit() then runs every step on
    # all replicas (train.batch_size is the global batch).
    strategy = make_strategy(config.distribute, config.devices)
    with strategy.scope():
        gan = build_gan(config, split.images.shape[1:], config.seed, num_classes, total_steps)
    if strategy.num_replicas_in_sync > 1:
        print(f"training on {strategy.num_replicas_in_sync} replicas ({config.distribute})")
    generator = gan.sampling_generator  # the weight average when train.ema_decay is set
    best_path = paths.generator / "best.keras"
    report = EpochReport(
        images_per_epoch(len(split.images), config.batch_size, config.critic_steps),
        sinks=sinks.epochs,
    )
    inputs, rows = grid_inputs(config.latent_dim, config.grid_rows, config.seed, num_classes)
    grids = GridSnapshot(generator, inputs, rows, sinks.grids)
    # verbose 1 is Keras's live progress bar; otherwise say where training is every 30 s.
    progress = TrainingProgress(periodic=verbose != 1)
    callbacks = [NonFiniteLossCheck(), report, grids, progress]
    evaluation = None
    if config.eval_every:
        evaluation = periodic_evaluation(
            params, generator, best_path, num_classes, strategy, sinks.evaluations
        )
        callbacks.append(evaluation)
    # The resolved settings: a checkpoint resumes only on the step path that made it.
    training_state = training_fingerprint(config, read_inputs)
    # The optimisers' slots now, on every process alike: a checkpoint restores into them,
    # and under multi_worker each variable's creation is a collective all workers join.
    build_state(gan)
    first_epoch = 0
    if strategy.extended.should_checkpoint:  # false only on a multi_worker non-chief
        first_epoch = resume(params, gan, training_state, report, grids, evaluation, best_path)
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
            save_checkpoint(paths.checkpoints, gan, epoch, training_state, history, files)

        callbacks.append(PeriodicCheckpoint(config.checkpoint_every, save))
    train_gan(
        gan,
        split.images,
        config,
        config.seed,
        callbacks,
        verbose,
        split.labels,
        initial_epoch=first_epoch,
    )
    return TrainingResult(
        generator=generator,
        final_grid=grids.last_grid if grids.last_grid is not None else grids.draw(),
        best_epoch=None if evaluation is None else evaluation.best_epoch,
        best_fid=None if evaluation is None else evaluation.best_fid,
        training_seconds=report.training_seconds,
        images_seen=len(report.rows) * report.images_per_epoch,
        steps_per_epoch=total_steps // config.epochs,
        xla=bool(config.xla),
        xla_choice=xla_choice,
    )


def periodic_evaluation(
    params: Params,
    generator: keras.Model,
    best_path: Path,
    num_classes: int | None,
    strategy,
    sinks: list[EpochSink],
) -> PeriodicEvaluation:
    """FID and KID with the evaluator every ``train.eval_every`` epochs; saves the best.

    KID uses subsets of min(``evaluate.kid_subset_size``, ``train.eval_num_images``) images,
    the rule of the ``evaluate`` stage.
    """
    config = params.train
    network = on_replicas(lambda: load_evaluator_network(params.paths.evaluator), strategy)
    reference = load_reference(reference_file(params.paths.reference_dir, "evaluator"))
    scorer = quick_scorer(
        reference,
        config.eval_kid_subsets,
        min(params.evaluate.kid_subset_size, config.eval_num_images),
        config.seed,
    )
    # Latent vectors of their own seed, apart from the grid's, fixed for every epoch.
    latent = latent_vectors(config.eval_num_images, config.latent_dim, config.seed + 1)
    labels = None if num_classes is None else class_labels(len(latent), num_classes)
    batch_size = params.feature_networks.batch_size
    return PeriodicEvaluation(
        generator,
        generator_inputs(latent, labels),
        score=lambda images: scorer(network.extract(images, batch_size, verbose=0)[0]),
        every=config.eval_every,
        sinks=sinks,
        on_best=lambda epoch, model: save_model(model, best_path),
    )


def checkpoint_step(checkpoints: Path, config: TrainConfig, inputs: Mapping) -> bool | None:
    """``train.xla: auto`` with a checkpoint to resume: the step that made it (True: the
    XLA step), so that the resumed run goes on with it; None when no checkpoint was made
    by these settings on either step.

    A checkpoint resumes only on the step path that made it (:func:`training_fingerprint`
    holds the resolved ``xla``), and a probe taken now can choose the other path (another
    load on the machine): a killed run would then train again from the start.
    """
    checkpoint = latest_checkpoint(checkpoints)
    if checkpoint is None:
        return None
    for use_xla in (True, False):
        resolved = config.model_copy(update={"xla": use_xla})
        if checkpoint.fingerprint == training_fingerprint(resolved, inputs):
            return use_xla
    return None


def resume(
    params: Params, gan, training_state: str, report, grids, evaluation, best_path: Path
) -> int:
    """Restore the last checkpoint if it was made by these very settings; its epoch, or 0."""
    checkpoint = latest_checkpoint(params.paths.checkpoints)
    if checkpoint is None:
        return 0
    if checkpoint.fingerprint != training_state:
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


def deterministic_ops() -> None:
    """Deterministic TensorFlow kernels for this process (bit-identical reruns and resumes).

    Process-wide. It makes TensorFlow pick deterministic kernels (and raise for ops that
    have none) and run tf.data deterministically; docs/architecture.md ("Speed") says what it costs.
    """
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def training_fingerprint(config: TrainConfig, inputs: Mapping) -> str:
    """What a checkpoint must have been made with to resume it (:mod:`gantrack.gan.checkpoints`):
    the train params (the GAN's seed among them, ``xla`` resolved) and
    :func:`training_inputs`. Params of other stages do not count."""
    return fingerprint({"train": config.model_dump(mode="json"), **inputs})


def training_inputs(split: Split) -> dict:
    """What training reads besides its params: the data's checksum and shape, the source of
    the whole ``gantrack`` package, and the library versions (kernels differ between
    versions). About 0.5 s for 60,000 digits here: compute it once per run.

    The whole package rather than the training modules alone: a checkpoint also carries
    the logs and in-training scores so far, which other modules compute; any change in
    the code DVC reruns `train` for therefore starts afresh, never from stale state.
    """
    import gantrack

    source = hashlib.sha256()
    package = Path(gantrack.__file__).parent
    for path in sorted(package.rglob("*.py")):
        source.update(str(path.relative_to(package)).encode())
        source.update(path.read_bytes())
    return {
        "data": array_checksum(split.images, split.labels),
        "shape": list(split.images.shape),
        "code": source.hexdigest(),
        "versions": {name: version(name) for name in ("tensorflow", "keras", "numpy")},
    }
