"""Which stages an edit reruns, as DVC itself decides: `dvc status` in a copy of the project.

The copy gets a placeholder for every data dep and output, and ``dvc commit --force``
records the stages as run on them, so `dvc status` starts empty without training
anything. An edit then makes DVC list the stages whose deps it touched: editing the
memorisation test must rerun `evaluate` and never `train` (minutes of training for a
metric training does not compute).
"""

import re
import subprocess
from pathlib import Path

import pytest
from support.pipeline_repo import REPO_ROOT, copy_project

MEMORISATION = "src/gantrack/evaluation/metrics/memorisation.py"


@pytest.fixture
def project_copy(tmp_path, monkeypatch) -> Path:
    """The project's tracked files in a fresh git repository, DVC's commands run from it."""
    copy_project(REPO_ROOT, tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)  # DVC resolves some paths against the working directory
    return tmp_path


def commit_every_stage(repo: Path) -> None:
    """A placeholder for each data dep and output (a folder where other paths lie inside
    it), then ``dvc commit --force``: dvc.lock then holds every stage as up to date."""
    from dvc.repo import Repo

    code = (repo / "src", repo / "pipeline", repo / "params.yaml")
    with Repo(str(repo)) as dvc:
        paths = {
            Path(item.fs_path)
            for stage in dvc.index.stages
            for item in [*stage.deps, *stage.outs]
            if not any(Path(item.fs_path).is_relative_to(part) for part in code)
        }
        for path in sorted(paths):
            if any(other != path and other.is_relative_to(path) for other in paths):
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"placeholder for {path.name}\n")
        dvc.commit(force=True)


def changed_stages(repo: Path) -> set[str]:
    """The stages `dvc status` lists as changed."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        return set(dvc.status())


def edit(repo: Path, module: str) -> None:
    path = repo / module
    path.write_text(path.read_text() + "\n# edited\n")


def test_editing_the_memorisation_test_reruns_evaluate_not_train(project_copy):
    commit_every_stage(project_copy)
    assert changed_stages(project_copy) == set()
    edit(project_copy, MEMORISATION)
    changed = changed_stages(project_copy)
    assert "evaluate" in changed
    assert not changed & {"train", "train_evaluator", "reference_evaluator", "sample"}, changed


def test_the_check_sees_train_depend_on_the_whole_evaluation_folder(project_copy):
    """The control: with train's evaluation deps widened to the folder (as they once were),
    the same edit reruns train."""
    dvc_yaml = project_copy / "dvc.yaml"
    train = dvc_yaml.read_text().split("\n  train:\n", 1)[1].split("\n  sample:\n", 1)[0]
    widened = re.sub(
        r"(\n      - src/gantrack/evaluation/\S+)+", "\n      - src/gantrack/evaluation", train
    )
    assert widened != train
    dvc_yaml.write_text(dvc_yaml.read_text().replace(train, widened))
    commit_every_stage(project_copy)
    edit(project_copy, MEMORISATION)
    assert "train" in changed_stages(project_copy)
