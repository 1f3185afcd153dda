"""The tutorial's promise for experiments (docs/tutorial.md), checked end to end:
`dvc exp run --temp` and a sweep each give exactly one complete MLflow run per experiment,
in the repository's own store."""

import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from support.pipeline_repo import BIN, mlflow_runs, run

from gantrack.gan.checkpoints import latest_checkpoint

pytestmark = pytest.mark.slow  # each experiment retrains and rescores (~1-2 min)


@pytest.fixture
def experiment_repo(pipeline_copy) -> Path:
    """A copy of the reproduced tiny pipeline (its cache and store too), committed."""
    repo = pipeline_copy
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"], repo)
    return repo


def experiment_runs(repo: Path) -> dict[str, list]:
    """The store's runs that DVC experiments made, by experiment name."""
    runs: dict[str, list] = {}
    for run_info in mlflow_runs(repo):
        name = run_info.data.tags.get("dvc.experiment")
        if name:
            runs.setdefault(name, []).append(run_info)
    return runs


def assert_complete(repo: Path, run_info, epochs: int) -> None:
    assert run_info.info.status == "FINISHED"
    assert run_info.data.params["train.epochs"] == str(epochs)
    for key in ("evaluator.fid", "evaluator.inception_score", "best_epoch", "g_loss"):
        assert key in run_info.data.metrics, key
    client = MlflowClient()
    for curve in ("eval.fid", "g_loss", "d_loss"):
        history = client.get_metric_history(run_info.info.run_id, curve)
        assert [point.step for point in history] == list(range(1, epochs + 1)), curve


def test_temp_experiment_gives_one_complete_run_in_the_root_store(experiment_repo):
    before = experiment_runs(experiment_repo)
    dvc = str(BIN / "dvc")
    run([dvc, "exp", "run", "--temp", "-n", "temp-three", "-S", "train.epochs=3"], experiment_repo)
    runs = experiment_runs(experiment_repo)
    assert runs.keys() - before.keys() == {"temp-three"}
    (temp_run,) = runs["temp-three"]  # exactly one, in the repository's mlflow.db
    assert_complete(experiment_repo, temp_run, 3)


def run_queue(repo: Path, jobs: int, timeout: float = 600) -> str:
    """`dvc queue start -j jobs`, then wait until nothing is queued or running."""
    dvc = str(BIN / "dvc")
    run([dvc, "queue", "start", "-j", str(jobs)], repo)
    deadline = time.monotonic() + timeout
    try:
        while True:
            status = run([dvc, "queue", "status"], repo).stdout
            if all(state not in status for state in ("Queued", "Running")):
                return status
            assert time.monotonic() < deadline, f"queue not done in {timeout} s:\n{status}"
            time.sleep(5)
    finally:
        run([dvc, "queue", "stop"], repo, check=False)


def test_a_two_value_sweep_gives_one_complete_run_per_experiment(experiment_repo):
    """DVC runs a sweep (`-S key=a,b`) through its queue: the tutorial's one-line sweep."""
    before = experiment_runs(experiment_repo)
    run([str(BIN / "dvc"), "exp", "run", "--queue", "-S", "train.epochs=1,3"], experiment_repo)
    status = run_queue(experiment_repo, jobs=1)
    assert status.count("Success") == 2, status
    runs = experiment_runs(experiment_repo)
    new = {name: found for name, found in runs.items() if name not in before}
    assert len(new) == 2, sorted(new)
    epochs = {}
    for name, found in new.items():
        (sweep_run,) = found  # one run per experiment
        epochs[name] = int(sweep_run.data.params["train.epochs"])
        assert_complete(experiment_repo, sweep_run, epochs[name])
    assert sorted(epochs.values()) == [1, 3]
    assert_exp_show_leads_with_the_headline(experiment_repo)


HEADLINE = ["evaluator.fid", "evaluator.inception_score", "evaluator.kid",
            "evaluator.precision", "evaluator.recall", "evaluator.classes_covered"]  # fmt: skip


def param_names(section: dict, prefix: str = "") -> set[str]:
    """Every key of params.yaml as DVC's columns name it (``train.epochs``)."""
    names = set()
    for key, value in section.items():
        name = f"{prefix}{key}"
        names |= param_names(value, f"{name}.") if isinstance(value, dict) else {name}
    return names


