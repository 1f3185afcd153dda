"""The quality gate: did this run's metrics worsen beyond the tolerances of ``gate:``?

Pure logic: :func:`compare_metrics` takes two ``reports/metrics.json``-shaped dicts
(``{network: {metric: value}}``) and the thresholds, and returns a :class:`GateResult`;
:func:`format_report` renders it as markdown. Reading files, the registry and the exit
status live in :mod:`gantrack.cli.gate`.

For each checked metric, with ``worsening`` = current − base where lower is better (FID,
KID) and base − current where higher is better (IS, precision, recall, classes covered):

- relative rule (FID, KID, IS): regression when ``worsening > tolerance × |base|``;
- absolute rule (precision, recall, classes covered): regression when
  ``worsening > tolerance``.

A value exactly at the tolerance passes. With a base of exactly 0 a relative rule allows
no worsening at all (the relative change is undefined).

Caveat, stated in the report too: the rules act on point estimates. FID's bootstrap
interval and KID's standard deviation are shown beside them but do not enter the
decision; they measure only the noise of scoring a fixed set of samples, which is far
smaller than the run-to-run spread of GAN training, so a tolerance must be set above the
latter (see ``params.yaml``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Literal

from gantrack.config import GateConfig

# Exit codes of `python -m gantrack gate` (and `promote`): 2 is argparse's and every gantrack
# stage's code for a usage or params error, so missing data gets a code of its own.
EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_MISSING = 3
EXIT_CODES = {"pass": EXIT_PASS, "regression": EXIT_REGRESSION, "missing": EXIT_MISSING}

Verdict = Literal["pass", "regression", "missing"]
Outcome = Literal["improved", "unchanged", "within", "regression", "missing", "not checked"]


@dataclass(frozen=True)
class Rule:
    """How one metric is judged: which way is better and how much worse is tolerated."""

    metric: str
    higher_is_better: bool
    relative: bool
    tolerance: float | None  # None: reported, not checked
    # Keys shown beside the value as its uncertainty: (low, high) or (std,).
    uncertainty: tuple[str, ...] = ()


def rules_from_config(config: GateConfig) -> tuple[Rule, ...]:
    """The gate's rules, in report order, with the tolerances of ``params.yaml``'s ``gate:``."""
    inception_score = config.max_inception_score_decrease
    classes = config.max_classes_covered_decrease
    return (
        Rule("fid", False, True, config.max_fid_increase, ("fid_ci_low", "fid_ci_high")),
        Rule("kid", False, True, config.max_kid_increase, ("kid_std",)),
        Rule("inception_score", True, True, inception_score, ("inception_score_std",)),
        Rule("precision", True, False, config.max_precision_decrease),
        Rule("recall", True, False, config.max_recall_decrease),
        Rule("classes_covered", True, False, None if classes is None else float(classes)),
    )


@dataclass(frozen=True)
class Comparison:
    """One metric, base against current."""

    metric: str
    base: float | None
    current: float | None
    outcome: Outcome
    rule: Rule
    base_uncertainty: tuple[float, ...] = ()
    current_uncertainty: tuple[float, ...] = ()
    note: str = ""  # why data is missing

    @property
    def change(self) -> float | None:
        return None if self.base is None or self.current is None else self.current - self.base

    @property
    def relative_change(self) -> float | None:
        return None if self.change is None or self.base == 0 else self.change / abs(self.base)


# A comparison's keys in the decision JSON, in order (uncertainties are for the report only).
_DECISION_FIELDS = ("metric", "base", "current", "change", "relative_change", "outcome", "note")


@dataclass(frozen=True)
class GateResult:
    """Every comparison and the overall verdict."""

    network: str
    verdict: Verdict
    comparisons: tuple[Comparison, ...]
    problems: tuple[str, ...]  # data that could not be found, one sentence each
    notices: tuple[str, ...] = ()  # base data allowed to be missing (allow_missing_base)
    base_label: str = "base"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready data (what ``promote`` reads)."""
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "network": self.network,
            "base": self.base_label,
            "problems": list(self.problems),
            "notices": list(self.notices),
            "comparisons": [
                {key: getattr(item, key) for key in _DECISION_FIELDS} | {"rule": asdict(item.rule)}
                for item in self.comparisons
            ],
        }


