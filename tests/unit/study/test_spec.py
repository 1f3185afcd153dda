from pathlib import Path

import pytest
import yaml

from gantrack.study.spec import (
    StudyError,
    is_recipe_param,
    load_study,
    parse_study,
    recipe_params,
    run_params,
    shapes_runs,
)


def study(raw_params, text: str):
    return parse_study(yaml.safe_load(text), raw_params, name="grid", path=Path("grid.yaml"))


def error_of(raw_params, text: str) -> str:
    with pytest.raises(StudyError) as caught:
        study(raw_params, text)
    return str(caught.value)


TWO_POINTS = """
budget: {steps: 3000}
seeds: [1, 2]
reference: default
base: {mlflow.registered_model: null}
points:
  - name: default
    seeds: [1, 2, 3]
  - name: hinge
    params: {train.loss: hinge}
"""


def test_points_resolve_to_full_validated_params_with_budget_and_seed(raw_params):
    resolved = study(raw_params, TWO_POINTS)
    assert [point.name for point in resolved.points] == ["default", "hinge"]
    assert resolved.point("default").seeds == (1, 2, 3)
    assert resolved.point("hinge").seeds == (1, 2)  # the study's seeds
    hinge = resolved.params[("hinge", 2)]
    assert hinge.train.loss == "hinge" and hinge.train.seed == 2
    assert (hinge.train.steps, hinge.train.epochs, hinge.train.images) == (3000, None, None)
    assert hinge.mlflow.registered_model is None
    assert resolved.point("hinge").experiment_name("grid", 2) == "grid-hinge-s2"
    # Seed by seed: a study stopped early holds some seeds of every point.
    order = [(point.name, seed) for point, seed in resolved.tasks()]
    assert order == [("default", 1), ("hinge", 1), ("default", 2), ("hinge", 2), ("default", 3)]


def test_recipe_params_leave_out_the_seed_and_what_shapes_no_number(raw_params):
    params = study(raw_params, TWO_POINTS).params[("hinge", 1)]
    assert run_params(params)["train.seed"] == "1"
    assert run_params(params)["train.loss"] == "hinge"
    assert "train.seed" not in recipe_params(params)
    assert not [key for key in run_params(params) if key.startswith(("mlflow.", "paths."))]


def test_one_rule_tells_recipes_apart():
    assert is_recipe_param("train.loss") and is_recipe_param("data.dataset")
    assert shapes_runs("train.seed") and not is_recipe_param("train.seed")
    for key in ("gate.seeds", "paths.samples", "mlflow.registered_model"):
        assert not shapes_runs(key) and not is_recipe_param(key)


def test_a_grid_is_every_combination_named_by_its_values(raw_params):
    resolved = study(
        raw_params,
        "budget: {images: 48000}\nseeds: 2\n"
        "grid: {train.loss: [hinge, minimax], train.batch_size: [8, 32]}",
    )
    names = [point.name for point in resolved.points]
    assert names == [
        "loss-hinge_batch_size-8",
        "loss-hinge_batch_size-32",
        "loss-minimax_batch_size-8",
        "loss-minimax_batch_size-32",
    ]
    assert resolved.points[0].seeds == (1, 2)
    assert resolved.params[(names[3], 2)].train.batch_size == 32
    assert resolved.params[(names[3], 2)].train.images == 48000
    assert resolved.reference == names[0]  # the first point, when none is named


def test_a_random_sample_is_seeded_and_stays_in_its_ranges(raw_params):
    text = """
budget: {steps: 100}
seeds: [1]
random:
  samples: 6
  seed: 3
  axes:
    train.generator_learning_rate: {log_uniform: [1.0e-5, 1.0e-3]}
    train.batch_size: {choice: [8, 16, 32]}
    train.latent_dim: {int_uniform: [10, 20]}
"""
    first, again = study(raw_params, text), study(raw_params, text)
    assert [p.changes for p in first.points] == [p.changes for p in again.points]
    assert [p.name for p in first.points][:2] == ["random-01", "random-02"]
    for point in first.points:
        assert 1e-5 <= point.changes["train.generator_learning_rate"] <= 1e-3
        assert point.changes["train.batch_size"] in (8, 16, 32)
        assert 10 <= point.changes["train.latent_dim"] <= 20
    rates = [p.changes["train.generator_learning_rate"] for p in first.points]
    assert len(set(rates)) == 6


