"""Complete runs when DVC reuses outputs: each stage records its run; reusers link it.

Every stage writes ``reports/runs/<stage>.json``: the run that produced its outputs and
what the stage logged there. A later stage reads the records of its upstream stages (from
DVC's graph); one naming another run belongs to a reused stage, whose metric histories,
tags and models the current run gets linked (README: "Complete runs when DVC skips
stages"). The record is a *cached* DVC output that no stage depends on, so it travels with
the outputs (``--temp``/queued experiments, run cache) without rerunning anything; it holds
identifiers and names only, nothing that differs between two identical executions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gantrack.io import save_json
from gantrack.tracking.limits import log_in_batches
from gantrack.tracking.runs import EXECUTION_KEY_TAG, STAGES_TAG
from gantrack.tracking.store import retry_when_locked

REUSED_TAG_PREFIX = "gantrack.reused."
# Tags every stage sets for itself (see gantrack.tracking.runs.stage_run): never copied.
_OWN_TAGS = frozenset({STAGES_TAG, EXECUTION_KEY_TAG, "gantrack.git_dirty"})


@dataclass(frozen=True)
class StageRecord:
    """The MLflow run that produced a stage's outputs, and what the stage logged there."""

    stage: str
    run_id: str
    experiment_id: str
    metrics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # logged model ids

    @classmethod
    def from_json(cls, data: Mapping) -> StageRecord:
        lists = ("metrics", "tags", "artifacts", "models")
        return cls(
            stage=str(data["stage"]),
            run_id=str(data["run_id"]),
            experiment_id=str(data["experiment_id"]),
            **{name: tuple(str(item) for item in data.get(name, ())) for name in lists},
        )


@dataclass(frozen=True)
class RunSnapshot:
    """What a run holds at one moment: metric names, tags, top-level artifacts, models."""

    metrics: frozenset[str] = frozenset()
    tags: Mapping[str, str] = field(default_factory=dict)
    artifacts: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()


def snapshot_with(before: RunSnapshot, logged) -> RunSnapshot:
    """``before`` plus what a stage logged (a :class:`~gantrack.tracking.tracker.Logged`):
    the run as it will be once its spool is replayed. Models are not spooled."""
    return RunSnapshot(
        metrics=before.metrics | frozenset(logged.metrics),
        tags={**before.tags, **logged.tags},
        artifacts=before.artifacts | frozenset(logged.artifacts),
        models=before.models,
    )


def stage_record(
    stage: str, run_id: str, experiment_id: str, before: RunSnapshot, after: RunSnapshot
) -> StageRecord:
    """The record of a stage that turned the run from ``before`` into ``after``.

    Metrics, artifacts and models count when new; ``gantrack.*`` tags when new or changed
    (a stage's own tags and links to reused runs excluded). No two stages share a metric.
    """
    tags = [
        key
        for key, value in after.tags.items()
        if key.startswith("gantrack.")
        and key not in _OWN_TAGS
        and not key.startswith(REUSED_TAG_PREFIX)
        and before.tags.get(key) != value
    ]
    return StageRecord(
        stage,
        run_id,
        experiment_id,
        metrics=tuple(sorted(after.metrics - before.metrics)),
        tags=tuple(sorted(tags)),
        artifacts=tuple(sorted(after.artifacts - before.artifacts)),
        models=tuple(sorted(after.models - before.models)),
    )


def reused_tag(stage: str) -> str:
    """``gantrack.reused.<stage>``; MLflow keys allow no ``@`` (``ref@x`` → ``ref-x``)."""
    return REUSED_TAG_PREFIX + re.sub(r"[^\w.\- /]", "-", stage)


def records_to_link(
    records: Iterable[StageRecord], run_id: str, run_tags: Mapping[str, str]
) -> list[StageRecord]:
    """The records of reused stages that run ``run_id`` has not linked yet (a record naming
    ``run_id`` itself is of a stage that ran in this execution)."""
    return [
        record
        for record in records
        if record.run_id != run_id and run_tags.get(reused_tag(record.stage)) != record.run_id
    ]


def save_record(record: StageRecord, path: Path) -> None:
    save_json(asdict(record), path)


def load_records(folder: Path, stages: Iterable[str]) -> list[StageRecord]:
    """The readable records of ``stages`` in ``folder``; a missing or unreadable one can
    only cost a link, never a wrong one, so it is left out."""
    records = []
    for stage in stages:
        path = Path(folder) / f"{stage}.json"
        try:
            records.append(StageRecord.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return records


def snapshot_run(client, run_id: str) -> RunSnapshot:
    """What run ``run_id`` holds now (artifacts listed at the top level)."""
    run = client.get_run(run_id)
    outputs = getattr(run, "outputs", None)
    models = [output.model_id for output in (outputs.model_outputs if outputs else None) or []]
    return RunSnapshot(
        metrics=frozenset(run.data.metrics),
        tags=dict(run.data.tags),
        artifacts=frozenset(item.path for item in client.list_artifacts(run_id)),
        models=frozenset(models),
    )


def link_reused_stage(client, run_id: str, record: StageRecord) -> None:
    """Give run ``run_id`` what the reused stage of ``record`` logged in its own run.

    Copies each metric's whole history and the stage's tags; tags ``gantrack.reused.<stage>``
    (the producing run id) and ``….artifact_uri``; links the stage's models as outputs; logs
    ``reused/<stage>.json`` with artifact URIs. A producing run missing from this store
    leaves a ``….missing`` tag instead.
    """
    from mlflow.entities import LoggedModelOutput, Metric, RunTag
    from mlflow.exceptions import MlflowException

    tag = reused_tag(record.stage)
    try:
        source = client.get_run(record.run_id)
    except MlflowException:
        missing = {tag: record.run_id, f"{tag}.missing": "the producing run is not in this store"}
        tags = [RunTag(key, value) for key, value in missing.items()]
        retry_when_locked(client.log_batch)(run_id, tags=tags)
        return
    metrics = [
        Metric(key, point.value, point.timestamp, point.step)
        for key in record.metrics
        for point in client.get_metric_history(record.run_id, key)
    ]
    log_in_batches(retry_when_locked(client.log_batch), run_id, metrics=metrics)
    artifact_root = source.info.artifact_uri
    tags = {key: source.data.tags[key] for key in record.tags if key in source.data.tags}
    tags[f"{tag}.artifact_uri"] = artifact_root
    tags = [RunTag(key, value) for key, value in tags.items()]
    retry_when_locked(client.log_batch)(run_id, tags=tags)
    if record.models:
        outputs = [LoggedModelOutput(model, step=0) for model in record.models]
        retry_when_locked(client.log_outputs)(run_id, outputs)
    links = {
        **asdict(record),
        "artifact_uris": [f"{artifact_root.rstrip('/')}/{path}" for path in record.artifacts],
        "model_uris": [f"models:/{model}" for model in record.models],
    }
    retry_when_locked(client.log_dict)(run_id, links, f"reused/{record.stage}.json")
    # Last: this tag marks the stage as linked, so one that failed half-way is linked again.
    retry_when_locked(client.set_tag)(run_id, tag, record.run_id)


def dvc_upstream_stages(repo_dir: Path, stage: str) -> tuple[str, ...]:
    """The stages ``stage`` depends on, directly or not, from DVC's graph (all of them that
    this execution runs have run before ``stage`` starts)."""
    import networkx
    from dvc.repo import Repo

    with Repo(str(repo_dir)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        nodes = [node for node in graph if node.addressing == stage]
        upstream = networkx.descendants(graph, nodes[0]) if nodes else ()
        return tuple(sorted(node.addressing for node in upstream))
