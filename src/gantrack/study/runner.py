"""Running a study: queue what the store lacks, watch the queue, record recipes.

``study run`` is a loop around the DVC queue and the MLflow store, the two sources of
truth: the store says which (point, seed) is complete (:mod:`gantrack.study.store`), the
queue which is queued, running or failed (:mod:`gantrack.study.queue`). Nothing is kept
in between, so a study stopped at any moment (Ctrl-C, a reboot) resumes by running the
same command: complete seeds are skipped, failed ones retried, queued ones left queued,
and a diverged one (finished with a NaN or infinite metric) kept as its recipe's result.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gantrack.study import queue as dvc_queue
from gantrack.study import store
from gantrack.study.results import error_summary
from gantrack.study.spec import SEED_PARAM, Study

IN_FLIGHT = ("Queued", "Running")
PROGRESS_EVERY_S = 60.0
# Looks in a row that find runs queued, none running and no worker alive before the
# workers are started again: one look can fall between a task's end and the next's start.
LOOKS_BEFORE_RESTART = 2


@dataclass
class Progress:
    """Where a study stands: counts, what runs now, and how long the rest should take."""

    total: int
    complete: int = 0
    failed: int = 0
    queued: int = 0
    running: dict[str, float] = field(default_factory=dict)  # name -> seconds so far
    durations: list[float] = field(default_factory=list)  # complete runs of this study, s
    jobs: int = 1

    def state(self) -> tuple:
        """What changes the picture (not the seconds ticking): a new line is due."""
        return (self.complete, self.failed, self.queued, tuple(sorted(self.running)))

    def eta_seconds(self) -> float | None:
        """When the last run should end: each running run needs the median run time less
        what it has done, and each queued one the median time on the first worker free,
        on ``jobs`` workers. None until a run of this study has finished (no basis for a
        guess)."""
        if not self.durations:
            return None
        typical = statistics.median(self.durations)
        remaining = [max(typical - elapsed, 0.0) for elapsed in self.running.values()]
        free = sorted(remaining + [0.0] * max(self.jobs - len(remaining), 0)) or [0.0]
        for _ in range(self.queued):
            free[0] += typical
            free.sort()
        return max(free)

    def line(self, study: str, labels: Mapping[str, str]) -> str:
        """``[grid] 12/59 complete, 1 failed · running grid-hinge-s2 (hinge, seed 2, 3 min)
        · 45 queued · ETA 5 h 12 min``."""
        parts = [f"[{study}] {self.complete}/{self.total} complete"]
        if self.failed:
            parts[0] += f", {self.failed} failed"
        for name, elapsed in self.running.items():
            parts.append(f"running {name} ({labels.get(name, name)}, {duration(elapsed)})")
        parts.append(f"{self.queued} queued")
        eta = self.eta_seconds()
        parts.append("ETA after the first run" if eta is None else f"ETA {duration(eta)}")
        return " · ".join(parts)


def duration(seconds: float) -> str:
    """``42 s``, ``7 min``, ``5 h 12 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


@dataclass(frozen=True)
class Outcome:
    """How ``study run`` ended: complete and failed (point, seed) counts, and recipes."""

    complete: int
    failed: int
    total: int
    parents: dict[str, str]  # point -> parent run id
    stopped: bool = False


