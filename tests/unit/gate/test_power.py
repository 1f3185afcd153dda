import pytest

from gantrack.gate.power import measure, measure_all
from gantrack.gate.rules import GateRule
from gantrack.gate.seed_sets import SeedResult, SeedSet

RULE = GateRule("evaluator", ("fid",), false_alarm=0.05, min_base_seeds=10)


def seeds(fids) -> SeedSet:
    return SeedSet(
        "evaluator",
        tuple(SeedResult(i, {"fid": fid, "classes_covered": 10.0}) for i, fid in enumerate(fids)),
    )


def test_every_split_is_counted_and_a_tight_recipe_is_caught_when_30_percent_worse():
    tight = seeds([3.40, 3.42, 3.44, 3.46, 3.48, 3.50, 3.52, 3.54, 3.56, 3.58])
    rates = measure(tight, RULE, k=3)
    assert rates.splits == 120  # C(10, 3)
    assert rates.power == 1.0  # x1.3 puts all three above every other seed
    # Unchanged: only the splits holding out the 3 highest seeds reach p = 1/120 <= 0.05,
    # and those whose ranks sum high enough: exactly what the exact test allows.
    assert rates.false_alarm <= 0.05


def test_a_wide_recipe_is_not_caught_and_one_seed_never_is():
    wide = seeds([2.2, 2.7, 2.8, 3.3, 3.4, 3.5, 4.0, 4.5, 6.6, 7.1])
    assert measure(wide, RULE, k=3).power < 0.8
    one = measure(wide, RULE, k=1)
    assert one.false_alarm == 0 and one.power == 0  # 1 against 9: p >= 0.1
    assert [rate.k for rate in measure_all(wide, RULE)] == [1, 3, 5]
    with pytest.raises(ValueError, match="k must be"):
        measure(wide, RULE, k=10)
