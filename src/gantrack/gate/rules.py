"""The quality gate's rule: is the candidate recipe worse than the base, over seeds?

Pure: two :class:`~gantrack.gate.seed_sets.SeedSet` in, a :class:`GateResult` out.

One GAN run says little (the default's seeds spread its FID by a factor of two or more),
so the gate compares *seed sets*: the candidate trained on k seeds against the base's
recorded seeds. For each metric in ``gate.metrics``, a one-sided Mann–Whitney U test asks
whether the candidate's seeds tend to land on the worse side of the base's; the
p-values are adjusted across the metrics by Holm's step-down method, so the chance that
an unchanged recipe is called a regression (the false alarm) is at most
``gate.false_alarm`` whatever the metrics' distributions. Exact p-values: with k
candidate and n base seeds the smallest possible is 1 / C(n + k, k), so a rule with
k = 1 and n = 10 can never reach 0.05 — the report says so instead of pretending.

Two checks need no test: a candidate metric that is NaN or infinite fails the candidate
(a broken run is worse than any recipe), and a candidate seed that covers fewer classes
than the base's worst seed, less ``gate.max_classes_covered_decrease``, is a regression
(a lost class is mode collapse). How often the rule catches a recipe whose median FID is
30% worse is measured, not assumed: :mod:`gantrack.gate.power`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import comb
from typing import Literal

import numpy as np
from scipy import stats

from gantrack.errors import GantrackError
from gantrack.gate.seed_sets import SeedSet
from gantrack.metric_table import RECIPE_METRICS, direction, metric
from gantrack.study.statistics import SeedSummary, summarise

# Exit codes of `python -m gantrack gate` (and `promote`): 2 is argparse's and every
# gantrack stage's code for a usage or params error; bad or missing input has its own.
EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3

Verdict = Literal["pass", "regression"]
CLASSES = "classes_covered"


class GateInputError(GantrackError, ValueError):
    """Input the gate cannot judge (too few base seeds, a broken base): exit 3."""


@dataclass(frozen=True)
class GateRule:
    """The rule, from ``params.yaml``'s ``gate:``."""

    network: str
    metrics: tuple[str, ...]
    false_alarm: float
    min_base_seeds: int
    max_classes_covered_decrease: int | None = 0

    @classmethod
    def from_config(cls, config) -> GateRule:
        return cls(
            network=config.network,
            metrics=tuple(config.metrics),
            false_alarm=config.false_alarm,
            min_base_seeds=config.min_base_seeds,
            max_classes_covered_decrease=config.max_classes_covered_decrease,
        )

    def describe(self) -> str:
        names = ", ".join(metric(name).label for name in self.metrics)
        return (
            f"regression when a one-sided Mann–Whitney test finds the candidate's seeds worse "
            f"than the base's on {names} (Holm-adjusted across {len(self.metrics)} "
            f"metric{'s' if len(self.metrics) > 1 else ''}, false alarm ≤ "
            f"{self.false_alarm:.0%}), when any candidate metric is not finite, or when a "
            "candidate seed covers fewer classes than the base's worst seed"
            + (
                f" less {self.max_classes_covered_decrease}"
                if self.max_classes_covered_decrease
                else ""
            )
        )


@dataclass(frozen=True)
class MetricTest:
    """One metric: both sides over seeds, the test, and its outcome."""

    metric: str
    base: SeedSummary
    candidate: SeedSummary
    p_value: float  # one-sided: the candidate is worse
    threshold: float  # Holm's level for this metric's rank among the p-values
    smallest_p: float  # the smallest p-value these seed counts allow
    regression: bool

    @property
    def relative_change(self) -> float:
        """(candidate median − base median) / |base median|."""
        if self.base.median == 0:
            return math.nan
        return (self.candidate.median - self.base.median) / abs(self.base.median)


@dataclass(frozen=True)
class GateResult:
    """The verdict, each metric's test, and why the candidate failed outright if it did."""

    verdict: Verdict
    rule: GateRule
    tests: tuple[MetricTest, ...]
    failures: tuple[str, ...]  # non-finite metrics, lost classes: one sentence each
    base: SeedSet
    candidate: SeedSet
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.verdict == "pass" else EXIT_REGRESSION

    @property
    def can_detect(self) -> bool:
        """Whether any test could reach its level with these seed counts at all."""
        return any(test.smallest_p <= test.threshold for test in self.tests)


def decide(
    base: SeedSet, candidate: SeedSet, rule: GateRule, expected_seeds: Sequence[int] = ()
) -> GateResult:
    """Judge ``candidate`` against ``base`` by ``rule``; :class:`GateInputError` when the
    base cannot carry a judgement (too few seeds, a metric missing or not finite).

    ``expected_seeds`` (CI's gate.seeds): a seed without a result is a failed run (its
    training job failed), which fails the candidate."""
    _check_base(base, rule)
    if base.network != rule.network or candidate.network != rule.network:
        raise GateInputError(
            f"the gate scores network {rule.network!r} (gate.network), but the base is "
            f"{base.network!r} and the candidate {candidate.network!r}"
        )
    present = {seed.seed for seed in candidate.seeds}
    failures = tuple(
        f"seed {seed}: no result (its training job failed or did not run)"
        for seed in expected_seeds
        if seed not in present
    )
    failures += _broken(candidate, rule) + _lost_classes(base, candidate, rule)
    tests = _tests(base, candidate, rule) if candidate.seeds else ()
    regressed = bool(failures) or any(test.regression for test in tests)
    notes = ()
    if tests and not any(test.smallest_p <= test.threshold for test in tests):
        k, n = len(candidate.seeds), len(base.seeds)
        notes = (
            f"{k} candidate seed{'s' if k > 1 else ''} against {n} base seeds cannot show a "
            f"regression by the rank test (the smallest possible p is 1/C({n + k}, {k}) = "
            f"{1 / comb(n + k, k):.3f} > {rule.false_alarm}): this run checks only for a "
            "broken candidate (non-finite metrics, lost classes). Train more seeds "
            "(gate.seeds) to test the recipe.",
        )
    return GateResult(
        "regression" if regressed else "pass", rule, tests, failures, base, candidate, notes
    )


