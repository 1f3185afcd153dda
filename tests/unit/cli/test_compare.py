import math
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gantrack.cli.compare import (
    commands_section,
    comparison_table,
    format_cell,
    main,
    markdown_table,
    median_curves,
    metric_against_param,
    metric_direction,
    rank_runs,
    recipe_labels,
    reproducing_command,
    seed_groups,
    select_dvc_experiments,
    swept_params,
)


@pytest.fixture
def runs():
    """What mlflow.search_runs returns, by hand: four runs, one without the metric."""
    return pd.DataFrame(
        {
            "run_id": ["aaaaaaaa11", "bbbbbbbb22", "cccccccc33", "dddddddd44"],
            "tags.dvc.experiment": ["brisk-owl", "calm-fox", None, "dull-eel"],
            "tags.mlflow.runName": ["brisk-owl", "calm-fox", "manual", "dull-eel"],
            "params.train.epochs": ["10", "2", "5", "20"],
            "params.train.loss": ["minimax"] * 4,
            "params.seed": ["42", "42", "42", "7"],
            "metrics.evaluator.fid": [12.5, 30.0, 8.25, math.nan],
            "metrics.evaluator.inception_score": [7.0, 5.5, 8.0, 9.0],
        }
    )


def test_metric_direction_by_last_name_part():
    assert metric_direction("evaluator.fid") == "min"
    assert metric_direction("inception_v3.kid") == "min"
    assert metric_direction("evaluator.inception_score") == "max"
    for no_better_side in ("evaluator.num_images", "d_loss", "evaluator.unknown_metric"):
        with pytest.raises(ValueError, match="--direction"):
            metric_direction(no_better_side)


def test_rank_lower_is_better_puts_missing_last(runs):
    ranked = rank_runs(runs, "evaluator.fid", "min")
    assert list(ranked["run_id"].str[:1]) == ["c", "a", "b", "d"]


def test_rank_higher_is_better(runs):
    ranked = rank_runs(runs, "evaluator.inception_score", "max")
    assert list(ranked["metrics.evaluator.inception_score"]) == [9.0, 8.0, 7.0, 5.5]


def test_rank_rejects_unknown_metric_and_direction(runs):
    with pytest.raises(ValueError, match=r"no run has the metric 'kid'.*evaluator\.fid"):
        rank_runs(runs, "kid", "min")
    with pytest.raises(ValueError, match="direction"):
        rank_runs(runs, "evaluator.fid", "lowest")


def test_swept_params_are_those_that_vary(runs):
    assert swept_params(runs) == ["seed", "train.epochs"]
    assert swept_params(runs.iloc[:3]) == ["train.epochs"]


def test_select_dvc_experiments(runs):
    assert list(select_dvc_experiments(runs, ["calm-fox", "dull-eel"])["run_id"].str[0]) == [
        "b",
        "d",
    ]
    assert len(select_dvc_experiments(runs, [])) == 4


def test_comparison_table_rows_and_columns(runs):
    ranked = rank_runs(runs, "evaluator.fid", "min")
    table = comparison_table(
        ranked,
        "evaluator.fid",
        ["train.epochs", "not.a.param"],
        ["evaluator.inception_score", "evaluator.fid", "evaluator.kid"],
    )
    assert list(table.columns) == [
        "rank",
        "run",
        "run id",
        "train.epochs",
        "evaluator.fid",
        "evaluator.inception_score",
    ]
    assert list(table["run"]) == ["manual", "brisk-owl", "calm-fox", "dull-eel"]
    assert list(table["run id"]) == ["cccccccc", "aaaaaaaa", "bbbbbbbb", "dddddddd"]
    assert list(table["train.epochs"]) == ["5", "10", "2", "20"]


def test_markdown_table_formats_cells():
    table = pd.DataFrame({"run": ["a|b", "c"], "fid": [12.345678, math.nan], "epoch": [3.0, 10.0]})
    assert markdown_table(table).splitlines() == [
        "| run | fid | epoch |",
        "|---|---|---|",
        "| a\\|b | 12.35 | 3 |",
        "| c |  | 10 |",
    ]
    assert format_cell(None) == "" and format_cell(0.000123456) == "0.0001235"