@pytest.mark.parametrize(
    "text, expected",
    [
        # an unknown param, with the close match
        ("points: [{name: a, params: {train.los: hinge}}]", "unknown param 'train.los'"),
        ("points: [{name: a, params: {train.los: hinge}}]", "did you mean 'train.loss'"),
        # a value the config refuses: its own message, naming the key and the point
        ("points: [{name: a, params: {train.loss: hinj}}]", "point 'a'"),
        ("points: [{name: a, params: {train.loss: hinj}}]", "train.loss"),
        ("points: [{name: a, params: {train.batch_size: 0}}]", "train.batch_size"),
        # an empty axis
        ("grid: {train.loss: []}", "grid.train.loss: empty axis"),
        ("random: {samples: 2, axes: {train.beta_1: {choice: []}}}", "empty axis"),
        # a budget given twice
        ("budget: {steps: 3000, images: 48000}\npoints: [{name: a}]", "budget is given twice"),
        ("points: [{name: a, params: {train.epochs: 3}}]", "budget is given twice"),
        ("base: {train.steps: 10}\npoints: [{name: a}]", "budget is given twice"),
        # and the rest of a study's shape
        ("points: [{name: a, params: {train.seed: 3}}]", "set by the seeds list"),
        ("pionts: []", "unknown key 'pionts' (did you mean 'points'?)"),
        ("points: [{name: a}, {name: a}]", "repeated: a"),
        ("reference: b\npoints: [{name: a}]", "'b' is not a point"),
        ("seeds: [1, 1]\npoints: [{name: a}]", "listed twice"),
        ("points: [{name: 'a b'}]", "a point needs a name"),
        ("points: [{name: a..b}]", "a point needs a name"),
        ("grid: {train.loss: [hinge], data.source: ['a..b']}", "cannot name a DVC experiment"),
        ("random: {samples: 2, axes: {train.beta_1: {log_uniform: [0.0, 0.5]}}}", "0 < low"),
        ("description: nothing", "no points"),
        # a scalar where a list of values belongs
        ("grid: {train.batch_size: 8}", "grid.train.batch_size: expected a list of values"),
        ("random: {samples: 1, axes: {train.beta_1: {choice: 0.5}}}", "expected a list"),
        # whole-number samplers need whole-number bounds, or a draw lands outside them
        (
            "random: {samples: 1, axes: {train.latent_dim: {int_uniform: [1.5, 3]}}}",
            "whole-number bounds",
        ),
        (
            "random: {samples: 1, axes: {train.latent_dim: {log_int_uniform: [8.2, 8.9]}}}",
            "whole-number bounds",
        ),
        # one recipe twice: the points would share their runs
        (
            "points: [{name: a, params: {train.loss: hinge}},"
            " {name: b, params: {train.loss: hinge, mlflow.registered_model: null}}]",
            "points 'a' and 'b' are the same recipe",
        ),
        (
            "random: {samples: 3, axes: {train.beta_1: {choice: [0.0, 0.5]}}}",
            "another random.seed",
        ),
    ],
)
def test_a_bad_study_file_is_one_error_naming_the_key(raw_params, text, expected):
    if "budget" not in text:
        text = "budget: {steps: 10}\nseeds: [1]\n" + text
    elif "seeds" not in text:
        text = "seeds: [1]\n" + text
    assert expected in error_of(raw_params, text)


def test_load_study_names_the_study_by_its_file(tmp_path, repo_root):
    path = tmp_path / "losses.yaml"
    path.write_text("budget: {steps: 10}\nseeds: [1]\npoints: [{name: a}]\n")
    assert load_study(path, repo_root / "params.yaml").name == "losses"
    with pytest.raises(StudyError, match="no such study file"):
        load_study(tmp_path / "absent.yaml", repo_root / "params.yaml")
    path.write_text("points: [")
    with pytest.raises(StudyError, match="not readable YAML"):
        load_study(path, repo_root / "params.yaml")


def test_a_refused_params_file_is_a_study_error_naming_that_file(tmp_path, repo_root):
    study_file = tmp_path / "losses.yaml"
    study_file.write_text("budget: {steps: 10}\nseeds: [1]\npoints: [{name: a}]\n")
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw["train"]["batch_size"] = -3
    params_file = tmp_path / "other_params.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    with pytest.raises(StudyError, match=r"other_params\.yaml") as error:
        load_study(study_file, params_file)
    assert "train.batch_size" in str(error.value)


def test_a_grid_point_equal_to_a_listed_one_is_refused(raw_params):
    batch = raw_params["train"]["batch_size"]
    text = "budget: {steps: 10}\nseeds: [1]\npoints: [{name: default}]\n"
    text += f"grid: {{train.batch_size: [{batch}, {batch * 2}]}}"
    assert f"points 'default' and 'batch_size-{batch}' are the same recipe" in error_of(
        raw_params, text
    )


def test_the_committed_studies_are_valid(repo_root):
    for path in sorted((repo_root / "studies").glob("*.yaml")):
        resolved = load_study(path, repo_root / "params.yaml")
        assert resolved.reference in [point.name for point in resolved.points]
