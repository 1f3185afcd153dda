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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DISTRIBUTE_NAMES = ("none", "mirrored", "multi_worker")


class DistributeError(ValueError):
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


def cluster_role(tf_config: str | None) -> ClusterRole:
    """Parse ``TF_CONFIG`` (JSON: ``{"cluster": {...}, "task": {"type", "index"}}``).

    No TF_CONFIG means a single process, which is the chief.
    """
    if not tf_config:
        return ClusterRole("chief", 0, 1)
    try:
        config = json.loads(tf_config)
        cluster, task = config["cluster"], config["task"]
        task_type, task_index = str(task["type"]), int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise DistributeError(
            f"TF_CONFIG is not valid: {error}. Expected JSON like "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}'
        ) from error
    if task_type not in cluster or not 0 <= task_index < len(cluster[task_type]):
        raise DistributeError(
            f"TF_CONFIG task {task_type}:{task_index} is not in its cluster {sorted(cluster)}"
        )
    num_workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    return ClusterRole(task_type, task_index, num_workers, cluster_has_chief="chief" in cluster)


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
    """The :class:`tf.distribute.Strategy` called ``name``; see the module docstring."""
    import tensorflow as tf

    if name not in DISTRIBUTE_NAMES:
        raise DistributeError(f"unknown strategy {name!r}; valid: {', '.join(DISTRIBUTE_NAMES)}")
    if name == "none":
        if devices:
            raise DistributeError("train.devices is only used by 'mirrored'; set it to null")
        return tf.distribute.get_strategy()
    if name == "mirrored":
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


def scale_for_replicas(value):
    """``value / R`` inside a replica, so that summed gradients average the global batch.

    Works on a loss or on its gradients (the gradient is linear). Identity when R = 1.
    """
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value if replicas == 1 else value * (1.0 / replicas)


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
