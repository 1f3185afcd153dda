"""StudyRunner's logic against a real MLflow store and a stand-in DVC queue that "runs"
each task at once (the real queue is the slow tier's: tests/integration/test_study.py)."""

from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from support.study_runs import seed_run

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
    """Queued tasks become complete runs (or failures, for ``broken``) at the next look,
    while a worker is alive; with ``dies_after``, the worker dies after that many tasks."""

    def __init__(self, client, experiment, study):
        self.client, self.experiment, self.study = client, experiment, study
        self.queued: list[str] = []
        self.tasks: list[Task] = []
        self.started = 0
        self.workers = 0
        self.dies_after: int | None = None
        self.calls: list[tuple] = []  # (what, argument) in the order the runner called
        self.experiments: set[str] = set()  # names DVC holds as experiments of the commit
        self.diverge: set[str] = set()  # names whose run finishes with a NaN FID

    def queue_experiment(self, repo, name, changes, dvc="dvc"):
        self.queued.append(name)
        self.calls.append(("queue", name))
        self.tasks.insert(0, Task(f"t{len(self.tasks) + 1}", name, "Queued"))

    def existing_experiments(self, repo, names):
        return [name for name in names if name in self.experiments]

    def start_workers(self, repo, jobs, dvc="dvc"):
        self.started += 1
        self.workers = jobs

    def shared_stages(self, repo, changed):
        self.calls.append(("shared_stages", frozenset(changed)))
        return ["prepare", "train_evaluator"]

    def reproduce(self, repo, stages, dvc="dvc"):
        self.calls.append(("reproduce", tuple(stages)))

    def read_queue(self, repo, dvc="dvc"):
        self.looks = getattr(self, "looks", 0) + 1
        if self.looks > 100:
            raise AssertionError("the runner is still waiting after 100 looks")
        for index, task in enumerate(self.tasks):
            if not self.workers:
                break
            if task.status == "Queued":  # the worker runs it
                point, seed = task.name.split("-")[1], int(task.name.rsplit("-s", 1)[1])
                params = run_params(self.study.params[(point, seed)])
                if point == "broken":
                    seed_run(self.client, self.experiment, params, 0, "FAILED", task.name, False)
                    self.tasks[index] = Task(task.task_id, task.name, "Failed")
                else:
                    fid = float("nan") if task.name in self.diverge else 3.0 + seed
                    seed_run(self.client, self.experiment, params, fid, name=task.name)
                    self.tasks[index] = Task(task.task_id, task.name, "Success")
                if self.dies_after is not None:
                    self.dies_after -= 1
                    if self.dies_after == 0:
                        self.workers, self.dies_after = 0, None
        return list(self.tasks), self.workers

    def failure_log(self, repo, task_id, dvc="dvc"):
        return f"ValueError: broken on purpose (task {task_id})\nERROR: failed to reproduce 'train'"

    def stop_tasks(self, repo, names, dvc="dvc"):
        self.calls.append(("stop", tuple(names)))
        self.tasks = [task for task in self.tasks if task.status != "Queued"]


@pytest.fixture
def setup(tmp_path, raw_params, monkeypatch):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("gantrack")
    study = parse_study(yaml.safe_load(STUDY), raw_params, "tiny", Path("tiny.yaml"))
    fake = FakeQueue(client, experiment, study)
    names = ("queue_experiment", "start_workers", "read_queue", "failure_log", "stop_tasks")
    for name in (*names, "shared_stages", "reproduce", "existing_experiments"):
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
    failure = "failed: tiny-broken-s1 (broken, seed 1): ValueError: broken on purpose (task t2)"
    assert failure in lines
    assert any(line.startswith("[tiny] 2/4 complete, 2 failed") for line in lines)
    parent = client.get_run(outcome.parents["ok"])
    assert parent.data.metrics["evaluator.fid.median"] == 4.5  # seeds 1 and 2: 4.0, 5.0
    assert client.get_run(outcome.parents["broken"]).info.status == "FAILED"