def test_metric_against_numeric_param_sorts_numerically(runs):
    data = metric_against_param(runs, "evaluator.fid", "train.epochs")
    # "10" < "2" as text; as numbers 2 < 5 < 10, and the run without the metric is dropped
    assert list(data["train.epochs"]) == [2, 5, 10]
    assert list(data["evaluator.fid"]) == [30.0, 8.25, 12.5]
    assert list(data["run"]) == ["calm-fox", "manual", "brisk-owl"]


def test_metric_against_text_param_keeps_text(runs):
    data = metric_against_param(runs, "evaluator.fid", "train.loss")
    assert list(data["train.loss"]) == ["minimax"] * 3


def table_runs(report: str) -> list[str]:
    """The run column of the report's first table (the ranking)."""
    first = report.split("\n\n| ", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in ("| " + first).splitlines()[2:]]
    return [row.split(" | ")[1] for row in rows]


def test_main_writes_report_and_plots(tmp_path, params, capsys):
    """End to end on a sqlite store: three runs with FID curves, two swept params."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("sweep")
    for name, epochs, fids in [("short", 2, [40.0, 30.0]), ("long", 4, [40.0, 20, 15, 10])]:
        with mlflow.start_run(run_name=name, tags={"dvc.experiment": name}):
            mlflow.log_params({"train.epochs": epochs, "train.loss": "minimax"})
            for step, fid in enumerate(fids, start=1):
                mlflow.log_metric("eval.fid", fid, step=step)
            mlflow.log_metric("evaluator.fid", fids[-1])
    with mlflow.start_run(run_name="other", tags={"dvc.experiment": "other"}):
        mlflow.log_params({"train.epochs": 3, "train.loss": "non_saturating"})
        mlflow.log_metric("evaluator.fid", 5.0)
    output = tmp_path / "reports" / "compare.md"
    argv = ["--experiment", "sweep", "--tracking-uri", uri, "--output", str(output)]
    assert main([*argv, "--filter", "params.`train.loss` = 'minimax'"]) == 0
    report = output.read_text()
    assert table_runs(report) == ["long", "short"]  # FID 10 before 30
    assert "![eval.fid over epochs](compare_eval.fid.png)" in report
    # Each recipe's curve, step by step (one seed each here: the runs' own values).
    curves = report.split("## `eval.fid` by step, median over seeds")[1]
    assert "| recipe | eval.fid @ 1 | eval.fid @ 2 | eval.fid @ 3 | eval.fid @ 4 |" in curves
    assert "| train.epochs=2 | 40 | 30 |  |  |" in curves
    assert "| train.epochs=4 | 40 | 20 | 15 | 10 |" in curves
    commands = report.split("## Commands")[1]  # from the repository's params.yaml
    assert "| long | `dvc exp run -S train.epochs=4 -S train.loss=minimax`" in commands
    plot = tmp_path / "reports" / "compare_evaluator.fid_vs_train.epochs.png"
    assert plot.is_file() and (tmp_path / "reports" / "compare_eval.fid.png").is_file()
    with Image.open(plot) as image:
        assert image.size == (700, 450) and np.asarray(image).std() > 0

    assert main([*argv, "--dvc-exp", "other", "--dvc-exp", "short"]) == 0
    assert table_runs(output.read_text()) == ["other", "short"]
    assert main([*argv, "--dvc-exp", "nobody"]) == 1
    assert main([*argv, "--metric", "images_per_second"]) == 2
    assert "images_per_second" in capsys.readouterr().err


@pytest.fixture
def seeded_runs():
    """Two recipes (batch 32, batch 16), three GAN seeds each; the split's seed is fixed."""
    return pd.DataFrame(
        {
            "run_id": list("abcdef"),
            "params.train.seed": ["1", "2", "3"] * 2,
            "params.train.batch_size": ["32"] * 3 + ["16"] * 3,
            "params.seed": ["42"] * 6,
            "metrics.evaluator.fid": [20.0, 22.0, 30.0, 18.0, 19.0, 21.0],
            "metrics.evaluator.inception_score": [4.0, 4.5, 4.2, 5.0, 5.1, 4.9],
        }
    )


