import json
import subprocess
import sys
import textwrap

import pytest

from gantrack.distribute import DistributeError, cluster_role, is_chief, make_strategy


def tf_config(task_type: str, index: int, cluster: dict) -> str:
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


WORKERS = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


def test_a_single_process_is_the_chief():
    assert is_chief({}) and cluster_role(None).num_workers == 1


@pytest.mark.parametrize(
    ("task_type", "index", "cluster", "chief"),
    [
        ("worker", 0, WORKERS, True),  # no chief task: worker 0 is the chief
        ("worker", 1, WORKERS, False),
        ("chief", 0, {"chief": ["127.0.0.1:3"], **WORKERS}, True),
        ("worker", 0, {"chief": ["127.0.0.1:3"], **WORKERS}, False),
    ],
)
def test_chief_follows_tensorflows_convention(task_type, index, cluster, chief):
    assert is_chief({"TF_CONFIG": tf_config(task_type, index, cluster)}) is chief


def test_bad_tf_config_names_the_expected_shape():
    with pytest.raises(DistributeError, match="TF_CONFIG is not valid"):
        cluster_role("{not json")
    with pytest.raises(DistributeError, match="worker:5 is not in its cluster"):
        cluster_role(tf_config("worker", 5, WORKERS))


def test_unknown_strategy_lists_the_valid_names():
    with pytest.raises(DistributeError, match="none, mirrored, multi_worker"):
        make_strategy("horovod")
    with pytest.raises(DistributeError, match="only used by 'mirrored'"):
        make_strategy("none", devices=["/cpu:0"])


def test_mirrored_on_two_logical_cpus_averages_the_global_batch():
    # Logical devices must be configured before TensorFlow starts: a fresh interpreter.
    script = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf
        from gantrack.distribute import make_strategy, scale_for_replicas
        # No split_host_cpu first: naming /cpu:1 makes make_strategy split the host CPU.
        strategy = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        assert len(tf.config.list_logical_devices("CPU")) == 2
        with strategy.scope():
            weight = tf.Variable(0.0)
        data = tf.constant([1.0, 2.0, 3.0, 4.0])  # global batch of 4

        def step(x):
            with tf.GradientTape() as tape:
                loss = scale_for_replicas(tf.reduce_mean((weight - x) ** 2))
            return tape.gradient(loss, weight)

        dataset = strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices(data).batch(4))
        (batch,) = list(dataset)
        per_replica = strategy.run(step, args=(batch,))
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        # A sparse gradient (an embedding's, as in conditional GANs) is scaled alike.
        def sparse(x):
            slices = tf.IndexedSlices(tf.ones((2, 3)), tf.constant([0, 5]), tf.constant([9, 3]))
            return scale_for_replicas(slices).values

        halves = strategy.experimental_local_results(strategy.run(sparse, args=(batch,)))
        assert all(np.array_equal(half, np.full((2, 3), 0.5)) for half in halves), halves
        print(float(total))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # d/dw mean((w - x)²) at w = 0 over the global batch: -2 · mean(x) = -5.
    assert float(result.stdout.strip().splitlines()[-1]) == pytest.approx(-5.0)


def test_feature_extraction_on_two_replicas_equals_one_device():
    script = textwrap.dedent(
        """
        import numpy as np, keras, tensorflow as tf
        from gantrack.distribute import make_strategy, on_all_replicas, split_host_cpu
        split_host_cpu(2)
        strategy = make_strategy("mirrored", ["/cpu:0", "/cpu:1"])
        with strategy.scope():
            model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3),
                                      keras.layers.Flatten(), keras.layers.Dense(4)])
        seen = set()

        @tf.function
        def forward(images):
            features = model(images, training=False)
            return features, tf.nn.softmax(features)

        def run_batch(images):
            context = tf.distribute.get_replica_context()
            seen.add(-1 if context is None else int(context.replica_id_in_sync_group))
            features, probabilities = forward(images)
            return features.numpy(), probabilities.numpy()

        images = np.random.default_rng(0).uniform(-1, 1, (11, 28, 28, 1)).astype("float32")
        one = run_batch(images)
        seen.clear()
        both = on_all_replicas(run_batch, strategy)(images)
        assert sorted(seen) == [0, 1], seen
        assert np.array_equal(one[0], both[0])  # features: bit for bit
        # Softmax's vectorised exp rounds a batch's tail lanes by the batch's length: the
        # 6 + 5 split moves probabilities by up to 1 float32 ulp (3e-8), no more.
        assert np.abs(one[1] - both[1]).max() <= 6e-8, np.abs(one[1] - both[1]).max()
        print("ok", both[0].shape)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok (11, 4)")


def test_one_replica_extraction_is_left_as_it_is():
    import tensorflow as tf

    from gantrack.distribute import on_all_replicas

    def run_batch(images):
        return images, images

    assert on_all_replicas(run_batch, tf.distribute.get_strategy()) is run_batch
    assert on_all_replicas(run_batch, None) is run_batch


def test_cpu_devices_after_tensorflow_started_name_the_fix():
    import tensorflow as tf

    tf.constant(0)  # the runtime has started in this process
    with pytest.raises(DistributeError, match="before the first TensorFlow operation"):
        make_strategy("mirrored", ["/cpu:0", "/cpu:7"])


BROADCAST = textwrap.dedent(
    """
    import json, sys
    import numpy as np, tensorflow as tf
    from gantrack.distribute import broadcast_from_chief
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    index = json.loads(sys.argv[1])["task"]["index"]
    rng = np.random.default_rng(index)  # each worker's own values: only the chief's count
    floats = rng.normal(size=(3, 5)).astype(np.float32)
    floats[0, :4] = [-0.0, np.float32(1e-40), np.nan, np.inf]  # -0, subnormal, NaN, inf
    arrays = [floats, rng.integers(-2**62, 2**62, 7), rng.integers(0, 255, 5, np.uint8),
              np.array(rng.integers(1000), np.int64)]  # a scalar, as an optimiser's step
    received = broadcast_from_chief(strategy, arrays)
    print(json.dumps({"sent": [a.tobytes().hex() for a in arrays],
                      "received": [a.tobytes().hex() for a in received],
                      "shapes": [[list(a.shape), str(a.dtype)] for a in received]}))
    """
)


def test_broadcast_from_chief_gives_every_worker_the_chiefs_bits():
    """Two MultiWorkerMirroredStrategy processes on 127.0.0.1: the worker gets the chief's."""
    import os

    from gantrack.tracking.services import free_port

    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        config = tf_config("worker", index, {"worker": workers})
        environ = {**os.environ, "TF_CONFIG": config, "TF_CPP_MIN_LOG_LEVEL": "2"}
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", BROADCAST, config],
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    chief, worker = results
    assert chief["sent"] != worker["sent"]  # the workers started from different values
    assert chief["received"] == chief["sent"] == worker["received"]
    assert worker["shapes"] == [[[3, 5], "float32"], [[7], "int64"], [[5], "uint8"], [[], "int64"]]
