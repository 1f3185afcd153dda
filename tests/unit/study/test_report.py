"""The study report from hand-made recipe results: no store, no queue."""

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from gantrack.metric_table import RECIPE_METRICS
from gantrack.study.report import build_report
from gantrack.study.results import RecipeResult, base_params, changed_params, seeds_wanted
from gantrack.study.spec import parse_study

STUDY = """
budget: {steps: 3000}
seeds: [1, 2, 3]
reference: default
base:
  train.ema_decay: null
  train.xla: true
points:
  - name: default
  - name: hinge
    params: {train.loss: hinge}
  - name: average
    params: {train.ema_decay: 0.99}
  - name: narrow
    params: {train.base_filters: 32}
"""
# FID by seed: hinge far above the default, the weight average like it, narrow with 2 seeds.
FIDS = {
    "default": {1: 4.0, 2: 5.0, 3: 4.5},
    "hinge": {1: 40.0, 2: 50.0, 3: 45.0},
    "average": {1: 4.1, 2: 4.9, 3: 4.4},
    "narrow": {1: 3.0, 2: 3.5},
}


@pytest.fixture
def study(raw_params):
    return parse_study(yaml.safe_load(STUDY), raw_params, "grid", Path("studies/grid.yaml"))


def result(study, name: str) -> RecipeResult:
    fids = FIDS[name]
    return RecipeResult(study.point(name), {metric: dict(fids) for metric in RECIPE_METRICS})


def rows(markdown: str) -> dict[str, list[str]]:
    """The recipe table's rows by recipe name."""
    table = markdown.split("## Recipes")[1].split("## Against")[0]
    cells = [line.strip("|").split(" | ") for line in table.splitlines() if line.startswith("| ")]
    return {row[1].strip(" `"): [cell.strip() for cell in row] for row in cells[1:]}


def test_a_recipe_shows_its_own_changes_and_the_base_is_stated_once(study):
    assert base_params(study) == {"train.ema_decay": None, "train.xla": True}
    assert changed_params(study, study.point("default")) == {}
    assert changed_params(study, study.point("hinge")) == {"train.loss": "hinge"}
    # An override of the base is the recipe's change; the budget and seed never are.
    assert changed_params(study, study.point("average")) == {"train.ema_decay": 0.99}
    markdown, _, summary = build_report(study, [result(study, n) for n in FIDS])
    table = rows(markdown)
    assert table["default"][2] == "–"
    assert table["hinge"][2] == "`train.loss=hinge`"
    assert table["average"][2] == "`train.ema_decay=0.99`"
    assert markdown.count("`train.xla=True`") == 1
    assert "the study's base: `train.ema_decay=None`, `train.xla=True`;" in markdown
    assert summary["base"] == {"train.ema_decay": None, "train.xla": True}
    assert summary["recipes"]["hinge"]["changes"] == {"train.loss": "hinge"}


def test_recipes_are_ranked_by_median_fid_and_never_on_too_few_seeds(study):
    markdown, _, summary = build_report(study, [result(study, n) for n in FIDS])
    table = rows(markdown)
    ranked = sorted((row[0], name) for name, row in table.items() if row[0] != "–")
    assert ranked == [("1", "average"), ("2", "default"), ("3", "hinge")]
    assert table["narrow"][0] == "–" and not summary["recipes"]["narrow"]["ranked"]
    assert table["narrow"][-1] == "too few seeds"  # the lowest median, but 2 seeds
    assert table["default"][-3:] == ["reference", "", ""]
    assert table["average"][-1] == "indistinguishable"
    assert table["hinge"][-1] == "**worse**"
    assert summary["best"] == "average"
    assert "## Against the best recipe, `average`" in markdown


def test_recipes_the_reference_cannot_be_told_from_are_asked_for_more_seeds(study):
    results = {name: result(study, name) for name in FIDS}
    # average: indistinguishable at 3 seeds a side; hinge: worse; narrow: not ranked yet.
    assert [r.name for r in seeds_wanted(list(results.values()), results["default"])] == [
        "default",
        "average",
    ]
    markdown, _, summary = build_report(study, list(results.values()))
    assert summary["seeds_wanted"] == ["default", "average"]
    assert "**More seeds would decide**: `default` (3 complete), `average` (3 complete)." in (
        markdown
    )
    # With 5 seeds a side the comparison has what it needs, even if still undecided.
    five = {seed: 4.0 + seed / 10 for seed in range(1, 6)}
    for name in ("default", "average"):
        point = replace(study.point(name), seeds=(1, 2, 3, 4, 5))
        results[name] = RecipeResult(point, {metric: dict(five) for metric in RECIPE_METRICS})
    assert seeds_wanted(list(results.values()), results["default"]) == []
    # One side short: only that side is asked for seeds.
    five_seeded = dict(results)
    results["average"] = result(study, "average")
    assert [r.name for r in seeds_wanted(list(results.values()), results["default"])] == ["average"]
    five_seeded["default"] = result(study, "default")
    assert [r.name for r in seeds_wanted(list(five_seeded.values()), five_seeded["default"])] == [
        "default"
    ]
    markdown, _, _ = build_report(study, [result(study, name) for name in ("default", "hinge")])
    assert "More seeds" not in markdown  # hinge is worse: nothing for seeds to decide


def test_each_comparison_table_and_the_summary_are_against_their_own_recipe(study):
    markdown, _, summary = build_report(study, [result(study, name) for name in FIDS])
    best_section = markdown.split("## Against the best recipe")[1].split("## Against")[0]
    reference_section = markdown.split("## Against the reference")[1].split("## Each seed")[0]
    # hinge's median FID 45 against the best's (average) 4.4 and the reference's 4.5.
    assert "| `hinge` | +40.6 [" in best_section and "`average` |" not in best_section
    assert "| `hinge` | +40.5 [" in reference_section and "`default` |" not in reference_section
    recipes = summary["recipes"]
    assert recipes["hinge"]["vs_best"]["fid"]["difference"] == pytest.approx(40.6)
    assert recipes["hinge"]["vs_reference"]["fid"]["difference"] == pytest.approx(40.5)
    assert "vs_best" not in recipes["average"] and "vs_reference" not in recipes["default"]
    assert set(recipes["average"]["vs_reference"]) == set(RECIPE_METRICS)
    assert rows(markdown)["hinge"][-3].startswith("+40.5 [")  # the recipe table: reference
