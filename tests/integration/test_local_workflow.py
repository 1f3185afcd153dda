"""ci/local-workflow end to end: the workflow's steps on a temporary clone with tiny params."""

import importlib.util
import json
import shutil
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest
from support.pipeline_repo import BIN, TINY, copy_project, edit_params, run

RUNNER = Path("ci/local-workflow")
EXTRA = ["ci/retrain.sh", "ci/local-workflow", "ci/tiny-params.yaml", ".github", "Makefile"]
BASE_SEEDS = 10


def base_seeds(fid: float, classes: int) -> dict:
    """A committed base (reports/gate/base.json) of 10 distinct seeds around ``fid``."""
    return {
        "format": "gantrack-seed-set/1",
        "network": "evaluator",
        "label": f"a base of FID {fid:g}",
        "seeds": [
            {"seed": seed, "metrics": {"fid": fid * (1 + seed / 100), "classes_covered": classes}}
            for seed in range(1, BASE_SEEDS + 1)
        ],
    }


HOPELESS = base_seeds(1.0e9, classes=0)
PERFECT = base_seeds(1.0e-6, classes=10)
TRAIN_STEPS = ["remote", "pull", "repro", "seed", "push"]


def load_runner(repo_root):
    loader = SourceFileLoader("local_workflow", str(repo_root / RUNNER))
    spec = importlib.util.spec_from_loader("local_workflow", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_steps_are_read_from_the_workflow_in_order(repo_root):
    runner = load_runner(repo_root)
    text = (
        "jobs:\n  one:\n    steps:\n      - run: ci/retrain.sh b\n      - uses: x\n"
        "  two:\n    strategy: {matrix: {seed: [1, 2]}}\n    steps:\n"
        "      - run: ci/retrain.sh a\n"
    )
    assert runner.workflow_steps(text) == ["b", "a"]
    assert runner.workflow_jobs(text) == [("one", ["b"], False), ("two", ["a"], True)]
    workflow = (repo_root / ".github/workflows/retrain.yml").read_text()
    jobs = runner.workflow_jobs(workflow)
    assert [(name, per_seed) for name, _, per_seed in jobs] == [
        ("test", False),
        ("train", True),
        ("gate", False),
    ]
    assert jobs[1][1] == ["install", *TRAIN_STEPS]
    steps = runner.workflow_steps(workflow)
    assert steps[:3] == ["test", "seeds", "install"] and steps[-1] == "verdict"


def test_tiny_params_override_keeps_comments_and_equals_the_pipeline_tests(repo_root, raw_params):
    import yaml

    runner = load_runner(repo_root)
    original = (repo_root / "params.yaml").read_text()
    merged = runner.merge_params(original, (repo_root / "ci/tiny-params.yaml").read_text())
    assert merged.count("#") == original.count("#")
    parsed = yaml.safe_load(merged)
    for section, values in TINY.items():
        assert {key: parsed[section][key] for key in values} == values, section
    untouched = {key: value for key, value in parsed.items() if key not in TINY}
    assert untouched == {key: raw_params[key] for key in untouched}
    with pytest.raises(SystemExit, match=r"no train\.epoch to override"):
        runner.merge_params(original, "train:\n  epoch: 3\n")


def commit(repo: Path, message: str) -> str:
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], repo)
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def write_base(repo: Path, seeds: dict) -> None:
    path = repo / "reports/gate/base.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(seeds))


def run_workflow(repo: Path, base: str, out: Path, cache: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(repo / RUNNER), "--source", str(repo)]
    command += ["--skip", "test", "--skip", "install"]  # the tests' own environment runs it
    command += ["--base-ref", base, "--out", str(out), "--bin", str(BIN), "--cache-dir", str(cache)]
    return run(command, repo, check=False)


def steps_run(stdout: str) -> list[str]:
    """``remote (seed 42)``, ``gate``...: what ``=== ci/retrain.sh STEP`` lines say ran."""
    prefix = "=== ci/retrain.sh "
    return [line.removeprefix(prefix) for line in stdout.splitlines() if line.startswith(prefix)]


@pytest.mark.slow  # seed 43 trains: CI's k-seed path on tiny params (k = 2)
def test_local_workflow_trains_k_seeds_and_gates_them_together(tmp_path, repo_root, pipeline_repo):
    """Two runs of the whole workflow with tiny params and k = 2 seeds (42, 43): against a
    hopeless base (pass), then a perfect one (exit 1).

    Both use the DVC cache of the pipeline tests' repository, which has the same code and
    tiny params, so `dvc repro` restores seed 42's stages from its run cache (as CI does
    after `dvc pull --run-cache`); seed 43 trains once, in the first run, and the second
    run restores both.
    """
    cache = pipeline_repo[0] / ".dvc/cache"
    repo = tmp_path / "repo"
    copy_project(repo_root, repo)
    for name in EXTRA:
        source, target = repo_root / name, repo / name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    edit_params(repo, TINY)
    run(["git", "init", "-q"], repo)
    write_base(repo, HOPELESS)
    hopeless = commit(repo, "base: hopeless seeds")
    write_base(repo, PERFECT)
    perfect = commit(repo, "base: perfect seeds")

    first = run_workflow(repo, hopeless, tmp_path / "out-pass", cache)
    log = first.stdout + first.stderr
    assert first.returncode == 0, log
    per_seed = [f"{step} (seed {seed})" for seed in (42, 43) for step in TRAIN_STEPS]
    gate_job = ["base", "gate", "report", "comment", "promote", "verdict"]
    assert steps_run(first.stdout) == ["seeds", *per_seed, *gate_job]
    assert "no DVC remote configured" in log and "not main: no promotion" in log
    assert log.count("Running stage 'train'") == 1  # seed 43's; 42's came from the run cache
    report = (tmp_path / "out-pass/report.md").read_text()
    assert "✅ **Gate: pass** (exit 0): 2 candidate seeds (seeds 42, 43)" in report
    assert f"at `{hopeless}`" in report and "| FID |" in report
    assert "### Params changed\n\nno params changed\n" in report and "### Metrics" in report
    decision = json.loads((tmp_path / "out-pass/gate.json").read_text())
    assert decision["verdict"] == "pass"
    assert [seed["seed"] for seed in decision["candidate"]["seeds"]] == [42, 43]
    assert all(seed["run_id"] for seed in decision["candidate"]["seeds"])
    assert len(decision["base"]["seeds"]) == BASE_SEEDS
    assert (tmp_path / "out-pass/seeds/seed-43.json").is_file()

    second = run_workflow(repo, perfect, tmp_path / "out-regression", cache)
    log = second.stdout + second.stderr
    assert second.returncode == 1, log
    assert "Running stage 'train'" not in log
    report = (tmp_path / "out-regression/report.md").read_text()
    assert "❌ **Gate: regression** (exit 1)" in report
    assert json.loads((tmp_path / "out-regression/gate.json").read_text())["verdict"] == (
        "regression"
    )
