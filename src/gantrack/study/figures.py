"""A study's pictures, as PNG bytes: seeds over boxes, and quality against budget.

Matplotlib's object interface (no pyplot state), as the run report's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

import numpy as np
from matplotlib.figure import Figure

from gantrack.metric_table import metric
from gantrack.study.results import RecipeResult, curve_band

JITTER = 0.12
# A seed that collapsed (FID 260 beside recipes at 2 to 10) squeezes every other box into a
# line on a linear axis: above this ratio of the largest to the smallest value, log scale.
LOG_SCALE_SPAN = 20.0


def figure_png(figure: Figure) -> bytes:
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def wants_log_scale(values: Sequence[float], span: float = LOG_SCALE_SPAN) -> bool:
    """Whether the finite ``values`` are all positive and the largest is more than ``span``
    times the smallest (a log axis cannot show 0 or a negative KID estimate)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return bool(finite.size) and bool(finite.min() > 0) and finite.max() > span * finite.min()


def seed_boxes(results: Sequence[RecipeResult], name: str, reference: str) -> bytes:
    """One row per recipe (in ``results``' order): a box of ``name`` over its seeds with
    every seed drawn as a point on it; the reference recipe's median as a dashed line. The
    axis is logarithmic when the values span more than :data:`LOG_SCALE_SPAN`."""
    entry = metric(name)
    figure = Figure(figsize=(7.5, 0.42 * len(results) + 1.2))
    axes = figure.add_subplot()
    rng = np.random.default_rng(0)  # the jitter only: the same picture every time
    positions = np.arange(len(results))[::-1]
    for position, result in zip(positions, results, strict=True):
        values = np.asarray(result.seed_values(name), dtype=float)
        if values.size:
            axes.boxplot(
                values,
                positions=[position],
                orientation="horizontal",
                widths=0.6,
                showfliers=False,
                medianprops={"color": "black"},
            )
            jitter = rng.uniform(-JITTER, JITTER, values.size)
            axes.plot(values, position + jitter, "o", color="tab:blue", alpha=0.8, ms=4)
        if result.failed:
            axes.annotate(
                f"{len(result.failed)} failed",
                (1.0, position),
                xycoords=("axes fraction", "data"),
                fontsize="x-small",
                color="tab:red",
                ha="right",
                va="center",
            )
        if result.name == reference and values.size:
            axes.axvline(np.median(values), color="grey", linestyle="--", linewidth=1)
    labels = [f"{result.name} ({len(result.complete_seeds)})" for result in results]
    axes.set_yticks(positions, labels, fontsize="small")
    better = f" ({entry.better} is better)" if entry.better else ""
    scale = ""
    if wants_log_scale([value for result in results for value in result.seed_values(name)]):
        axes.set_xscale("log")
        scale = ", log scale"
    axes.set_xlabel(f"{entry.label} over seeds{better}{scale}; dashed: {reference}'s median")
    axes.grid(axis="x", which="both", alpha=0.3)
    return figure_png(figure)


def budget_curves(results: Sequence[RecipeResult], reference: RecipeResult | None) -> bytes:
    """Small multiples, one panel per recipe: the in-training FID against generator steps,
    the median over seeds as a line in its min–max band; the reference's median in grey."""
    columns = 4
    rows = max(1, -(-len(results) // columns))
    figure = Figure(figsize=(3.2 * columns, 2.4 * rows))
    axes_list = figure.subplots(rows, columns, sharey=True, squeeze=False).ravel()
    reference_band = curve_band(reference) if reference is not None else None
    for axes, result in zip(axes_list, results, strict=False):
        steps, median, low, high = curve_band(result)
        if reference_band is not None and reference_band[0].size and result is not reference:
            axes.plot(reference_band[0], reference_band[1], color="grey", linewidth=1)
        if steps.size:
            axes.fill_between(steps, low, high, alpha=0.3, color="tab:blue", linewidth=0)
            axes.plot(steps, median, color="tab:blue", marker="o", ms=3)
        axes.set_title(f"{result.name} ({len(result.complete_seeds)} seeds)", fontsize="small")
        axes.set_yscale("log")
        axes.grid(alpha=0.3)
        axes.tick_params(labelsize="x-small")
    for axes in axes_list[len(results) :]:
        axes.set_visible(False)
    figure.supxlabel("generator steps")
    figure.supylabel("in-training FID (evaluator, log scale)")
    figure.tight_layout()
    return figure_png(figure)
