"""``python -m gantrack compare``: runs ranked by a metric, for people who skip the MLflow UI.

Reads runs with ``mlflow.search_runs`` into pandas, ranks them best first by one metric,
and writes a Markdown report (``reports/compare.md``) with a table of the swept params and
the key metrics; runs that differ only in the GAN's seed are also grouped, with the
median, min, max and IQR over the seeds of each recipe (:func:`gantrack.study.statistics.summarise`,
as the recipe study). Which way each metric is better, and which lead the table, come
from :mod:`gantrack.metric_table`. Beside them, two kinds of plot: a
metric's history over epochs for each run (``eval.fid``, the in-training FID, by
default), and the ranking metric against each swept param. The table and plot data come
from pure functions of the runs' DataFrame; searching and drawing are the edges.

Runs whose stages DVC reused carry copies of those stages' metrics and curves (see
:mod:`gantrack.tracking.lineage`), so every complete run has a row and a curve.
"""

from __future__ import annotations

import argparse
import ast
import math
import re
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from gantrack import metric_table
from gantrack.study.spec import shapes_runs
from gantrack.study.statistics import summarise
from gantrack.study.store import PARENT_TAG

# Metrics shown in the table when a run has them, after the ranking metric: the evaluator's
# headline (each with its interval), then training's.
KEY_METRICS = [
    f"evaluator.{name}"
    for headline in metric_table.HEADLINE
    for name in (headline, *(metric_table.metric(headline).interval or ()))
] + ["best_fid", "best_epoch", "training_seconds"]
# What a recipe's column gives over its seeds: keys of SeedSummary.as_dict().
SEED_STATISTICS = ("median", "min", "max", "iqr")
MAX_PARAM_PLOTS = 4
# The GAN's seed: runs whose params differ only here are one recipe measured several times.
SEED_PARAMS = ("train.seed",)
SEED_METRICS = (
    "evaluator.inception_score",
    "evaluator.kid",
    "evaluator.smallest_class_share",
    "evaluator.largest_class_share",
    "training_seconds",
)


def metric_direction(name: str) -> str:
    """``"min"`` if lower values of metric ``name`` are better, ``"max"`` if higher are
    (:func:`gantrack.metric_table.direction`, by the name's last dotted part).

    Raises ``ValueError`` for a metric not in the table or with no better side: pass the
    direction explicitly.
    """
    try:
        return metric_table.direction(name)
    except ValueError as error:
        raise ValueError(f"{error}; give --direction min or --direction max") from None