class StudyRunner:
    """One ``study run``: the study, the repository whose DVC queue runs it, and the store."""

    def __init__(
        self,
        study: Study,
        repo: Path,
        client,
        experiment_id: str,
        current_params: Mapping[str, str],
        say: Callable[[str], None] = print,
        dvc: str = "dvc",
    ):
        self.study, self.repo, self.client = study, repo, client
        self.experiment_id, self.current, self.say, self.dvc = (
            experiment_id,
            current_params,
            say,
            dvc,
        )
        self.names = {
            point.experiment_name(study.name, seed): (point, seed) for point, seed in study.tasks()
        }
        self.recorded_failures: set[str] = set()
        self.failed_ids: dict[str, list[str]] = {}  # name -> failed task ids, at the last look
        self.failed_before: set[str] = set()  # failed task ids the queue held before queueing
        self.first_seen_running: dict[str, float] = {}
        self.workers: int | None = None  # live DVC queue workers at the last look

    def run(self, jobs: int = 1, poll_seconds: float = 15.0) -> Outcome:
        """Queue, watch and record until no task of the study is queued or running."""
        # The queue first: a task that ends between the two looks is then complete in the
        # store, not "neither complete nor in flight" and queued a second time.
        statuses = self._statuses()
        self.failed_before = {task for tasks in self.failed_ids.values() for task in tasks}
        found = self._found()
        to_queue = [
            name
            for name, (point, seed) in self.names.items()
            if not found[(point.name, seed)].settled
            and not statuses.get(name, set()) & set(IN_FLIGHT)
        ]
        complete = sum(seed.complete for seed in found.values())
        diverged = sum(seed.diverged for seed in found.values())
        in_flight = len(self.names) - complete - diverged - len(to_queue)
        self.say(
            f"study {self.study.name}: {len(self.study.points)} points, {len(self.names)} runs; "
            f"{complete} complete in the store"
            + (f", {diverged} diverged (not run again)" if diverged else "")
            + f", {in_flight} already queued, queueing {len(to_queue)}"
        )
        self._check_not_experiments_yet(to_queue)
        try:
            self._queue(to_queue, found)
            if len(self.names) > complete + diverged:
                dvc_queue.start_workers(self.repo, jobs, self.dvc)
            self._watch(jobs, poll_seconds)
        except KeyboardInterrupt:
            self.say(
                f"stopping study {self.study.name}: removing its queued tasks and stopping "
                "its running one; run the same command to resume"
            )
            try:
                dvc_queue.stop_tasks(self.repo, list(self.names), self.dvc)
            finally:
                outcome = self.record(stopped=True)  # the recipes, even if a task lingers
            return outcome
        return self.record()

    def _check_not_experiments_yet(self, names: list[str]) -> None:
        """Before anything is queued: a run to queue that DVC already holds as an
        experiment of this commit (the store that has its run is elsewhere, or lost)
        would stop the queueing halfway."""
        existing = dvc_queue.existing_experiments(self.repo, names)
        if not existing:
            return
        shown = ", ".join(existing[:10])
        if len(existing) > 10:
            shown += f" and {len(existing) - 10} more"
        raise dvc_queue.QueueError(
            f"{len(existing)} runs of study {self.study.name} are DVC experiments of this "
            f"commit already, but the MLflow store holds no complete run of them: {shown}. "
            "Point MLFLOW_TRACKING_URI at the store that has their runs, run `python -m "
            "gantrack sync` if their records were spooled while the store was away, or "
            f"remove the experiments to run them again (`dvc exp remove {existing[0]} ...`); "
            "nothing was queued"
        )

    def _queue(self, names: list[str], found) -> None:
        """The shared stages, then one queued experiment per name (a Ctrl-C in between is
        handled like one while watching: what was queued is removed)."""
        if names:
            self._reproduce_shared_stages()
        for name in names:
            point, seed = self.names[name]
            if found[(point.name, seed)].error:
                error = error_summary(found[(point.name, seed)].error)
                self.say(f"retrying {name}: it failed before ({error})")
            changes = {**point.changes, SEED_PARAM: seed}
            dvc_queue.queue_experiment(self.repo, name, changes, self.dvc)

    def _reproduce_shared_stages(self) -> None:
        """Run once, here, the stages no point changes (the data, the evaluator and its
        statistics), so that each queued run restores them instead of rerunning them."""
        changed = {SEED_PARAM}
        for point in self.study.points:
            changed |= set(point.changes)
        stages = dvc_queue.shared_stages(self.repo, changed)
        if stages:
            self.say(f"the stages every run shares, once, here: {', '.join(stages)}")
            dvc_queue.reproduce(self.repo, stages, self.dvc)

    def record(self, stopped: bool = False) -> Outcome:
        """One parent run per point, the seed runs nested under it."""
        runs = store.all_runs(self.client, self.experiment_id)
        found = store.seed_runs(self.study, runs, self.current)
        parents = {}
        for point in self.study.points:
            seeds = [found[(point.name, seed)] for seed in point.seeds]
            # another machine's share of the seeds, recorded in the same parent
            recorded = store.recorded_seeds(self.client, self.experiment_id, self.study, point)
            others = [seed for seed in recorded if seed not in point.seeds]
            seeds += store.other_seed_runs(self.study, point, others, runs, self.current)
            if any(seed.run is not None for seed in seeds):
                parents[point.name] = store.record_recipe(
                    self.client, self.experiment_id, self.study, point, seeds
                )
        complete = sum(seed.complete for seed in found.values())
        failed = sum(bool(seed.error) and not seed.complete for seed in found.values())
        self.say(
            f"study {self.study.name}: {complete}/{len(self.names)} runs complete, {failed} "
            f"failed; {len(parents)} recipe runs recorded in the store"
        )
        return Outcome(complete, failed, len(self.names), parents, stopped)

    # -- the loop ------------------------------------------------------------------------

    def _watch(self, jobs: int, poll_seconds: float) -> None:
        last_state, last_time, stalled = None, 0.0, 0
        while True:
            statuses = self._statuses()
            found = self._found()
            if self._record_failures(statuses, found):
                found = self._found()
            progress = self._progress(statuses, found, jobs)
            labels = {
                name: f"{point.name}, seed {seed}" for name, (point, seed) in self.names.items()
            }
            state, now = progress.state(), time.monotonic()
            if state != last_state or now - last_time >= PROGRESS_EVERY_S:
                self.say(progress.line(self.study.name, labels))
                last_state, last_time = state, now
            if not progress.queued and not progress.running:
                return
            stalled = stalled + 1 if progress.queued and not progress.running else 0
            if stalled >= LOOKS_BEFORE_RESTART and self.workers == 0:
                self._restart_workers(progress.queued, jobs)
                stalled = 0
            time.sleep(poll_seconds)

    def _restart_workers(self, queued: int, jobs: int) -> None:
        """DVC's queue worker can die with runs still queued: its file broker lets it read
        a message half-written by a status query (celery/kombu#1551,
        treeverse/dvc-task#73), and the queue then waits for a worker that never comes."""
        self.say(
            f"no DVC queue worker is alive and {queued} runs are queued (a worker can die "
            "on a half-written broker message); starting workers again"
        )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for log, last in dvc_queue.keep_worker_logs(self.repo, stamp):
            self.say(f"the dead worker's log is kept as {log}; it ends: {last}")
        dvc_queue.start_workers(self.repo, jobs, self.dvc)

    def _record_failures(self, statuses, found) -> int:
        """Each task DVC reports failed (and not since complete) gets its error recorded;
        how many were recorded now."""
        recorded = len(self.recorded_failures)
        for name, states in statuses.items():
            if name not in self.names or name in self.recorded_failures:
                continue
            point, seed = self.names[name]
            seed_run = found[(point.name, seed)]
            if seed_run.diverged:  # its error is its metrics, already on record
                self.recorded_failures.add(name)
                self.say(f"diverged: {name} ({point.name}, seed {seed}): {seed_run.error}")
                continue
            if seed_run.complete or states & set(IN_FLIGHT):
                continue
            if "Failed" in states:
                error = dvc_queue.failure_log(self.repo, self._failed_task(name), self.dvc)
            elif "Success" in states:
                error = (
                    "the experiment succeeded but its MLflow run is incomplete (records "
                    "spooled while the store was away? run `python -m gantrack sync`)"
                )
            else:
                continue
            store.record_failure(
                self.client, self.experiment_id, self.study, point, seed, error, seed_run.run
            )
            self.recorded_failures.add(name)
            self.say(f"failed: {name} ({point.name}, seed {seed}): {error_summary(error)}")
        return len(self.recorded_failures) - recorded

    def _failed_task(self, name: str) -> str:
        """The task id of this failure of ``name``: a name retried after an earlier failure
        has both tasks in the queue, and the earlier one's log is not this failure's."""
        tasks = self.failed_ids[name]
        new = [task for task in tasks if task not in self.failed_before]
        return (new or tasks)[0]

    def _progress(self, statuses, found, jobs: int) -> Progress:
        progress = Progress(total=len(self.names), jobs=jobs)
        now = time.monotonic()
        for name, (point, seed) in self.names.items():
            seed_run, states = found[(point.name, seed)], statuses.get(name, set())
            if seed_run.complete:
                progress.complete += 1
                run = seed_run.run
                # Only this study's own runs time a run of it: a matching run from
                # elsewhere (a hand-run experiment) may have run beside other work.
                if run.info.end_time and run.data.tags.get("dvc.experiment") == name:
                    progress.durations.append((run.info.end_time - run.info.start_time) / 1000)
            elif "Running" in states:
                # Since this command first saw it running (MLflow's run opens and closes
                # with each stage, so its times do not say how long the task has run).
                progress.running[name] = now - self.first_seen_running.setdefault(name, now)
            elif "Queued" in states:
                progress.queued += 1
            elif seed_run.error:
                progress.failed += 1
        return progress

    def _found(self):
        runs = store.all_runs(self.client, self.experiment_id)
        return store.seed_runs(self.study, runs, self.current)

    def _statuses(self) -> dict[str, set[str]]:
        """Each experiment name's states in the queue (a name queued again after failing
        appears twice: Failed and Queued); the ids of each name's failed tasks are kept
        for their logs."""
        states: dict[str, set[str]] = {}
        failed: dict[str, list[str]] = {}
        tasks, self.workers = dvc_queue.read_queue(self.repo, self.dvc)
        for task in tasks:
            states.setdefault(task.name, set()).add(task.status)
            if task.status == "Failed":
                failed.setdefault(task.name, []).append(task.task_id)
        self.failed_ids = failed
        return states
