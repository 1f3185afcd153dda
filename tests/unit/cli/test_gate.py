"""`python -m gantrack gate` as CI and users call it: files in, report out, exit codes."""

import json
from pathlib import Path

import pytest
import yaml

from gantrack.__main__ import main as gantrack_main
from gantrack.gate.seed_sets import SeedResult, SeedSet, write_seed_set


@pytest.fixture
def workspace(tmp_path, monkeypatch, repo_root):
    """A checkout-like folder: params.yaml, a base of 10 seeds, no store of its own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "params.yaml").write_text((repo_root / "params.yaml").read_text())
    base = SeedSet(
        "evaluator",
        tuple(
            SeedResult(s, {"fid": 3.0 + s / 10, "classes_covered": 10.0}, f"run{s}")
            for s in range(1, 11)
        ),
        label="the default's seeds",
    )
    (tmp_path / "reports/gate").mkdir(parents=True)
    write_seed_set(base, tmp_path / "reports/gate/base.json")
    return tmp_path


def candidate_files(folder, fids, first_seed=42, **metrics):
    paths = []
    for offset, fid in enumerate(fids):
        seed = SeedResult(first_seed + offset, {"fid": fid, "classes_covered": 10.0, **metrics})
        path = folder / f"seed-{first_seed + offset}.json"
        write_seed_set(SeedSet("evaluator", (seed,)), path)
        paths.append(str(path))
    return paths


def gate(*arguments) -> int:
    return gantrack_main(["gate", "--no-record", *arguments])


def test_an_unchanged_recipe_passes_and_a_worse_one_exits_1(workspace, capsys):
    assert gate("--candidate", *candidate_files(workspace, [3.2, 3.5, 3.6])) == 0
    report = capsys.readouterr().out
    assert "Gate: pass" in report and "3 candidate seeds (seeds 42, 43, 44)" in report
    assert gate("--candidate", *candidate_files(workspace, [5.0, 5.5, 6.0])) == 1
    report = capsys.readouterr().out
    assert "Gate: regression" in report and "**REGRESSION**" in report


def test_a_non_finite_candidate_fails_with_exit_1(workspace, capsys):
    (path,) = candidate_files(workspace, [3.0])
    data = json.loads(Path(path).read_text())
    data["seeds"][0]["metrics"]["fid"] = "__INF__"
    # What the audit's probe wrote: a bare -Infinity, which Python's json reads.
    Path(path).write_text(json.dumps(data).replace('"__INF__"', "-Infinity"))
    others = candidate_files(workspace, [3.1, 3.2], first_seed=43)
    assert gate("--candidate", path, *others) == 1
    assert "fid is -inf: the run is broken" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        (
            '{"format": "gantrack-seed-set/1", "network": "evaluator", "seeds": [{"metrics": '
            '{"fid": ' + "9" * 400 + "}}]}",
            "400 digits",
        ),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"verdict": "pass"}', "not a seed set"),
        ("{", "not readable JSON"),
    ],
    ids=["400-digit", "deep", "not-a-seed-set", "truncated"],
)
def test_absurd_or_unreadable_input_exits_3_with_one_line(workspace, capsys, content, message):
    path = workspace / "candidate.json"
    path.write_text(content)
    assert gate("--candidate", str(path)) == 3
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and "Traceback" not in error


def test_a_base_with_too_few_seeds_exits_3_naming_the_command(workspace, capsys):
    base = SeedSet("evaluator", (SeedResult(1, {"fid": 3.0}),))
    write_seed_set(base, workspace / "reports/gate/base.json")
    assert gate("--candidate", *candidate_files(workspace, [3.0, 3.1, 3.2])) == 3
    error = capsys.readouterr().err
    assert "holds 1 seed; the gate needs at least 10" in error
    assert "python -m gantrack study export studies/default.yaml" in error


def test_one_seed_from_this_checkout_says_how_little_it_can_detect(workspace, capsys):
    (workspace / "reports/metrics.json").write_text(
        json.dumps({"evaluator": {"fid": 30.0, "classes_covered": 10}})
    )
    assert gate() == 0  # 10 times worse, yet one seed cannot show it by the rank test
    report = capsys.readouterr().out
    assert "1 candidate seed against 10 base seeds cannot show a regression" in report
    (workspace / "reports/metrics.json").unlink()
    assert gate() == 3
    assert "run the pipeline" in capsys.readouterr().err


def test_the_decision_file_names_the_seed_runs_and_the_rule(workspace, capsys):
    decision = workspace / "decision.json"
    assert gate("--candidate", *candidate_files(workspace, [3.2, 3.5, 3.6]),
                "--decision", str(decision)) == 0  # fmt: skip
    document = json.loads(decision.read_text())
    assert document["format"] == "gantrack-gate-decision/1" and document["verdict"] == "pass"
    assert [seed["run_id"] for seed in document["base"]["seeds"]][:2] == ["run1", "run2"]
    assert [seed["seed"] for seed in document["candidate"]["seeds"]] == [42, 43, 44]
    assert document["rule"]["metrics"] == ["fid"] and document["model"] is None


def test_explain_prints_the_rule_and_measure_writes_the_rates(workspace, capsys):
    assert gate("--explain") == 0
    out = capsys.readouterr().out
    seeds = yaml.safe_load((workspace / "params.yaml").read_text())["gate"]["seeds"]
    listed = ", ".join(map(str, seeds))
    assert f"k = {len(seeds)} seeds (gate.seeds: {listed})" in out
    assert "No measured rates yet" in out
    assert gate("--measure") == 0
    rates = json.loads((workspace / "reports/gate/power.json").read_text())
    assert [row["k"] for row in rates["rates"]] == [1, 3, 5]
    assert rates["rates"][0]["power"] == 0  # one seed against nine never reaches 0.05
    capsys.readouterr()
    assert gate("--explain") == 0
    out = capsys.readouterr().out
    assert f"| **{len(seeds)}** (CI) |" in out  # CI's k marked in the measured table
    assert gate("--candidate", *candidate_files(workspace, [3.2, 3.5, 3.6])) == 0
    assert "| **3** (this gate) |" in capsys.readouterr().out  # the candidate's own k


def test_export_seed_writes_this_checkouts_run_as_a_seed_set(workspace, capsys):
    (workspace / "reports/metrics.json").write_text(
        json.dumps({"evaluator": {"fid": 3.3, "classes_covered": 10}, "missing_values": {}})
    )
    (workspace / "reports/runs").mkdir()
    (workspace / "reports/runs/evaluate.json").write_text(json.dumps({"run_id": "abc123"}))
    assert gate("--export-seed", "seed.json") == 0
    data = json.loads((workspace / "seed.json").read_text())
    assert data["seeds"] == [
        {"seed": 42, "run_id": "abc123", "commit": None,
         "metrics": {"fid": 3.3, "classes_covered": 10.0}}
    ]  # fmt: skip


def test_usage_errors_exit_2(workspace, capsys):
    (workspace / "params.yaml").write_text("gate: {}\n")
    assert gate() == 2
    with pytest.raises(SystemExit) as caught:
        gate("--explain", "--measure")
    assert caught.value.code == 2


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        gantrack_main(["gate", "--help"])
    out = capsys.readouterr().out
    for code in ("0  pass", "1  regression", "2  usage", "3  bad input"):
        assert code in out


def test_ci_expects_a_result_for_every_seed_of_gate_seeds(workspace, capsys):
    files = candidate_files(workspace, [3.2, 3.5])  # seeds 42 and 43: 44's job failed
    assert gate("--candidate", *files) == 0
    assert gate("--candidate", *files, "--expect-seeds") == 1
    assert "seed 44: no result" in capsys.readouterr().out
    assert gate("--candidate", "--expect-seeds") == 1  # no job left a result
