"""``python -m gantrack study run|status|report|save STUDY``: a recipe study as one command.

The edge of :mod:`gantrack.study`: reads the study file and ``params.yaml``, finds the
store and the DVC queue of this repository, prints progress, writes the report, and
exits with the code. Every command but ``save`` first loads the seed runs saved under
``reports/studies/*/runs/`` into the store (:mod:`gantrack.study.records`), so runs made
on other machines count as done.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from gantrack.errors import GantrackError

EXIT_DONE = 0
EXIT_FAILED_RUNS = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_STOPPED = 130
STUDY_REPORTS = Path("reports/studies")  # <name>/ the report, <name>/runs/ the saved runs

EPILOG = f"""\
exit status:
  {EXIT_DONE}    every run of the study is complete (run, status), or the report is written
  {EXIT_FAILED_RUNS}    some runs failed (recorded with their errors) or are not complete yet
  {EXIT_USAGE}    a bad study file, params.yaml or saved run record: nothing was queued
  {EXIT_STORE}    the MLflow store or the DVC queue could not be used
  {EXIT_STOPPED}  stopped (Ctrl-C): this study's queued tasks removed; run again to resume
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gantrack study",
        description="Run a recipe study declared in studies/<name>.yaml through the DVC queue, "
        "record each recipe as an MLflow parent run over its seeds, and report seed "
        "distributions and significance.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="queue what the store lacks, run it, record recipes")
    run.add_argument("study", type=Path, help="the study file, e.g. studies/grid.yaml")
    run.add_argument("-j", "--jobs", type=_positive, default=1, help="parallel DVC workers")
    run.add_argument(
        "--poll", type=_seconds, default=15.0, metavar="S", help="seconds between looks"
    )
    status = commands.add_parser("status", help="what is complete, failed, queued or not run")
    status.add_argument("study", type=Path)
    export = commands.add_parser(
        "export", help="a point's complete seeds as a seed set (the gate's base)"
    )
    export.add_argument("study", type=Path)
    export.add_argument("--point", required=True, help="the point (recipe) to export")
    export.add_argument(
        "--output", type=Path, required=True, metavar="FILE", help="e.g. reports/gate/base.json"
    )
    report = commands.add_parser("report", help="write reports/studies/<name>/")
    report.add_argument("study", type=Path)
    report.add_argument(
        "--output", type=Path, metavar="DIR", help="default: reports/studies/<study name>"
    )
    save = commands.add_parser(
        "save",
        help="write the study's seed runs to reports/studies/<name>/runs/ (commit them: "
        "every clone's study commands load them)",
    )
    save.add_argument("study", type=Path)
    for sub in (run, status, export, report, save):
        sub.add_argument("--params", type=Path, default=Path("params.yaml"), metavar="FILE")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def _seconds(text: str) -> float:
    # checked here: a bad value would otherwise surface after the runs were queued
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text}")
    return value


def main(argv: list[str]) -> int:
    from gantrack.study.records import RecordError
    from gantrack.study.spec import StudyError, load_study

    arguments = build_parser().parse_args(argv)
    try:
        study = load_study(arguments.study, arguments.params)
    except StudyError as error:
        print(f"gantrack study: error: {error}; nothing was queued", file=sys.stderr)
        return EXIT_USAGE
    try:
        return COMMANDS[arguments.command](study, arguments)
    except RecordError as error:
        print(f"gantrack study: error: {error}; nothing was queued or written", file=sys.stderr)
        return EXIT_USAGE
    except GantrackError as error:
        print(f"gantrack study: error: {error}", file=sys.stderr)
        return EXIT_STORE


def run(study, arguments) -> int:
    import signal

    from gantrack.study.runner import StudyRunner

    # Ctrl-C and `kill` both stop the study cleanly (its queued tasks removed, its running
    # one stopped), even where the shell started it ignoring interrupts (a background job).
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _interrupt)

    client, experiment_id, current = _store(arguments.params, load_saved=True)
    runner = StudyRunner(study, Path.cwd(), client, experiment_id, current, say=_say)
    outcome = runner.run(jobs=arguments.jobs, poll_seconds=arguments.poll)
    if outcome.stopped:
        return EXIT_STOPPED
    return EXIT_DONE if outcome.complete == outcome.total else EXIT_FAILED_RUNS


def status(study, arguments) -> int:
    from gantrack.study import store

    client, experiment_id, current = _store(arguments.params, load_saved=True)
    found = store.seed_runs(study, store.all_runs(client, experiment_id), current)
    for point in study.points:
        seeds = [found[(point.name, seed)] for seed in point.seeds]
        complete = [str(seed.seed) for seed in seeds if seed.complete]
        failed = [str(seed.seed) for seed in seeds if seed.error and not seed.complete]
        print(
            f"{point.name}: {len(complete)}/{len(seeds)} complete"
            + (f" (seeds {', '.join(complete)})" if complete else "")
            + (f"; failed: seeds {', '.join(failed)}" if failed else "")
        )
    done = sum(seed.complete for seed in found.values())
    print(f"{done}/{len(found)} runs complete")
    return EXIT_DONE if done == len(found) else EXIT_FAILED_RUNS


