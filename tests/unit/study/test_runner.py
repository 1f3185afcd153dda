"""StudyRunner's logic against a real MLflow store and a stand-in DVC queue that "runs"
each task at once (the real queue is the slow tier's: tests/integration/test_study.py)."""

from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from test_store import seed_run

from gantrack.study import queue as dvc_queue
from gantrack.study.queue import Task
from gantrack.study.runner import StudyRunner
from gantrack.study.spec import parse_study, run_params

STUDY = """
budget: {steps: 10}
seeds: [1, 2]
points:
  - name: ok
  - name: broken
    params: {train.loss: hinge}
"""


class FakeQueue:
    """Queued tasks become complete runs (or failures, for ``broken``) at the next look."""

    def __init__(self, client, experiment, study):
        self.client, self.experiment, self.study = client, experiment, study
        self.queued: list[str] = []
        self.tasks: list[Task] = []
        self.started = 0

    def queue_experiment(self, repo, name, changes, dvc="dvc"):
        self.queued.append(name)
        self.tasks.insert(0, Task(f"t{len(self.queued)}", name, "Queued"))

    def start_workers(self, repo, jobs, dvc="dvc"):
        self.started += 1

    def queue_status(self, repo, dvc="dvc"):
        for index, task in enumerate(self.tasks):
            if task.status == "Queued":  # the worker runs it
                point, seed = task.name.split("-")[1], int(task.name.rsplit("-s", 1)[1])
                params = run_params(self.study.params[(point, seed)])
                if point == "broken":
                    seed_run(self.client, self.experiment, params, 0, "FAILED", task.name, False)
                    self.tasks[index] = Task(task.task_id, task.name, "Failed")
                else:
                    seed_run(self.client, self.experiment, params, 3.0 + seed, name=task.name)
                    self.tasks[index] = Task(task.task_id, task.name, "Success")
        return list(self.tasks)

    def failure_log(self, repo, task_id, dvc="dvc"):
        return "ValueError: broken on purpose\nERROR: failed to reproduce 'train'"


@pytest.fixture
def setup(tmp_path, raw_params, monkeypatch):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("gantrack")
    study = parse_study(yaml.safe_load(STUDY), raw_params, "tiny", Path("tiny.yaml"))
    fake = FakeQueue(client, experiment, study)
    for name in ("queue_experiment", "start_workers", "queue_status", "failure_log"):
        monkeypatch.setattr(dvc_queue, name, getattr(fake, name))
    current = run_params(study.params[("ok", 1)])
    lines: list[str] = []
    runner = StudyRunner(study, tmp_path, client, experiment, current, say=lines.append)
    return runner, fake, lines, client


def test_a_study_queues_what_is_missing_and_records_failures_and_recipes(setup):
    runner, fake, lines, client = setup
    outcome = runner.run(jobs=1, poll_seconds=0)
    assert fake.queued == ["tiny-ok-s1", "tiny-broken-s1", "tiny-ok-s2", "tiny-broken-s2"]
    assert (outcome.complete, outcome.failed, outcome.total) == (2, 2, 4)
    failure = "failed: tiny-broken-s1 (broken, seed 1): ValueError: broken on purpose"
    assert failure in lines
    assert any(line.startswith("[tiny] 2/4 complete, 2 failed") for line in lines)
    parent = client.get_run(outcome.parents["ok"])
    assert parent.data.metrics["evaluator.fid.median"] == 4.5  # seeds 1 and 2: 4.0, 5.0
    assert client.get_run(outcome.parents["broken"]).info.status == "FAILED"


def test_a_rerun_skips_complete_seeds_and_retries_failed_ones(setup):
    runner, fake, lines, _ = setup
    runner.run(jobs=1, poll_seconds=0)
    fake.queued.clear()
    lines.clear()
    runner.recorded_failures.clear()
    outcome = runner.run(jobs=1, poll_seconds=0)
    assert fake.queued == ["tiny-broken-s1", "tiny-broken-s2"]  # never the complete ones
    assert "2 complete in the store" in lines[0]
    assert any(line.startswith("retrying tiny-broken-s1") for line in lines)
    assert outcome.complete == 2


def test_a_complete_study_queues_nothing_and_starts_no_worker(setup, raw_params, tmp_path):
    runner, fake, _, client = setup
    runner.run(jobs=1, poll_seconds=0)
    only_ok = STUDY.replace("  - name: broken\n    params: {train.loss: hinge}\n", "")
    study = parse_study(yaml.safe_load(only_ok), raw_params, "tiny", Path("tiny.yaml"))
    fake.queued.clear()
    started = fake.started
    again = StudyRunner(study, tmp_path, client, runner.experiment_id, runner.current, say=print)
    outcome = again.run(jobs=1, poll_seconds=0)
    assert fake.queued == [] and fake.started == started
    assert outcome.complete == outcome.total == 2
