"""Saved seed runs: a study's runs written as files and loaded into another store."""

import json
import math
from pathlib import Path

import pytest
import yaml
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from support.study_runs import STUDY, current, fill, seed_run

from gantrack.study import records, store
from gantrack.study.spec import parse_study, run_params


@pytest.fixture
def study(raw_params):
    return parse_study(yaml.safe_load(STUDY), raw_params, "grid", Path("grid.yaml"))


def new_store(path: Path) -> tuple[MlflowClient, str]:
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    return client, client.create_experiment("gantrack")


def found(client, experiment, study):
    return store.seed_runs(study, store.all_runs(client, experiment), current(study))


def save(client, experiment, study, folder, saved=()):
    return records.save_records(
        client, study.name, found(client, experiment, study).values(), folder, saved
    )


def load(client, experiment, folder):
    saved = records.read_records([folder])
    return records.load_records(client, experiment, saved, store.all_runs(client, experiment))


def test_saved_runs_load_into_another_store_as_the_same_measurements(tmp_path, study):
    machine_a = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment_a = fill(machine_a, study, skip={("hinge", 3)})
    folder = tmp_path / "runs"
    written = save(machine_a, experiment_a, study, folder)
    assert sorted(path.name for path in written) == [
        "default-s1.json", "default-s2.json", "default-s3.json", "hinge-s1.json", "hinge-s2.json"
    ]  # fmt: skip

    machine_b, experiment_b = new_store(tmp_path / "b.db")
    assert load(machine_b, experiment_b, folder) == records.LoadOutcome(loaded=5, present=0)
    on_a, on_b = found(machine_a, experiment_a, study), found(machine_b, experiment_b, study)
    assert [key for key, seed in on_b.items() if seed.complete] == [
        key for key, seed in on_a.items() if seed.complete
    ]
    for key, seed in on_a.items():
        if not seed.complete:
            continue
        original, loaded = seed.run, on_b[key].run
        assert loaded.info.run_id != original.info.run_id
        assert loaded.data.tags[records.ORIGIN_TAG] == original.info.run_id
        assert loaded.data.params == original.data.params
        assert loaded.data.metrics == original.data.metrics
        assert (loaded.info.start_time, loaded.info.end_time) == (
            original.info.start_time, original.info.end_time
        )  # fmt: skip
        assert loaded.info.run_name == original.info.run_name
        assert store.steps_curve(machine_b, loaded) == store.steps_curve(machine_a, original)
    assert not on_b[("hinge", 3)].complete and not on_b[("hinge", 3)].error


def test_a_run_without_its_cpu_tag_reports_the_cpu_that_saved_it(tmp_path, study, monkeypatch):
    machine_a = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment_a = fill(machine_a, study)  # runs from before the gantrack.cpu tag
    tagged = found(machine_a, experiment_a, study)[("hinge", 1)].run.info.run_id
    machine_a.set_tag(tagged, "gantrack.cpu", "Ran-here CPU (8 CPUs)")
    monkeypatch.setattr(records, "cpu_description", lambda: "Saver CPU (2 CPUs)")
    folder = tmp_path / "runs"
    save(machine_a, experiment_a, study, folder)
    machine_b, experiment_b = new_store(tmp_path / "b.db")
    load(machine_b, experiment_b, folder)
    results = store.recipe_results(machine_b, study, found(machine_b, experiment_b, study))
    hinge = next(result for result in results if result.name == "hinge")
    assert hinge.machines == {
        1: "Ran-here CPU (8 CPUs)",
        2: "Saver CPU (2 CPUs), where it was saved",
        3: "Saver CPU (2 CPUs), where it was saved",
    }
    # Saved again elsewhere, a record keeps the CPU of the machine that first saved it.
    monkeypatch.setattr(records, "cpu_description", lambda: "Third CPU (4 CPUs)")
    again = tmp_path / "again"
    save(machine_b, experiment_b, study, again)
    assert json.loads((again / "hinge-s2.json").read_text())["saved"]["cpu"] == (
        "Saver CPU (2 CPUs)"
    )