def report(study, arguments) -> int:
    from gantrack.io import atomic_path, save_json
    from gantrack.study import store
    from gantrack.study.report import build_report

    client, experiment_id, current = _store(arguments.params, load_saved=True)
    found = store.seed_runs(study, store.all_runs(client, experiment_id), current)
    results = store.recipe_results(client, study, found)
    markdown, pictures, summary = build_report(study, results)
    folder = arguments.output or STUDY_REPORTS / study.name
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in pictures.items():
        with atomic_path(folder / name) as temporary:
            temporary.write_bytes(data)
    with atomic_path(folder / "index.md") as temporary:
        temporary.write_text(markdown, encoding="utf-8")
    save_json(summary, folder / "summary.json")
    complete = sum(seed.complete for seed in found.values())
    print(f"wrote {folder}/index.md ({len(results)} recipes, {complete}/{len(found)} runs)")
    return EXIT_DONE


def export(study, arguments) -> int:
    from gantrack.config import load_params
    from gantrack.gate.seed_sets import SeedResult, SeedSet, write_seed_set
    from gantrack.study import store
    from gantrack.study.spec import recipe_params

    names = [point.name for point in study.points]
    if arguments.point not in names:
        print(
            f"gantrack study: error: no point {arguments.point!r} in {study.path} "
            f"(points: {', '.join(names)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    network = load_params(arguments.params).gate.network
    client, experiment_id, current = _store(arguments.params, load_saved=True)
    found = store.seed_runs(study, store.all_runs(client, experiment_id), current)
    point = study.point(arguments.point)
    complete = [
        found[(point.name, seed)] for seed in point.seeds if found[(point.name, seed)].complete
    ]
    seeds = tuple(
        SeedResult(
            seed.seed,
            {
                key.split(".", 1)[1]: value
                for key, value in seed.run.data.metrics.items()
                if key.startswith(f"{network}.")
            },
            seed.run.info.run_id,
            seed.run.data.tags.get("mlflow.source.git.commit"),
        )
        for seed in complete
    )
    if not seeds:
        print(f"gantrack study: error: {point.name} has no complete seed yet", file=sys.stderr)
        return EXIT_FAILED_RUNS
    params = recipe_params(study.params[(point.name, point.seeds[0])])
    seed_set = SeedSet(
        network=network,
        seeds=seeds,
        label=f"{point.name} of {study.path} ({len(seeds)} seeds)",
        recipe=store.recipe_hash(params),
    )
    write_seed_set(seed_set, arguments.output)
    print(f"wrote {arguments.output}: {len(seeds)} of {len(point.seeds)} seeds of {point.name}")
    return EXIT_DONE if len(seeds) == len(point.seeds) else EXIT_FAILED_RUNS


def save(study, arguments) -> int:
    from gantrack.study import records, store

    # the committed records first: a seed another machine completed is then this seed's
    # run, not a failure of it this store holds
    client, experiment_id, current = _store(arguments.params, load_saved=True)
    found = store.seed_runs(study, store.all_runs(client, experiment_id), current)
    saved = {record["run_id"] for record in records.read_records(_saved_folders())}
    folder = STUDY_REPORTS / study.name / "runs"
    written = records.save_records(client, study.name, found.values(), folder, saved)
    complete = sum(seed.complete for seed in found.values())
    print(
        f"wrote {len(written)} run records to {folder}/ ({len(found) - len(written)} already "
        f"saved, not run, or failed here where a complete record is kept; "
        f"{complete}/{len(found)} runs of {study.name} complete)"
    )
    return EXIT_DONE


COMMANDS = {
    "run": run,
    "status": status,
    "export": export,
    "report": report,
    "save": save,
}


def _saved_folders() -> list[Path]:
    return sorted(STUDY_REPORTS.glob("*/runs"))


def _load_saved(client, experiment_id: str) -> None:
    """Load every saved run record of this checkout that the store lacks."""
    from gantrack.study import records, store

    saved = records.read_records(_saved_folders())
    if not saved:
        return
    outcome = records.load_records(
        client, experiment_id, saved, store.all_runs(client, experiment_id)
    )
    if outcome.loaded:
        print(
            f"loaded {outcome.loaded} saved runs from {STUDY_REPORTS}/*/runs/ into the store "
            f"({outcome.present} were there already)",
            flush=True,
        )


def _store(params_file: Path, load_saved: bool = False):
    """The stages' store and experiment (created if new), and this checkout's run params;
    with ``load_saved``, the saved run records loaded into it first."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from gantrack.cli import tracking_context
    from gantrack.config import load_params
    from gantrack.study.spec import run_params
    from gantrack.tracking.context import default_tracking_uri
    from gantrack.tracking.store import LockRetryingClient

    context = tracking_context()
    # Queue workers' stages write to the same sqlite store while the study records recipes.
    client = LockRetryingClient(MlflowClient(tracking_uri=context.tracking_uri))
    experiment = client.get_experiment_by_name(context.experiment_name)
    if experiment is None:
        location = None
        if context.tracking_uri == default_tracking_uri(context.repo_root):
            location = (context.repo_root / "mlartifacts").as_uri()
        try:
            experiment_id = client.create_experiment(context.experiment_name, location)
        except mlflow.exceptions.MlflowException:  # created meanwhile by a stage
            experiment_id = client.get_experiment_by_name(context.experiment_name).experiment_id
    else:
        experiment_id = experiment.experiment_id
    if load_saved:
        _load_saved(client, experiment_id)
    return client, experiment_id, run_params(load_params(params_file))


def _interrupt(number, frame) -> None:
    raise KeyboardInterrupt


def _say(line: str) -> None:
    print(line, flush=True)
