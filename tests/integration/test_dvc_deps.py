"""dvc.yaml's code deps equal what each stage's script imports, and bytecode never counts.

DVC reruns a stage when a dep changes; a project module the script imports (transitively,
imports inside functions included) but the stage does not list would change the stage's
outputs without DVC noticing. The closure is found by reading source (tests/support/
imports.py): nothing is executed.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from support.imports import import_closure
from support.pipeline_repo import REPO_ROOT, copy_project, edit_params

from gantrack.config import INCEPTION_NETWORK_NAMES as INCEPTION_NETWORKS

SOURCE_ROOT = REPO_ROOT / "src"


def stage_code(repo: Path) -> dict[str, tuple[Path, list[Path]]]:
    """Each stage of ``repo``'s dvc.yaml (foreach items expanded, paths resolved): its
    script and its deps under ``src/`` and ``pipeline/``."""
    from dvc.repo import Repo

    stages = {}
    with Repo(str(repo)) as dvc:
        for stage in dvc.index.stages:
            words = stage.cmd.split()
            script = next(word for word in words if word.endswith(".py"))
            deps = [Path(dep.fs_path) for dep in stage.deps]
            code = [
                dep
                for dep in deps
                if dep.is_relative_to(repo / "src") or dep.is_relative_to(repo / "pipeline")
            ]
            stages[stage.name] = (repo / script, code)
    return stages


def covered(path: Path, deps: list[Path]) -> bool:
    return any(path == dep or path.is_relative_to(dep) for dep in deps)


def code_needs(repo: Path):
    """(stage, the files its script may run, its code deps) for every stage."""
    for stage, (script, deps) in sorted(stage_code(repo).items()):
        yield stage, {script, *import_closure(script, repo / "src")}, deps


def missing_deps(repo: Path) -> list[str]:
    """'stage: module' for every imported project file that no dep of the stage covers."""
    return [
        f"{stage}: {path.relative_to(repo)} is imported but not a dep"
        for stage, needed, deps in code_needs(repo)
        for path in sorted(needed)
        if not covered(path, deps)
    ]


def stale_deps(repo: Path) -> list[str]:
    """'stage: dep' for every code dep that holds no file the stage's script imports."""
    return [
        f"{stage}: {dep.relative_to(repo)} is a dep but nothing in it is imported"
        for stage, needed, deps in code_needs(repo)
        for dep in deps
        if not any(covered(path, [dep]) for path in needed)
    ]


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """The project with every Inception network on, so that ``reference@<network>``
    (a foreach stage, absent when the list is empty) is checked too."""
    copy_project(REPO_ROOT, tmp_path)
    shutil.copy2(REPO_ROOT / "dvc.lock", tmp_path / "dvc.lock")
    edit_params(tmp_path, {"evaluate": {"inception_networks": list(INCEPTION_NETWORKS)}})
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def test_every_stage_depends_on_every_module_its_script_imports(project_copy):
    assert "reference@inception_v3" in stage_code(project_copy)
    assert missing_deps(project_copy) == []


def test_no_stage_depends_on_code_its_script_does_not_import(project_copy):
    assert stale_deps(project_copy) == []


def test_a_dep_removed_from_dvc_yaml_is_named(project_copy):
    dvc_yaml = project_copy / "dvc.yaml"
    text = dvc_yaml.read_text()
    assert "      - src/gantrack/evaluation/reference.py\n" in text
    dvc_yaml.write_text(text.replace("      - src/gantrack/evaluation/reference.py\n", "", 1))
    problems = missing_deps(project_copy)
    assert (
        "reference_evaluator: src/gantrack/evaluation/reference.py is imported but not a dep"
        in problems
    )


def test_an_import_inside_a_function_counts(project_copy):
    script = project_copy / "pipeline" / "sample.py"
    script.write_text(
        script.read_text() + "\n\ndef later():\n    from gantrack.gan import training\n"
    )
    assert "sample: src/gantrack/gan/training.py is imported but not a dep" in missing_deps(
        project_copy
    )


def folder_dep_hashes(repo: Path) -> dict[str, str]:
    """DVC's hash of every folder dep (``.dvcignore`` applied), as ``dvc status`` compares."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        return {
            f"{stage.name}: {dep.def_path}": dep.get_hash().value
            for stage in dvc.index.stages
            for dep in stage.deps
            if Path(dep.fs_path).is_dir() and not dep.def_path.startswith(("data", "outputs"))
        }


def test_bytecode_in_dep_folders_changes_no_dep_hash(project_copy):
    before = folder_dep_hashes(project_copy)
    assert any("src/gantrack/evaluation" in key for key in before), before
    for key in before:
        folder = project_copy / key.split(": ", 1)[1]
        for subfolder in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
            cache = subfolder / "__pycache__"
            cache.mkdir(exist_ok=True)
            (cache / f"{subfolder.name}.cpython-311.pyc").write_bytes(b"\x00bytecode")
    assert folder_dep_hashes(project_copy) == before
    # The check can see a change: a source file edited in one of those folders is one.
    memorisation = project_copy / "src/gantrack/evaluation/metrics/memorisation.py"
    memorisation.write_text(memorisation.read_text() + "\n# edited\n")
    after_edit = folder_dep_hashes(project_copy)
    key = "evaluate: src/gantrack/evaluation/metrics"
    assert after_edit[key] != before[key]
