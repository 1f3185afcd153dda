import subprocess

import pytest

from gantrack.study import queue
from gantrack.study.queue import Task, override, parse_status, shared_stages
from gantrack.study.results import error_summary
from gantrack.study.runner import Progress, duration

STATUS = """\
Task     Name                     Created    Status
c53877c  grid-default-s2          07:25 AM   Running
fee34e4  grid-default-s3          07:25 AM   Queued
6d1c5d2  grid-hinge-s1            Dec 04, 2026   Failed

Worker status: 1 active, 0 idle
"""


def test_queue_status_rows_give_task_id_name_and_state():
    assert parse_status(STATUS) == [
        Task("c53877c", "grid-default-s2", "Running"),
        Task("fee34e4", "grid-default-s3", "Queued"),
        Task("6d1c5d2", "grid-hinge-s1", "Failed"),
    ]
    assert parse_status("No experiment tasks in the queue.\n") == []


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "train.x=null"),
        (True, "train.x=true"),
        (1e-5, "train.x=1.0e-05"),  # YAML 1.1 reads 1e-05 as a string
        (0.0008, "train.x=0.0008"),
        (["translation", "cutout"], "train.x=[translation,cutout]"),
        (16, "train.x=16"),
    ],
)
def test_overrides_are_what_dvc_exp_run_set_parses_back(value, text):
    assert override("train.x", value) == text


def test_a_failure_is_summarised_by_its_most_specific_line():
    log = (
        "ValueError: batch size 1000 is larger than the 160 training images\n"
        "ERROR: failed to reproduce 'train': failed to run: python pipeline/train.py\n"
    )
    assert (
        error_summary(log) == "ValueError: batch size 1000 is larger than the 160 training images"
    )
    assert error_summary("") == "no log"


def test_progress_says_what_runs_and_estimates_what_is_left():
    progress = Progress(total=10, complete=4, failed=1, queued=4, jobs=1)
    progress.running = {"grid-hinge-s2": 120.0}
    progress.durations = [400.0, 500.0, 600.0]
    # 4 queued x 500 s + the running one's remaining 380 s, on one worker.
    assert progress.eta_seconds() == pytest.approx(2380.0)
    line = progress.line("grid", {"grid-hinge-s2": "hinge, seed 2"})
    assert line == (
        "[grid] 4/10 complete, 1 failed · running grid-hinge-s2 (hinge, seed 2, 2 min) · "
        "4 queued · ETA 40 min"
    )
    progress.jobs = 2  # worker A: 500, 500 (1,000 s); B: 380 left, 500, 500 (1,380 s)
    assert progress.eta_seconds() == pytest.approx(1380.0)
    assert "ETA after the first run" in Progress(total=3, queued=3).line("grid", {})


def test_the_eta_near_the_end_is_the_longest_run_left_not_work_over_idle_workers():
    progress = Progress(total=10, complete=8, queued=1, jobs=4, durations=[600.0])
    progress.running = {"grid-hinge-s3": 0.0}
    # Two runs of 600 s left on four workers: two can be busy, so 600 s, not 300.
    assert progress.eta_seconds() == pytest.approx(600.0)
    progress.queued, progress.running = 0, {"grid-hinge-s3": 100.0, "grid-wgan-s3": 500.0}
    assert progress.eta_seconds() == pytest.approx(500.0)  # the one that started last
    # Both workers nearly done and one run queued: it still needs a whole run.
    progress.queued, progress.jobs = 1, 2
    progress.running = {"grid-hinge-s3": 590.0, "grid-wgan-s3": 590.0}
    assert progress.eta_seconds() == pytest.approx(610.0)


class RacingQueue:
    """``dvc queue`` as a stand-in for ``queue._run``: at the first removal a worker has
    just taken the oldest queued task, so DVC refuses the whole removal (as it does when
    a name no longer resolves to a queued task)."""

    def __init__(self, tasks):
        self.tasks = {task.task_id: task for task in tasks}
        self.commands: list[list[str]] = []

    def __call__(self, command, repo, what, check=True):
        self.commands.append(command)
        verb, ids = command[2], command[3:]
        if verb == "status":
            rows = [f"{t.task_id} {t.name} Dec 06 10:00 {t.status}" for t in self.tasks.values()]
            table = "\n".join(["Task Name Created Status", *rows])
            return table + "\n\nWorker status: 1 active, 0 idle"
        if verb == "remove" and sum(c[2] == "remove" for c in self.commands) == 1:
            self._set(ids[-1], "Running")  # the race: nothing is removed
            return ""
        for task_id in ids:
            if verb == "remove":
                del self.tasks[task_id]
            else:
                self._set(task_id, "Failed")
        return ""

    def _set(self, task_id, status):
        task = self.tasks[task_id]
        self.tasks[task_id] = Task(task_id, task.name, status)


