"""``python -m gantrack compare``: runs ranked by a metric, for people who skip the MLflow UI.

Reads runs with ``mlflow.search_runs`` into pandas, ranks them best first by one metric,
and writes a Markdown report (``reports/compare.md``) with a table of the swept params and
the key metrics, beside two kinds of plot: a metric's history over epochs for each run
(``eval.fid``, the in-training FID, by default), and the ranking metric against each swept
param. The table and plot data come from pure functions of the runs' DataFrame; searching
and drawing are the edges.

Runs whose stages DVC reused carry copies of those stages' metrics and curves (see
:mod:`gantrack.tracking.lineage`), so every complete run has a row and a curve.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

DEFAULT_METRIC = "evaluator.fid"
DEFAULT_CURVE = "eval.fid"
# Metrics shown in the table when a run has them, after the ranking metric.
KEY_METRICS = (
    "evaluator.fid",
    "evaluator.fid_ci_low",
    "evaluator.fid_ci_high",
    "evaluator.inception_score",
    "evaluator.kid",
    "evaluator.precision",
    "evaluator.recall",
    "evaluator.classes_covered",
    "best_fid",
    "best_epoch",
)
# Which way is better, by the metric's last name part (`evaluator.fid` -> `fid`).
LOWER_IS_BETTER = frozenset(
    {"fid", "fid_ci_low", "fid_ci_high", "kid", "class_kl", "best_fid", "d_loss", "g_loss"}
    | {"loss", "test_loss", "fid_train_test"}
)
HIGHER_IS_BETTER = frozenset(
    {"inception_score", "precision", "recall", "density", "coverage", "classes_covered"}
    | {"accuracy", "test_accuracy", "real_inception_score"}
)
DIRECTIONS = ("min", "max")
MAX_PARAM_PLOTS = 4


def metric_direction(metric: str) -> str:
    """``"min"`` if lower values of ``metric`` are better, ``"max"`` if higher are.

    Raises ``ValueError`` for a metric whose direction is not known: pass it explicitly.
    """
    name = metric.rsplit(".", 1)[-1]
    if name in LOWER_IS_BETTER:
        return "min"
    if name in HIGHER_IS_BETTER:
        return "max"
    known = ", ".join(sorted(LOWER_IS_BETTER | HIGHER_IS_BETTER))
    raise ValueError(
        f"which way is better for {metric!r} is not known (known: {known}); "
        "give --direction min or --direction max"
    )


def select_dvc_experiments(runs: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The runs of the named DVC experiments (tag ``dvc.experiment``); all runs if no names."""
    if not names:
        return runs
    column = runs.get("tags.dvc.experiment", pd.Series(index=runs.index, dtype=object))
    return runs[column.isin(list(names))]


def swept_params(runs: pd.DataFrame) -> list[str]:
    """Params (dotted names) that take more than one value among ``runs``, sorted."""
    names = []
    for column in runs.columns:
        if column.startswith("params.") and runs[column].nunique(dropna=False) > 1:
            names.append(column.removeprefix("params."))
    return sorted(names)


