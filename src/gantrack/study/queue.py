"""The study's edge to DVC: queue experiments, start workers, read the queue, read logs.

Everything goes through the ``dvc`` command line, as a user would type it, so a study is
exactly a DVC queue: ``dvc queue status`` and ``dvc queue logs`` show the same tasks, and
workers on other machines run them the same way (docs: the recipe study, at scale).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gantrack.errors import GantrackError

LOG_TAIL_LINES = 12
WORKER_STATUS = re.compile(r"Worker status: (\d+) active, (\d+) idle")


class QueueError(GantrackError):
    """A ``dvc`` queue command failed."""


@dataclass(frozen=True)
class Task:
    """A row of ``dvc queue status``: the task's id, the experiment's name and its state
    (Queued, Running, Success, Failed). A name queued again after a failure has two rows,
    so commands that act on one task take its id."""

    task_id: str
    name: str
    status: str


def override(key: str, value: Any) -> str:
    """``key=value`` as ``dvc exp run -S`` takes it (Hydra's override grammar, then YAML).

    Floats always carry a dot (``1.0e-05``, never ``1e-05``, which YAML 1.1 reads as a
    string), lists are ``[a,b]``, None is ``null``, booleans ``true``/``false``.
    """
    return f"{key}={_value(value)}"


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a param value must be finite, got {value}")
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value(item) for item in value) + "]"
    return str(value)


def queue_experiment(repo: Path, name: str, changes: Mapping[str, Any], dvc: str = "dvc") -> None:
    """``dvc exp run --queue -n name -S key=value ...`` in ``repo``."""
    command = [dvc, "exp", "run", "--queue", "-n", name]
    for key, value in changes.items():
        command += ["-S", override(key, value)]
    _run(command, repo, f"queueing {name}")


def existing_experiments(repo: Path, names: Iterable[str]) -> list[str]:
    """Which of ``names`` already name a DVC experiment of ``repo``'s commit (``dvc exp
    show`` lists them): DVC refuses to queue a name its baseline already holds."""
    head = _run(["git", "rev-parse", "HEAD"], repo, "reading the commit").strip()
    refs = _run(
        ["git", "for-each-ref", "--format=%(refname)", f"refs/exps/{head[:2]}/{head[2:]}/"],
        repo,
        "reading the experiments",
    )
    taken = {ref.rsplit("/", 1)[-1] for ref in refs.split()}
    return [name for name in names if name in taken]


def shared_stages(repo: Path, changed: Iterable[str]) -> list[str]:
    """The stages that every experiment of a study runs alike, in dvc.yaml's order: no param
    they read (nor any stage above them reads) is among ``changed``, the dotted keys the
    study sets. A stage that reads the whole params file is never shared.

    Reproduced once in the workspace before queueing (:func:`reproduce`), they are
    restored by every queued experiment instead of rerun: a queued experiment starts from
    the workspace's ``dvc.lock``, and DVC restores a stage whose lock entry matches when
    its outputs are in the cache, but does not fall back to its run cache when they are
    not (a fresh clone, whose ``dvc.lock`` names outputs made elsewhere): without this,
    each seed of a study trained its own copy of the same evaluator.
    """
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    changed = set(changed)

    def touched(key: str) -> bool:
        return any(
            key == other or other.startswith(f"{key}.") or key.startswith(f"{other}.")
            for other in changed
        )

    def alike(stage) -> bool:
        params = [dep for dep in stage.deps if isinstance(dep, ParamsDependency)]
        return not any(not dep.params or any(map(touched, dep.params)) for dep in params)

    with Repo(str(repo)) as dvc_repo:
        graph = dvc_repo.index.graph  # an edge runs from a stage to one it depends on

        def upstream(stage) -> set:
            found, todo = set(), [stage]
            while todo:
                for above in graph.successors(todo.pop()):
                    if above not in found:
                        found.add(above)
                        todo.append(above)
            return found

        return [
            _address(stage, repo)
            for stage in dvc_repo.index.stages  # dvc.yaml's order
            if stage.cmd and alike(stage) and all(map(alike, upstream(stage)))
        ]


def _address(stage, repo: Path) -> str:
    """How ``dvc repro`` run in ``repo`` names the stage: ``train``, ``sub/dvc.yaml:train``."""
    where = os.path.relpath(stage.path, repo)
    return stage.name if where == "dvc.yaml" else f"{where}:{stage.name}"


def reproduce(repo: Path, stages: Sequence[str], dvc: str = "dvc") -> None:
    """``dvc repro stages...`` in ``repo`` (the workspace: its dvc.lock records them)."""
    _run([dvc, "repro", *stages], repo, f"reproducing {', '.join(stages)}")


def start_workers(repo: Path, jobs: int, dvc: str = "dvc") -> None:
    """``dvc queue start -j jobs``. DVC daemonises the workers, and a daemon may keep the
    command's output streams open: they go to a file, read when the command fails."""
    with tempfile.TemporaryFile("w+") as output:
        result = subprocess.run(
            [dvc, "queue", "start", "-j", str(jobs)],
            cwd=repo,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            output.seek(0)
            raise QueueError(f"dvc queue start failed: {output.read().strip()[-2000:]}")


WORKER_LOGS = ".dvc/tmp/exps/celery"


def keep_worker_logs(repo: Path, stamp: str) -> list[tuple[Path, str]]:
    """Copy each DVC queue worker's log aside as ``<log>.<stamp>`` before workers are
    started again (a new worker of the same name overwrites it, and with it the reason
    the last one died); each copy with its last line that names an error, else its last."""
    kept = []
    for log in sorted((Path(repo) / WORKER_LOGS).glob("dvc-exp-worker-*.out")):
        copy = log.with_name(f"{log.name}.{stamp}")
        try:  # a log that cannot be kept must not keep the workers from starting
            shutil.copyfile(log, copy)
            text = copy.read_text(errors="replace")
        except OSError:
            continue
        lines = error_lines(text)
        kept.append((copy, lines[-1][:300] if lines else "(empty)"))
    return kept


def queue_status(repo: Path, dvc: str = "dvc") -> list[Task]:
    """The tasks of ``dvc queue status`` (every experiment queued in ``repo``)."""
    return read_queue(repo, dvc)[0]


def read_queue(repo: Path, dvc: str = "dvc") -> tuple[list[Task], int | None]:
    """The tasks of ``dvc queue status`` and its count of live workers (None when it
    does not say)."""
    text = _run([dvc, "queue", "status"], repo, "reading the queue")
    return parse_status(text), parse_workers(text)


def parse_workers(text: str) -> int | None:
    """Live workers, active and idle, from ``Worker status: 1 active, 0 idle``."""
    found = WORKER_STATUS.search(text)
    return None if found is None else int(found[1]) + int(found[2])


def parse_status(text: str) -> list[Task]:
    """Rows of ``dvc queue status``: ``Task  Name  Created  Status`` (Created may hold a
    space, so the name is the second field and the status the last)."""
    tasks = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.split()[:2] == ["Task", "Name"]:
            break
    for line in lines:
        fields = line.split()
        if not fields:
            break  # the table ends at the first blank line ("Worker status: ...")
        if len(fields) >= 4:
            tasks.append(Task(task_id=fields[0], name=fields[1], status=fields[-1]))
    return tasks


def failure_log(repo: Path, task_id: str, dvc: str = "dvc") -> str:
    """The error lines of a failed task's output (``dvc queue logs``), for the record;
    its last lines when none says "error"."""
    try:
        text = _run([dvc, "queue", "logs", task_id], repo, f"reading the log of {task_id}")
    except QueueError as error:
        return str(error)
    return "\n".join(error_lines(text)[-LOG_TAIL_LINES:])


def error_lines(text: str) -> list[str]:
    """A log's lines that say "error" (each once, in order), or all its lines when none
    does; blank lines dropped."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    errors = list(dict.fromkeys(line for line in lines if "error" in line.lower()))
    return errors or lines


def stop_tasks(
    repo: Path, names: Sequence[str], dvc: str = "dvc", timeout: float = 300.0, tries: int = 5
) -> None:
    """Remove the queued tasks of ``names``, stop the running ones, and wait until their
    processes are gone: DVC marks a killed task failed at once, while its stage may still
    be finishing (and would then log a complete run after the study stopped).

    Looks again until none is queued or running: a task can start between the look and
    the removal, and DVC then refuses the whole removal (its name no longer resolves to a
    queued task), so one pass could leave every task queued for the workers to run."""
    names = set(names)
    for _ in range(tries):
        tasks = [task for task in queue_status(repo, dvc) if task.name in names]
        queued = [task.task_id for task in tasks if task.status == "Queued"]
        running = [task.task_id for task in tasks if task.status == "Running"]
        if not queued and not running:
            return
        if queued:
            _run([dvc, "queue", "remove", *queued], repo, "removing queued tasks", check=False)
        if running:
            _kill(repo, running, dvc, timeout)
    left = [
        f"{task.name} ({task.status})"
        for task in queue_status(repo, dvc)
        if task.name in names and task.status in ("Queued", "Running")
    ]
    if left:
        raise QueueError(
            f"still in the queue after {tries} tries to stop it: {', '.join(left)}; "
            "see `dvc queue status`, then `dvc queue remove` or `dvc queue kill` them"
        )


def _kill(repo: Path, running: Sequence[str], dvc: str, timeout: float) -> None:
    processes = task_processes(running)
    _run([dvc, "queue", "kill", *running], repo, "stopping running tasks", check=False)
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:  # a stage that ignored the interrupt
        with contextlib.suppress(psutil.Error):
            process.kill()


def task_processes(task_ids: Sequence[str]) -> list:
    """The processes of the running tasks ``task_ids`` (DVC's executor, started with its
    task's info file under ``.dvc/tmp/exps/run/<id>…``, and every process under it)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "exec-run" in command and any(f"/exps/run/{task}" in command for task in task_ids):
            with contextlib.suppress(psutil.Error):
                found += [process, *process.children(recursive=True)]
    return found


def _run(command: list[str], repo: Path, what: str, check: bool = True) -> str:
    environ = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(
        command, cwd=repo, env=environ, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise QueueError(f"{what}: `{' '.join(command[:4])} ...` failed: {' / '.join(detail[-3:])}")
    return result.stdout