def test_loading_again_or_into_the_saving_store_adds_nothing(tmp_path, study):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment = fill(client, study)
    folder = tmp_path / "runs"
    save(client, experiment, study, folder)
    assert load(client, experiment, folder) == records.LoadOutcome(loaded=0, present=6)
    other, other_experiment = new_store(tmp_path / "b.db")
    assert load(other, other_experiment, folder).loaded == 6
    assert load(other, other_experiment, folder) == records.LoadOutcome(loaded=0, present=6)
    assert len(store.all_runs(other, other_experiment)) == 6


def test_a_loaded_run_saves_as_its_original_and_saved_runs_are_not_written_again(tmp_path, study):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment = fill(client, study)
    first = tmp_path / "first"
    save(client, experiment, study, first)
    other, other_experiment = new_store(tmp_path / "b.db")
    load(other, other_experiment, first)
    again = tmp_path / "again"
    save(other, other_experiment, study, again)
    for path in first.glob("*.json"):
        before, after = json.loads(path.read_text()), json.loads((again / path.name).read_text())
        assert after["run_id"] == before["run_id"]
        assert records.ORIGIN_TAG not in after["tags"]
        assert {**after, "saved": None} == {**before, "saved": None}
    saved = {record["run_id"] for record in records.read_records([first])}
    assert save(other, other_experiment, study, tmp_path / "third", saved) == []


def test_a_failed_run_travels_with_its_error(tmp_path, study):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment = fill(client, study, skip={("hinge", 3)})
    store.record_failure(client, experiment, study, study.point("hinge"), 3, "ValueError: boom")
    folder = tmp_path / "runs"
    save(client, experiment, study, folder)
    other, other_experiment = new_store(tmp_path / "b.db")
    load(other, other_experiment, folder)
    failed = found(other, other_experiment, study)[("hinge", 3)]
    assert failed.error == "ValueError: boom" and failed.run.info.status == "FAILED"


def test_a_non_finite_metric_is_null_in_the_file_and_nan_when_loaded(tmp_path, study):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment = client.create_experiment("gantrack")
    run = seed_run(client, experiment, run_params(study.params[("default", 1)]), 3.0)
    client.log_batch(run.info.run_id, metrics=[Metric("evaluator.precision", math.nan, 5, 1)])
    folder = tmp_path / "runs"
    (path,) = save(client, experiment, study, folder)
    strict = json.loads(path.read_text(), parse_constant=pytest.fail)  # no bare NaN
    assert strict["metrics"]["evaluator.precision"][1][2] is None
    other, other_experiment = new_store(tmp_path / "b.db")
    load(other, other_experiment, folder)
    (loaded,) = store.all_runs(other, other_experiment)
    assert math.isnan(loaded.data.metrics["evaluator.precision"])
    assert loaded.data.metrics["evaluator.fid"] == 3.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "gantrack.study.run/0"}, "format 'gantrack.study.run/0'"),
        ({"seed": "1"}, "key 'seed' must be a int"),
        ({"params": None}, "key 'params' must be a dict"),
        ({"status": "RUNNING"}, "status 'RUNNING' is not one of"),
        ({"metrics": {"evaluator.fid": [[1, 2]]}}, "metric 'evaluator.fid' must be a list"),
        ({"metrics": {"evaluator.fid": [[0, 0, None]]}}, "null value with no reason"),
        ({"metrics": {"evaluator.fid": [[0, 0, "4.2"]]}}, "value not a number: '4.2'"),
        ({"metrics": {"evaluator.fid": [[0.5, 0, 4.2]]}}, "step or timestamp not whole"),
        ({"params": {"train.loss": 3}}, "param 'train.loss' must be a string"),
        ({"tags": {"gantrack.cpu": None}}, "tag 'gantrack.cpu' must be a string"),
    ],
)
def test_a_bad_record_is_refused_naming_its_file_and_key(tmp_path, study, change, message):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment = fill(client, study)
    folder = tmp_path / "runs"
    save(client, experiment, study, folder)
    bad = folder / "hinge-s2.json"
    bad.write_text(json.dumps({**json.loads(bad.read_text()), **change}))
    with pytest.raises(records.RecordError) as raised:
        records.read_records([folder])
    assert str(bad) in str(raised.value) and message in str(raised.value)
    (folder / "hinge-s2.json").write_text("{not json")
    with pytest.raises(records.RecordError, match="not a readable JSON run record"):
        records.read_records([folder])


