"""The study's edge to MLflow: find each seed's run, and record recipes as parent runs.

A seed's run is found by what it *is*, not by its name: a FINISHED run whose params that
shape numbers equal the point's (:func:`gantrack.study.spec.run_params`) and which holds
every recipe metric, each finite. So a study reuses runs made before it existed, by
another study or by hand, and a stopped study resumes where the store says it stopped.
A FINISHED run that logged a recipe metric as NaN or infinite *diverged*: the seed is
failed with that as its error, left out of the recipe's numbers (the report lists it, so
a median never rests on the surviving seeds unsaid) and not queued again, since the same
seed diverges again. A param the run did not log (a key added to params.yaml since)
matches only if the point keeps its params.yaml value: gantrack adds keys with the value
that reproduces earlier runs.

Each point becomes one *parent* run (the recipe): the recipe's params, and for every
recipe metric its median, min, max and IQR over the complete seeds, as
``evaluator.fid.median`` ...; the seed runs nest under it (the ``mlflow.parentRunId``
tag), so the MLflow UI lists recipes with their seeds folded beneath and its compare view
can chart median FID against any param.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gantrack.metric_table import RECIPE_METRICS
from gantrack.study.records import SAVED_ON_TAG, original_run_id
from gantrack.study.spec import SEED_PARAM, Point, Study, recipe_params, run_params
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

    @property
    def diverged(self) -> bool:
        """The run finished but logged a recipe metric that is not finite."""
        return self.run is not None and is_diverged(self.run)

    @property
    def settled(self) -> bool:
        """Nothing to run again: complete, or diverged."""
        return self.complete or self.diverged

    def value(self, key: str) -> float:
        if not self.complete:
            return float("nan")
        return float(self.run.data.metrics.get(key, float("nan")))


def recipe_hash(params: Mapping[str, str]) -> str:
    """A short fingerprint of a recipe's params: the parent run that holds them."""
    text = json.dumps(dict(sorted(params.items())), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_complete(run) -> bool:
    """FINISHED, with every recipe metric, each finite (the evaluate stage ran to its end
    on a generator that had not diverged)."""
    return _evaluated(run) and not not_finite(run)


def is_diverged(run) -> bool:
    """FINISHED, with every recipe metric, one or more NaN or infinite."""
    return _evaluated(run) and bool(not_finite(run))


def not_finite(run) -> dict[str, float]:
    """The recipe metrics ``run`` logged as NaN or infinite: ``{key: value}``."""
    metrics = run.data.metrics
    keys = (metric_key(name) for name in RECIPE_METRICS)
    return {key: metrics[key] for key in keys if key in metrics and not math.isfinite(metrics[key])}


def divergence(run) -> str:
    """The error of a diverged seed: which metrics were not finite."""
    shown = ", ".join(f"{key} {value}" for key, value in not_finite(run).items())
    return (
        f"diverged: the run finished with {shown}; left out of the recipe's numbers and not "
        "queued again (the same seed diverges again: delete its MLflow run to retry it)"
    )


def _evaluated(run) -> bool:
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
    its diverged run with :func:`divergence` as the error, else its failed run's error,
    else nothing."""
    candidates = [run for run in runs if not is_parent(run)]
    return {
        (point.name, seed): _seed_run(study, point, seed, candidates, current)
        for point, seed in study.tasks()
    }


def other_seed_runs(
    study: Study, point: Point, seeds: Iterable[int], runs: Sequence, current: Mapping[str, str]
) -> list[SeedRun]:
    """What the store holds for seeds of ``point``'s recipe that this study file does not
    list (another machine's share of the seeds, recorded in the same parent)."""
    candidates = [run for run in runs if not is_parent(run)]
    return [_seed_run(study, point, seed, candidates, current) for seed in seeds]


def _seed_run(
    study: Study, point: Point, seed: int, candidates: Sequence, current: Mapping[str, str]
) -> SeedRun:
    """The complete run of (point, seed), the earliest if several; else its diverged run;
    else its failed run with the error; else nothing."""
    expected = run_params(study.params[(point.name, point.seeds[0])])
    expected[SEED_PARAM] = str(seed)
    matching = sorted(
        (run for run in candidates if matches(run, expected, current)),
        key=lambda run: run.info.start_time,
    )
    for run in matching:
        if is_complete(run):
            return SeedRun(point.name, seed, run)
    for run in matching:
        if is_diverged(run):
            return SeedRun(point.name, seed, run, divergence(run))
    name = point.experiment_name(study.name, seed)
    for run in reversed(matching):  # the latest failure
        if run.info.status == "FAILED" and run.data.tags.get("dvc.experiment") == name:
            return SeedRun(
                point.name, seed, run, run.data.tags.get(ERROR_TAG, "the run ended FAILED")
            )
    return SeedRun(point.name, seed)


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
    """Create or update the point's parent run; nest its seed runs under it. Its id.

    ``seeds`` are the point's seeds and any others the parent already records
    (:func:`recorded_seeds`: machines sharing one store, each running its own share of
    the seeds): the aggregates are over all of them, never only this file's share.
    """
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
    run_id = parent.info.run_id
    # Every time, not only at creation: a parent whose creation was cut off before its
    # params were logged is found by its tags and would stay without them (MLflow takes
    # a param logged again with the same value).
    _log_params(client, run_id, _params(params))
    listed = [*point.seeds, *sorted({seed.seed for seed in seeds} - set(point.seeds))]
    client.set_tag(run_id, SEEDS_TAG, ",".join(map(str, listed)))
    client.set_tag(run_id, NOTE_TAG, _note(study, point, listed))
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


def recorded_seeds(client, experiment_id: str, study: Study, point: Point) -> list[int]:
    """The seeds the point's parent run records (its :data:`SEEDS_TAG`); [] if none yet."""
    params = recipe_params(study.params[(point.name, point.seeds[0])])
    parent = _find_parent(client, experiment_id, study.name, point.name, recipe_hash(params))
    text = parent.data.tags.get(SEEDS_TAG, "") if parent is not None else ""
    return [int(seed) for seed in text.split(",") if seed.strip().isdigit()]


def _note(study: Study, point: Point, seeds: Sequence[int]) -> str:
    seeds = ", ".join(map(str, seeds))
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
