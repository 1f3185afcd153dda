"""The study report: ``reports/studies/<name>/`` with ``index.md``, PNGs and ``summary.json``.

The page answers, per recipe: what each seed scored (points over a box), how quality grew
with the budget (median in-training FID and its min–max band by generator step), and
whether the recipe differs from the best one and from the reference, by the bootstrap
interval of the difference of medians and a rank test. Markdown renders on GitHub and in
the docs; ``summary.json`` holds the same numbers for programs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from gantrack.metric_table import RECIPE_METRICS, metric
from gantrack.study import figures
from gantrack.study.results import (
    RANKING_METRIC,
    RecipeResult,
    base_params,
    best,
    budget_text,
    changed_params,
    comparisons,
    error_summary,
    order,
    seeds_wanted,
)
from gantrack.study.spec import Study
from gantrack.study.statistics import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    MIN_SEEDS_TO_RANK,
    SEEDS_TO_DECIDE,
    RecipeComparison,
)

FIGURE_METRICS = ("fid", "inception_score", "kid", "recall")
SEEDS_CAPTION = (
    "A run is named by the id it was first logged with, which its saved record keeps "
    "(`runs/<recipe>-s<seed>.json`); a store that loaded the record tags its copy "
    "`gantrack.study.origin_run` with that id."
)


def build_report(
    study: Study, results: Sequence[RecipeResult]
) -> tuple[str, dict[str, bytes], dict[str, Any]]:
    """``(markdown, {file name: PNG bytes}, summary)`` for ``results`` (in study order)."""
    ordered = order(results)
    by_name = {result.name: result for result in results}
    reference = by_name[study.reference]
    top = best(results)
    # Each comparison is a bootstrap: every recipe against the reference and against the
    # best, on every metric, is found once here for the page's tables and the summary.
    wanted = seeds_wanted(ordered, reference)
    against_reference = comparisons(ordered, reference)
    against_best = comparisons(ordered, top) if top else {}
    pictures = {
        f"seeds_{name}.png": figures.seed_boxes(ordered, name, study.reference)
        for name in FIGURE_METRICS
    }
    pictures["budget_fid.png"] = figures.budget_curves(ordered, reference)
    lines = [
        f"# Study `{study.name}`",
        "",
        *([study.description.strip(), ""] if study.description else []),
        _overview(study, results),
        "",
        "## Recipes",
        "",
        f"Ranked by median FID over complete seeds; a recipe with fewer than "
        f"{MIN_SEEDS_TO_RANK} complete seeds is listed, not ranked. The last columns compare "
        f"each recipe's FID with the reference `{study.reference}`: the difference of "
        f"medians, its {CONFIDENCE:.0%} bootstrap interval, the Mann–Whitney p-value and the "
        "verdict (an interval that covers 0 is **indistinguishable**).",
        "",
        _recipe_table(study, ordered, reference, against_reference),
        "",
        *_seeds_wanted(wanted, reference),
    ]
    for title, against, table in (
        (f"the best recipe, `{top.name}`" if top else "", top, against_best),
        (f"the reference, `{reference.name}`", reference, against_reference),
    ):
        if against is None:
            continue
        lines += [f"## Against {title}", "", _comparison_table(ordered, against, table), ""]
    lines += ["## Each seed", ""]
    lines += [f"![{metric(name).label} over seeds](seeds_{name}.png)\n" for name in FIGURE_METRICS]
    lines += [
        "## Quality against budget",
        "",
        "In-training FID (the evaluator, on `train.eval_num_images` samples, every "
        "`train.eval_every` epochs) against generator steps: each recipe's median over its "
        "seeds in its min–max band; grey, the reference's median.",
        "",
        "![In-training FID by step](budget_fid.png)",
        "",
    ]
    lines += _failures(ordered)
    lines += ["## Seeds", "", SEEDS_CAPTION, "", _seed_table(ordered), "", _caveats(), ""]
    tables = {"vs_reference": against_reference, "vs_best": against_best}
    summary = _summary(study, ordered, reference, top, tables, wanted)
    return "\n".join(lines), pictures, summary


def _seeds_wanted(wanted: Sequence[RecipeResult], reference: RecipeResult) -> list[str]:
    if not wanted:
        return []
    names = ", ".join(
        f"`{result.name}` ({len(result.complete_seeds)} complete)" for result in wanted
    )
    return [
        f"**More seeds would decide**: {names}. Each is the reference or a recipe whose FID "
        f"cannot yet be told from `{reference.name}`'s; a comparison within reach is "
        f"measured to {SEEDS_TO_DECIDE} seeds a side. List {SEEDS_TO_DECIDE} seeds for "
        "their points in the study file and run it again: only the new seeds are queued.",
        "",
    ]


def _overview(study: Study, results: Sequence[RecipeResult]) -> str:
    total = sum(len(result.point.seeds) for result in results)
    complete = sum(len(result.complete_seeds) for result in results)
    failed = sum(len(result.failed) for result in results)
    budget = ", ".join(f"{value:,} {key}" for key, value in study.budget.items()) or "per point"
    machines = Counter(
        machine for result in results for machine in result.machines.values()
    ).most_common()
    ran_on = "; ".join(f"{name}: {count}" for name, count in machines) or "none yet"
    base = _changes(base_params(study)) or "none"
    return (
        f"{len(results)} recipes, {total} runs: **{complete} complete, {failed} failed, "
        f"{total - complete - failed} not run**. Budget: {budget} (a point's own budget is in "
        f"its row). Reference: `{study.reference}`. Study file: `{study.path}`; regenerate "
        f"with `python -m gantrack study report {study.path}`.\n\n"
        f"Every point starts from `params.yaml` with the study's base: {base}; a recipe's "
        "changes below are on top of that base.\n\n"
        f"Complete runs by the CPU they ran on: {ran_on}."
    )


def _changes(changes: Mapping[str, Any]) -> str:
    return ", ".join(f"`{key}={value}`" for key, value in changes.items())


def _recipe_table(
    study: Study,
    ordered: Sequence[RecipeResult],
    reference: RecipeResult,
    against_reference: Mapping[str, Mapping[str, RecipeComparison]],
) -> str:
    header = ["rank", "recipe", "changes", "budget", "seeds"]
    header += [f"{metric(name).label} median [min, max]" for name in RECIPE_METRICS]
    header += ["FID vs reference", "p", "verdict"]
    rows, rank = [], 0
    for result in ordered:
        rank += result.ranked
        changes = _changes(changed_params(study, result.point))
        seeds = f"{len(result.complete_seeds)}/{len(result.point.seeds)}"
        if result.failed:
            seeds += f" ({len(result.failed)} failed)"
        row = [str(rank) if result.ranked else "–", f"`{result.name}`", changes or "–"]
        row += [budget_text(result.point), seeds]
        row += [_spread(result, name) for name in RECIPE_METRICS]
        if result is reference:
            row += ["reference", "", ""]
        else:
            comparison = against_reference[result.name][RANKING_METRIC]
            row += [_interval(comparison), _p(comparison.p_value), _verdict(comparison.verdict)]
        rows.append(row)
    return _markdown(header, rows)


def _comparison_table(
    ordered: Sequence[RecipeResult],
    against: RecipeResult,
    table: Mapping[str, Mapping[str, RecipeComparison]],
) -> str:
    header = ["recipe"] + [metric(name).label for name in RECIPE_METRICS]
    rows = []
    for result in ordered:
        if result is against:
            continue
        cells = []
        for name in RECIPE_METRICS:
            comparison = table[result.name][name]
            cells.append(
                f"{_interval(comparison)} p {_p(comparison.p_value)} {_verdict(comparison.verdict)}"
            )
        rows.append([f"`{result.name}`", *cells])
    note = (
        f"Each cell: the difference of medians (recipe − `{against.name}`) with its "
        f"{CONFIDENCE:.0%} bootstrap interval, the rank test's p-value and the verdict in the "
        "metric's direction."
    )
    return note + "\n\n" + _markdown(header, rows)


def _failures(ordered: Sequence[RecipeResult]) -> list[str]:
    rows = [
        [f"`{result.name}`", str(seed), error_summary(error).replace("|", "\\|")]
        for result in ordered
        for seed, error in sorted(result.failed.items())
    ]
    if not rows:
        return []
    return [
        "## Failed runs",
        "",
        "Recorded, never dropped: each failed seed with the end of its log (the full log: "
        "`dvc queue logs <study>-<recipe>-s<seed>`).",
        "",
        _markdown(["recipe", "seed", "error"], rows),
        "",
    ]


def _seed_table(ordered: Sequence[RecipeResult]) -> str:
    header = ["recipe", "seed", *(metric(name).label for name in RECIPE_METRICS), "run"]
    rows = []
    for result in ordered:
        for seed in result.point.seeds:
            if seed in result.failed:
                rows.append([f"`{result.name}`", str(seed), *["failed"] * len(RECIPE_METRICS), ""])
            elif seed in result.complete_seeds:
                values = [_number(result.values[name].get(seed)) for name in RECIPE_METRICS]
                run = result.run_ids.get(seed, "")[:8]
                rows.append([f"`{result.name}`", str(seed), *values, f"`{run}`"])
            else:
                rows.append([f"`{result.name}`", str(seed), *["not run"] * len(RECIPE_METRICS), ""])
    return _markdown(header, rows)


def _caveats() -> str:
    return (
        "## How to read this\n\n"
        f"- A recipe is its seeds: one GAN run says little. Differences are the difference "
        f"of medians over seeds with a percentile bootstrap interval ({BOOTSTRAP_RESAMPLES:,} "
        "resamples, each recipe resampled on its own); **indistinguishable** means the "
        "interval covers 0.\n"
        "- With 3 seeds a side the interval is coarse and tends to be too narrow; the "
        "Mann–Whitney p-value cannot go below 0.1 with 3 against 3 (0.008 with 5 against 5). "
        "Read a 3-seed verdict as a lead, not a finding.\n"
        "- Numbers are comparable within one machine: the same params give other FIDs on "
        "another CPU's kernels."
    )


def _summary(
    study: Study,
    ordered: Sequence[RecipeResult],
    reference: RecipeResult,
    top: RecipeResult | None,
    tables: Mapping[str, Mapping[str, Mapping[str, RecipeComparison]]],
    wanted: Sequence[RecipeResult],
) -> dict[str, Any]:
    """The page's numbers for programs; ``tables`` holds ``{"vs_reference": ..., "vs_best":
    ...}``, each ``{recipe: {metric: comparison}}``."""
    recipes = {}
    for result in ordered:
        entry: dict[str, Any] = {
            "changes": {k: v for k, v in changed_params(study, result.point).items()},
            "budget": budget_text(result.point),
            "seeds": list(result.point.seeds),
            "complete_seeds": result.complete_seeds,
            "failed": {str(seed): error for seed, error in result.failed.items()},
            "ranked": result.ranked,
            "machines": {str(seed): cpu for seed, cpu in sorted(result.machines.items())},
            "metrics": {name: _finite(result.summary(name).as_dict()) for name in RECIPE_METRICS},
        }
        for label, table in tables.items():
            if result.name in table:
                entry[label] = {
                    name: _finite(vars(comparison))
                    for name, comparison in table[result.name].items()
                }
        recipes[result.name] = entry
    return {
        "study": study.name,
        "reference": reference.name,
        "best": top.name if top else None,
        "base": base_params(study),
        "seeds_wanted": [result.name for result in wanted],
        "recipes": recipes,
    }


# ---- formatting ----------------------------------------------------------------------


def _spread(result: RecipeResult, name: str) -> str:
    summary = result.summary(name)
    if not summary.count:
        return "–"
    entry = metric(name)
    return (
        f"{_number(summary.median, entry.digits)} [{_number(summary.minimum, entry.digits)}, "
        f"{_number(summary.maximum, entry.digits)}]"
    )


def _interval(comparison) -> str:
    if math.isnan(comparison.difference):
        return "–"
    return f"{comparison.difference:+.3g} [{comparison.low:+.3g}, {comparison.high:+.3g}]"


def _p(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2g}"


def _verdict(verdict: str) -> str:
    return f"**{verdict}**" if verdict in ("better", "worse") else verdict


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.{digits}f}"


def _finite(values: Mapping[str, Any]) -> dict[str, Any]:
    """Strict JSON: a NaN becomes null."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in values.items()
    }


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(cell.replace("\n", " ") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
