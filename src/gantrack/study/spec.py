"""A study file (``studies/<name>.yaml``): recipes, seeds and one budget, checked whole.

A study declares what to measure and nothing else::

    description: The losses at the default's budget.
    budget: {steps: 3000}          # steps | images | epochs: one, for every point
    seeds: [1, 2, 3]               # train.seed of every point (a point may list its own)
    reference: default             # the point every other is compared with
    base:                          # params (dotted) every point shares
      mlflow.registered_model: null
    points:                        # named recipes: params on top of params.yaml and base
      - name: default
        seeds: [1, 2, 3, 4, 5]
      - name: hinge
        params: {train.loss: hinge}
    grid:                          # and/or every combination of these values
      train.batch_size: [8, 32]
    random:                        # and/or a seeded random sample of these ranges
      samples: 4
      seed: 0
      axes:
        train.generator_learning_rate: {log_uniform: [1.0e-5, 1.0e-3]}
        train.beta_1: {choice: [0.0, 0.5]}

:func:`load_study` resolves every (point, seed) into a full, validated ``Params`` before
anything is queued: an unknown param, a value the config refuses, an empty axis or a
budget stated twice is one :class:`StudyError` naming the key. So is a recipe listed
twice (two points whose params differ only where no number is shaped, or a random sample
that draws one recipe again): both would be measured by the same runs. A point may carry a
``budget`` of its own (an equal-wall-time point) with a ``note`` saying why.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gantrack.config import ConfigError, Params, flatten_params, parse_params
from gantrack.errors import GantrackError

BUDGET_KEYS = ("steps", "images", "epochs")  # train.<key>: one, the others null
SEED_PARAM = "train.seed"
# Params that shape no run's numbers: a run that differs only here is the same measurement.
NOT_RUN_PARAMS = ("gate.", "paths.", "mlflow.")
STUDY_KEYS = {"description", "budget", "seeds", "reference", "base", "points", "grid", "random"}
POINT_KEYS = {"name", "params", "seeds", "budget", "note"}
SAMPLERS = ("choice", "uniform", "log_uniform", "int_uniform", "log_int_uniform")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def valid_name(name: Any) -> bool:
    """A study or point name DVC can name an experiment (``<study>-<point>-s<seed>``, a
    git ref) by: :data:`NAME_PATTERN`, without the ``..`` git refuses in a ref. DVC would
    refuse it only when queueing, with earlier points queued."""
    return isinstance(name, str) and bool(NAME_PATTERN.match(name)) and ".." not in name


class StudyError(GantrackError, ValueError):
    """A study file that cannot be run as written."""


@dataclass(frozen=True)
class Point:
    """One recipe of a study: its changes to params.yaml and the seeds it is measured on."""

    name: str
    changes: Mapping[str, Any]  # dotted param -> value, budget included, seed excluded
    seeds: tuple[int, ...]
    note: str = ""

    def experiment_name(self, study: str, seed: int) -> str:
        """The DVC experiment (and MLflow run name) of one seed: ``grid-hinge-s3``."""
        return f"{study}-{self.name}-s{seed}"


@dataclass(frozen=True)
class Study:
    """A validated study: its points in order, the reference point's name first among
    equals, every seed's full params (``params[(point, seed)]``) and ``base``, the
    changes to params.yaml that the file gives every point (a point may override them)."""

    name: str
    path: Path
    description: str
    budget: Mapping[str, int]
    reference: str
    points: tuple[Point, ...]
    params: Mapping[tuple[str, int], Params] = field(repr=False)
    base: Mapping[str, Any] = field(default_factory=dict)

    def point(self, name: str) -> Point:
        return next(point for point in self.points if point.name == name)

    def tasks(self) -> Iterator[tuple[Point, int]]:
        """Every (point, seed) in the order they are queued: seed by seed, so a study
        stopped early holds a few seeds of every point rather than all of a few."""
        for index in range(max(len(point.seeds) for point in self.points)):
            for point in self.points:
                if index < len(point.seeds):
                    yield point, point.seeds[index]


def load_study(path: Path | str, params_file: Path | str = "params.yaml") -> Study:
    """Read ``path`` and resolve every point against ``params_file``; raise :class:`StudyError`."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyError(f"{path}: no such study file") from None
    except (OSError, yaml.YAMLError) as error:
        raise StudyError(f"{path}: not readable YAML: {error}") from None
    try:
        base = yaml.safe_load(Path(params_file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise StudyError(f"{params_file}: cannot read the base params: {error}") from None
    return parse_study(raw, base, name=path.stem, path=path, params_source=str(params_file))


def parse_study(
    raw: Any,
    base_params: Mapping[str, Any],
    name: str,
    path: Path,
    params_source: str = "params.yaml",
) -> Study:
    """Validate a parsed study file against the parsed ``params.yaml`` ``base_params``
    (read from ``params_source``, the name its errors give)."""
    if not isinstance(raw, dict):
        raise StudyError(f"{path}: expected a mapping of study keys, got {type(raw).__name__}")
    _check_keys(raw, STUDY_KEYS, str(path))
    if not valid_name(name):
        raise StudyError(
            f"{path}: the file's name {name!r} must be letters, digits, _ . - only (no '..')"
        )
    try:
        known = flatten_params(parse_params(base_params, source=params_source))
    except ConfigError as error:
        raise StudyError(f"{error}; a study's points are changes to it, so mend it first") from None
    budget = _budget(raw.get("budget"), "budget")
    default_seeds = _seeds(raw.get("seeds"), "seeds")
    shared = _changes(raw.get("base") or {}, "base", known)
    points = [
        *(_listed_point(item, index, known) for index, item in enumerate(raw.get("points") or [])),
        *_grid_points(raw.get("grid"), known),
        *_random_points(raw.get("random"), known),
    ]
    if not points:
        raise StudyError(f"{path}: no points: give points, grid or random")
    names = [item["name"] for item in points]
    if bad := [name for name in names if not valid_name(name)]:  # a grid value's name
        raise StudyError(
            f"{path}: point name {bad[0]!r} cannot name a DVC experiment (git refuses "
            "'..' in a ref): list the point under points with a name of its own"
        )
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise StudyError(f"{path}: point names must be unique; repeated: {', '.join(duplicates)}")
    reference = raw.get("reference", names[0])
    if reference not in names:
        raise StudyError(f"reference: {reference!r} is not a point (points: {', '.join(names)})")
    resolved = []
    params: dict[tuple[str, int], Params] = {}
    for item in points:
        point_budget = item["budget"] or budget
        if point_budget is None:
            raise StudyError("budget: missing; state it once, e.g. budget: {steps: 3000}")
        seeds = item["seeds"] or default_seeds
        if not seeds:
            raise StudyError(f"seeds: point {item['name']!r} has none; give seeds: [1, 2, 3]")
        changes = {**shared, **item["params"], **_budget_params(point_budget)}
        point = Point(item["name"], changes, seeds, item["note"])
        for seed in seeds:
            params[(point.name, seed)] = _resolve(base_params, {**changes, SEED_PARAM: seed}, point)
        resolved.append(point)
    _check_recipes_differ(resolved, params)
    return Study(
        name=name,
        path=path,
        description=str(raw.get("description") or ""),
        budget=budget or {},
        reference=reference,
        points=tuple(resolved),
        params=params,
        base=shared,
    )


def shapes_runs(key: str) -> bool:
    """Whether the flattened param ``key`` can change a run's numbers (it is not in one of
    the :data:`NOT_RUN_PARAMS` sections)."""
    return not key.startswith(NOT_RUN_PARAMS)


def is_recipe_param(key: str) -> bool:
    """Whether ``key`` tells recipes apart: it shapes a run's numbers and is not the seed
    (runs that differ only in the seed are one recipe measured again)."""
    return shapes_runs(key) and key != SEED_PARAM


def run_params(params: Params) -> dict[str, str]:
    """The params that shape a run's numbers, as MLflow logs them (``str`` of each value)."""
    return {key: str(value) for key, value in flatten_params(params).items() if shapes_runs(key)}


def recipe_params(params: Params) -> dict[str, str]:
    """:func:`run_params` less the seed: what every seed of one recipe shares."""
    return {key: value for key, value in run_params(params).items() if is_recipe_param(key)}


def _check_recipes_differ(points: list[Point], params: Mapping[tuple[str, int], Params]) -> None:
    """Two points of one recipe would be measured by the same seed runs (the store finds a
    run by its params) and the report would compare the recipe with itself."""
    seen: dict[tuple[tuple[str, str], ...], str] = {}
    for point in points:
        recipe = tuple(sorted(recipe_params(params[(point.name, point.seeds[0])]).items()))
        if recipe in seen:
            first = seen[recipe]
            hint = (
                "draw other values with another random.seed or fewer samples"
                if first.startswith("random-") and point.name.startswith("random-")
                else "remove one, or change what sets it apart"
            )
            raise StudyError(
                f"points {first!r} and {point.name!r} are the same recipe (their params "
                "differ only in the seed or in keys that shape no run: "
                f"{', '.join(NOT_RUN_PARAMS)}); they would share one set of runs: {hint}"
            )
        seen[recipe] = point.name


# ---- the parts of a study file -------------------------------------------------------


def _check_keys(mapping: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise StudyError(
                f"{where}: unknown key {key!r}{hint}; allowed: {', '.join(sorted(allowed))}"
            )


def _budget(raw: Any, where: str) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise StudyError(f"{where}: expected one of {', '.join(BUDGET_KEYS)}, e.g. {{steps: 3000}}")
    _check_keys(raw, set(BUDGET_KEYS), where)
    if len(raw) > 1:
        raise StudyError(
            f"{where}: the budget is given twice ({', '.join(map(str, raw))}); "
            "state it once, in one unit"
        )
    ((key, value),) = raw.items()
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StudyError(f"{where}.{key}: expected a whole number >= 1, got {value!r}")
    return {key: value}


def _budget_params(budget: Mapping[str, int]) -> dict[str, int | None]:
    return {f"train.{key}": budget.get(key) for key in BUDGET_KEYS}


def _seeds(raw: Any, where: str) -> tuple[int, ...]:
    if raw is None:
        return ()
    if isinstance(raw, int) and not isinstance(raw, bool):  # seeds: 3 means 1, 2, 3
        if raw < 1:
            raise StudyError(f"{where}: expected a count >= 1 or a list of seeds, got {raw}")
        return tuple(range(1, raw + 1))
    if not isinstance(raw, list) or not raw:
        raise StudyError(f"{where}: expected a non-empty list of seeds, got {raw!r}")
    for seed in raw:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise StudyError(f"{where}: a seed is a whole number >= 0, got {seed!r}")
    if len(set(raw)) != len(raw):
        raise StudyError(f"{where}: a seed is listed twice: {raw}")
    return tuple(raw)


def _changes(raw: Any, where: str, known: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted params, each known to params.yaml, neither the seed nor the budget."""
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: expected a mapping of dotted params, got {raw!r}")
    for key in raw:
        _check_param(str(key), where, known)
    return dict(raw)


def _check_param(key: str, where: str, known: Mapping[str, Any]) -> None:
    if key == SEED_PARAM:
        raise StudyError(f"{where}: {key} is set by the seeds list, not as a param")
    if key.removeprefix("train.") in BUDGET_KEYS and key.startswith("train."):
        raise StudyError(
            f"{where}: {key}: the budget is given twice; state it once, in the study's "
            "budget (or a point's own budget)"
        )
    if key not in known:
        close = difflib.get_close_matches(key, list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise StudyError(f"{where}: unknown param {key!r}{hint}; params are params.yaml's keys")


def _listed_point(raw: Any, index: int, known: Mapping[str, Any]) -> dict[str, Any]:
    where = f"points[{index}]"
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: expected a mapping with a name, got {raw!r}")
    _check_keys(raw, POINT_KEYS, where)
    name = raw.get("name")
    if not valid_name(name):
        raise StudyError(
            f"{where}.name: {name!r}: a point needs a name of letters, digits and _ . = + - "
            "(no '..')"
        )
    where = f"points[{name}]"
    return {
        "name": name,
        "params": _changes(raw.get("params") or {}, f"{where}.params", known),
        "seeds": _seeds(raw.get("seeds"), f"{where}.seeds"),
        "budget": _budget(raw.get("budget"), f"{where}.budget"),
        "note": str(raw.get("note") or ""),
    }


def _axes(raw: Any, where: str, known: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw:
        raise StudyError(f"{where}: expected a mapping of params to values")
    for key in raw:
        _check_param(str(key), where, known)
    return raw


def _grid_points(raw: Any, known: Mapping[str, Any]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    axes = _axes(raw, "grid", known)
    for key, values in axes.items():
        if not isinstance(values, list):
            raise StudyError(f"grid.{key}: expected a list of values, got {values!r}")
        if not values:
            raise StudyError(f"grid.{key}: empty axis; list at least one value")
    points = []
    for combination in itertools.product(*axes.values()):
        changes = dict(zip(axes, combination, strict=True))
        points.append(_generated_point(changes))
    return points


def _random_points(raw: Any, known: Mapping[str, Any]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise StudyError("random: expected samples, seed and axes")
    _check_keys(raw, {"samples", "seed", "axes"}, "random")
    samples, seed = raw.get("samples"), raw.get("seed", 0)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise StudyError(f"random.samples: expected a whole number >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StudyError(f"random.seed: expected a whole number >= 0, got {seed!r}")
    axes = _axes(raw.get("axes"), "random.axes", known)
    samplers = {key: _sampler(key, spec) for key, spec in axes.items()}
    rng = np.random.default_rng(seed)
    points = []
    for index in range(samples):
        changes = {key: draw(rng) for key, draw in samplers.items()}
        points.append(_generated_point(changes, name=f"random-{index + 1:02d}"))
    return points


def _sampler(key: str, spec: Any):
    where = f"random.axes.{key}"
    if not isinstance(spec, dict) or len(spec) != 1:
        raise StudyError(
            f"{where}: expected one of {', '.join(SAMPLERS)}, e.g. {{choice: [8, 16]}}"
        )
    ((kind, values),) = spec.items()
    _check_keys(spec, set(SAMPLERS), where)
    if not isinstance(values, list):
        raise StudyError(f"{where}.{kind}: expected a list, got {values!r}")
    if not values:
        raise StudyError(f"{where}.{kind}: empty axis; list the values or [low, high]")
    if kind == "choice":
        return lambda rng: values[int(rng.integers(len(values)))]
    if len(values) != 2 or not all(_is_number(value) for value in values):
        raise StudyError(f"{where}.{kind}: expected [low, high], got {values}")
    low, high = values
    if not low < high or (kind.startswith("log") and low <= 0):
        raise StudyError(
            f"{where}.{kind}: expected 0 < low < high for a log range, got {values}"
            if kind.startswith("log")
            else f"{where}.{kind}: expected low < high"
        )
    if kind.endswith("int_uniform") and not all(float(value).is_integer() for value in values):
        # a fractional bound would let a rounded draw land outside [low, high]
        raise StudyError(f"{where}.{kind}: expected whole-number bounds, got {values}")
    if kind == "uniform":
        return lambda rng: float(rng.uniform(low, high))
    if kind == "log_uniform":
        return lambda rng: float(math.exp(rng.uniform(math.log(low), math.log(high))))
    if kind == "int_uniform":
        return lambda rng: int(rng.integers(int(low), int(high) + 1))
    # rounding a log-uniform draw between whole-number bounds stays within them
    return lambda rng: round(math.exp(rng.uniform(math.log(low), math.log(high))))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _generated_point(changes: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    if name is None:
        name = "_".join(
            f"{key.rsplit('.', 1)[-1]}-{_slug(value)}" for key, value in changes.items()
        )
    return {"name": name, "params": changes, "seeds": (), "budget": None, "note": ""}


def _slug(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(map(_slug, value)) or "none"
    if isinstance(value, float):
        return f"{value:.3g}"
    return re.sub(r"[^A-Za-z0-9_.+-]", "", str(value)) or "none"


def _resolve(base_params: Mapping[str, Any], changes: Mapping[str, Any], point: Point) -> Params:
    """params.yaml with ``changes`` applied, validated; a refusal names the point and key."""
    raw = copy.deepcopy(dict(base_params))
    for key, value in changes.items():
        section = raw
        *parents, last = key.split(".")
        for part in parents:
            section = section.setdefault(part, {})
        section[last] = value
    try:
        return parse_params(raw, source=f"point {point.name!r}")
    except ConfigError as error:
        raise StudyError(f"{error} (the point's params: {dict(point.changes)})") from None
