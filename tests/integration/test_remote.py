"""A shared DVC remote on S3: outputs and the run cache pushed by one clone, reused by another.

The remote is moto's S3 emulator on 127.0.0.1, driven by the real ``dvc-s3`` client; the pipeline
runs up to the evaluator's reference statistics with tiny params.
"""

import hashlib

import pytest
from support.pipeline_repo import BIN, REPO_ROOT, TINY, copy_project, edit_params, run
from support.services import start_s3_emulator

from gantrack.tracking.services import free_port

boto3 = pytest.importorskip("boto3")
pytest.importorskip("dvc_s3", reason="the S3 remote needs the dvc-s3 package (dev extra)")

BUCKET = "gantrack-cache"
# The reference statistics: a stage whose outputs are all in the DVC cache. (Stages with
# `cache: false` reports need `python -m gantrack push`: `dvc push --run-cache` leaves
# those out; see the training-run test below and docs/how-to/scale-out.md.)
STAGE = "reference_evaluator"
REFERENCE = "outputs/reference/evaluator.npz"
OUTPUTS = ("data/prepared/train.npz", "models/evaluator.keras", REFERENCE)


def git(repo, *args):
    return run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], repo)


def dvc(repo, *args):
    return run([str(BIN / "dvc"), *args], repo)


def digests(repo) -> dict[str, str]:
    return {name: hashlib.sha256((repo / name).read_bytes()).hexdigest() for name in OUTPUTS}


@pytest.fixture(scope="module")
def s3_remote(tmp_path_factory):
    """moto's S3 server with an empty bucket, credentials in the environment as CI would."""
    service = start_s3_emulator(free_port(), tmp_path_factory.mktemp("moto") / "moto.log")
    environment = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        environment.setenv(name, value)
    try:
        boto3.client("s3", endpoint_url=service.url).create_bucket(Bucket=BUCKET)
        yield service.url
    finally:
        environment.undo()
        service.stop()


def author_repo(folder, s3_remote: str, prefix: str):
    """A git repository of the project with tiny params and the S3 remote (``prefix``)."""
    folder.mkdir()
    copy_project(REPO_ROOT, folder)
    edit_params(folder, TINY)
    git(folder, "init", "-q")
    dvc(folder, "remote", "add", "-d", "team", f"s3://{BUCKET}/{prefix}")
    dvc(folder, "remote", "modify", "team", "endpointurl", s3_remote)
    return folder


@pytest.mark.slow  # ~80 s: two clones reproduce up to the reference statistics
def test_a_teammate_reuses_pushed_outputs_and_run_cache(tmp_path, s3_remote):
    author = author_repo(tmp_path / "author", s3_remote, "dvc")
    teammate = tmp_path / "teammate"
    dvc(author, "repro", STAGE)
    git(author, "add", "-A")
    git(author, "commit", "-qm", "evaluator and its reference statistics")
    dvc(author, "push")
    # Under this test's prefix only: the bucket is shared with the module's other tests.
    client = boto3.client("s3", endpoint_url=s3_remote)
    stored = client.list_objects_v2(Bucket=BUCKET, Prefix="dvc/")
    # 2 arrays and the data card, the evaluator and its report, the statistics, 3 stages'
    # run records (metrics, plots: git)
    assert stored["KeyCount"] == 9

    # A clone has the pointers (dvc.lock) but not the data: pull, and nothing reruns.
    run(["git", "clone", "-q", str(author), str(teammate)], tmp_path)
    assert not (teammate / REFERENCE).exists()
    dvc(teammate, "pull", "--with-deps", STAGE)
    assert digests(teammate) == digests(author)
    assert "Running stage" not in dvc(teammate, "repro", STAGE).stdout

    # A question the author asked but did not commit is answered from the run cache on
    # the teammate's machine: the stage's result is downloaded, not recomputed.
    change = {"evaluate": {"reference_split": "test"}}
    edit_params(author, change)
    assert f"Running stage '{STAGE}'" in dvc(author, "repro", STAGE).stdout
    dvc(author, "push", "--run-cache")
    edit_params(teammate, change)
    restored = dvc(teammate, "repro", "--pull", STAGE).stdout
    assert f"Stage '{STAGE}' is cached - skipping run, checking out outputs" in restored
    assert f"Running stage '{STAGE}'" not in restored
    assert digests(teammate) == digests(author)


@pytest.mark.slow  # ~1.5 min: the author trains twice; the teammate's clone trains nothing
def test_a_teammate_reuses_a_training_run_with_its_reports(tmp_path, s3_remote):
    """`python -m gantrack push` carries the git-kept reports, so `train` is restored too.

    `dvc push --run-cache` alone uploads the run record and the generator but not the
    stage's `cache: false` plots, and the teammate's `dvc repro --pull` would train again.
    """
    import sys

    author = author_repo(tmp_path / "author", s3_remote, "train-runs")
    teammate = tmp_path / "teammate"
    dvc(author, "repro", "train")
    git(author, "add", "-A")
    git(author, "commit", "-qm", "a trained generator")
    run(["git", "clone", "-q", str(author), str(teammate)], tmp_path)

    change = {"train": {"epochs": TINY["train"]["epochs"] + 1}}  # asked, not committed
    edit_params(author, change)
    assert "Running stage 'train'" in dvc(author, "repro", "train").stdout
    pushed = run([sys.executable, "-m", "gantrack", "push"], author).stdout
    assert "run-record outputs:" in pushed and " 0 uploaded" not in pushed, pushed

    edit_params(teammate, change)
    restored = dvc(teammate, "repro", "--pull", "train").stdout
    assert "Stage 'train' is cached - skipping run, checking out outputs" in restored, restored
    assert "Running stage 'train'" not in restored
    for report in ("reports/train_log.csv", "reports/train_eval.csv", "reports/train_grid.png"):
        assert (teammate / report).read_bytes() == (author / report).read_bytes(), report