def select_dvc_experiments(runs: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The runs of the named DVC experiments (tag ``dvc.experiment``); all runs if no names."""
    if not names:
        return runs
    column = runs.get("tags.dvc.experiment", pd.Series(index=runs.index, dtype=object))
    return runs[column.isin(list(names))]


def swept_params(runs: pd.DataFrame) -> list[str]:
    """Params (dotted names) that tell ``runs`` apart, the seed included, sorted (what
    :func:`recipe_columns` leaves out, which shapes no number, is left out here too)."""
    return sorted(column[len("params.") :] for column in recipe_columns(runs, seed_params=()))


def rank_runs(runs: pd.DataFrame, metric: str, direction: str) -> pd.DataFrame:
    """``runs`` best first by ``metrics.<metric>``; runs without it last, in their order."""
    if direction not in ("min", "max"):
        raise ValueError(f"direction must be 'min' or 'max', got {direction!r}")
    column = f"metrics.{metric}"
    if column not in runs.columns:
        logged = sorted(runs.filter(regex=r"^metrics\.").columns.str.removeprefix("metrics."))
        raise ValueError(f"no run has the metric {metric!r}; the runs have: {logged}")
    return runs.sort_values(
        column, ascending=direction == "min", na_position="last", kind="stable"
    ).reset_index(drop=True)


def run_labels(runs: pd.DataFrame) -> pd.Series:
    """Runs' names in tables and legends: the DVC experiment, else the MLflow name, else id."""
    labels = runs["run_id"].astype(str).str[:8]
    for key in ("tags.mlflow.runName", "tags.dvc.experiment"):  # the last one set wins
        if key in runs:
            labels = runs[key].mask(runs[key] == "").fillna(labels)
    return labels


def comparison_table(
    ranked: pd.DataFrame, metric: str, params: Sequence[str], metrics: Sequence[str]
) -> pd.DataFrame:
    """One row per run (in ``ranked``'s order): rank, run, run id, params, then metrics.

    The ranking metric comes first among the metrics; a param or metric that no run has
    is left out; a run without a value shows an empty cell (NaN).
    """
    # column in the runs -> its name in the table; a dict keeps the first of duplicates
    names = {f"params.{name}": name for name in params}
    names |= {f"metrics.{name}": name for name in [metric, *metrics]}
    table = ranked[[column for column in names if column in ranked]].rename(columns=names)
    table.insert(0, "run id", ranked["run_id"].astype(str).str[:8])
    table.insert(0, "run", run_labels(ranked))
    table.insert(0, "rank", range(1, len(ranked) + 1))
    return table.reset_index(drop=True)


def override_value(text: str) -> str:
    """An MLflow param (``str()`` of a params.yaml value) as DVC's ``-S`` takes it (YAML):
    ``"True"`` -> ``true``, ``"None"`` -> ``null``, ``"['cutout']"`` -> ``[cutout]``."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a plain string (a path, a name)
    return _yaml_flow(value)


def _yaml_flow(value) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, list | tuple):
        return "[" + ",".join(_yaml_flow(item) for item in value) + "]"
    return str(value)


def reproducing_command(run: pd.Series, current: Mapping[str, Any]) -> str:
    """The ``dvc exp run -S ...`` that turns ``current`` (this checkout's params, flattened)
    into the params of ``run`` (a row of the runs' DataFrame). Keys one side lacks (a param
    added since the run) are left out; NaN means the run did not log that param.

    Each ``key=value`` is quoted by :func:`shlex.quote`: param values come from run data,
    which anyone who can log to the store writes, and a pasted command must pass a value
    like ``hinge'; touch X; echo '`` as one argument, never run it."""
    changes = []
    for column, text in sorted(run.filter(regex=r"^params\.").items()):
        key = column[7:]
        if key not in current or not isinstance(text, str) or not shapes_runs(key):
            continue
        value = override_value(text)
        if value != _yaml_flow(current[key]):
            changes += ["-S", shlex.quote(f"{key}={value}")]
    return " ".join(["dvc exp run", *changes])


def format_cell(value) -> str:
    """Numbers to 4 significant digits, whole numbers as integers, missing as empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``table`` (no extra dependency)."""
    lines = [
        "| " + " | ".join(map(str, table.columns)) + " |",
        "|" + "|".join(["---"] * len(table.columns)) + "|",
    ]
    lines += [
        "| " + " | ".join(map(format_cell, row)) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines)


def metric_against_param(ranked: pd.DataFrame, metric: str, param: str) -> pd.DataFrame:
    """Columns ``param``, ``metric``, ``run`` for runs that have both, sorted by the param.

    Numeric params (all values parse as numbers) are converted and sorted numerically;
    others stay strings, sorted as text.
    """
    data = ranked[[f"params.{param}", f"metrics.{metric}"]].set_axis([param, metric], axis=1)
    data = data.assign(run=run_labels(ranked)).dropna(subset=[param, metric])
    numbers = pd.to_numeric(data[param], errors="coerce")
    if numbers.notna().all():
        data[param] = numbers
    return data.sort_values(param, kind="stable").reset_index(drop=True)


def recipe_columns(runs: pd.DataFrame, seed_params: Sequence[str] = SEED_PARAMS) -> list[str]:
    """The ``params.*`` columns that tell recipes apart: those that differ between runs,
    less the seed params (runs that differ only in those are one recipe), the params that
    shape no run's numbers (:func:`gantrack.study.spec.shapes_runs`), and a param with one
    value wherever it was logged: a key added to ``params.yaml`` after the other runs, which
    ran with what it now makes explicit (that holds for gantrack's own additions; say so in
    a param's comment when it does not)."""
    seeds = {f"params.{name}" for name in seed_params}
    return [
        column
        for column in runs.filter(regex=r"^params\.").columns
        if column not in seeds
        and shapes_runs(column[len("params.") :])
        and runs[column].nunique(dropna=True) > 1
    ]


def recipe_labels(runs: pd.DataFrame, seed_params: Sequence[str] = SEED_PARAMS) -> pd.Series:
    """Each run's recipe as text, ``"train.batch_size=16, train.ema_decay=None"`` ("" when
    no param differs)."""
    columns = recipe_columns(runs, seed_params)
    parts = [column[7:] + "=" + runs[column].fillna("").astype(str) for column in columns]
    if not parts:
        return pd.Series("", index=runs.index, name="recipe")
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + ", " + part
    return labels.rename("recipe")


def seed_groups(
    runs: pd.DataFrame,
    metric: str,
    direction: str,
    metrics: Sequence[str],
    seed_params: Sequence[str] = SEED_PARAMS,
) -> pd.DataFrame:
    """One row per recipe: the runs whose params differ only in ``seed_params``.

    Columns: the params that differ between recipes, ``seeds`` (how many runs), then for
    the ranking metric and each of ``metrics`` the median, min, max and interquartile range
    over the seeds' finite values (``<metric> median`` ...), computed as the recipe study
    does (:func:`gantrack.study.statistics.summarise`). Rows best first by the ranking
    metric's median. A single GAN run proves little: the spread between seeds is the noise
    any comparison must beat.
    """
    recipe = recipe_columns(runs, seed_params)
    # Group keys as text (a missing param is its own value), named as in the table.
    keys = [runs[column].fillna("").astype(str).rename(column[7:]) for column in recipe]
    everything = pd.Series("", index=runs.index, name="recipe")  # no recipe differs: one group
    columns = [c for c in dict.fromkeys(f"metrics.{m}" for m in [metric, *metrics]) if c in runs]
    grouped = runs.groupby(keys or [everything], sort=False)
    table = grouped[columns].apply(_over_seeds)
    table.insert(0, "seeds", grouped.size())
    ascending = direction == "min"
    table = table.sort_values(f"{metric} median", ascending=ascending, kind="stable")
    table = table.reset_index()
    return table if keys else table.drop(columns="recipe")


def _over_seeds(recipe_runs: pd.DataFrame) -> pd.Series:
    """One recipe's ``metrics.*`` columns summarised: ``<metric> <statistic>`` values."""
    cells = {}
    for column in recipe_runs.columns:
        summary = summarise(recipe_runs[column].to_numpy(dtype=float)).as_dict()
        name = column[len("metrics.") :]
        cells |= {f"{name} {statistic}": summary[statistic] for statistic in SEED_STATISTICS}
    return pd.Series(cells, dtype=float)


def median_curves(curves: pd.DataFrame, recipes: pd.Series) -> pd.DataFrame:
    """A metric's history per recipe: rows recipes, columns steps, cells the median over
    the recipe's seeds. ``curves`` has one row per run (indexed as ``recipes``), one column
    per step; a step that a run did not log is left out of that run's median.

    With the in-training FID every few epochs this is quality against training time at
    every budget the runs passed through, not just their last one.
    """
    return curves.groupby(recipes.loc[curves.index]).median()


# ---- edges: MLflow and files ----


@contextmanager
def _figure(path: Path) -> Iterator:
    """Axes to draw on; the figure is saved to ``path`` when the block ends."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    from gantrack.io import atomic_path

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=100)
    axes.grid(alpha=0.3)
    yield axes
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary)
    plt.close(figure)


def write_plots(
    ranked: pd.DataFrame, arguments, params: Sequence[str], histories: pd.DataFrame
) -> dict[str, str]:
    """Draw the plots next to the report; ``{title: file name relative to the report}``.

    ``histories`` is :func:`metric_histories` of ``arguments.curve`` (rows run ids)."""
    folder, stem, metric = arguments.output.parent, arguments.output.stem, arguments.metric
    labels = run_labels(ranked)
    images = {}
    curves = [  # the ranked runs that logged the curve, with their points by step
        (label, histories.loc[run_id].dropna())
        for run_id, label in zip(ranked["run_id"], labels, strict=True)
        if run_id in histories.index
    ]
    if curves:
        name = f"{stem}_{arguments.curve}.png"
        with _figure(folder / name) as axes:
            for label, points in curves:
                axes.plot(points.index, points.to_numpy(), marker="o", label=label)
            axes.set_xlabel("epoch")
            axes.set_ylabel(arguments.curve)
            axes.legend(fontsize="small")
        images[f"{arguments.curve} over epochs"] = name
    for param in [name for name in params if f"params.{name}" in ranked][:MAX_PARAM_PLOTS]:
        data = metric_against_param(ranked, metric, param)
        if data.empty:
            continue
        name = f"{stem}_{metric}_vs_{param}.png"
        with _figure(folder / name) as axes:
            numeric = pd.api.types.is_numeric_dtype(data[param])
            positions = data[param] if numeric else list(range(len(data)))
            axes.plot(positions, data[metric], marker="o", linestyle="-" if numeric else "none")
            if not numeric:
                axes.set_xticks(positions, [str(value) for value in data[param]])
            for x, y, run in zip(positions, data[metric], data["run"], strict=True):
                axes.annotate(
                    run, (x, y), fontsize="x-small", textcoords="offset points", xytext=(3, 3)
                )
            axes.set_xlabel(param)
            axes.set_ylabel(metric)
        images[f"{metric} against {param}"] = name
    return images


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack compare",
        description="Rank MLflow runs by a metric; write a Markdown report with plots.",
    )
    parser.add_argument("--metric", default="evaluator.fid", help="rank by this metric")
    parser.add_argument(
        "--direction", choices=("min", "max"), help="min: lower is better (default: by the metric)"
    )
    parser.add_argument(
        "--experiment",
        action="append",
        help="MLflow experiment name (repeatable; default $MLFLOW_EXPERIMENT_NAME, else gantrack)",
    )
    parser.add_argument(
        "--dvc-exp", action="append", default=[], help="only these DVC experiments (repeatable)"
    )
    parser.add_argument(
        "--filter",
        default="",
        help="MLflow search string, e.g. \"params.`train.loss` = 'minimax'\"",
    )
    parser.add_argument(
        "--param", action="append", default=[], help="plot the metric against it (default: swept)"
    )
    parser.add_argument("--curve", default="eval.fid", help="metric history to plot per run")
    parser.add_argument("--top", type=int, default=20, help="at most this many runs (best first)")
    parser.add_argument("--include-unfinished", action="store_true", help="also failed/running")
    parser.add_argument("--output", type=Path, default=Path("reports/compare.md"))
    parser.add_argument(
        "--tracking-uri",
        help="default: $MLFLOW_TRACKING_URI, else sqlite:///<current directory>/mlflow.db",
    )
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="write each run's `dvc exp run -S ...` from these params (default params.yaml)",
    )
    parser.add_argument(
        "--seed-param",
        action="append",
        help="a param that only reseeds a recipe (repeatable; default train.seed): runs that "
        "differ only in these are grouped, with median, min, max and IQR per recipe",
    )
    return parser


def main(argv: list[str]) -> int:
    from gantrack.cli import tracking_context
    from gantrack.config import flatten_params, load_params
    from gantrack.io import atomic_path

    arguments = build_parser().parse_args(argv)
    try:
        direction = arguments.direction or metric_direction(arguments.metric)
    except ValueError as error:
        print(f"compare: error: {error}", file=sys.stderr)
        return 2
    context = tracking_context()
    tracking_uri = arguments.tracking_uri or context.tracking_uri
    experiments = arguments.experiment or [context.experiment_name]
    runs = search_runs(tracking_uri, experiments, arguments.filter, arguments.include_unfinished)
    runs = select_dvc_experiments(runs, arguments.dvc_exp)
    if runs.empty:
        print(
            f"compare: no runs in {tracking_uri} match (experiments {experiments})", file=sys.stderr
        )
        return 1
    try:
        ranked = rank_runs(runs, arguments.metric, direction).head(arguments.top)
    except ValueError as error:
        print(f"compare: error: {error}", file=sys.stderr)
        return 2
    params = arguments.param or swept_params(ranked)
    table = comparison_table(ranked, arguments.metric, params, KEY_METRICS)
    histories = metric_histories(runs, arguments.curve)  # one fetch: plots and medians
    images = write_plots(ranked, arguments, params, histories)
    seed_params = arguments.seed_param or SEED_PARAMS
    recipes = seed_groups(runs, arguments.metric, direction, SEED_METRICS, seed_params)
    recipes_by_run = recipe_labels(runs, seed_params).set_axis(runs["run_id"])
    curves = median_curves(histories, recipes_by_run)
    commands = None
    if arguments.params.exists():
        current = flatten_params(load_params(arguments.params))
        commands = {
            label: reproducing_command(run, current)
            for label, (_, run) in zip(run_labels(ranked), ranked.iterrows(), strict=True)
        }
    with atomic_path(arguments.output) as temporary:
        report = render_report(
            table, recipes, seed_params, images, experiments, arguments, direction, curves
        )
        if commands:
            report += commands_section(commands, arguments.params)
        temporary.write_text(report, encoding="utf-8")
    print(f"wrote {arguments.output} ({len(table)} runs, {len(images)} plots)")
    return 0


def metric_histories(runs: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per run that logged ``key`` (index: run id), one column per step (sorted)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    rows = {
        run_id: {point.step: point.value for point in points}
        for run_id in runs["run_id"]
        if (points := client.get_metric_history(run_id, key))
    }
    return pd.DataFrame.from_dict(rows, orient="index").sort_index(axis=1)


def search_runs(
    tracking_uri: str, experiments: list[str], filter_string: str, include_unfinished: bool
) -> pd.DataFrame:
    """The runs of ``experiments`` in the store, finished ones only unless asked; a recipe
    study's parent runs (each recipe's summary over its seeds) are not runs to rank."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    clauses = [] if include_unfinished else ["attributes.status = 'FINISHED'"]
    if filter_string:  # MLflow's search strings join clauses with AND only
        clauses.append(filter_string)
    runs = mlflow.search_runs(experiment_names=experiments, filter_string=" and ".join(clauses))
    return without_recipe_runs(runs)


def without_recipe_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` less the study's parent runs (tag ``gantrack.study.parent``)."""
    column = f"tags.{PARENT_TAG}"
    if column not in runs:
        return runs
    return runs[runs[column] != "true"].reset_index(drop=True)


def commands_section(commands: Mapping[str, str], params_file: Path) -> str:
    """Markdown: each run and the command that reruns it from ``params_file``'s params."""
    lines = [
        "",
        "## Commands",
        "",
        f"Each run as a `dvc exp run` from this checkout's `{params_file}` (params it did "
        "not log, added since, keep their values here):",
        "",
        "| run | command |",
        "|---|---|",
        *(f"| {run} | {markdown_code(command)} |" for run, command in commands.items()),
    ]
    return "\n".join(lines) + "\n"


def markdown_code(text: str) -> str:
    """``text`` as a code span in a table cell, unchanged when copied from the page.

    The fence is one backtick longer than the longest run inside, and a ``|`` is escaped
    (GitHub's tables split cells at a bare one, even inside code).
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if longest else ""
    escaped = text.replace("|", "\\|")
    return f"{fence}{padding}{escaped}{padding}{fence}"


def render_report(
    table: pd.DataFrame,
    recipes: pd.DataFrame,
    seed_params: Sequence[str],
    images: dict[str, str],
    experiments: list[str],
    arguments: argparse.Namespace,
    direction: str,
    curves: pd.DataFrame | None = None,
) -> str:
    """The Markdown report: what was compared, the table, the recipes over seeds and
    their median curves, then one section per plot."""
    selection = f"experiments {', '.join(experiments)}"
    if arguments.dvc_exp:
        selection += f"; DVC experiments {', '.join(arguments.dvc_exp)}"
    if arguments.filter:
        selection += f"; filter `{arguments.filter}`"
    metric, better = arguments.metric, "lower" if direction == "min" else "higher"
    lines = [
        "# Run comparison",
        "",
        f"{len(table)} runs ({selection}), best first by `{metric}` ({better} is better).",
        "",
        markdown_table(table),
    ]
    if (recipes["seeds"] > 1).any():  # a recipe measured over several seeds
        seeds = ", ".join(seed_params)
        lines += [
            "",
            "## Over seeds",
            "",
            f"Runs that differ only in {seeds}, grouped: median, min, max and interquartile "
            "range (IQR) over the seeds.",
            "",
            markdown_table(recipes),
        ]
    if curves is not None and not curves.empty and len(curves) > 1:
        steps = curves.rename(columns=lambda step: f"{arguments.curve} @ {step}")
        lines += [
            "",
            f"## `{arguments.curve}` by step, median over seeds",
            "",
            "Each recipe's history at every step it logged: the metric against training "
            "time (step = epoch), for every budget its runs passed through.",
            "",
            markdown_table(steps.reset_index()),
        ]
    for title, image in images.items():
        lines += ["", f"## {title}", "", f"![{title}]({image})"]
    return "\n".join(lines) + "\n"