def test_a_record_that_fails_to_load_leaves_no_run_and_loads_next_time(tmp_path, study):
    machine_a = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    folder = tmp_path / "runs"
    save(machine_a, fill(machine_a, study), study, folder)
    machine_b, experiment_b = new_store(tmp_path / "b.db")
    log_batch = machine_b.log_batch
    runs: list[str] = []

    def locked_once(run_id, **batch):  # the third record's first write fails
        runs.extend([run_id] if run_id not in runs else [])
        if len(runs) == 3:
            raise RuntimeError("database is locked")
        return log_batch(run_id, **batch)

    machine_b.log_batch = locked_once
    with pytest.raises(RuntimeError, match="database is locked"):
        load(machine_b, experiment_b, folder)
    # The two records written whole stand; the broken one left nothing behind.
    assert len(store.all_runs(machine_b, experiment_b)) == 2
    machine_b.log_batch = log_batch
    assert load(machine_b, experiment_b, folder) == records.LoadOutcome(loaded=4, present=2)
    assert all(seed.complete for seed in found(machine_b, experiment_b, study).values())


def test_a_record_of_another_recipe_is_never_replaced(tmp_path, study, monkeypatch):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment = fill(client, study)
    folder = tmp_path / "runs"
    save(client, experiment, study, folder)
    # hinge-s2.json as an earlier version of the study left it: the point was minimax then.
    old = folder / "hinge-s2.json"
    record = json.loads(old.read_text())
    record["params"]["train.loss"] = "minimax"
    record["params"]["train.added_later"] = "1"  # a param one side lacks is no difference
    old.write_text(json.dumps(record))
    writes = []
    monkeypatch.setattr(records, "save_json", lambda *args: writes.append(args))
    with pytest.raises(records.RecordError) as raised:
        save(client, experiment, study, folder)
    assert str(old) in str(raised.value) and "train.loss minimax -> hinge" in str(raised.value)
    assert writes == []  # checked before any record was written
    monkeypatch.undo()
    record["status"] = "FAILED"  # a failed run of the old recipe measured nothing
    old.write_text(json.dumps(record))
    assert len(save(client, experiment, study, folder)) == 6
    record["params"]["train.loss"], record["status"] = "hinge", "FINISHED"
    old.write_text(json.dumps(record))
    assert len(save(client, experiment, study, folder)) == 6  # the same recipe: replaced


def test_a_committed_complete_record_is_kept_against_a_failure_of_the_same_seed(tmp_path, study):
    machine_b = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'b.db'}")
    folder = tmp_path / "runs"
    save(machine_b, fill(machine_b, study), study, folder)  # B's complete runs, committed
    committed = (folder / "hinge-s3.json").read_text()
    machine_a = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}")
    experiment_a = fill(machine_a, study, skip={("hinge", 3)})
    store.record_failure(machine_a, experiment_a, study, study.point("hinge"), 3, "OOM")
    saved = {record["run_id"] for record in records.read_records([folder])}
    written = save(machine_a, experiment_a, study, folder, saved)
    assert len(written) == 5 and folder / "hinge-s3.json" not in written  # A's own complete runs
    assert (folder / "hinge-s3.json").read_text() == committed


def test_no_folder_holds_no_records(tmp_path):
    assert records.read_records([tmp_path / "missing"]) == []
