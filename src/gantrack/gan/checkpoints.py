"""Checkpoints: the whole training state after an epoch, saved so a kill never corrupts it.

A checkpoint is a folder ``<checkpoints>/epoch_0004/`` holding

- ``state.npz``: every variable the train step reads or writes, in a fixed order — both
  networks' weights and BatchNorm statistics, the weight average (EMA), both optimisers'
  slots and step counters (and loss scales), and every ``keras.random.SeedGenerator``
  state (latents, Dropout, DiffAugment, WGAN-GP's ε), each with its Keras path;
- ``meta.json``: the epoch, the fingerprint of what produced it (train params, seed, data
  checksum, code and library versions) and the callbacks' history (log rows, best FID);
- ``files/``: copies of files the stage wrote that a rerun's DVC would delete (the best
  generator so far).

Why one ``.npz`` of named arrays rather than ``tf.train.Checkpoint`` or Keras weight files:
Keras ``.weights.h5`` files hold no optimiser or seed-generator state, and
``tf.train.Checkpoint`` writes an index and data shards that cannot be replaced as one
unit. Here the folder is written under a temporary name and renamed when complete (atomic
on POSIX), then older checkpoints are removed: a SIGKILL at any moment leaves the previous
complete checkpoint (a leftover temporary folder is ignored and cleaned up later). Only
entries of the checkpointer's own names (``epoch_0004``, ``.incomplete-<12 hex digits>``)
are ever removed, and :func:`check_checkpoint_folder` refuses, before training starts, a
folder that holds or lies inside another ``paths.*`` output or the repository. Restore
checks every variable's count, kind (its path without name counters) and shape, so a
checkpoint never loads into a model it does not fit.

Data order needs no state of its own: each epoch's order is a function of (seed, epoch).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gantrack.errors import GantrackError

FORMAT_VERSION = 1
PREFIX = "epoch_"
TEMPORARY_PREFIX = ".incomplete-"
# The names save_checkpoint gives: the only entries of the folder it ever removes.
OWN_NAME = re.compile(rf"{PREFIX}\d{{4,}}|{re.escape(TEMPORARY_PREFIX)}[0-9a-f]{{12}}")
# Set to 1 where the stage runs to keep checkpoints outside the repository (a scratch disk).
OUTSIDE_REPOSITORY_VARIABLE = "GANTRACK_CHECKPOINTS_OUTSIDE_REPOSITORY"


class CheckpointMismatchError(GantrackError, ValueError):
    """A checkpoint's variables do not fit the model it is restored into."""


