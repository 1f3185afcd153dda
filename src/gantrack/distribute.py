"""Training and evaluation on several devices and hosts, with TensorFlow's own strategies.

Strategies, by name (``train.distribute``):

- ``none``: TensorFlow's default strategy: one device, no copies.
- ``mirrored``: :class:`tf.distribute.MirroredStrategy` over all local GPUs, or the devices
  named in ``train.devices`` (e.g. ``["/gpu:0", "/gpu:1"]``, or logical CPUs for tests).
- ``multi_worker``: :class:`tf.distribute.MultiWorkerMirroredStrategy` over the hosts named
  in the ``TF_CONFIG`` environment variable; one process per host runs the same command.

Conventions every strategy shares:

- ``train.batch_size`` is the **global** batch: each of R replicas sees ``batch / R``
  examples per step. Losses are means over a replica's examples, scaled by ``1 / R``
  (:func:`scale_for_replicas`) because the optimizer *sums* gradients across replicas:
  the update equals the gradient of the mean over the global batch.
- The chief (``TF_CONFIG`` task ``chief``, or ``worker`` 0 where there is no chief) is the
  only process that writes DVC outputs, checkpoints and MLflow records; other workers write
  into a scratch folder nobody reads (:func:`is_chief`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gantrack.errors import GantrackError

DISTRIBUTE_NAMES = ("none", "mirrored", "multi_worker")


class DistributeError(GantrackError, ValueError):
    """A strategy that cannot be built as configured (names the fix)."""


@dataclass(frozen=True)
class ClusterRole:
    """This process's place in a TF_CONFIG cluster (a single process is its own chief)."""

    task_type: str
    task_index: int
    num_workers: int
    cluster_has_chief: bool = False

    @property
    def is_chief(self) -> bool:
        if self.task_type == "chief":
            return True
        # Without a "chief" task, TensorFlow's convention makes worker 0 the chief.
        return self.task_type == "worker" and self.task_index == 0 and not self.cluster_has_chief


EXPECTED_TF_CONFIG = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


def cluster_role(tf_config: str | None) -> ClusterRole:
    """Parse ``TF_CONFIG`` (JSON: ``{"cluster": {...}, "task": {"type", "index"}}``).

    No TF_CONFIG means a single process, which is the chief. Every field is checked for
    its type, so a malformed one is one :class:`DistributeError` naming it: a cluster that
    is not a mapping of task types to lists of addresses, a task type that is not a
    string, an index that is not a whole number (``1.9`` is not worker 1, ``1e400`` is
    not a number of workers).
    """
    if not tf_config:
        return ClusterRole("chief", 0, 1)
    try:
        config = json.loads(tf_config)
    except ValueError as error:
        raise _invalid(str(error)) from None
    cluster, task_type, task_index = _parse_tf_config(config)
    if task_type not in cluster or not 0 <= task_index < len(cluster[task_type]):
        raise DistributeError(
            f"TF_CONFIG task {task_type}:{task_index} is not in its cluster {sorted(cluster)}"
        )
    num_workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    return ClusterRole(task_type, task_index, num_workers, cluster_has_chief="chief" in cluster)


def _parse_tf_config(config: object) -> tuple[dict[str, list], str, int]:
    """(cluster, task type, task index) of a decoded TF_CONFIG, each of the right type."""
    if not isinstance(config, dict) or not {"cluster", "task"} <= config.keys():
        raise _invalid('expected an object with "cluster" and "task"')
    cluster, task = config["cluster"], config["task"]
    if not isinstance(cluster, dict):
        raise _invalid(f"cluster is {cluster!r}, not an object of task types")
    for name, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise _invalid(f"cluster.{name} is {addresses!r}, not a list of host:port strings")
    if not isinstance(task, dict) or not {"type", "index"} <= task.keys():
        raise _invalid(f'task is {task!r}, not an object with "type" and "index"')
    task_type, task_index = task["type"], task["index"]
    if not isinstance(task_type, str):
        raise _invalid(f'task.type is {task_type!r}, not a string such as "worker"')
    if isinstance(task_index, bool) or not isinstance(task_index, int):
        raise _invalid(f"task.index is {task_index!r}, not a whole number such as 0")
    return cluster, task_type, task_index


def _invalid(problem: str) -> DistributeError:
    return DistributeError(
        f"TF_CONFIG is not valid: {problem}. Expected JSON like {EXPECTED_TF_CONFIG}"
    )


