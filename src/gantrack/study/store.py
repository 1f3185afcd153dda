"""The study's edge to MLflow: find each seed's run, and record recipes as parent runs.

A seed's run is found by what it *is*, not by its name: a FINISHED run whose params that
shape numbers equal the point's (:func:`gantrack.study.spec.run_params`) and which holds
every recipe metric. So a study reuses runs made before it existed, by another study or
by hand, and a stopped study resumes where the store says it stopped. A param the run did
not log (a key added to params.yaml since) matches only if the point keeps its
params.yaml value: gantrack adds keys with the value that reproduces earlier runs.

Each point becomes one *parent* run (the recipe): the recipe's params, and for every
recipe metric its median, min, max and IQR over the complete seeds, as
``evaluator.fid.median`` ...; the seed runs nest under it (the ``mlflow.parentRunId``
tag), so the MLflow UI lists recipes with their seeds folded beneath and its compare view
can chart median FID against any param.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gantrack.metric_table import RECIPE_METRICS
from gantrack.study.records import SAVED_ON_TAG, original_run_id
from gantrack.study.spec import Point, Study, recipe_params, run_params
from gantrack.study.statistics import summarise
from gantrack.tracking.limits import MAX_PARAM_VALUE_LENGTH, SEARCH_PAGE_SIZE, log_in_batches
from gantrack.tracking.provenance import CPU_TAG

NETWORK = "evaluator"  # the network a study judges recipes by (always scored)
PARENT_TAG = "gantrack.study.parent"
STUDY_TAG = "gantrack.study"
POINT_TAG = "gantrack.study.point"
RECIPE_TAG = "gantrack.recipe"
ERROR_TAG = "gantrack.study.error"
SEED_RUNS_TAG = "gantrack.study.seed_runs"
# The seeds the study file lists for the point: a tag, not a param, since a study may add
# seeds to a point later (the parent stays the recipe's, and MLflow's params are immutable).
SEEDS_TAG = "gantrack.study.seeds"
NOTE_TAG = "mlflow.note.content"
NESTING_TAG = "mlflow.parentRunId"
CURVE = "eval.fid"  # the in-training FID, every train.eval_every epochs
STEPS_PER_EPOCH = "steps_per_epoch"
# Per-seed values a study reads from each run besides the recipe metrics.
EXTRA_METRICS = ("training_seconds", "classes_covered", "smallest_class_share")


def metric_key(name: str) -> str:
    """A recipe metric's key in a run: ``evaluator.fid``."""
    return f"{NETWORK}.{name}"


@dataclass(frozen=True)
class SeedRun:
    """What the store holds for one (point, seed): its complete run, or a failure."""

    point: str
    seed: int
    run: Any = None  # mlflow.entities.Run
    error: str = ""

    @property
    def complete(self) -> bool:
        return self.run is not None and is_complete(self.run)

    def value(self, key: str) -> float:
        if not self.complete:
            return float("nan")
        return float(self.run.data.metrics.get(key, float("nan")))


