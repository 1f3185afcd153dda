"""How well the gate's rule works, measured by resampling recorded seeds.

Given one recipe's recorded seeds (the base), every way of holding out k of them as a
"candidate" and keeping the rest as the base is a gate run on an *unchanged* recipe: the
share the rule calls a regression is its **false-alarm rate**. Scaling the held-out
seeds' FID by 1.3 makes each split a candidate whose FID is 30% worse (its median too),
and the share caught is the rule's **power** against such a recipe. All C(n, k) splits are
enumerated, so the figures are exact for these seeds, with no random draws.

Caveats: the base of each split holds n − k seeds, fewer than a deployed gate's n, so
power is somewhat understated; and a worse recipe is modelled as the same seeds, worse
by a constant factor (a real one may also spread differently).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations

from gantrack.gate.rules import GateRule, decide
from gantrack.gate.seed_sets import SeedResult, SeedSet

SHIFT_METRIC = "fid"
WORSE_BY = 0.3  # the regression the gate must catch: median FID 30% worse
K_VALUES = (1, 3, 5)


@dataclass(frozen=True)
class Rates:
    """The rule at k candidate seeds: its false-alarm rate and its power, over splits."""

    k: int
    splits: int
    false_alarm: float
    power: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "k": self.k,
            "splits": self.splits,
            "false_alarm": self.false_alarm,
            "power": self.power,
        }


def measure(seeds: SeedSet, rule: GateRule, k: int, worse_by: float = WORSE_BY) -> Rates:
    """False alarm and power of ``rule`` at ``k`` candidate seeds, over every split."""
    if not 1 <= k < len(seeds.seeds):
        raise ValueError(f"k must be in 1 .. {len(seeds.seeds) - 1} for {len(seeds.seeds)} seeds")
    relaxed = replace(rule, min_base_seeds=1)  # each split's base holds n - k seeds
    alarms = caught = splits = 0
    for held_out in combinations(range(len(seeds.seeds)), k):
        base = _subset(seeds, [i for i in range(len(seeds.seeds)) if i not in held_out])
        candidate = _subset(seeds, list(held_out))
        alarms += decide(base, candidate, relaxed).verdict == "regression"
        caught += decide(base, _worse(candidate, worse_by), relaxed).verdict == "regression"
        splits += 1
    return Rates(k, splits, alarms / splits, caught / splits)


def measure_all(
    seeds: SeedSet, rule: GateRule, k_values=K_VALUES, worse_by: float = WORSE_BY
) -> list[Rates]:
    return [measure(seeds, rule, k, worse_by) for k in k_values if k < len(seeds.seeds)]


def _subset(seeds: SeedSet, indices: list[int]) -> SeedSet:
    return replace(seeds, seeds=tuple(seeds.seeds[i] for i in indices))


def _worse(candidate: SeedSet, worse_by: float) -> SeedSet:
    """The same seeds with FID ``1 + worse_by`` times higher."""
    seeds = tuple(
        SeedResult(
            seed.seed,
            {**seed.metrics, SHIFT_METRIC: seed.metrics[SHIFT_METRIC] * (1 + worse_by)},
            seed.run_id,
            seed.commit,
        )
        for seed in candidate.seeds
    )
    return replace(candidate, seeds=seeds)
