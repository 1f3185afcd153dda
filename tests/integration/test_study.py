"""`python -m gantrack study` end to end: a real DVC queue, a real MLflow store, tiny params.

One study of three points over two seeds: two that train and one that fails on purpose
(a batch larger than the tiny training split). It is stopped after its first complete
run and resumed; it ends with a parent run per recipe over its nested seeds, and its
report shows the failure. A bad study file queues nothing.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from support.pipeline_repo import BIN, environment, run

pytestmark = pytest.mark.slow  # six tiny experiments through the queue (~5-8 min)

STUDY = """
budget: {epochs: 2}
seeds: [1, 2]
reference: ok
points:
  - name: ok
  - name: hinge
    params: {train.loss: hinge}
  - name: broken
    params: {train.batch_size: 1000}
"""


@pytest.fixture
def study_repo(pipeline_copy) -> Path:
    repo = pipeline_copy
    (repo / "studies").mkdir()
    (repo / "studies/tiny.yaml").write_text(STUDY)
    (repo / "studies/bad.yaml").write_text(STUDY.replace("train.loss", "train.los"))
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "studies"], repo)
    return repo


def study(repo: Path, *arguments: str, check: bool = False) -> subprocess.CompletedProcess:
    command = [str(BIN / "python"), "-m", "gantrack", "study", *arguments]
    return run(command, repo, check=check)


def client(repo: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")


def study_runs(repo: Path) -> list:
    found = client(repo).search_runs(
        [client(repo).get_experiment_by_name("gantrack").experiment_id], max_results=1000
    )
    return [r for r in found if r.data.tags.get("dvc.experiment", "").startswith("tiny-")]


def complete(runs, name: str) -> list:
    return [
        r
        for r in runs
        if r.data.tags.get("dvc.experiment") == name
        and r.info.status == "FINISHED"
        and "evaluator.fid" in r.data.metrics
    ]


def experiment_done(repo: Path, name: str) -> bool:
    """Whether the queue's experiment ``name`` ran every stage: DVC has committed its ref
    (read from git, not `dvc queue status`, whose every call is a message to the worker)."""
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], repo).stdout
    return any(ref.endswith(f"/{name}") for ref in refs.split())


def queued_tasks(repo: Path) -> str:
    return run([str(BIN / "dvc"), "queue", "status"], repo).stdout


def test_a_bad_study_file_queues_nothing(study_repo):
    result = study(study_repo, "run", "studies/bad.yaml")
    assert result.returncode == 2, result.stderr
    assert "unknown param 'train.los'" in result.stderr and "nothing was queued" in result.stderr
    assert "bad-" not in queued_tasks(study_repo)


def test_a_study_stops_resumes_records_recipes_and_reports_its_failure(study_repo):
    # Run until the first experiment has ended, then stop the study as a user would (Ctrl-C).
    # Its MLflow run holds every metric once `evaluate` ends, but `report` still runs then,
    # and a stop there would rightly leave the run FAILED: DVC's experiment ref is written
    # only when every stage has run.
    log = study_repo / "study-run.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "python"), "-m", "gantrack", "study", "run", "studies/tiny.yaml",
             "--poll", "2"],
            cwd=study_repo, env=environment(study_repo), stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 600
        while not experiment_done(study_repo, "tiny-ok-s1"):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(3)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=180) == 130, log.read_text()
    assert "run the same command to resume" in log.read_text()
    # The data, the evaluator and its statistics are the same for every run: made once.
    shared = "the stages every run shares, once, here: prepare, train_evaluator, reference"
    assert shared in log.read_text()
    status = queued_tasks(study_repo)
    assert not [line for line in status.splitlines() if "Queued" in line or "Running" in line]
    (first,) = complete(study_runs(study_repo), "tiny-ok-s1")

    # Resume: the complete seed is not run again; the broken point fails, on record.
    result = study(study_repo, "run", "studies/tiny.yaml", "--poll", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "complete in the store" in result.stdout
    assert "failed: tiny-broken-s1" in result.stdout and "batch size 1000" in result.stdout
    runs = study_runs(study_repo)
    assert [r.info.run_id for r in complete(runs, "tiny-ok-s1")] == [first.info.run_id]
    for name in ("tiny-ok-s2", "tiny-hinge-s1", "tiny-hinge-s2"):
        assert len(complete(runs, name)) == 1, name
    for name in ("tiny-ok-s1", "tiny-ok-s2", "tiny-hinge-s1", "tiny-hinge-s2"):
        stages = complete(runs, name)[0].data.tags["gantrack.stages"].split(",")
        assert stages == ["train", "sample", "evaluate", "report"], (name, stages)

    # A parent run per recipe: the median, min and max of its seeds, which nest under it.
    store = client(study_repo)
    experiment = store.get_experiment_by_name("gantrack").experiment_id
    for point in ("ok", "hinge"):
        (parent,) = store.search_runs(
            [experiment], f"tags.`gantrack.study.point` = '{point}'", max_results=5
        )
        children = [complete(runs, f"tiny-{point}-s{seed}")[0] for seed in (1, 2)]
        fids = [child.data.metrics["evaluator.fid"] for child in children]
        metrics = parent.data.metrics
        assert metrics["evaluator.fid.median"] == pytest.approx(np.median(fids))
        assert metrics["evaluator.fid.min"] == pytest.approx(min(fids))
        assert metrics["evaluator.fid.max"] == pytest.approx(max(fids))
        assert metrics["seeds_complete"] == 2
        for child in children:
            nested = store.get_run(child.info.run_id).data.tags["mlflow.parentRunId"]
            assert nested == parent.info.run_id
    (broken,) = store.search_runs(
        [experiment], "tags.`gantrack.study.point` = 'broken'", max_results=5
    )
    assert broken.info.status == "FAILED" and broken.data.metrics["seeds_failed"] == 2

    # The report: every recipe, the failure with its error.
    result = study(study_repo, "report", "studies/tiny.yaml", check=True)
    page = (study_repo / "reports/studies/tiny/index.md").read_text()
    assert "## Failed runs" in page and "batch size 1000" in page
    assert "`broken`" in page and "`hinge`" in page
    assert (study_repo / "reports/studies/tiny/seeds_fid.png").stat().st_size > 1000
    assert os.path.exists(study_repo / "reports/studies/tiny/summary.json")

    # Saved, the runs travel: a clone with an empty store loads them and has nothing to run.
    result = study(study_repo, "save", "studies/tiny.yaml", check=True)
    assert "wrote 6 run records" in result.stdout, result.stdout
    saved = sorted(path.name for path in (study_repo / "reports/studies/tiny/runs").iterdir())
    assert saved == [
        f"{point}-s{seed}.json" for point in ("broken", "hinge", "ok") for seed in (1, 2)
    ]
    (study_repo / "mlflow.db").rename(study_repo / "machine-a.db")
    result = study(study_repo, "status", "studies/tiny.yaml")
    assert "loaded 6 saved runs" in result.stdout, result.stdout + result.stderr
    assert "ok: 2/2 complete" in result.stdout and "hinge: 2/2 complete" in result.stdout
    assert "broken: 0/2 complete; failed: seeds 1, 2" in result.stdout
    result = study(study_repo, "report", "studies/tiny.yaml", "--output", "moved", check=True)
    assert "loaded" not in result.stdout  # the store holds them now
    moved = json.loads((study_repo / "moved/summary.json").read_text())
    original = json.loads((study_repo / "reports/studies/tiny/summary.json").read_text())
    assert moved["recipes"] == original["recipes"]
