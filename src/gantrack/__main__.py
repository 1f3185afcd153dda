"""``python -m gantrack <command> ...``: the project's command-line tools.

Each command is a module with a ``main(argv: list[str]) -> int``; it is imported only
when called, so ``python -m gantrack --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": (
        "gantrack.cli.compare",
        "rank MLflow runs by a metric: reports/compare.md and plots",
    ),
    "gate": ("gantrack.cli.gate", "compare this run's metrics with a base; exit 0/1/3"),
    "push": (
        "gantrack.cli.push",
        "dvc push --run-cache, plus the git-kept reports of each stage run it leaves out",
    ),
    "promote": ("gantrack.cli.promote", "move the registry's champion alias if gate passed"),
    "run-url": ("gantrack.cli.run_url", "print the MLflow link of a commit's run"),
    "study": (
        "gantrack.cli.study",
        "run a recipe study (studies/<name>.yaml) over seeds; report seed distributions",
    ),
    "sync": (
        "gantrack.cli.sync",
        "replay tracking calls spooled while the MLflow store was away into their runs",
    ),
    "tracking-server": (
        "gantrack.cli.tracking_server",
        "run an MLflow server on PostgreSQL at 127.0.0.1 (Ctrl-C stops it)",
    ),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<16} {help_text}" for name, (_, help_text) in sorted(COMMANDS.items())]
        print("usage: python -m gantrack <command> [options]\n\ncommands:\n" + "\n".join(lines))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module_name, _ = COMMANDS[argv[0]]
    return importlib.import_module(module_name).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
