import math

import numpy as np
import pytest

from gantrack.gate.rules import GateInputError, GateRule, decide, holm_thresholds
from gantrack.gate.seed_sets import SeedResult, SeedSet

RULE = GateRule("evaluator", ("fid",), false_alarm=0.05, min_base_seeds=10)


def seed_set(fids, classes=10.0, first_seed=1, **extra) -> SeedSet:
    seeds = tuple(
        SeedResult(first_seed + i, {"fid": fid, "classes_covered": classes, **extra})
        for i, fid in enumerate(fids)
    )
    return SeedSet("evaluator", seeds, label="test")


BASE = seed_set([3.4, 2.8, 4.0, 2.7, 3.5, 3.1, 3.9, 3.3, 2.9, 3.6])


def test_identical_distributions_pass_at_the_stated_rate():
    """Base and candidate drawn from one distribution: the rule's false alarm is the exact
    Mann-Whitney level for 3 against 10 seeds, 14 / C(13, 3) = 0.049."""
    rng = np.random.default_rng(0)
    trials = 2000
    alarms = 0
    for _ in range(trials):
        values = rng.lognormal(np.log(3.5), 0.3, 13)
        result = decide(seed_set(values[:10]), seed_set(values[10:], first_seed=100), RULE)
        alarms += result.verdict == "regression"
    rate = alarms / trials
    standard_error = math.sqrt(0.049 * 0.951 / trials)
    assert abs(rate - 14 / 286) < 3 * standard_error, rate


def test_a_far_worse_candidate_fails_and_a_better_one_passes():
    worse = decide(BASE, seed_set([9.0, 10.5, 11.2], first_seed=42), RULE)
    assert worse.verdict == "regression" and worse.exit_code == 1
    (test,) = worse.tests
    assert test.regression and test.p_value == pytest.approx(1 / 286)  # 3 above all 10
    assert test.relative_change == pytest.approx((10.5 - 3.35) / 3.35)
    better = decide(BASE, seed_set([1.0, 1.2, 1.1], first_seed=42), RULE)
    assert better.verdict == "pass" and better.exit_code == 0


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_non_finite_candidate_metric_fails_the_candidate(value):
    result = decide(BASE, seed_set([3.0, value, 3.2], first_seed=42), RULE)
    assert result.verdict == "regression"
    assert any(failure.startswith("seed 43: fid is") for failure in result.failures)


def test_a_non_finite_headline_metric_fails_even_when_not_tested():
    candidate = seed_set([3.0, 3.1, 3.2], first_seed=42, inception_score=-math.inf)
    result = decide(BASE, candidate, RULE)
    assert result.verdict == "regression"
    assert "seed 42: inception_score is -inf" in result.failures[0]


def test_a_candidate_seed_that_loses_a_class_fails():
    candidate = SeedSet(
        "evaluator",
        (SeedResult(42, {"fid": 3.0, "classes_covered": 9.0}),),
    )
    result = decide(BASE, candidate, RULE)
    assert result.verdict == "regression"
    assert "covers 9 classes" in result.failures[0]


def test_a_base_with_too_few_seeds_is_refused_naming_the_command_that_records_them():
    with pytest.raises(GateInputError) as caught:
        decide(seed_set([3.4, 2.8, 4.0]), seed_set([3.0], first_seed=42), RULE)
    message = str(caught.value)
    assert "holds 3 seeds; the gate needs at least 10" in message
    assert "python -m gantrack study run studies/default.yaml" in message
    with pytest.raises(GateInputError, match="not finite"):
        decide(seed_set([math.nan, *BASE.values("fid")[1:]]), seed_set([3.0]), RULE)


def test_one_seed_says_it_cannot_show_a_regression():
    result = decide(BASE, seed_set([30.0], first_seed=42), RULE)
    assert result.verdict == "pass"  # 1 against 10: the smallest p is 1/11 > 0.05
    assert not result.can_detect
    assert "cannot show a regression" in result.notes[0] and "0.091" in result.notes[0]


def test_holm_holds_each_p_value_to_its_rank_and_stops_at_the_first_miss():
    # Sorted: 0.01 <= 0.05/3, then 0.03 > 0.05/2: Holm stops; 0.04 is never reached.
    assert holm_thresholds([0.01, 0.04, 0.03], 0.05) == [
        pytest.approx(0.05 / 3),
        math.inf,
        pytest.approx(0.025),
    ]
    assert holm_thresholds([0.2], 0.05) == [0.05]


def test_several_metrics_are_held_to_holms_levels():
    rule = GateRule("evaluator", ("fid", "recall"), 0.05, 10)
    base = SeedSet(
        "evaluator",
        tuple(SeedResult(i, {"fid": 3.0 + i / 10, "recall": 0.7 + i / 100}) for i in range(10)),
    )
    candidate = SeedSet(
        "evaluator",
        tuple(SeedResult(40 + i, {"fid": 9.0 + i, "recall": 0.75}) for i in range(3)),
    )
    result = decide(base, candidate, rule)
    fid, recall = result.tests
    assert fid.regression and fid.threshold == pytest.approx(0.025)  # the smaller p first
    assert not recall.regression


def test_a_seed_without_a_result_fails_the_candidate():
    candidate = seed_set([3.0, 3.1], first_seed=42)
    result = decide(BASE, candidate, RULE, expected_seeds=[42, 43, 44])
    assert result.verdict == "regression"
    assert result.failures[0] == "seed 44: no result (its training job failed or did not run)"
    nothing = decide(BASE, SeedSet("evaluator", ()), RULE, expected_seeds=[42])
    assert nothing.verdict == "regression" and nothing.tests == ()
