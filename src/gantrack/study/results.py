"""A study's results as plain data: each recipe's seeds, and recipes compared.

Pure: built from values already read out of the store (:func:`recipe_results` is fed by
the CLI), so the tables of the report, the recipe runs and ``compare`` come from the same
numbers and the same :mod:`gantrack.study.statistics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gantrack.metric_table import RECIPE_METRICS, direction
from gantrack.study.spec import BUDGET_KEYS, SEED_PARAM, Point, Study
from gantrack.study.statistics import (
    MIN_SEEDS_TO_RANK,
    SEEDS_TO_DECIDE,
    RecipeComparison,
    SeedSummary,
    compare_recipes,
    summarise,
)

RANKING_METRIC = "fid"


@dataclass(frozen=True)
class RecipeResult:
    """One point of a study over its seeds.

    ``values[metric][seed]`` for the complete seeds; ``failed[seed]`` the error of each
    failed seed; ``curves[seed]`` the in-training FID by generator step; ``machines[seed]``
    the CPU each complete seed ran on.
    """

    point: Point
    values: Mapping[str, Mapping[int, float]]
    failed: Mapping[int, str] = field(default_factory=dict)
    curves: Mapping[int, Mapping[int, float]] = field(default_factory=dict)
    run_ids: Mapping[int, str] = field(default_factory=dict)
    machines: Mapping[int, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.point.name

    @property
    def complete_seeds(self) -> list[int]:
        return sorted(self.values.get(RANKING_METRIC, {}))

    @property
    def missing_seeds(self) -> list[int]:
        done = set(self.complete_seeds) | set(self.failed)
        return [seed for seed in self.point.seeds if seed not in done]

    def seed_values(self, metric: str) -> list[float]:
        return list(self.values.get(metric, {}).values())

    def summary(self, metric: str) -> SeedSummary:
        return summarise(self.seed_values(metric))

    @property
    def ranked(self) -> bool:
        """Rankings never rest on one seed: at least MIN_SEEDS_TO_RANK complete ones, each
        with a finite value of the ranking metric (the store leaves a diverged seed out)."""
        return self.summary(RANKING_METRIC).count >= MIN_SEEDS_TO_RANK


def order(results: Sequence[RecipeResult], metric: str = RANKING_METRIC) -> list[RecipeResult]:
    """Ranked recipes best first by the median of ``metric``, then the unranked ones in
    the study's order."""
    sign = 1 if direction(metric) == "min" else -1
    ranked = sorted(
        (result for result in results if result.ranked),
        key=lambda result: sign * result.summary(metric).median,
    )
    return ranked + [result for result in results if not result.ranked]


def best(results: Sequence[RecipeResult], metric: str = RANKING_METRIC) -> RecipeResult | None:
    """The ranked recipe with the best median of ``metric`` (None if none is ranked)."""
    ranked = [result for result in order(results, metric) if result.ranked]
    return ranked[0] if ranked else None


def compare(
    result: RecipeResult, other: RecipeResult, metric: str, seed: int = 0
) -> RecipeComparison:
    """``result`` against ``other`` on ``metric`` over their complete seeds."""
    return compare_recipes(
        result.seed_values(metric), other.seed_values(metric), direction(metric), seed=seed
    )


def seeds_wanted(
    results: Sequence[RecipeResult],
    reference: RecipeResult,
    metric: str = RANKING_METRIC,
    enough: int = SEEDS_TO_DECIDE,
) -> list[RecipeResult]:
    """The recipes within reach of ``reference`` that have too few seeds to tell: each
    ranked recipe whose ``metric`` is indistinguishable from the reference's while either
    side has fewer than ``enough`` complete seeds; the reference too when it is short.

    These are the comparisons more seeds can still decide; a recipe already better or
    worse, or one not yet ranked (first give it :data:`MIN_SEEDS_TO_RANK`), is not listed.
    """
    close = [
        result
        for result in results
        if result is not reference
        and result.ranked
        and compare(result, reference, metric).verdict == "indistinguishable"
    ]
    sides = [reference, *close] if close else []
    return [result for result in sides if len(result.complete_seeds) < enough]


def comparisons(
    results: Sequence[RecipeResult], against: RecipeResult, metrics: Sequence[str] = RECIPE_METRICS
) -> dict[str, dict[str, RecipeComparison]]:
    """``{recipe: {metric: comparison with against}}`` for every recipe but ``against``."""
    return {
        result.name: {metric: compare(result, against, metric) for metric in metrics}
        for result in results
        if result.name != against.name
    }


def changed_params(study: Study, point: Point) -> dict[str, object]:
    """What sets ``point`` apart: its changes on top of the study's ``base`` (shown once,
    by :func:`base_params`), without the seed and the budget (a column of its own)."""
    return {
        key: value
        for key, value in point.changes.items()
        if not _is_budget_or_seed(key) and (key not in study.base or study.base[key] != value)
    }


def base_params(study: Study) -> dict[str, object]:
    """The changes to params.yaml that the study file gives every point (budget aside)."""
    return {key: value for key, value in study.base.items() if not _is_budget_or_seed(key)}


def _is_budget_or_seed(key: str) -> bool:
    return key == SEED_PARAM or key in {f"train.{name}" for name in BUDGET_KEYS}


def budget_text(point: Point) -> str:
    """``3,000 steps``: the budget a point ran at."""
    for key in BUDGET_KEYS:
        value = point.changes.get(f"train.{key}")
        if value is not None:
            return f"{value:,} {key}"
    return "params.yaml's length"


def curve_band(result: RecipeResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, median, min, max)`` of the in-training FID over seeds, at the steps every
    complete seed logged (a seed that lacks a step leaves that step out of the band)."""
    curves = [result.curves[seed] for seed in result.complete_seeds if result.curves.get(seed)]
    if not curves:
        empty = np.array([])
        return empty, empty, empty, empty
    steps = sorted(set.intersection(*(set(curve) for curve in curves)))
    table = np.array([[curve[step] for step in steps] for curve in curves], dtype=float)
    return (
        np.array(steps),
        np.median(table, axis=0),
        table.min(axis=0),
        table.max(axis=0),
    )


def error_summary(log: str) -> str:
    """The most specific line of a failure log: the last error that is not DVC's generic
    "failed to reproduce" (which names only the stage)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    specific = [line for line in lines if "failed to reproduce" not in line]
    return ((specific or lines or ["no log"])[-1])[:300]