def test_a_rerun_skips_complete_seeds_and_retries_failed_ones(setup, tmp_path):
    runner, fake, _, client = setup
    runner.run(jobs=1, poll_seconds=0)  # broken-s1 fails as task t2, broken-s2 as t4
    fake.queued.clear()
    lines: list[str] = []
    again = StudyRunner(
        runner.study, tmp_path, client, runner.experiment_id, runner.current, say=lines.append
    )
    outcome = again.run(jobs=1, poll_seconds=0)
    assert fake.queued == ["tiny-broken-s1", "tiny-broken-s2"]  # never the complete ones
    assert "2 complete in the store" in lines[0]
    retry = "retrying tiny-broken-s1: it failed before (ValueError: broken on purpose (task t2))"
    assert retry in lines
    # The retry's own failure (task t5) is recorded with its own log, not the first one's.
    failure = "failed: tiny-broken-s1 (broken, seed 1): ValueError: broken on purpose (task t5)"
    assert failure in lines
    assert (outcome.complete, outcome.failed) == (2, 2)


def test_a_diverged_seed_is_failed_with_its_metrics_and_not_queued_again(setup, tmp_path):
    runner, fake, lines, client = setup
    fake.diverge = {"tiny-ok-s2"}
    outcome = runner.run(jobs=1, poll_seconds=0)
    assert (outcome.complete, outcome.failed) == (1, 3)
    assert any(line.startswith("diverged: tiny-ok-s2 (ok, seed 2): diverged:") for line in lines)
    parent = client.get_run(outcome.parents["ok"]).data.metrics
    assert parent["evaluator.fid.median"] == 4.0  # seed 1 alone: the NaN is no value
    assert (parent["seeds_complete"], parent["seeds_failed"]) == (1, 1)
    fake.queued.clear()
    again = StudyRunner(
        runner.study, tmp_path, client, runner.experiment_id, runner.current, say=lines.append
    )
    again.run(jobs=1, poll_seconds=0)
    assert fake.queued == ["tiny-broken-s1", "tiny-broken-s2"]  # not the diverged seed
    assert any("1 complete in the store, 1 diverged (not run again)" in line for line in lines)


def test_a_task_that_ends_while_the_study_starts_is_not_queued_again(setup, monkeypatch):
    runner, fake, _, _ = setup
    fake.workers = 1
    fake.tasks = [Task("t0", "tiny-ok-s1", "Queued")]
    looks = []
    found = runner._found
    monkeypatch.setattr(runner, "_found", lambda: looks.append("store") or found())
    real_read = fake.read_queue
    monkeypatch.setattr(
        dvc_queue, "read_queue", lambda *args: looks.append("queue") or real_read(*args)
    )
    runner.run(jobs=1, poll_seconds=0)  # the first look at the queue "runs" tiny-ok-s1
    assert looks[:2] == ["queue", "store"]
    assert "tiny-ok-s1" not in fake.queued


def test_ctrl_c_while_queueing_removes_what_was_queued(setup, monkeypatch):
    runner, fake, lines, _ = setup
    queue_one = fake.queue_experiment

    def interrupted_after_two(repo, name, changes, dvc="dvc"):
        if len(fake.queued) == 2:
            raise KeyboardInterrupt
        queue_one(repo, name, changes, dvc)

    monkeypatch.setattr(dvc_queue, "queue_experiment", interrupted_after_two)
    outcome = runner.run(jobs=1, poll_seconds=0)
    assert outcome.stopped and fake.started == 0
    assert ("stop", tuple(runner.names)) in fake.calls
    assert not [task for task in fake.tasks if task.status == "Queued"]
    assert any(line.startswith("stopping study tiny") for line in lines)


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