def assert_exp_show_leads_with_the_headline(repo: Path) -> None:
    """`dvc exp show` with default options: metrics come first after DVC's own columns,
    and they start with the headline; no checksum, per-class count or string among them."""
    import csv
    import io

    shown = run([str(BIN / "dvc"), "exp", "show", "--csv"], repo).stdout
    header, *rows = list(csv.reader(io.StringIO(shown)))
    dvc_columns = {"Experiment", "rev", "typ", "Created", "parent", "State", "Executor"}
    first_metric = next(index for index, name in enumerate(header) if name not in dvc_columns)
    assert header[first_metric : first_metric + len(HEADLINE)] == HEADLINE, header
    params = param_names(yaml.safe_load((repo / "params.yaml").read_text()))
    first_param = next(
        index
        for index in range(first_metric, len(header))
        if header[index].removeprefix("params.yaml:") in params
    )
    metric_columns = range(first_metric, first_param)  # DVC shows metrics, params, deps
    names = [header[column] for column in metric_columns]
    assert not [name for name in names if "sha256" in name or "per_class" in name], names
    assert len(rows) >= 3  # the workspace, its baseline and the two experiments
    for row in rows:
        for column in metric_columns:
            value = row[column]
            assert value in ("", "-") or float(value) == float(value), (header[column], value)


def spectral_variables(repo: Path) -> list[str]:
    """Paths of the spectral-normalisation state (power-iteration vectors) in the latest
    checkpoint: Keras's SpectralNormalization keeps one `vector_u` per wrapped layer."""
    checkpoint = latest_checkpoint(repo / "models/checkpoints")
    return [path for path, _ in checkpoint.variables if "vector_u" in path]


def test_hinge_and_spectral_norm_experiment_uses_both(experiment_repo):
    """`dvc exp run -S ...` end to end: the variant was used, not only logged."""
    default_run = mlflow_runs(experiment_repo)[0]  # the fixture's repro of the default params
    assert default_run.data.params["train.spectral_norm"] == "False"
    command = ["exp", "run", "-n", "hinge-sn", "-S", "train.loss=hinge"]
    result = run([str(BIN / "dvc"), *command, "-S", "train.spectral_norm=true"], experiment_repo)
    ran = {
        line.split("'")[1]
        for line in result.stdout.splitlines()
        if line.startswith("Running stage")
    }
    assert {"train", "sample", "evaluate"} <= ran and "prepare" not in ran
    assert "made with other params, data or code: not resuming" in result.stdout
    checkpoints = list((experiment_repo / "models/checkpoints").iterdir())
    assert [path.name for path in checkpoints] == ["epoch_0002"]
    # Spectral normalisation: the discriminator's weight layers are wrapped (conv, conv, logit).
    wrapped = spectral_variables(experiment_repo)
    assert len(wrapped) == 3, wrapped  # the default run has none (spectral_norm false)
    (variant_run,) = experiment_runs(experiment_repo)["hinge-sn"]
    assert_complete(experiment_repo, variant_run, 2)
    assert variant_run.data.params["train.loss"] == "hinge"
    assert variant_run.data.params["train.spectral_norm"] == "True"
    # Hinge loss on logits: the discriminator's loss starts near 2 (relu(1 ± D) with D ≈ 0),
    # cross-entropy's near 2 log 2 ≈ 1.39; the curves differ.
    client = MlflowClient()
    curves = {
        name: [point.value for point in client.get_metric_history(run_id, "d_loss")]
        for name, run_id in (
            ("default", default_run.info.run_id),
            ("hinge", variant_run.info.run_id),
        )
    }
    assert curves["default"] != curves["hinge"], curves


def test_a_queued_experiment_runs_its_own_code_not_edits_made_after_queueing(experiment_repo):
    """dvc.yaml's commands import gantrack from the experiment's copy (PYTHONPATH=src): an
    edit of the working tree after queueing (here one that breaks every import) must not
    reach a queued experiment, as a long study's queue outlives many edits."""
    dvc = str(BIN / "dvc")
    run([dvc, "exp", "run", "--queue", "-n", "own-code", "-S", "train.epochs=1"], experiment_repo)
    config = experiment_repo / "src/gantrack/config.py"
    original = config.read_text()
    config.write_text(original + '\nraise RuntimeError("edited after queueing")\n')
    try:
        status = run_queue(experiment_repo, jobs=1)
    finally:
        config.write_text(original)
    assert "Success" in status and "Failed" not in status, status
    (queued_run,) = experiment_runs(experiment_repo)["own-code"]
    assert_complete(experiment_repo, queued_run, 1)