def worker_scratch_path(scratch: Path, path: Path) -> Path:
    """Where a non-chief worker writes the output ``path``: always inside ``scratch``.

    ``path`` is the chief's (relative to the repository, or absolute, e.g. on a shared
    disk); joined as it is, an absolute path or one climbing with ``..`` would put the
    worker's writes on top of the chief's outputs. Its anchor is dropped and it is
    normalised, with any ``..`` left climbing above it dropped too:
    ``/srv/models/g`` -> ``<scratch>/outputs/srv/models/g``, ``../x`` -> ``.../outputs/x``.
    """
    relative = os.path.normpath(Path(path).relative_to(Path(path).anchor))  # a/../b -> b
    parts = [part for part in Path(relative).parts if part not in ("..", ".")]
    mapped = Path(scratch, "outputs", *parts)
    if not mapped.resolve().is_relative_to(Path(scratch).resolve()):  # a link inside scratch
        raise DistributeError(f"{path}: maps outside the worker's scratch folder {scratch}")
    return mapped


def is_chief(environ: Mapping[str, str]) -> bool:
    """Whether this process writes outputs: true unless TF_CONFIG makes it a non-chief."""
    return cluster_role(environ.get("TF_CONFIG")).is_chief


def split_host_cpu(num_devices: int) -> None:
    """Present the host CPU as ``num_devices`` logical devices (tests, and trying ``mirrored``).

    Must run before TensorFlow initialises its devices (before the first op).
    """
    import tensorflow as tf

    if num_devices < 1:
        raise DistributeError(f"num_devices must be at least 1, got {num_devices}")
    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    )


