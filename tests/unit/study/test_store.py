"""The study's store edge against a real MLflow sqlite store, with hand-made seed runs."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient
from support.study_runs import STUDY, current, fill, seed_run

from gantrack.study import store
from gantrack.study.records import ORIGIN_TAG
from gantrack.study.report import build_report
from gantrack.study.spec import parse_study, run_params


@pytest.fixture
def client(tmp_path):
    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.fixture
def study(raw_params):
    return parse_study(yaml.safe_load(STUDY), raw_params, "grid", Path("grid.yaml"))


def test_each_seed_finds_its_complete_run_by_params(client, study):
    experiment = fill(client, study)
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    assert all(seed.complete for seed in found.values())
    assert found[("hinge", 3)].value("evaluator.fid") == 12.0
    assert found[("hinge", 3)].run.data.params["train.loss"] == "hinge"


def test_a_param_the_run_lacks_matches_only_at_its_params_yaml_value(client, study):
    experiment = client.create_experiment("gantrack")
    params = run_params(study.params[("default", 1)])
    del params["train.base_filters"]  # a run from before the key existed
    seed_run(client, experiment, params, 3.0)
    runs = store.all_runs(client, experiment)
    found = store.seed_runs(study, runs, current(study))
    assert found[("default", 1)].complete
    moved = {**current(study), "train.base_filters": "32"}  # the key's value changed since
    assert not store.seed_runs(study, runs, moved)[("default", 1)].complete


def test_incomplete_and_other_recipes_runs_do_not_count(client, study):
    experiment = client.create_experiment("gantrack")
    params = run_params(study.params[("default", 1)])
    seed_run(client, experiment, params, 3.0, complete=False)  # evaluate never ran
    seed_run(client, experiment, params, 3.0, status="FAILED")
    seed_run(client, experiment, {**params, "train.seed": "7"}, 3.0)
    seed_run(client, experiment, {**params, "train.beta_1": "0.0"}, 3.0)
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    assert not any(seed.complete for seed in found.values())


def test_each_recipe_becomes_a_parent_run_over_its_nested_seeds(client, study):
    experiment = fill(client, study)
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    point = study.point("hinge")
    seeds = [found[("hinge", seed)] for seed in point.seeds]
    parent_id = store.record_recipe(client, experiment, study, point, seeds)
    parent = client.get_run(parent_id)
    metrics = parent.data.metrics
    assert metrics["evaluator.fid.median"] == 9.0
    assert (metrics["evaluator.fid.min"], metrics["evaluator.fid.max"]) == (8.0, 12.0)
    assert metrics["evaluator.fid.iqr"] == pytest.approx(
        np.subtract(*np.percentile([8, 9, 12], [75, 25]))
    )
    assert metrics["seeds_complete"] == 3 and metrics["seeds_failed"] == 0
    assert parent.data.params["train.loss"] == "hinge" and "train.seed" not in parent.data.params
    assert parent.data.tags["gantrack.study.point"] == "hinge"
    for seed in seeds:
        assert client.get_run(seed.run.info.run_id).data.tags["mlflow.parentRunId"] == parent_id
    # Recording again updates the same parent, and parents are never taken for seeds.
    assert store.record_recipe(client, experiment, study, point, seeds) == parent_id
    again = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    assert again[("hinge", 1)].run.info.run_id == seeds[0].run.info.run_id


def test_a_recipe_given_more_seeds_keeps_its_parent_and_says_its_seeds_now(
    client, study, raw_params
):
    experiment = fill(client, study)
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    seeds = [found[("hinge", seed)] for seed in (1, 2, 3)]
    first = store.record_recipe(client, experiment, study, study.point("hinge"), seeds)
    assert client.get_run(first).data.tags["gantrack.study.seeds"] == "1,2,3"
    more = yaml.safe_load(STUDY)
    more["points"][1]["seeds"] = [1, 2, 3, 4, 5]
    wider = parse_study(more, raw_params, "grid", Path("grid.yaml"))
    point = wider.point("hinge")
    again = store.record_recipe(client, experiment, wider, point, seeds)
    assert again == first  # the same recipe: the same parent, no MLflow param clash
    tags = client.get_run(again).data.tags
    assert tags["gantrack.study.seeds"] == "1,2,3,4,5"
    assert "over seeds 1, 2, 3, 4, 5." in tags["mlflow.note.content"]


def test_a_parent_cut_off_before_its_params_gets_them_when_recorded_again(client, study):
    experiment = fill(client, study)
    point = study.point("hinge")
    params = store.recipe_params(study.params[("hinge", 1)])
    tags = {
        store.PARENT_TAG: "true",
        store.STUDY_TAG: study.name,
        store.POINT_TAG: point.name,
        store.RECIPE_TAG: store.recipe_hash(params),
    }
    cut_off = client.create_run(experiment, run_name="grid-hinge", tags=tags)  # no params yet
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    seeds = [found[("hinge", seed)] for seed in point.seeds]
    assert store.record_recipe(client, experiment, study, point, seeds) == cut_off.info.run_id
    assert client.get_run(cut_off.info.run_id).data.params["train.loss"] == "hinge"


def test_a_failure_is_recorded_on_its_run_or_on_a_run_made_for_it(client, study):
    experiment = fill(client, study, skip={("hinge", 2), ("hinge", 3)})
    params = run_params(study.params[("hinge", 2)])
    failed = seed_run(client, experiment, params, 0, "FAILED", "grid-hinge-s2", complete=False)
    point = study.point("hinge")
    store.record_failure(client, experiment, study, point, 2, "ValueError: boom", failed)
    store.record_failure(client, experiment, study, point, 3, "dvc: no such stage")
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    assert found[("hinge", 2)].error == "ValueError: boom"
    assert found[("hinge", 3)].error == "dvc: no such stage"
    assert found[("hinge", 3)].run.info.status == "FAILED"
    parent = client.get_run(
        store.record_recipe(
            client, experiment, study, point, [found[("hinge", s)] for s in (1, 2, 3)]
        )
    )
    assert parent.data.metrics["seeds_failed"] == 2 and parent.data.metrics["seeds_complete"] == 1


def test_a_seed_that_finished_with_a_nan_metric_diverged_and_is_no_value(client, study):
    experiment = fill(client, study, skip={("hinge", 3)})
    diverged = seed_run(client, experiment, run_params(study.params[("hinge", 3)]), np.nan)
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    seed = found[("hinge", 3)]
    assert seed.diverged and not seed.complete and seed.settled
    assert seed.run.info.run_id == diverged.info.run_id
    assert "diverged" in seed.error and "evaluator.fid nan" in seed.error
    hinge = store.recipe_results(client, study, found)[1]
    # two seeds survive: the recipe is listed with its failure, not ranked on them alone
    assert hinge.complete_seeds == [1, 2] and not hinge.ranked
    assert "evaluator.fid nan" in hinge.failed[3]
    # a complete run of the same seed, when there is one, is the seed's run
    seed_run(client, experiment, run_params(study.params[("hinge", 3)]), 12.0)
    again = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    assert again[("hinge", 3)].complete and again[("hinge", 3)].error == ""


def test_a_run_stopped_by_the_user_is_neither_complete_nor_failed(client, study):
    experiment = client.create_experiment("gantrack")
    params = run_params(study.params[("hinge", 2)])
    seed_run(client, experiment, params, 0, "KILLED", "grid-hinge-s2", complete=False)
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    assert not found[("hinge", 2)].complete
    assert found[("hinge", 2)].error == "" and found[("hinge", 2)].run is None


def test_the_report_marks_failures_and_reads_curves_by_generator_step(client, study):
    experiment = fill(client, study, skip={("hinge", 3)})
    point = study.point("hinge")
    store.record_failure(client, experiment, study, point, 3, "ValueError: batch size 1000")
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    results = store.recipe_results(client, study, found)
    default = results[0]
    assert default.curves[1] == {500: 33.0, 3000: 3.0}  # epochs 2 and 12, 250 steps each
    markdown, pictures, summary = build_report(study, results)
    assert "Complete runs by the CPU they ran on: not recorded: 5." in markdown
    assert "## Failed runs" in markdown and "ValueError: batch size 1000" in markdown
    assert summary["recipes"]["hinge"]["failed"] == {"3": "ValueError: batch size 1000"}
    assert not summary["recipes"]["hinge"]["ranked"]  # 2 complete seeds of 3
    assert {"seeds_fid.png", "budget_fid.png"} <= set(pictures)
    assert all(data.startswith(b"\x89PNG") for data in pictures.values())


def test_the_report_names_a_loaded_run_by_the_id_it_was_first_logged_with(client, study):
    experiment = fill(client, study)
    runs = store.all_runs(client, experiment)
    loaded = next(run for run in runs if run.info.run_name == "grid-hinge-s2")
    client.set_tag(loaded.info.run_id, ORIGIN_TAG, "0123456789abcdef")
    found = store.seed_runs(study, store.all_runs(client, experiment), current(study))
    results = {result.name: result for result in store.recipe_results(client, study, found)}
    assert results["hinge"].run_ids[2] == "0123456789abcdef"
    assert results["hinge"].run_ids[1] == found[("hinge", 1)].run.info.run_id
    markdown, _, _ = build_report(study, list(results.values()))
    assert "| `hinge` | 2 |" in markdown and "`01234567` |" in markdown
