"""Sharing DVC's run cache whole (README: ``python -m gantrack push``).

``dvc push --run-cache`` uploads the run records but never the cache's copies of
``cache: false`` outputs (DVC 3; treeverse/dvc#5749), so a teammate's ``dvc repro --pull``
would rerun such a stage; :func:`push_run_cache_outputs` uploads every output file that a
local run record names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from gantrack.errors import GantrackError


class RunCacheError(GantrackError):
    """A run record that cannot be read, or a push that failed."""


def run_record_output_hashes(runs_folder: Path) -> set[str]:
    """MD5s of the output files named by the run records (``<runs>/<2 chars>/<stage
    key>/<value key>``, each a lockfile entry with ``outs``) under ``runs_folder``.

    Directory outputs (``.dir``) are left out: ``dvc push`` uploads those when cached.
    """
    hashes = set()
    for record in sorted(Path(runs_folder).glob("*/*/*")):
        if not record.is_file():
            continue
        try:
            entry = yaml.safe_load(record.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise RunCacheError(f"cannot read the run record {record}: {error}") from error
        for output in entry.get("outs", []):
            md5 = str(output.get("md5", ""))
            if md5 and not md5.endswith(".dir"):
                hashes.add(md5)
    return hashes


@dataclass(frozen=True)
class PushResult:
    """What :func:`push_run_cache_outputs` did: counts of files."""

    named: int  # output files the run records name
    present: int  # of those, held by the local cache (the others ran elsewhere)
    transferred: int  # uploaded now (the rest were on the remote already)


def push_run_cache_outputs(repo_root: Path, remote: str | None = None) -> PushResult:
    """Upload the output files of every local run record to ``remote`` (default remote),
    skipping those already there; :class:`RunCacheError` if any upload fails."""
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo

    with Repo(str(repo_root)) as repo:
        named = run_record_output_hashes(Path(repo.stage_cache.cache_dir))
        local = repo.cache.local
        present = {md5 for md5 in named if local.exists(md5)}
        result = repo.cloud.push([HashInfo("md5", md5) for md5 in sorted(present)], remote=remote)
    if result.failed:
        raise RunCacheError(
            f"{len(result.failed)} of {len(present)} run-record outputs failed to upload "
            f"to the DVC remote {remote or '(default)'}; rerun `python -m gantrack push`"
        )
    return PushResult(len(named), len(present), len(result.transferred))
