"""Seed sets: one recipe's metrics over seeds, the unit the gate compares.

A seed set is a JSON file (``"format": "gantrack-seed-set/1"``)::

    {"format": "gantrack-seed-set/1", "network": "evaluator", "recipe": "<hash>",
     "commit": "<git sha>", "label": "the default (studies/default.yaml)",
     "seeds": [{"seed": 1, "run_id": "…", "commit": "…", "metrics": {"fid": 3.1, …}}, …]}

The base is one (``reports/gate/base.json``: the default's recorded seeds), and so is
each seed of the candidate (``gate --export-seed``). Reading is strict and bounded: the
file must be small JSON of this shape (no 400-digit numbers, no nesting deeper than the
format needs); anything else is a :class:`SeedSetError` naming the file and the problem.
NaN and ±Infinity values are read as such: whether they fail a candidate or make a base
unusable is the gate's judgement (:mod:`gantrack.gate.rules`), not a reading error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gantrack.errors import GantrackError

FORMAT = "gantrack-seed-set/1"
MAX_FILE_BYTES = 4 * 1024 * 1024  # a seed set of a thousand seeds is ~1 MB
MAX_SEEDS = 10_000
MAX_DEPTH = 8  # {"seeds": [{"metrics": {…}}]} is 4 deep


class SeedSetError(GantrackError, ValueError):
    """A seed set that cannot be read or makes no sense (the gate exits 3)."""


@dataclass(frozen=True)
class SeedResult:
    """One seed's run: the gated network's metrics, and where they came from."""

    seed: int | None
    metrics: Mapping[str, float]
    run_id: str | None = None
    commit: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "run_id": self.run_id,
            "commit": self.commit,
            "metrics": {key: _json_number(value) for key, value in self.metrics.items()},
        }


@dataclass(frozen=True)
class SeedSet:
    """A recipe's seeds; ``label`` says in reports what it is."""

    network: str
    seeds: tuple[SeedResult, ...]
    label: str = ""
    recipe: str | None = None
    commit: str | None = None
    sources: tuple[str, ...] = field(default=(), compare=False)

    def values(self, metric: str) -> list[float]:
        """``metric`` of every seed, NaN where a seed lacks it."""
        return [float(seed.metrics.get(metric, math.nan)) for seed in self.seeds]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "network": self.network,
            "label": self.label or None,
            "recipe": self.recipe,
            "commit": self.commit,
            "seeds": [seed.as_dict() for seed in self.seeds],
        }


def combine(sets: Sequence[SeedSet], label: str = "") -> SeedSet:
    """Several seed sets (one file per candidate seed) as one; they must share a network.

    The same seed twice is refused: two runs of one seed on one machine are one result
    counted twice (training is deterministic), which would make the gate overconfident.
    """
    if not sets:
        return SeedSet(network="", seeds=(), label=label)
    networks = {item.network for item in sets}
    if len(networks) > 1:
        raise SeedSetError(f"the seed sets score different networks: {sorted(networks)}")
    seeds = tuple(seed for item in sets for seed in item.seeds)
    numbered = [seed.seed for seed in seeds if seed.seed is not None]
    if repeated := sorted({seed for seed in numbered if numbered.count(seed) > 1}):
        sources = ", ".join(source for item in sets for source in item.sources)
        raise SeedSetError(f"seed {repeated[0]} appears twice among {sources}: one run per seed")
    recipes = {item.recipe for item in sets} - {None}
    commits = {item.commit for item in sets} - {None}
    return SeedSet(
        network=sets[0].network,
        seeds=seeds,
        label=label or sets[0].label,
        recipe=recipes.pop() if len(recipes) == 1 else None,
        commit=commits.pop() if len(commits) == 1 else None,
        sources=tuple(source for item in sets for source in item.sources),
    )