def recipe_hash(params: Mapping[str, str]) -> str:
    """A short fingerprint of a recipe's params: the parent run that holds them."""
    text = json.dumps(dict(sorted(params.items())), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_complete(run) -> bool:
    """FINISHED, with every recipe metric (the evaluate stage ran to its end)."""
    metrics = run.data.metrics
    return run.info.status == "FINISHED" and all(
        metric_key(name) in metrics for name in RECIPE_METRICS
    )


def is_parent(run) -> bool:
    return run.data.tags.get(PARENT_TAG) == "true"


def matches(run, expected: Mapping[str, str], current: Mapping[str, str]) -> bool:
    """Whether ``run`` logged ``expected``'s params; a key it lacks counts as ``current``'s
    value (this checkout's params.yaml), the value the key was added with."""
    logged = run.data.params
    for key, value in expected.items():
        if key in logged:
            if logged[key] != value:
                return False
        elif current.get(key) != value:
            return False
    return True


def all_runs(client, experiment_id: str) -> list:
    """Every run of the experiment (paged), newest first."""
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id],
            max_results=SEARCH_PAGE_SIZE,
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def seed_runs(
    study: Study, runs: Sequence, current: Mapping[str, str]
) -> dict[tuple[str, int], SeedRun]:
    """Each (point, seed) of ``study``: its complete run (the earliest, if several), else
    its failed run's error, else nothing."""
    candidates = [run for run in runs if not is_parent(run)]
    found = {}
    for point, seed in study.tasks():
        expected = run_params(study.params[(point.name, seed)])
        matching = [run for run in candidates if matches(run, expected, current)]
        complete = sorted(
            (run for run in matching if is_complete(run)), key=lambda run: run.info.start_time
        )
        if complete:
            found[(point.name, seed)] = SeedRun(point.name, seed, complete[0])
            continue
        name = point.experiment_name(study.name, seed)
        failed = [
            run
            for run in matching
            if run.info.status == "FAILED" and run.data.tags.get("dvc.experiment") == name
        ]
        error = failed[0].data.tags.get(ERROR_TAG, "the run ended FAILED") if failed else ""
        found[(point.name, seed)] = SeedRun(point.name, seed, failed[0] if failed else None, error)
    return found


def seed_values(seeds: Iterable[SeedRun], name: str) -> list[float]:
    """A recipe metric over the complete seeds (NaN for the others)."""
    return [seed.value(metric_key(name)) for seed in seeds]


def recipe_metrics(seeds: Sequence[SeedRun]) -> dict[str, float]:
    """The parent run's metrics: ``evaluator.<m>.<median|min|max|iqr>`` for each recipe
    metric (and the extras), ``seeds_complete`` and ``seeds_failed``."""
    metrics = {
        "seeds_complete": float(sum(seed.complete for seed in seeds)),
        "seeds_failed": float(sum(bool(seed.error) for seed in seeds)),
    }
    for name in (*RECIPE_METRICS, *EXTRA_METRICS):
        key = name if name == "training_seconds" else metric_key(name)
        summary = summarise([seed.value(key) for seed in seeds])
        if summary.count:
            for statistic, value in summary.as_dict().items():
                if statistic != "seeds":
                    metrics[f"{key}.{statistic}"] = value
    return metrics


def record_recipe(
    client, experiment_id: str, study: Study, point: Point, seeds: Sequence[SeedRun]
) -> str:
    """Create or update the point's parent run; nest its seed runs under it. Its id."""
    params = recipe_params(study.params[(point.name, point.seeds[0])])
    fingerprint = recipe_hash(params)
    parent = _find_parent(client, experiment_id, study.name, point.name, fingerprint)
    if parent is None:
        tags = {
            PARENT_TAG: "true",
            STUDY_TAG: study.name,
            POINT_TAG: point.name,
            RECIPE_TAG: fingerprint,
        }
        parent = client.create_run(experiment_id, run_name=f"{study.name}-{point.name}", tags=tags)
        _log_params(client, parent.info.run_id, _params(params))
    run_id = parent.info.run_id
    client.set_tag(run_id, SEEDS_TAG, ",".join(map(str, point.seeds)))
    client.set_tag(run_id, NOTE_TAG, _note(study, point))
    metrics = recipe_metrics(seeds)
    _log_metrics(client, run_id, metrics)
    ids = [seed.run.info.run_id for seed in seeds if seed.run is not None]
    client.set_tag(run_id, SEED_RUNS_TAG, ",".join(ids))
    for seed in seeds:
        if seed.run is not None and not seed.run.data.tags.get(NESTING_TAG):
            client.set_tag(seed.run.info.run_id, NESTING_TAG, run_id)
    status = "FINISHED" if metrics["seeds_complete"] else "FAILED"
    client.set_terminated(run_id, status)
    return run_id


