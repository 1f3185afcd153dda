"""Where the gate's seed sets come from: files, this checkout's run, the MLflow store.

The IO edge of :mod:`gantrack.gate` (the rule itself is pure: :mod:`gantrack.gate.rules`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gantrack.gate.power import Rates
from gantrack.gate.seed_sets import (
    SeedResult,
    SeedSet,
    SeedSetError,
    combine,
    load_bounded_json,
    read_seed_set,
    seed_from_metrics,
)
from gantrack.study.spec import SEED_PARAM, is_recipe_param, recipe_params

SEED_RUNS_TAG = "gantrack.gate.seed_runs"
COMMIT_TAG = "gantrack.gate.commit"


def read_base(path: Path, label: str | None = None) -> SeedSet:
    """The base's seed set from ``path``; its label overridden by ``label``."""
    base = read_seed_set(path)
    return replace(base, label=label or base.label)


def read_candidates(paths: Sequence[Path], network: str) -> SeedSet:
    """The candidate's seeds, one file each (or several seeds in one), as one set (an
    empty one, of ``network``, when no file is given)."""
    combined = combine([read_seed_set(path) for path in paths], label="the candidate")
    return combined if combined.seeds else replace(combined, network=network)


def checkout_seed_set(params, repo: Path) -> SeedSet:
    """This checkout's run as a one-seed set: ``paths.metrics``, the evaluate stage's run
    record (the MLflow run), ``train.seed`` and the git commit."""
    from gantrack.study.store import recipe_hash
    from gantrack.tracking.provenance import git_state

    metrics_path = Path(params.paths.metrics)
    try:
        text = metrics_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeedSetError(
            f"{metrics_path}: not found; run the pipeline (`dvc repro`) before the gate"
        ) from None
    metrics = load_bounded_json(text, str(metrics_path))
    commit, _, _ = git_state(repo)
    record = Path(params.paths.run_records) / "evaluate.json"
    run_id = _run_id(record)
    seed = seed_from_metrics(
        metrics, params.gate.network, params.train.seed, run_id, commit, str(metrics_path)
    )
    return SeedSet(
        network=params.gate.network,
        seeds=(seed,),
        label=f"this checkout's run (seed {params.train.seed})",
        recipe=recipe_hash(recipe_params(params)),
        commit=commit,
        sources=(str(metrics_path),),
    )


def champion_seed_set(client, model_name: str, network: str) -> SeedSet:
    """Every complete run in the store of the champion's recipe (its source run's params,
    any seed): the champion's recorded seeds."""
    from gantrack.study.store import all_runs, is_complete, is_parent, recipe_hash
    from gantrack.tracking.registry import CHAMPION_ALIAS, RegistryError, model_aliases

    if CHAMPION_ALIAS not in model_aliases(client, model_name):
        raise RegistryError(
            f"{model_name!r} has no {CHAMPION_ALIAS!r} version yet: pass --base FILE (the "
            "committed base) until one is promoted"
        )
    version = client.get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    source = client.get_run(version.run_id)
    expected = {key: value for key, value in source.data.params.items() if is_recipe_param(key)}
    runs = [
        run
        for run in all_runs(client, source.info.experiment_id)
        if not is_parent(run)
        and is_complete(run)
        and all(run.data.params.get(key) == value for key, value in expected.items())
    ]
    seeds = tuple(
        SeedResult(
            seed=int(run.data.params[SEED_PARAM]) if SEED_PARAM in run.data.params else None,
            metrics={
                key.split(".", 1)[1]: value
                for key, value in run.data.metrics.items()
                if key.startswith(f"{network}.")
            },
            run_id=run.info.run_id,
            commit=run.data.tags.get("mlflow.source.git.commit"),
        )
        for run in runs
    )
    if not seeds:
        raise SeedSetError(f"the champion of {model_name!r} has no complete run in the store")
    return SeedSet(
        network=network,
        seeds=seeds,
        label=f"the champion of `{model_name}` (version {version.version}, its recipe's "
        f"{len(seeds)} recorded seeds)",
        recipe=recipe_hash(expected),
        commit=source.data.tags.get("mlflow.source.git.commit"),
    )


def candidate_model(client, params, candidate: SeedSet) -> dict[str, str] | None:
    """The model version the candidate registered: the one whose source run is a
    candidate seed's (the first of gate.seeds preferred); None without a registry."""
    name = params.mlflow.registered_model
    if client is None or not name:
        return None
    run_ids = {seed.seed: seed.run_id for seed in candidate.seeds if seed.run_id}
    preferred = [run_ids[s] for s in params.gate.seeds if s in run_ids] + list(run_ids.values())
    for run_id in preferred:
        versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
        if versions:
            newest = max(versions, key=lambda version: int(version.version))
            return {"name": name, "version": str(newest.version), "run_id": run_id}
    return None


def record_digest(client, model: Mapping[str, str], document: Mapping[str, Any]) -> None:
    """Tag the candidate's model version with the decision's digest and its evidence."""
    from gantrack.gate.decision import DIGEST_TAG, VERDICT_TAG, digest

    seed_runs = ",".join(seed["run_id"] or "" for seed in document["candidate"]["seeds"])
    tags = {
        DIGEST_TAG: digest(document),
        VERDICT_TAG: document["verdict"],
        SEED_RUNS_TAG: seed_runs[:5000],
        COMMIT_TAG: document.get("commit") or "",
    }
    for key, value in tags.items():
        client.set_model_version_tag(model["name"], model["version"], key, value)


def read_rates(path: Path) -> list[Rates]:
    """The measured false alarm and power (``gate --measure``); [] when not measured."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return [Rates(**{key: row[key] for key in ("k", "splits", "false_alarm", "power")})
                for row in raw["rates"]]  # fmt: skip
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SeedSetError(f"{path}: not the gate's measured rates ({error})") from None


def write_rates(rates: Sequence[Rates], base: SeedSet, path: Path) -> None:
    from gantrack.gate.power import WORSE_BY
    from gantrack.io import save_json

    save_json(
        {
            "base": base.label,
            "base_seeds": len(base.seeds),
            "worse_by": WORSE_BY,
            "method": "every split of the base's seeds into k held out (the candidate) and "
            "the rest (the base); power: the held-out seeds' FID times 1 + worse_by",
            "rates": [rate.as_dict() for rate in rates],
        },
        path,
    )


def _run_id(record: Path) -> str | None:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    run_id = data.get("run_id") if isinstance(data, dict) else None
    return run_id if isinstance(run_id, str) and len(run_id) < 100 else None
