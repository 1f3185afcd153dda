"""The gate's report: markdown for the pull request, the terminal and ``gate --explain``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from gantrack.gate.power import WORSE_BY, Rates
from gantrack.gate.rules import GateResult, GateRule
from gantrack.metric_table import metric

HEADLINES = {"pass": "✅ **Gate: pass**", "regression": "❌ **Gate: regression**"}


def format_report(result: GateResult, rates: Sequence[Rates] = ()) -> str:
    """The verdict, the seeds on each side, each metric's test, and what k can detect."""
    k, n = len(result.candidate.seeds), len(result.base.seeds)
    lines = [
        f"{HEADLINES[result.verdict]} (exit {result.exit_code}): {k} candidate seed"
        f"{'s' if k != 1 else ''} ({_seeds(result.candidate)}) against {n} base seeds of "
        f"{result.base.label}, network `{result.rule.network}`",
        "",
        "| metric | base median [min, max] | candidate median [min, max] | change of medians "
        "| p (one-sided) | level | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for test in result.tests:
        level = "not reached" if math.isinf(test.threshold) else f"{test.threshold:.3g}"
        verdict = "**REGRESSION**" if test.regression else "pass"
        change = test.relative_change
        lines.append(
            f"| {metric(test.metric).label} | {_spread(test.base)} | {_spread(test.candidate)} "
            f"| {'—' if math.isnan(change) else f'{change:+.1%}'} | {test.p_value:.3g} "
            f"| {level} | {verdict} |"
        )
    if result.failures:
        lines += ["", "The candidate fails outright:"]
        lines += [f"- {failure}" for failure in result.failures]
    lines += ["", "Each candidate seed:", "", _seed_table(result)]
    lines += ["", f"Rule: {result.rule.describe()}."]
    lines += [f"\n⚠️ {note}" for note in result.notes]
    if rates:
        lines += ["", power_table(rates, highlight=k, label="this gate")]
    return "\n".join(lines) + "\n"


def explain(rule: GateRule, candidate_seeds: Sequence[int], rates: Sequence[Rates]) -> str:
    """``gate --explain``: the rule, the k CI runs, and the measured rates."""
    lines = [
        "The quality gate compares recipes, not runs.",
        "",
        f"CI trains the candidate on k = {len(candidate_seeds)} seeds (gate.seeds: "
        f"{', '.join(map(str, candidate_seeds))}) and compares them with the base's recorded "
        f"seeds (at least gate.min_base_seeds = {rule.min_base_seeds}).",
        "",
        f"Rule: {rule.describe()}.",
        "",
        "Exit status: 0 pass; 1 regression (a worse recipe, or a broken run); 2 usage or "
        "params error; 3 bad input (too few base seeds, an unreadable or absurd file).",
    ]
    if rates:
        lines += ["", power_table(rates, highlight=len(candidate_seeds))]
    else:
        lines += [
            "",
            "No measured rates yet: `python -m gantrack gate --measure` resamples the base "
            "seeds and writes them.",
        ]
    return "\n".join(lines) + "\n"


def power_table(rates: Sequence[Rates], highlight: int | None = None, label: str = "CI") -> str:
    """Markdown: false alarm and power at each k, measured by resampling the base; the row
    of k = ``highlight`` in bold, marked ``label``."""
    lines = [
        f"Measured on the base's recorded seeds (every split of k held out; "
        f"`python -m gantrack gate --measure`): how often an unchanged recipe fails (false "
        f"alarm, goal ≤ 5%) and how often a recipe with {WORSE_BY:.0%} worse FID is caught "
        "(power, goal ≥ 80%).",
        "",
        "| k (candidate seeds) | splits | false alarm | power vs +30% FID |",
        "|---|---|---|---|",
    ]
    for rate in rates:
        k = f"**{rate.k}** ({label})" if rate.k == highlight else str(rate.k)
        lines.append(f"| {k} | {rate.splits} | {rate.false_alarm:.1%} | {rate.power:.1%} |")
    return "\n".join(lines)


def _spread(summary) -> str:
    if not summary.count:
        return "—"
    return f"{summary.median:.4g} [{summary.minimum:.4g}, {summary.maximum:.4g}]"


def _seeds(seed_set) -> str:
    seeds = [str(seed.seed) for seed in seed_set.seeds if seed.seed is not None]
    return "seeds " + ", ".join(seeds) if seeds else "seeds not recorded"


def _seed_table(result: GateResult) -> str:
    names = list(dict.fromkeys((*result.rule.metrics, "classes_covered")))
    header = "| seed | run | " + " | ".join(metric(name).label for name in names) + " |"
    rows = [header, "|" + "---|" * (len(names) + 2)]
    for seed in result.candidate.seeds:
        values = [_value(seed.metrics.get(name)) for name in names]
        run = (seed.run_id or "")[:8]
        rows.append(f"| {seed.seed} | `{run}` | " + " | ".join(values) + " |")
    return "\n".join(rows)


def _value(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}"