def compare_metrics(
    base: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
    rules: tuple[Rule, ...],
    network: str,
    *,
    allow_missing_base: bool = False,
    base_label: str = "base",
    base_missing_reason: str = "",
    current_missing_reason: str = "",
) -> GateResult:
    """Judge ``current`` against ``base`` (both ``{network: {metric: value}}``, or None).

    The verdict is ``regression`` if any checked metric worsened beyond its tolerance;
    else ``missing`` if a checked metric could not be compared (a file, the network's
    section or the metric absent, or NaN); else ``pass``. A regression is reported even
    when other data is missing: it is a finding, where missing data is the lack of one.
    With ``allow_missing_base``, metrics the base lacks (the first run, or a metric new
    in this change) are reported and pass; data missing from the current run never does.
    The reasons say why a whole side is None (e.g. "reports/metrics.json: not found").
    """
    base_section, base_problem = _section(base, network, base_label, base_missing_reason)
    current_section, current_problem = _section(
        current, network, "this run", current_missing_reason
    )
    comparisons = tuple(
        _compare_one(rule, base_section, current_section, allow_missing_base) for rule in rules
    )

    # One sentence per absence: a whole file or section once, else each metric.
    def absences(side_problem: str | None, side: str) -> list[str]:
        if side_problem:
            return [side_problem]
        return [f"{item.metric}: {item.note}" for item in comparisons if item.note.startswith(side)]

    problems = absences(current_problem, "this run")
    base_absences = absences(base_problem, "base")
    notices = [f"{absence} (allowed: not compared)" for absence in base_absences]
    if not allow_missing_base:
        problems, notices = base_absences + problems, []
    regressed = any(item.outcome == "regression" for item in comparisons)
    verdict: Verdict = "regression" if regressed else "missing" if problems else "pass"
    return GateResult(network, verdict, comparisons, tuple(problems), tuple(notices), base_label)


def _section(
    metrics: Mapping[str, Any] | None, network: str, label: str, reason: str
) -> tuple[Mapping[str, Any] | None, str | None]:
    if metrics is None:
        return None, f"no metrics for {label}" + (f": {reason}" if reason else "")
    section = metrics.get(network)
    if not isinstance(section, Mapping):
        found = ", ".join(sorted(metrics)) or "none"
        return None, f"{label} has no metrics for network {network!r} (networks found: {found})"
    return section, None


def _number(section: Mapping[str, Any] | None, key: str) -> tuple[float | None, str]:
    """The value of ``key`` as a float, or (None, why not)."""
    if section is None:
        return None, "no metrics"
    if key not in section:
        return None, f"no {key!r}"
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"{key!r} is {value!r}, not a number"
    if math.isnan(value):
        return None, f"{key!r} is NaN"
    return float(value), ""


def _compare_one(
    rule: Rule,
    base_section: Mapping[str, Any] | None,
    current_section: Mapping[str, Any] | None,
    allow_missing_base: bool,
) -> Comparison:
    base, base_note = _number(base_section, rule.metric)
    current, current_note = _number(current_section, rule.metric)
    result = partial(
        Comparison,
        rule.metric,
        base,
        current,
        rule=rule,
        base_uncertainty=_uncertainty(base_section, rule),
        current_uncertainty=_uncertainty(current_section, rule),
    )
    if rule.tolerance is None:
        return result("not checked")
    if current is None:
        return result("missing", note=f"this run: {current_note}")
    if base is None:
        outcome = "not checked" if allow_missing_base else "missing"
        return result(outcome, note=f"base: {base_note}")
    worsening = base - current if rule.higher_is_better else current - base
    allowed = rule.tolerance * abs(base) if rule.relative else rule.tolerance
    if worsening < 0:
        return result("improved")
    if worsening == 0:
        return result("unchanged")
    if worsening <= allowed or math.isclose(worsening, allowed, rel_tol=1e-9):
        return result("within")
    return result("regression")