def rank_runs(runs: pd.DataFrame, metric: str, direction: str) -> pd.DataFrame:
    """``runs`` best first by ``metrics.<metric>``; runs without it last, in their order."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    column = f"metrics.{metric}"
    if column not in runs.columns:
        logged = sorted(
            name.removeprefix("metrics.") for name in runs if name.startswith("metrics.")
        )
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
    table = pd.DataFrame(
        {
            "rank": range(1, len(ranked) + 1),
            "run": run_labels(ranked).to_numpy(),
            "run id": ranked["run_id"].astype(str).str[:8],
        }
    )
    for name in params:
        if f"params.{name}" in ranked.columns:
            table[name] = ranked[f"params.{name}"].to_numpy()
    for name in dict.fromkeys([metric, *metrics]):  # ordered, without duplicates
        if f"metrics.{name}" in ranked.columns:
            table[name] = ranked[f"metrics.{name}"].to_numpy()
    return table


def format_cell(value) -> str:
    """Numbers to 4 significant digits, whole numbers as integers, missing as empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``table`` (no extra dependency)."""
    header = "| " + " | ".join(str(column) for column in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = [
        "| " + " | ".join(format_cell(value) for value in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def metric_against_param(ranked: pd.DataFrame, metric: str, param: str) -> pd.DataFrame:
    """Columns ``param``, ``metric``, ``run`` for runs that have both, sorted by the param.

    Numeric params (all values parse as numbers) are converted and sorted numerically;
    others stay strings, sorted as text.
    """
    data = pd.DataFrame(
        {
            param: ranked[f"params.{param}"].to_numpy(),
            metric: ranked[f"metrics.{metric}"].to_numpy(),
            "run": run_labels(ranked).to_numpy(),
        }
    ).dropna(subset=[param, metric])
    numbers = pd.to_numeric(data[param], errors="coerce")
    if numbers.notna().all():
        data[param] = numbers
    return data.sort_values(param, kind="stable").reset_index(drop=True)


def render_report(
    table: pd.DataFrame,
    metric: str,
    direction: str,
    selection: str,
    images: Mapping[str, str],
) -> str:
    """The Markdown report: what was selected, the ranked table, then each plot."""
    better = "lower" if direction == "min" else "higher"
    lines = [
        "# Run comparison",
        "",
        f"{len(table)} runs ({selection}), best first by `{metric}` ({better} is better).",
        "",
        markdown_table(table),
    ]
    for title, image in images.items():
        lines += ["", f"## {title}", "", f"![{title}]({image})"]
    return "\n".join(lines) + "\n"


# ---- edges: MLflow and files ----


def search_runs(
    tracking_uri: str, experiments: Sequence[str], filter_string: str, include_unfinished: bool
) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    clauses = [] if include_unfinished else ["attributes.status = 'FINISHED'"]
    if filter_string:  # MLflow's search strings join clauses with AND only
        clauses.append(filter_string)
    return mlflow.search_runs(
        experiment_names=list(experiments),
        filter_string=" and ".join(clauses),
        output_format="pandas",
    )


def metric_histories(run_ids: Sequence[str], key: str) -> dict[str, list[tuple[int, float]]]:
    """``{run id: [(step, value), ...]}`` for runs that logged ``key``."""
    from mlflow import MlflowClient

    client = MlflowClient()
    histories = {}
    for run_id in run_ids:
        points = sorted(
            (point.step, point.value) for point in client.get_metric_history(run_id, key)
        )
        if points:
            histories[run_id] = points
    return histories


def plot_curves(
    histories: Mapping[str, list[tuple[int, float]]],
    labels: Mapping[str, str],
    key: str,
    path: Path,
) -> None:
    figure, axes = _figure()
    for run_id, points in histories.items():
        steps, values = zip(*points, strict=True)
        axes.plot(steps, values, marker="o", label=labels.get(run_id, run_id[:8]))
    axes.set_xlabel("epoch")
    axes.set_ylabel(key)
    axes.legend(fontsize="small")
    _save_figure(figure, path)


def plot_metric_against_param(data: pd.DataFrame, metric: str, param: str, path: Path) -> None:
    figure, axes = _figure()
    numeric = pd.api.types.is_numeric_dtype(data[param])
    positions = data[param] if numeric else list(range(len(data)))
    axes.plot(positions, data[metric], marker="o", linestyle="-" if numeric else "none")
    if not numeric:
        axes.set_xticks(positions, [str(value) for value in data[param]])
    for x, y, run in zip(positions, data[metric], data["run"], strict=True):
        axes.annotate(run, (x, y), fontsize="x-small", textcoords="offset points", xytext=(3, 3))
    axes.set_xlabel(param)
    axes.set_ylabel(metric)
    _save_figure(figure, path)


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=100)
    axes.grid(alpha=0.3)
    return figure, axes


def _save_figure(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    from gantrack.io import atomic_path

    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary)
    plt.close(figure)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack compare",
        description="Rank MLflow runs by a metric; write a Markdown report with plots.",
    )
    parser.add_argument("--metric", default=DEFAULT_METRIC, help="rank by this metric")
    parser.add_argument(
        "--direction", choices=DIRECTIONS, help="min: lower is better (default: by the metric)"
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
    parser.add_argument("--curve", default=DEFAULT_CURVE, help="metric history to plot per run")
    parser.add_argument("--top", type=int, default=20, help="at most this many runs (best first)")
    parser.add_argument("--include-unfinished", action="store_true", help="also failed/running")
    parser.add_argument("--output", type=Path, default=Path("reports/compare.md"))
    parser.add_argument(
        "--tracking-uri",
        help="default: $MLFLOW_TRACKING_URI, else sqlite:///<current directory>/mlflow.db",
    )
    return parser


def main(argv: list[str]) -> int:
    from gantrack.cli import tracking_context

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
    images = write_plots(ranked, arguments, params)
    selection = f"experiments {', '.join(experiments)}"
    if arguments.dvc_exp:
        selection += f"; DVC experiments {', '.join(arguments.dvc_exp)}"
    if arguments.filter:
        selection += f"; filter `{arguments.filter}`"
    report = render_report(table, arguments.metric, direction, selection, images)
    from gantrack.io import atomic_path

    with atomic_path(arguments.output) as temporary:
        temporary.write_text(report, encoding="utf-8")
    print(f"wrote {arguments.output} ({len(table)} runs, {len(images)} plots)")
    return 0


def write_plots(ranked: pd.DataFrame, arguments, params: Sequence[str]) -> dict[str, str]:
    """Draw the plots next to the report; ``{title: file name relative to the report}``."""
    folder, stem = arguments.output.parent, arguments.output.stem
    labels = dict(zip(ranked["run_id"], run_labels(ranked), strict=True))
    images = {}
    histories = metric_histories(list(ranked["run_id"]), arguments.curve)
    if histories:
        name = f"{stem}_{arguments.curve}.png"
        plot_curves(histories, labels, arguments.curve, folder / name)
        images[f"{arguments.curve} over epochs"] = name
    for param in [name for name in params if f"params.{name}" in ranked][:MAX_PARAM_PLOTS]:
        data = metric_against_param(ranked, arguments.metric, param)
        if len(data) >= 1:
            name = f"{stem}_{arguments.metric}_vs_{param}.png"
            plot_metric_against_param(data, arguments.metric, param, folder / name)
            images[f"{arguments.metric} against {param}"] = name
    return images