def record_failure(
    client, experiment_id: str, study: Study, point: Point, seed: int, error: str, run=None
):
    """Mark (point, seed) failed with ``error``: on its FAILED run, or on a FAILED run made
    for the record when the experiment failed before any stage opened one."""
    if run is None:
        name = point.experiment_name(study.name, seed)
        run = client.create_run(experiment_id, run_name=name, tags={"dvc.experiment": name})
        params = run_params(study.params[(point.name, seed)])
        _log_params(client, run.info.run_id, _params(params))
        client.set_terminated(run.info.run_id, "FAILED")
        run = client.get_run(run.info.run_id)
    client.set_tag(run.info.run_id, ERROR_TAG, error[-5000:] or "failed (no log)")
    return client.get_run(run.info.run_id)


def curve(client, run_id: str) -> dict[int, float]:
    """The run's in-training FID by epoch."""
    return {point.step: point.value for point in client.get_metric_history(run_id, CURVE)}


def _find_parent(client, experiment_id: str, study: str, point: str, fingerprint: str):
    found = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.`{PARENT_TAG}` = 'true' and tags.`{STUDY_TAG}` = '{study}' and "
            f"tags.`{POINT_TAG}` = '{point}' and tags.`{RECIPE_TAG}` = '{fingerprint}'"
        ),
        max_results=1,
    )
    return found[0] if found else None


def _note(study: Study, point: Point) -> str:
    seeds = ", ".join(map(str, point.seeds))
    text = f"Recipe `{point.name}` of study `{study.name}` over seeds {seeds}."
    return f"{text} {point.note}" if point.note else text


def _params(params: Mapping[str, str]) -> list:
    from mlflow.entities import Param

    return [Param(key, value[:MAX_PARAM_VALUE_LENGTH]) for key, value in params.items()]


def _log_params(client, run_id: str, params: list) -> None:
    log_in_batches(client.log_batch, run_id, params=params)


def _log_metrics(client, run_id: str, metrics: Mapping[str, float]) -> None:
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    entries = [Metric(key, value, stamp, 0) for key, value in metrics.items()]
    log_in_batches(client.log_batch, run_id, metrics=entries)


def recipe_results(client, study: Study, found: Mapping[tuple[str, int], SeedRun]) -> list:
    """Each point's :class:`~gantrack.study.results.RecipeResult`: recipe metrics of the
    complete seeds, errors of the failed ones, in-training FID by generator step."""
    from gantrack.study.results import RecipeResult

    results = []
    for point in study.points:
        values: dict[str, dict[int, float]] = {name: {} for name in RECIPE_METRICS}
        failed, curves, run_ids, machines = {}, {}, {}, {}
        for seed in point.seeds:
            seed_run = found[(point.name, seed)]
            if seed_run.complete:
                for name in RECIPE_METRICS:
                    values[name][seed] = seed_run.value(metric_key(name))
                # as first logged: a report rebuilt from saved runs names the same ids
                run_ids[seed] = original_run_id(seed_run.run)
                curves[seed] = steps_curve(client, seed_run.run)
                machines[seed] = machine(seed_run.run)
            elif seed_run.error:
                failed[seed] = seed_run.error
        results.append(RecipeResult(point, values, failed, curves, run_ids, machines))
    return results


def machine(run) -> str:
    """The CPU ``run`` ran on: its own tag, else the CPU of the machine that saved it (a
    run from before the tag, saved where it ran), else ``not recorded``."""
    tags = run.data.tags
    if tags.get(CPU_TAG):
        return tags[CPU_TAG]
    if tags.get(SAVED_ON_TAG):
        return f"{tags[SAVED_ON_TAG]}, where it was saved"
    return "not recorded"


def steps_curve(client, run) -> dict[int, float]:
    """The run's in-training FID by generator step (epoch × the run's steps per epoch);
    {} when the run did not log its steps per epoch."""
    per_epoch = run.data.metrics.get(STEPS_PER_EPOCH)
    if not per_epoch:
        return {}
    return {
        int(epoch * per_epoch): value for epoch, value in curve(client, run.info.run_id).items()
    }