def read_seed_set(path: Path | str) -> SeedSet:
    """Read and check a seed-set file; :class:`SeedSetError` on anything odd."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SeedSetError(f"{path}: {size:,} bytes, more than a seed set holds; not read")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeedSetError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SeedSetError(f"{path}: not readable ({error})") from None
    return parse_seed_set(text, str(path))


def load_bounded_json(text: str, source: str) -> Any:
    """JSON of the small shapes the gate reads (seed sets, metrics.json), or a
    :class:`SeedSetError`: integers of more than 18 digits and nesting deeper than
    :data:`MAX_DEPTH` are refused before they can overflow or exhaust the stack. NaN and
    ±Infinity are read (a broken candidate's metrics may hold them: the gate fails such
    a candidate rather than calling its file unreadable)."""
    try:
        raw = json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise SeedSetError(f"{source}: JSON nested too deeply to be read") from None
    except (ValueError, OverflowError) as error:
        raise SeedSetError(f"{source}: not readable JSON ({error})") from None
    if _depth(raw) > MAX_DEPTH:
        raise SeedSetError(f"{source}: JSON nested too deeply to be read")
    return raw


def parse_seed_set(text: str, source: str) -> SeedSet:
    """A seed set from its JSON text; ``source`` names it in errors."""
    raw = load_bounded_json(text, source)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise SeedSetError(
            f'{source}: not a seed set (expected a JSON object with "format": "{FORMAT}"; '
            "write one with `python -m gantrack gate --export-seed FILE` or "
            "`python -m gantrack study export STUDY --point NAME`)"
        )
    network = _text(raw.get("network"), "network", source, required=True)
    seeds = raw.get("seeds")
    if not isinstance(seeds, list) or not seeds or len(seeds) > MAX_SEEDS:
        raise SeedSetError(f'{source}: "seeds" must be a list of 1 to {MAX_SEEDS} seeds')
    return SeedSet(
        network=network,
        seeds=tuple(_seed(item, index, source) for index, item in enumerate(seeds)),
        label=_text(raw.get("label"), "label", source) or source,
        recipe=_text(raw.get("recipe"), "recipe", source),
        commit=_text(raw.get("commit"), "commit", source),
        sources=(source,),
    )


def write_seed_set(seed_set: SeedSet, path: Path | str) -> None:
    from gantrack.io import save_json

    save_json(seed_set.as_dict(), path)


def seed_from_metrics(
    metrics: Mapping[str, Any],
    network: str,
    seed: int | None,
    run_id: str | None = None,
    commit: str | None = None,
    source: str = "metrics.json",
) -> SeedResult:
    """A seed from a ``metrics.json``-shaped mapping ``{network: {metric: value}}``."""
    section = metrics.get(network) if isinstance(metrics, Mapping) else None
    if not isinstance(section, Mapping):
        found = ", ".join(sorted(metrics)) if isinstance(metrics, Mapping) else "none"
        raise SeedSetError(f"{source}: no metrics for network {network!r} (found: {found})")
    return SeedResult(seed, _metrics(section, source), run_id, commit)


# ---- checks ---------------------------------------------------------------------------


def _seed(item: Any, index: int, source: str) -> SeedResult:
    where = f"{source}: seeds[{index}]"
    if not isinstance(item, dict):
        raise SeedSetError(f"{where}: expected an object with seed and metrics")
    seed = item.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SeedSetError(f"{where}.seed: expected a whole number >= 0 or null, got {seed!r}")
    metrics = item.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise SeedSetError(f"{where}.metrics: expected an object of metric values")
    return SeedResult(
        seed=seed,
        metrics=_metrics(metrics, where),
        run_id=_text(item.get("run_id"), "run_id", where),
        commit=_text(item.get("commit"), "commit", where),
    )


def _metrics(section: Mapping[str, Any], where: str) -> dict[str, float]:
    """Numbers as floats; null becomes NaN (a value the run could not compute); strings
    and lists (descriptions, not metrics) are left out."""
    values = {}
    for key, value in section.items():
        if value is None:
            values[str(key)] = math.nan
        elif isinstance(value, bool) or not isinstance(value, int | float):
            continue  # strings and lists describe, they are not metrics
        else:
            try:
                values[str(key)] = float(value)
            except OverflowError:
                raise SeedSetError(f"{where}: {key} is a number too large for a metric") from None
    return values


def _text(value: Any, key: str, where: str, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 500:
        raise SeedSetError(f"{where}: {key} must be a short string, got {str(value)[:60]!r}")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 18:
        raise ValueError(f"the integer {text[:20]}… has {len(text)} digits; no metric has")
    return int(text)


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _depth(value: Any, level: int = 1) -> int:
    if isinstance(value, dict):
        return max((_depth(item, level + 1) for item in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(item, level + 1) for item in value), default=level)
    return level