def test_the_shared_stages_run_once_before_anything_is_queued(setup):
    runner, fake, lines, _ = setup
    runner.run(jobs=1, poll_seconds=0)
    (what, changed), (reproduce, stages), (first_queued, _) = fake.calls[:3]
    assert what == "shared_stages" and {"train.seed", "train.loss", "train.steps"} <= changed
    assert (reproduce, stages, first_queued) == (
        "reproduce",
        ("prepare", "train_evaluator"),
        "queue",
    )
    assert sum(call[0] == "reproduce" for call in fake.calls) == 1
    assert "the stages every run shares, once, here: prepare, train_evaluator" in lines
    fake.calls.clear()
    runner.run(jobs=1, poll_seconds=0)  # the broken seeds again: the stages are reproduced
    assert [call[0] for call in fake.calls[:2]] == ["shared_stages", "reproduce"]


def test_a_worker_that_died_with_runs_queued_is_started_again(setup, tmp_path):
    runner, fake, lines, _ = setup
    log = tmp_path / ".dvc/tmp/exps/celery/dvc-exp-worker-1.out"
    log.parent.mkdir(parents=True)
    log.write_text("JSONDecodeError: Expecting value\n")
    fake.dies_after = 1  # the worker dies after its first task, three left queued
    outcome = runner.run(jobs=1, poll_seconds=0)
    assert fake.started == 2
    assert any(
        line.startswith("no DVC queue worker is alive and 3 runs are queued") for line in lines
    )
    (kept,) = [line for line in lines if line.startswith("the dead worker's log is kept as")]
    assert kept.endswith("it ends: JSONDecodeError: Expecting value")
    assert (outcome.complete, outcome.failed) == (2, 2)


def test_a_run_dvc_already_holds_as_an_experiment_stops_the_study_before_queueing(setup):
    runner, fake, _, _ = setup
    fake.experiments = {"tiny-broken-s2"}  # its run is in a store this one is not
    with pytest.raises(dvc_queue.QueueError) as raised:
        runner.run(jobs=1, poll_seconds=0)
    message = str(raised.value)
    assert "tiny-broken-s2" in message and "dvc exp remove tiny-broken-s2" in message
    assert fake.queued == [] and fake.calls == [] and fake.started == 0


def test_only_the_studys_own_runs_time_the_eta(setup):
    runner, fake, _, client = setup
    study = runner.study
    seed_run(client, fake.experiment, run_params(study.params[("ok", 1)]), 4.0, name="tiny-ok-s1")
    # A matching run made by hand (another experiment name) is complete but times nothing.
    seed_run(client, fake.experiment, run_params(study.params[("ok", 2)]), 5.0, name="by-hand")
    progress = runner._progress({}, runner._found(), jobs=1)
    assert progress.complete == 2 and len(progress.durations) == 1


def test_machines_sharing_a_store_with_their_own_seeds_fill_one_parent(tmp_path, raw_params, setup):
    _, _, _, client = setup
    experiment = client.create_experiment("shared")
    text = "budget: {steps: 10}\nseeds: [%s]\npoints: [{name: ok}]\n"
    machine_a = parse_study(yaml.safe_load(text % "1, 2"), raw_params, "tiny", Path("t.yaml"))
    machine_b = parse_study(yaml.safe_load(text % "3"), raw_params, "tiny", Path("t.yaml"))
    for seed, fid in ((1, 3.0), (2, 5.0), (3, 4.0)):
        params = run_params(machine_a.params[("ok", 1)]) | {"train.seed": str(seed)}
        seed_run(client, experiment, params, fid, name=f"tiny-ok-s{seed}")
    current = run_params(machine_a.params[("ok", 1)])
    first = StudyRunner(machine_a, tmp_path, client, experiment, current, say=print).record()
    last = StudyRunner(machine_b, tmp_path, client, experiment, current, say=print).record()
    assert first.parents["ok"] == last.parents["ok"]  # one recipe, one parent
    parent = client.get_run(last.parents["ok"])
    metrics = parent.data.metrics
    # over seeds 1, 2 and 3, not only the last machine's seed 3
    assert (metrics["evaluator.fid.min"], metrics["evaluator.fid.max"]) == (3.0, 5.0)
    assert metrics["seeds_complete"] == 3
    assert parent.data.tags["gantrack.study.seeds"] == "3,1,2"
    nested = client.search_runs(
        [experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(nested) == 3
