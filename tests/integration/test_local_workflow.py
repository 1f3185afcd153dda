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
GATED = ("fid", "kid", "inception_score", "precision", "recall", "classes_covered")
HOPELESS = {
    "fid": 1.0e9,
    "kid": 1.0e9,
    "inception_score": 0.0,
    "precision": 0.0,
    "recall": 0.0,
    "classes_covered": 0,
}
PERFECT = {
    "fid": 1.0e-6,
    "kid": 0.0,
    "inception_score": 10.0,
    "precision": 1.0,
    "recall": 1.0,
    "classes_covered": 10,
}


def load_runner(repo_root):
    loader = SourceFileLoader("local_workflow", str(repo_root / RUNNER))
    spec = importlib.util.spec_from_loader("local_workflow", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_steps_are_read_from_the_workflow_in_order(repo_root):
    runner = load_runner(repo_root)
    text = "steps:\n  - run: ci/retrain.sh b\n  - uses: x\n  - run: ci/retrain.sh a\n"
    assert runner.workflow_steps(text) == ["b", "a"]
    steps = runner.workflow_steps((repo_root / ".github/workflows/retrain.yml").read_text())
    assert steps[:4] == ["test", "remote", "pull", "repro"] and steps[-1] == "verdict"


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


def write_metrics(repo: Path, values: dict) -> None:
    path = repo / "reports/metrics.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"evaluator": {"network": "evaluator", **values}}))


def run_workflow(repo: Path, base: str, out: Path, cache: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(repo / RUNNER), "--source", str(repo), "--skip", "test"]
    command += ["--base-ref", base, "--out", str(out), "--bin", str(BIN), "--cache-dir", str(cache)]
    return run(command, repo, check=False)


def test_local_workflow_reports_and_gates(tmp_path, repo_root, pipeline_repo):
    """Two runs of the whole workflow: against a hopeless base (pass), a perfect one (exit 1).

    Both use the DVC cache of the pipeline tests' repository, which has the same code and
    tiny params, so `dvc repro` restores stages from its run cache (as CI does after
    `dvc pull --run-cache`) instead of training again: seconds instead of minutes.
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
    write_metrics(repo, HOPELESS)
    hopeless = commit(repo, "base: hopeless metrics")
    write_metrics(repo, PERFECT)
    perfect = commit(repo, "base: perfect metrics")

    first = run_workflow(repo, hopeless, tmp_path / "out-pass", cache)
    log = first.stdout + first.stderr
    assert first.returncode == 0, log
    steps = [line.split()[-1] for line in first.stdout.splitlines() if line.startswith("===")]
    assert steps == [
        "remote",
        "pull",
        "repro",
        "base",
        "gate",
        "report",
        "comment",
        "push",
        "promote",
        "verdict",
    ]
    assert "no DVC remote configured" in log and "not main: no promotion" in log
    assert "Running stage 'train'" not in log  # restored from the pipeline tests' run cache
    report = (tmp_path / "out-pass/report.md").read_text()
    assert "✅ **Gate: pass** (exit 0)" in report and f"against `{hopeless}`" in report
    for metric in GATED:
        assert f"| `{metric}` |" in report
    assert "### Params changed\n\nno params changed\n" in report and "### Metrics" in report
    assert "evaluator.fid" in report  # dvc metrics diff's table against the base
    decision = json.loads((tmp_path / "out-pass/gate.json").read_text())
    assert decision["verdict"] == "pass"
    outcomes = {item["metric"]: item["outcome"] for item in decision["comparisons"]}
    assert outcomes["fid"] == outcomes["kid"] == "improved"
    assert set(outcomes.values()) <= {"improved", "unchanged"}  # a tiny run may recall 0
    assert (tmp_path / "out-pass/samples.png").is_file()

    second = run_workflow(repo, perfect, tmp_path / "out-regression", cache)
    log = second.stdout + second.stderr
    assert second.returncode == 1, log
    assert "Running stage 'train'" not in log
    report = (tmp_path / "out-regression/report.md").read_text()
    assert "❌ **Gate: regression** (exit 1)" in report
    assert "`fid` rose from 1e-06 to" in report
    assert json.loads((tmp_path / "out-regression/gate.json").read_text())["verdict"] == (
        "regression"
    )