def test_stopping_a_study_looks_again_when_a_task_started_during_the_removal(monkeypatch):
    tasks = [Task("c3", "grid-b-s1", "Queued"), Task("b2", "grid-a-s2", "Queued")]
    tasks += [Task("a1", "grid-a-s1", "Running"), Task("z9", "other-s1", "Queued")]
    fake = RacingQueue(tasks)
    monkeypatch.setattr(queue, "_run", fake)
    monkeypatch.setattr(queue, "task_processes", lambda ids: [])
    queue.stop_tasks(".", ["grid-a-s1", "grid-a-s2", "grid-b-s1"])
    left = {task.name: task.status for task in fake.tasks.values()}
    assert left == {"grid-a-s1": "Failed", "grid-a-s2": "Failed", "other-s1": "Queued"}


def test_stopping_a_study_that_will_not_stop_says_what_is_left(monkeypatch):
    fake = RacingQueue([Task("a1", "grid-a-s1", "Queued")])

    def refusing(command, repo, what, check=True):  # every removal is refused
        return fake(command, repo, what) if command[2] == "status" else ""

    monkeypatch.setattr(queue, "_run", refusing)
    with pytest.raises(queue.QueueError, match=r"grid-a-s1 \(Queued\).*dvc queue remove"):
        queue.stop_tasks(".", ["grid-a-s1"], tries=2)


def test_experiments_of_this_commit_are_found_by_name(tmp_path):
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "a")
    head = git("rev-parse", "HEAD")
    git("update-ref", f"refs/exps/{head[:2]}/{head[2:]}/grid-a-s1", head)
    git("update-ref", f"refs/exps/{'0' * 2}/{'1' * 38}/grid-a-s2", head)  # another commit's
    names = ["grid-a-s1", "grid-a-s2", "grid-a-s3"]
    assert queue.existing_experiments(tmp_path, names) == ["grid-a-s1"]


def test_a_dead_workers_log_is_kept_before_a_new_worker_overwrites_it(tmp_path):
    logs = tmp_path / ".dvc/tmp/exps/celery"
    logs.mkdir(parents=True)
    (logs / "dvc-exp-worker-1.out").write_text(
        "[tasks]\n  . dvc.repo.experiments.queue.tasks.run_exp\n\n"
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n"
        "[2026-12-06 20:50:01: INFO/MainProcess] shutting down\n"
    )
    (logs / "dvc-exp-worker-1.json").write_text("{}")
    kept = queue.keep_worker_logs(tmp_path, "20261206-205100")
    assert kept == [
        (
            logs / "dvc-exp-worker-1.out.20261206-205100",
            "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
        )
    ]
    assert kept[0][0].read_text() == (logs / "dvc-exp-worker-1.out").read_text()
    assert queue.keep_worker_logs(tmp_path / "no-queue-here", "x") == []


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (42, 420, 18_720)] == ["42 s", "7 min", "5 h 12 min"]


PIPELINE = """\
stages:
  check:
    cmd: echo checked > checked.txt
    params:
      - params.yaml:
    outs: [checked.txt]
  data:
    cmd: echo data > data.txt
    params: [seed]
    outs: [data.txt]
  judge:
    cmd: cat data.txt > judge.txt
    deps: [data.txt]
    params: [judge]
    outs: [judge.txt]
  judge_statistics:
    cmd: cat judge.txt > statistics.txt
    deps: [judge.txt]
    params: [statistics.split]
    outs: [statistics.txt]
  train:
    cmd: cat data.txt > model.txt
    deps: [data.txt]
    params: [train.seed, train.loss]
    outs: [model.txt]
  score:
    cmd: cat model.txt statistics.txt > score.txt
    deps: [model.txt, statistics.txt]
    outs: [score.txt]
"""


@pytest.fixture
def dvc_project(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text(PIPELINE)
    (tmp_path / "params.yaml").write_text(
        "seed: 0\njudge: {epochs: 1}\nstatistics: {split: train}\ntrain: {seed: 1, loss: hinge}\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    "changed, shared",
    [
        # A study of seeds and losses: the data and the judge are the same for every run.
        ({"train.seed", "train.loss"}, ["data", "judge", "judge_statistics"]),
        # A changed key shares nothing below it, whether the stage lists the key or its
        # section, or the study changes the section a stage lists a key of.
        ({"train.seed", "statistics.split"}, ["data", "judge"]),
        ({"train.seed", "statistics"}, ["data", "judge"]),
        ({"train.seed", "judge.epochs"}, ["data"]),
        ({"seed"}, []),
    ],
)
def test_the_stages_no_point_changes_are_shared_with_their_upstream(dvc_project, changed, shared):
    assert shared_stages(dvc_project, changed) == shared
