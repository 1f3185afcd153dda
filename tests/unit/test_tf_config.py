"""TF_CONFIG parsing and a worker's scratch paths: bad input is one clear error."""

import json
from pathlib import Path

import pytest

from gantrack.distribute import DistributeError, cluster_role, worker_scratch_path

WORKERS = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


def tf_config(cluster=WORKERS, task_type="worker", index=0) -> str:
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


@pytest.mark.parametrize(
    ("tf_config", "problem"),
    [
        (tf_config(cluster="worker"), "cluster is 'worker'"),
        (tf_config(cluster={"worker": "127.0.0.1:1"}), "cluster.worker is '127.0.0.1:1'"),
        (json.dumps({"cluster": WORKERS, "task": "worker"}), "task is 'worker'"),
        (tf_config(index=0).replace('"index": 0', '"index": 1e400'), "task.index is inf"),
        (tf_config(index=1.9), "task.index is 1.9"),  # was silently worker 1
        (tf_config(index="1"), "task.index is '1'"),
        (tf_config(index=True), "task.index is True"),
        (tf_config(task_type=0), "task.type is 0"),
    ],
)
def test_a_malformed_tf_config_is_one_line_naming_the_field(tf_config, problem):
    with pytest.raises(DistributeError) as refused:
        cluster_role(tf_config)
    message = str(refused.value)
    assert message.startswith(f"TF_CONFIG is not valid: {problem}") and "\n" not in message
    assert '"task": {"type": "worker", "index": 0}' in message  # the expected shape


def test_a_valid_tf_config_still_parses():
    role = cluster_role(tf_config(index=1))
    assert (role.task_type, role.task_index, role.num_workers, role.is_chief) == (
        "worker", 1, 2, False
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        ("models/generator", "models/generator"),
        ("/srv/shared/models/generator", "srv/shared/models/generator"),  # was /srv/... itself
        ("../../outside", "outside"),
        ("models/../../../etc", "etc"),
    ],
)
def test_a_workers_output_stays_inside_its_scratch_folder(tmp_path, path, inside):
    mapped = worker_scratch_path(tmp_path, Path(path))
    assert mapped == tmp_path / "outputs" / inside
    assert mapped.resolve().is_relative_to(tmp_path.resolve())