class CheckpointFolderError(GantrackError, ValueError):
    """``paths.checkpoints`` is a folder whose other contents a save could delete."""


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint on disk: ``epoch`` epochs done."""

    path: Path
    epoch: int
    fingerprint: str
    history: dict[str, Any]
    variables: list[tuple[str, list[int]]]  # each saved variable's (Keras path, shape)

    def file(self, name: str) -> Path | None:
        """A copied file (see :func:`save_checkpoint`'s ``files``), or None if absent."""
        path = self.path / "files" / name
        return path if path.is_file() else None


def fingerprint(settings: Mapping[str, Any]) -> str:
    """SHA-256 of ``settings`` as canonical JSON: equal settings give equal fingerprints."""
    text = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def training_variables(gan) -> list:
    """Every variable of the training state, in a fixed order, each once.

    The GAN's own variables (generator, discriminator, EMA generator, seed generators)
    then each optimiser's (iterations, learning rate, Adam moments, loss scale).
    """
    seen, variables = set(), []
    for variable in [
        *gan.variables,
        *gan.generator_optimizer.variables,
        *gan.discriminator_optimizer.variables,
    ]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def save_checkpoint(
    folder: Path,
    gan,
    epoch: int,
    fingerprint_value: str,
    history: Mapping[str, Any],
    files: Mapping[str, Path] | None = None,
) -> Path:
    """Write the checkpoint after ``epoch`` epochs into ``folder``; remove the older ones.

    ``files`` maps names to existing files copied into the checkpoint (absent ones are
    skipped). Returns the checkpoint's folder. Only entries named as this function names
    them (:data:`OWN_NAME`) are removed: anything else in ``folder`` stays.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex[:12]}"
    final = folder / f"{PREFIX}{epoch:04d}"
    try:
        temporary.mkdir()
        variables = training_variables(gan)
        arrays = {f"v{index:04d}": np.asarray(v.numpy()) for index, v in enumerate(variables)}
        with (temporary / "state.npz").open("wb") as handle:
            np.savez(handle, **arrays)
        meta = {
            "format": FORMAT_VERSION,
            "epoch": epoch,
            "fingerprint": fingerprint_value,
            "variables": [[v.path, list(v.shape)] for v in variables],
            "history": dict(history),
        }
        (temporary / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        for name, source in (files or {}).items():
            if Path(source).is_file():
                (temporary / "files").mkdir(exist_ok=True)
                shutil.copy2(source, temporary / "files" / name)
        _sync_folder(temporary)
        if final.exists():  # the same epoch again (a rerun that restarted fresh)
            shutil.rmtree(final)
        os.rename(temporary, final)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    # Only now is the new checkpoint complete: older ones (and leftovers) may go.
    for other in folder.iterdir():
        if other != final and OWN_NAME.fullmatch(other.name) and not other.is_symlink():
            shutil.rmtree(other, ignore_errors=True)
    return final


def check_checkpoint_folder(
    paths: Mapping[str, Path], repository: Path, allow_outside: bool = False
) -> None:
    """Refuse a ``paths.checkpoints`` that a save could harm, before training writes anything.

    ``paths`` maps the ``paths.*`` keys of params.yaml to their values (relative ones are
    relative to ``repository``). Refused: a checkpoint folder that is, holds or lies inside
    another ``paths.*`` output (DVC would delete a checkpoint inside its output, and a
    folder holding outputs mixes two owners), one that holds the repository, and one
    outside the repository unless ``allow_outside``. Symbolic links are followed, so a
    link cannot hide where the folder really is. Raises :class:`CheckpointFolderError`
    naming both keys.
    """
    root = repository.resolve()
    folder = (root / paths["checkpoints"]).resolve()
    shown = f"paths.checkpoints ({paths['checkpoints']})"
    fix = "set paths.checkpoints to a folder of its own, e.g. models/checkpoints"
    for key, value in paths.items():
        relation = _relation(folder, (root / value).resolve())
        if key != "checkpoints" and relation is not None:
            raise CheckpointFolderError(f"{shown} {relation} paths.{key} ({value}); {fix}")
    if root.is_relative_to(folder):
        raise CheckpointFolderError(f"{shown} holds the repository ({root}); {fix}")
    if not folder.is_relative_to(root) and not allow_outside:
        raise CheckpointFolderError(
            f"{shown} is outside the repository ({root}); {fix}, or set "
            f"{OUTSIDE_REPOSITORY_VARIABLE}=1 to keep checkpoints there on purpose"
        )


def latest_checkpoint(folder: Path) -> Checkpoint | None:
    """The complete checkpoint with the most epochs in ``folder``, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    candidates = sorted(
        (path for path in folder.iterdir() if path.is_dir() and path.name.startswith(PREFIX)),
        key=lambda path: path.name,
        reverse=True,
    )
    for path in candidates:
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a checkpoint this code wrote completely: ignore it
        if meta.get("format") != FORMAT_VERSION or not (path / "state.npz").is_file():
            continue
        variables = [(str(name), list(shape)) for name, shape in meta["variables"]]
        return Checkpoint(path, int(meta["epoch"]), meta["fingerprint"], meta["history"], variables)
    return None


def restore_checkpoint(checkpoint: Checkpoint, gan) -> None:
    """Load ``checkpoint``'s state into ``gan`` (built with the same settings).

    The optimisers' slots must exist first (:func:`gantrack.gan.training.build_state`).
    """
    variables = training_variables(gan)
    saved = checkpoint.variables  # read with the rest of meta.json by latest_checkpoint
    if len(saved) != len(variables):
        raise CheckpointMismatchError(
            f"{checkpoint.path}: holds {len(saved)} variables, the model has "
            f"{len(variables)}; delete the folder to start afresh"
        )
    with np.load(checkpoint.path / "state.npz", allow_pickle=False) as archive:
        for index, (variable, (path, shape)) in enumerate(zip(variables, saved, strict=True)):
            if list(variable.shape) != shape or _kind(variable.path) != _kind(path):
                raise CheckpointMismatchError(
                    f"{checkpoint.path}: variable {index} is {path} {shape}, the model's is "
                    f"{variable.path} {list(variable.shape)}; delete the folder to start afresh"
                )
            variable.assign(archive[f"v{index:04d}"])


def share_chiefs_resume(gan, epoch: int) -> int:
    """Under ``multi_worker``: the chief's resume epoch, and its training state, everywhere.

    Only the chief reads checkpoints (other workers' folders are scratch, and other hosts
    need not share its disk), so every worker calls this after the chief has (or has not)
    restored one: the chief's ``epoch`` is broadcast, and when it is above 0 every
    variable of :func:`training_variables` too (:func:`gantrack.distribute.broadcast_from_chief`,
    bit for bit). Returns the epoch to continue from; a no-op under any other strategy.

    Every worker must have built the optimisers' slots before (the same variables
    everywhere, and creating a variable is itself a collective operation under
    ``multi_worker``: :func:`gantrack.gan.training.build_state` on all workers, at one point).
    """
    import tensorflow as tf

    from gantrack.distribute import broadcast_from_chief

    strategy = gan.distribute_strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return epoch
    if not (gan.generator_optimizer.built and gan.discriminator_optimizer.built):
        raise ValueError("build_state(gan) on every worker before share_chiefs_resume")
    (agreed,) = broadcast_from_chief(strategy, [np.array([epoch], np.int64)])
    epoch = int(agreed[0])
    if epoch:
        variables = training_variables(gan)
        values = broadcast_from_chief(strategy, [variable.numpy() for variable in variables])
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
    return epoch


def _relation(folder: Path, other: Path) -> str | None:
    """How resolved ``folder`` and ``other`` overlap ("is", "holds", "lies inside"), or None."""
    if other == folder:
        return "is"
    if other.is_relative_to(folder):
        return "holds"
    return "lies inside" if folder.is_relative_to(other) else None


def _kind(path: str) -> str:
    """A variable's path without Keras's per-process name counters: ``dense/kernel``.

    Counters also sit inside optimiser slot names (``adam_2/dense_2_kernel_momentum``).
    """
    return re.sub(r"_\d+(?=[/_]|$)", "", path)


def _sync_folder(folder: Path) -> None:
    """Flush the files' contents to disk before the rename makes them the checkpoint."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