def test_reproducing_command_sets_what_differs_from_this_checkout():
    current = {
        "train.seed": 42,
        "train.conditional": True,
        "train.ema_decay": None,
        "train.diffaugment": [],
        "train.images": None,  # added after the run: it did not log it
        "paths.samples": "outputs/samples.npz",
        "gate.max_fid_increase": 0.6,
    }
    run = pd.Series(
        {
            "run_id": "abc",
            "params.train.seed": "1",
            "params.train.conditional": "False",
            "params.train.ema_decay": "0.995",
            "params.train.diffaugment": "['translation', 'cutout']",
            "params.paths.samples": "outputs/samples.npz",
            "params.gate.max_fid_increase": "0.1",  # shapes no run
            "params.train.loss": float("nan"),  # another run's param, not this one's
        }
    )
    assert reproducing_command(run, current) == (
        "dvc exp run -S train.conditional=false -S 'train.diffaugment=[translation,cutout]' "
        "-S train.ema_decay=0.995 -S train.seed=1"
    )
    same = pd.Series({"params.train.seed": "42", "params.train.ema_decay": "None"})
    assert reproducing_command(same, current) == "dvc exp run"


BREAKOUT = "hinge'; touch X; echo '"  # a param value that closes a quote of its own


def test_a_suggested_command_keeps_a_hostile_param_value_one_argument(tmp_path):
    run = pd.Series({"params.train.loss": BREAKOUT, "params.train.seed": "1"})
    command = reproducing_command(run, {"train.loss": "non_saturating", "train.seed": 42})
    # Run as a user pastes it into a shell, with a `dvc` that prints its arguments.
    shell = f'dvc() {{ printf "%s\\n" "$@"; }}; {command}'
    printed = subprocess.run(
        ["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert printed.stdout.splitlines() == [
        "exp", "run", "-S", f"train.loss={BREAKOUT}", "-S", "train.seed=1"
    ]  # fmt: skip
    assert not (tmp_path / "X").exists()


def test_the_commands_table_keeps_a_pipe_or_backtick_inside_its_cell():
    section = commands_section({"long": "dvc exp run -S 'a=x|`y`'"}, Path("params.yaml"))
    (row,) = [line for line in section.splitlines() if line.startswith("| long |")]
    assert row == "| long | `` dvc exp run -S 'a=x\\|`y`' `` |"


def test_median_curves_take_each_steps_median_over_a_recipes_seeds(seeded_runs):
    curves = pd.DataFrame(
        {2: [50.0, 40.0, 60.0, 30.0, 35.0, 20.0], 4: [20.0, 22.0, 30.0, 18.0, 19.0, None]},
        index=seeded_runs.index,
    )
    table = median_curves(curves, recipe_labels(seeded_runs))
    assert table.loc["train.batch_size=32"].tolist() == [50.0, 22.0]
    assert table.loc["train.batch_size=16"].tolist() == [30.0, 18.5]  # a missing step skipped


def test_recipe_labels_name_what_differs_and_leave_out_the_seed(seeded_runs):
    assert (
        recipe_labels(seeded_runs).tolist()
        == ["train.batch_size=32"] * 3 + ["train.batch_size=16"] * 3
    )
    assert set(recipe_labels(seeded_runs[:3])) == {""}


def test_seed_groups_give_median_min_max_per_recipe_best_first(seeded_runs):
    table = seed_groups(seeded_runs, "evaluator.fid", "min", ["evaluator.inception_score"])
    assert list(table["train.batch_size"]) == ["16", "32"]  # median FID 19 before 22
    assert list(table["seeds"]) == [3, 3]
    assert list(table["evaluator.fid median"]) == [19.0, 22.0]
    assert list(table["evaluator.fid min"]) == [18.0, 20.0]
    assert list(table["evaluator.fid max"]) == [21.0, 30.0]
    assert list(table["evaluator.fid iqr"]) == [1.5, 5.0]  # as the recipe study's summarise
    assert list(table["evaluator.inception_score median"]) == [5.0, 4.2]
    best_is = seed_groups(seeded_runs, "evaluator.inception_score", "max", [])
    assert list(best_is["train.batch_size"]) == ["16", "32"]


def test_seed_groups_keep_apart_runs_that_differ_in_more_than_the_seed(seeded_runs):
    one_recipe = seed_groups(seeded_runs[:3], "evaluator.fid", "min", [])
    assert list(one_recipe.columns[:1]) == ["seeds"] and list(one_recipe["seeds"]) == [3]
    # The split's seed is not the GAN's: runs that differ in it are other recipes.
    split_seeds = seeded_runs.assign(**{"params.seed": ["42", "7"] * 3})
    table = seed_groups(split_seeds, "evaluator.fid", "min", [])
    assert sorted(table["seeds"]) == [1, 1, 2, 2]
    # Unless the user says that param only reseeds too.
    table = seed_groups(split_seeds, "evaluator.fid", "min", [], ["train.seed", "seed"])
    assert list(table["seeds"]) == [3, 3]


def test_main_reports_recipes_over_seeds(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("seeds")
    for batch, fids in [(32, [20.0, 22.0, 30.0]), (16, [18.0, 19.0, 21.0])]:
        for seed, fid in enumerate(fids, start=1):
            with mlflow.start_run():
                mlflow.log_params({"train.batch_size": batch, "train.seed": seed})
                mlflow.log_metric("evaluator.fid", fid)
    output = tmp_path / "compare.md"
    argv = ["--experiment", "seeds", "--tracking-uri", uri, "--output", str(output)]
    assert main(argv) == 0
    report = output.read_text()
    section = report[report.index("## Over seeds") :]
    assert "Runs that differ only in train.seed" in section
    assert "| 16 | 3 | 19 | 18 | 21 |" in section and "| 32 | 3 | 22 | 20 | 30 |" in section


def test_what_shapes_no_run_does_not_split_a_recipe(seeded_runs):
    """The gate, file paths and logging settings change no number; a key added to
    params.yaml after some runs (absent from them, one value where logged) ran as its
    value says. Neither splits the runs of one recipe."""
    later = seeded_runs.assign(
        **{
            "params.gate.max_fid_increase": ["0.1", "0.1", "0.35", "0.1", "0.1", "0.1"],
            "params.paths.report": [None, None, "reports/report.html", None, None, None],
            "params.evaluate.data_copying_cells": [None, None, "20", None, None, None],
        }
    )
    table = seed_groups(later, "evaluator.fid", "min", [])
    assert list(table["seeds"]) == [3, 3]
    assert recipe_labels(later).tolist() == recipe_labels(seeded_runs).tolist()
    # A param that takes two values where it was logged still tells recipes apart.
    later["params.evaluate.data_copying_cells"] = ["10", "20"] * 3
    assert sorted(seed_groups(later, "evaluator.fid", "min", [])["seeds"]) == [1, 1, 2, 2]


def test_a_studys_recipe_runs_are_not_ranked_among_runs():
    from gantrack.cli.compare import without_recipe_runs

    runs = pd.DataFrame(
        {
            "run_id": ["a", "parent", "b"],
            "tags.gantrack.study.parent": [None, "true", None],
            "metrics.evaluator.fid": [3.0, None, 4.0],
        }
    )
    assert list(without_recipe_runs(runs)["run_id"]) == ["a", "b"]
    plain = runs.drop(columns="tags.gantrack.study.parent")
    assert len(without_recipe_runs(plain)) == 3
