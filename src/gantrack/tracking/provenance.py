"""What a run ran: the git state of the work tree, the environment (uv.lock's hash) and
the machine's CPU.

A stage's run is tagged with each and named by its code (``main@1a2b3c4+dirty``), so two
runs' code, packages and processor compare by a tag each: the same params give other
numbers on another CPU's kernels.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path

# The environment a run ran in: the SHA-256 of the repository's uv.lock (every package's
# version and hash), so two runs' environments compare by one tag.
LOCK_FILE = "uv.lock"
CPU_TAG = "gantrack.cpu"  # the machine's CPU model and count: numbers move between CPUs


def git_state(repo_root: Path) -> tuple[str | None, bool | None, str | None]:
    """(commit, dirty, branch) of the git work tree at ``repo_root``; Nones outside git.

    The branch is None on a detached HEAD (CI checkouts, DVC's experiment copies).
    """
    outputs = []
    for arguments in (
        ["rev-parse", "HEAD"],
        ["status", "--porcelain", "--untracked-files=no"],
        ["symbolic-ref", "--quiet", "--short", "HEAD"],
    ):
        try:
            result = subprocess.run(
                ["git", *arguments], cwd=repo_root, capture_output=True, text=True, check=True
            )
            outputs.append(result.stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            outputs.append(None)
    commit, status, branch = outputs
    return commit, (None if status is None else bool(status)), branch or None


def run_name(commit: str | None, dirty: bool | None, branch: str | None) -> str | None:
    """What a `dvc repro` run is called in the MLflow UI: ``main@1a2b3c4``, ``+dirty`` when
    the work tree has uncommitted changes; None (MLflow's random name) outside git."""
    if commit is None:
        return None
    name = f"{branch}@{commit[:7]}" if branch else commit[:7]
    return f"{name}+dirty" if dirty else name


def lock_sha256(repo_root: Path) -> str | None:
    """SHA-256 of ``<repo_root>/uv.lock``, or None where there is none (no tag then)."""
    path = Path(repo_root) / LOCK_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def cpu_description() -> str:
    """``AMD EPYC (2 CPUs)``: the CPU's model name (``/proc/cpuinfo``, else what
    :mod:`platform` says) and the CPUs this process may use."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model} ({count} CPUs)"
