"""Seed statistics of recipes: summaries over seeds, and whether two recipes differ.

Pure NumPy/SciPy: values in, numbers out. A recipe is measured by several seeds of the
same params; one GAN run says little, because the seed alone moves FID by a factor of
several. So a recipe is summarised by its median and spread over seeds, and two recipes
are told apart only when the difference of their medians is larger than the seeds'
scatter can explain:

- :func:`bootstrap_median_difference`: the percentile bootstrap interval of
  ``median(a) − median(b)``, each sample resampled with replacement on its own
  (Efron & Tibshirani 1993, ch. 13). An interval that covers 0: **indistinguishable**.
- :func:`rank_test`: the two-sided Mann–Whitney U test, which asks whether one recipe's
  seeds tend to land above the other's. Exact (every split of the pooled values into the
  two sizes, ties included) when there are at most :data:`EXACT_RANK_TEST_SPLITS` splits,
  as with a study's 3 to 10 seeds a side; the normal approximation beyond.

Caveats, stated in every report: with 3 seeds a side the bootstrap median takes only 3
values per sample, so its interval is coarse and tends to be too narrow (percentile
intervals under-cover at small n); and the smallest two-sided Mann–Whitney p-value with
3 against 3 is 0.1, so no 3-seed comparison is "significant" at 0.05 by the rank test.
More seeds are the only cure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

# Rankings never rest on one seed: a recipe with fewer complete seeds is listed, not ranked.
MIN_SEEDS_TO_RANK = 3
# A recipe the reference cannot be told from is measured to this many seeds: 3 against 3
# cannot reach a rank-test p below 0.1, 5 against 5 can reach 0.008.
SEEDS_TO_DECIDE = 5
BOOTSTRAP_RESAMPLES = 10_000
# Up to this many splits (10 seeds against 10 make 184,756) the rank test enumerates them:
# SciPy's own exact test assumes no ties, and tied seeds (precision and recall are
# fractions of 5,000 samples) would otherwise get the normal approximation, whose p at
# 3 against 3 can fall below the exact floor of 0.1.
EXACT_RANK_TEST_SPLITS = 200_000
CONFIDENCE = 0.95

Verdict = Literal["better", "worse", "indistinguishable", "too few seeds"]


@dataclass(frozen=True)
class SeedSummary:
    """A metric over a recipe's seeds: ``count`` finite values and their spread.

    ``iqr`` is the interquartile range Q3 − Q1 (NumPy's linear interpolation between order
    statistics). All NaN when no value is finite.
    """

    count: int
    median: float
    minimum: float
    maximum: float
    iqr: float

    def as_dict(self) -> dict[str, float]:
        """``{"median": ..., "min": ..., "max": ..., "iqr": ..., "seeds": n}``."""
        return {
            "median": self.median,
            "min": self.minimum,
            "max": self.maximum,
            "iqr": self.iqr,
            "seeds": float(self.count),
        }


def finite(values: Sequence[float]) -> np.ndarray:
    """``values`` as floats, without NaN and infinities (a failed or missing seed)."""
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def summarise(values: Sequence[float]) -> SeedSummary:
    """Median, min, max and IQR of the finite ``values``."""
    array = finite(values)
    if array.size == 0:
        return SeedSummary(0, *(float("nan"),) * 4)
    low, high = np.percentile(array, [25, 75])
    return SeedSummary(
        count=int(array.size),
        median=float(np.median(array)),
        minimum=float(array.min()),
        maximum=float(array.max()),
        iqr=float(high - low),
    )


def bootstrap_median_difference(
    a: Sequence[float],
    b: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile bootstrap interval of ``median(a) − median(b)``.

    Each of ``resamples`` draws resamples ``a`` and ``b`` with replacement, independently
    and at their own sizes; the interval is the ``(1 − confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles of the resampled differences. Seeded: the same
    inputs give the same interval.
    """
    a, b = finite(a), finite(b)
    if a.size == 0 or b.size == 0:
        raise ValueError(f"need finite values on both sides, got {a.size} and {b.size}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    medians_a = np.median(rng.choice(a, size=(resamples, a.size)), axis=1)
    medians_b = np.median(rng.choice(b, size=(resamples, b.size)), axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(medians_a - medians_b, [tail, 1 - tail])
    return float(low), float(high)


def rank_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value of ``a`` against ``b`` (NaN if either is empty).

    With at most :data:`EXACT_RANK_TEST_SPLITS` ways to split the pooled values into
    groups of ``len(a)`` and ``len(b)``, the p-value is the exact permutation one: the
    share of splits whose U (midranks for ties) lies at least as far from its mean
    ``len(a) len(b) / 2`` as the observed U.
    """
    a, b = finite(a), finite(b)
    if a.size == 0 or b.size == 0:
        return float("nan")
    exact = math.comb(a.size + b.size, a.size) <= EXACT_RANK_TEST_SPLITS
    method = stats.PermutationMethod(n_resamples=np.inf) if exact else "auto"
    return float(stats.mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)


@dataclass(frozen=True)
class RecipeComparison:
    """A recipe's metric against another's over their seeds.

    ``difference`` is ``median(candidate) − median(other)``, with its bootstrap interval
    ``[low, high]``; ``p_value`` the rank test's. ``verdict`` reads the interval in the
    metric's direction: one that covers 0 is ``indistinguishable``.
    """

    difference: float
    low: float
    high: float
    p_value: float
    verdict: Verdict


def compare_recipes(
    candidate: Sequence[float],
    other: Sequence[float],
    direction: Literal["min", "max"],
    min_seeds: int = MIN_SEEDS_TO_RANK,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> RecipeComparison:
    """Is ``candidate`` better, worse or indistinguishable from ``other``?

    ``direction`` ``"min"``: lower is better. Either side with fewer than ``min_seeds``
    finite values gives ``"too few seeds"`` (the numbers are still filled where they can be).
    """
    if direction not in ("min", "max"):
        raise ValueError(f"direction must be 'min' or 'max', got {direction!r}")
    a, b = finite(candidate), finite(other)
    nan = float("nan")
    if a.size == 0 or b.size == 0:
        return RecipeComparison(nan, nan, nan, nan, "too few seeds")
    difference = float(np.median(a) - np.median(b))
    low, high = bootstrap_median_difference(a, b, resamples, confidence, seed)
    p_value = rank_test(a, b)
    if min(a.size, b.size) < min_seeds:
        verdict: Verdict = "too few seeds"
    elif low <= 0 <= high:
        verdict = "indistinguishable"
    else:
        lower = high < 0
        verdict = "better" if lower == (direction == "min") else "worse"
    return RecipeComparison(difference, low, high, p_value, verdict)