def holm_thresholds(p_values: Sequence[float], level: float) -> list[float]:
    """Holm's step-down levels: the i-th smallest p (from 0) is held to level / (m − i);
    a p-value is rejected only if it and every smaller one clear their levels. Returned
    in the input order, with ``inf`` for those not reached (after a first non-rejection)."""
    order = np.argsort(p_values, kind="stable")
    thresholds = [math.inf] * len(p_values)
    for rank, index in enumerate(order):
        threshold = level / (len(p_values) - rank)
        thresholds[index] = threshold
        if not p_values[index] <= threshold:
            break  # Holm stops at the first metric it cannot reject
    return thresholds


def rank_test_worse(candidate: Sequence[float], base: Sequence[float], way: str) -> float:
    """One-sided Mann–Whitney p-value that ``candidate`` is worse than ``base`` (larger
    when lower is better, ``way`` ``"min"``); exact when there are no ties."""
    candidate, base = np.asarray(candidate, float), np.asarray(base, float)
    alternative = "greater" if way == "min" else "less"
    values = np.concatenate([candidate, base])
    method = "exact" if len(np.unique(values)) == len(values) else "asymptotic"
    return float(stats.mannwhitneyu(candidate, base, alternative=alternative, method=method).pvalue)


# ---- the parts ------------------------------------------------------------------------


def _check_base(base: SeedSet, rule: GateRule) -> None:
    if len(base.seeds) < rule.min_base_seeds:
        raise GateInputError(
            f"the base ({base.label}) holds {len(base.seeds)} seed"
            f"{'s' if len(base.seeds) != 1 else ''}; the gate needs at least "
            f"{rule.min_base_seeds} (gate.min_base_seeds) to judge a recipe, never one run. "
            "Record them: `python -m gantrack study run studies/default.yaml && python -m "
            "gantrack study export studies/default.yaml --point default --output "
            "reports/gate/base.json`"
        )
    for name in rule.metrics:
        values = base.values(name)
        if not all(math.isfinite(value) for value in values):
            raise GateInputError(
                f"the base ({base.label}) has {name} values that are missing or not finite "
                f"({values}); a base must be complete runs: record it again"
            )


def _broken(candidate: SeedSet, rule: GateRule) -> tuple[str, ...]:
    """A gated metric missing or not finite, or any recipe metric the run reported not
    finite: the run is broken, whatever the test would say."""
    failures = []
    for seed in candidate.seeds:
        checked = dict.fromkeys((*rule.metrics, *RECIPE_METRICS, CLASSES))
        for name in checked:
            present = name in seed.metrics
            if (present or name in rule.metrics) and not math.isfinite(
                seed.metrics.get(name, math.nan)
            ):
                value = _describe(seed.metrics.get(name, math.nan), present)
                failures.append(f"seed {seed.seed}: {name} is {value}: the run is broken")
    return tuple(failures)


def _lost_classes(base: SeedSet, candidate: SeedSet, rule: GateRule) -> tuple[str, ...]:
    if rule.max_classes_covered_decrease is None:
        return ()
    base_classes = [value for value in base.values(CLASSES) if math.isfinite(value)]
    if not base_classes:
        return ()
    floor = min(base_classes) - rule.max_classes_covered_decrease
    return tuple(
        f"seed {seed.seed}: covers {seed.metrics[CLASSES]:.0f} classes, fewer than the "
        f"base's worst seed ({min(base_classes):.0f}) allows"
        for seed in candidate.seeds
        if math.isfinite(seed.metrics.get(CLASSES, math.nan)) and seed.metrics[CLASSES] < floor
    )


def _tests(base: SeedSet, candidate: SeedSet, rule: GateRule) -> tuple[MetricTest, ...]:
    k, n = len(candidate.seeds), len(base.seeds)
    smallest = 1 / comb(n + k, k)
    p_values = []
    for name in rule.metrics:
        values = [value for value in candidate.values(name) if math.isfinite(value)]
        p_values.append(
            rank_test_worse(values, base.values(name), direction(name)) if values else 1.0
        )
    thresholds = holm_thresholds(p_values, rule.false_alarm)
    return tuple(
        MetricTest(
            metric=name,
            base=summarise(base.values(name)),
            candidate=summarise(candidate.values(name)),
            p_value=p_value,
            threshold=threshold,
            smallest_p=smallest,
            regression=p_value <= threshold,
        )
        for name, p_value, threshold in zip(rule.metrics, p_values, thresholds, strict=True)
    )


def _describe(value: float, present: bool) -> str:
    if not present:
        return "missing"
    return "NaN" if math.isnan(value) else ("+inf" if value > 0 else "-inf")