def _uncertainty(section: Mapping[str, Any] | None, rule: Rule) -> tuple[float, ...]:
    values = [_number(section, key)[0] for key in rule.uncertainty]
    return tuple(values) if values and all(value is not None for value in values) else ()


# --- markdown ---------------------------------------------------------------------------

_HEADLINES = {
    "pass": "✅ **Gate: pass**",
    "regression": "❌ **Gate: regression**",
    "missing": "⚠️ **Gate: missing data**",
}
# How the report words the outcomes that do not read as they are.
_OUTCOME_LABELS = {
    "improved": "better",
    "within": "worse, within tolerance",
    "regression": "**REGRESSION**",
}


def format_report(result: GateResult) -> str:
    """Markdown: the verdict, a table of every metric, and a sentence per regression."""
    lines = [
        f"{_HEADLINES[result.verdict]} (exit {result.exit_code}) — network "
        f"`{result.network}`, this run against {result.base_label}",
        "",
        "| metric | base | this run | change | change % | tolerance | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_row(item) for item in result.comparisons]
    regressions = [item for item in result.comparisons if item.outcome == "regression"]
    if regressions:
        lines += ["", "Regressions:"] + [f"- {_sentence(item)}" for item in regressions]
    if result.problems:
        lines += ["", "Missing data:"] + [f"- {problem}" for problem in result.problems]
    if result.notices:
        lines += ["", "Not compared:"] + [f"- {notice}" for notice in result.notices]
    lines += [
        "",
        "Tolerances are on point estimates (`gate:` in params.yaml); FID's bootstrap interval "
        "(brackets) and KID's and IS's standard deviations (±) are shown for scale.",
    ]
    return "\n".join(lines) + "\n"


def _row(item: Comparison) -> str:
    change, relative, rule = item.change, item.relative_change, item.rule
    direction = "fall" if rule.higher_is_better else "rise"
    cells = [
        f"`{item.metric}`",
        _value(item.base, item.base_uncertainty),
        _value(item.current, item.current_uncertainty),
        "—" if change is None else f"{change:+.4g}",
        "—" if relative is None else f"{relative:+.1%}",
        "—" if rule.tolerance is None else f"may {direction} ≤ {_limit(rule)}",
        _OUTCOME_LABELS.get(item.outcome, item.outcome) + (f" ({item.note})" if item.note else ""),
    ]
    return "| " + " | ".join(cells) + " |"


def _value(value: float | None, uncertainty: tuple[float, ...]) -> str:
    if value is None:
        return "—"
    if len(uncertainty) == 2:
        return f"{value:.4g} [{uncertainty[0]:.4g}, {uncertainty[1]:.4g}]"
    return f"{value:.4g}" + (f" ± {uncertainty[0]:.2g}" if uncertainty else "")


def _limit(rule: Rule) -> str:
    """The tolerance as the report writes it: a percentage when relative."""
    return f"{rule.tolerance:.1%}" if rule.relative else f"{rule.tolerance:g}"


def _sentence(item: Comparison) -> str:
    """``fid rose from 30 to 36.3 (+6.3, +21.0%); at most +10.0% is allowed``."""
    direction = "rose" if (item.change or 0) > 0 else "fell"
    relative = item.relative_change
    percent = "" if relative is None else f", {relative:+.1%}"
    moved = f"`{item.metric}` {direction} from {item.base:.4g} to {item.current:.4g}"
    if item.rule.relative and item.base == 0:
        return f"{moved} ({item.change:+.4g}); a relative tolerance allows no change from 0"
    return (
        f"{moved} ({item.change:+.4g}{percent}); at most {_limit(item.rule)} "
        f"{'lower' if item.rule.higher_is_better else 'higher'} is allowed"
    )