def make_strategy(name: str, devices: Sequence[str] | None = None):
    """The :class:`tf.distribute.Strategy` called ``name``; see the module docstring.

    ``mirrored`` on CPU devices beyond ``/cpu:0`` (``["/cpu:0", "/cpu:1"]``) first presents
    the host CPU as that many logical devices (:func:`split_host_cpu`): how the strategy is
    tried, and tested, without GPUs. That must happen before TensorFlow starts its runtime.
    """
    import tensorflow as tf

    if name not in DISTRIBUTE_NAMES:
        raise DistributeError(f"unknown strategy {name!r}; valid: {', '.join(DISTRIBUTE_NAMES)}")
    if name == "none":
        if devices:
            raise DistributeError("train.devices is only used by 'mirrored'; set it to null")
        return tf.distribute.get_strategy()
    if name == "mirrored":
        _provide_cpu_devices(devices or ())
        # Reduce through one device where NCCL is absent (CPUs); NCCL is picked on GPUs.
        gpus = tf.config.list_logical_devices("GPU")
        on_gpus = bool(gpus) and (not devices or all("GPU" in d.upper() for d in devices))
        cross_device_ops = None if on_gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(
            devices=list(devices) if devices else None, cross_device_ops=cross_device_ops
        )
    if devices:
        raise DistributeError(
            "train.devices is only used by 'mirrored'; multi_worker uses each host's GPUs"
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def _provide_cpu_devices(devices: Sequence[str]) -> None:
    """Split the host CPU when ``devices`` name more CPU devices than it presents."""
    import tensorflow as tf

    indices = [int(match[1]) for d in devices if (match := _CPU_DEVICE.search(d))]
    needed = max(indices, default=0) + 1
    (cpu,) = tf.config.list_physical_devices("CPU")
    present = tf.config.get_logical_device_configuration(cpu)
    if needed <= (len(present) if present else 1):
        return
    try:
        split_host_cpu(needed)
    except RuntimeError as error:  # TensorFlow's runtime already started
        raise DistributeError(
            f"train.devices names {needed} CPU devices, but TensorFlow started with "
            f"{len(present) if present else 1}: split the host CPU (split_host_cpu) before "
            "the first TensorFlow operation"
        ) from error


_CPU_DEVICE = re.compile(r"CPU:(\d+)$", re.IGNORECASE)


def broadcast_from_chief(strategy, arrays: Sequence) -> list:
    """The chief's ``arrays`` on every worker, bit for bit; ``arrays`` itself elsewhere.

    Every worker of a ``multi_worker`` cluster must call it at the same point with arrays
    of the same shapes and dtypes (its own values, which are ignored). The arrays' bytes
    travel as int32 words in one all-reduce (SUM) to which only the chief's first replica
    contributes non-zero words: integer addition of zeros is exact, where float addition
    would flush subnormals and turn -0.0 into 0.0. Needs no shared disk: TensorFlow's
    collective ops carry the data between the hosts of ``TF_CONFIG``.
    """
    import numpy as np
    import tensorflow as tf

    arrays = [np.asarray(array, order="C") for array in arrays]  # 0-d stays 0-d
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return arrays
    chief = strategy.extended.should_checkpoint  # TensorFlow's chief: the one that saves
    payload = b"".join(array.tobytes() for array in arrays)
    payload += bytes(-len(payload) % 4)  # whole int32 words
    words = np.frombuffer(payload, np.int32) if chief else np.zeros(len(payload) // 4, np.int32)
    local_devices = len(strategy.extended.worker_devices)
    mine, zeros = tf.constant(words), tf.zeros(len(words), tf.int32)
    contributions = strategy.experimental_distribute_values_from_function(
        lambda context: mine if context.replica_id_in_sync_group % local_devices == 0 else zeros
    )
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, contributions, axis=None)
    received, offset, results = np.asarray(total).tobytes(), 0, []
    for array in arrays:
        results.append(
            np.frombuffer(received, array.dtype, array.size, offset).reshape(array.shape).copy()
        )
        offset += array.nbytes
    return results


def evaluation_strategy(name: str, devices: Sequence[str] | None = None):
    """The strategy whose replicas run the evaluation stages' feature extraction.

    ``none`` and ``mirrored``: the training strategy itself. ``multi_worker``: a
    :class:`tf.distribute.MirroredStrategy` over this host's GPUs, because the evaluation
    stages run on the chief's host only (``dvc repro`` runs them there; the other hosts run
    ``pipeline/train.py`` alone) and a collective strategy would wait for the other hosts.
    """
    multi_worker = name == "multi_worker"
    strategy = make_strategy("mirrored") if multi_worker else make_strategy(name, devices)
    if strategy.num_replicas_in_sync > 1:
        print(f"feature extraction on {strategy.num_replicas_in_sync} replicas")
    return strategy


def scale_for_replicas(value):
    """``value / R`` inside a replica, so that summed gradients average the global batch.

    Works on a loss or on its gradients (the gradient is linear), sparse ones included
    (``tf.IndexedSlices``: the label embedding's). Identity when R = 1.
    """
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1 or value is None:
        return value
    if isinstance(value, tf.IndexedSlices):  # an embedding's gradient (conditional GANs)
        return tf.IndexedSlices(value.values * (1.0 / replicas), value.indices, value.dense_shape)
    return value * (1.0 / replicas)


def step_logs(logs: dict) -> dict:
    """``train_step``'s scalar logs in the shape Keras's ``fit`` can reduce across workers.

    Under ``MultiWorkerMirroredStrategy`` Keras 3 reduces each log with
    ``strategy.reduce(MEAN, value, axis=0)``, which needs an axis: scalars become shape
    ``(1,)`` and come back as scalars. Unchanged under every other strategy.
    """
    import tensorflow as tf

    if not isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return logs
    return {name: tf.reshape(value, (1,)) for name, value in logs.items()}


def replica_position():
    """``(replica id, number of replicas)`` of the running replica; ``(0, 1)`` outside one.

    The id is a tensor inside ``strategy.run`` (one trace serves every replica).
    """
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def on_all_replicas(run_batch, strategy):
    """``run_batch(images) -> (features, probabilities)`` split across the local replicas.

    Each replica runs ``run_batch`` on its share of the batch (split by position, under
    its own device scope); the outputs are concatenated in order, so the result equals one
    device's. Returns ``run_batch`` unchanged when there is one replica. With
    ``multi_worker`` it spreads over this host's replicas only (evaluation is the chief's).
    """
    import numpy as np

    if strategy is None or strategy.num_replicas_in_sync == 1:
        return run_batch
    local_devices = len(strategy.extended.worker_devices)
    if local_devices < 2:
        return run_batch

    def run(batch):
        parts = np.array_split(batch, local_devices)
        indices = strategy.experimental_distribute_values_from_function(
            lambda context: context.replica_id_in_sync_group % local_devices
        )
        outputs = strategy.run(lambda index: run_batch(parts[int(index)]), args=(indices,))
        return tuple(  # features, probabilities: each the replicas' parts in order
            np.concatenate([np.asarray(part) for part in strategy.experimental_local_results(out)])
            for out in outputs
        )

    return run
