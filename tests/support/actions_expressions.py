"""GitHub Actions expressions and workflows, read by GitHub's own libraries.

``@actions/expressions`` (the evaluator) and ``@actions/workflow-parser`` (the parser, which
also turns a step's ``if:`` into the condition the runner evaluates, implicit
``success() &&`` included) come from npm into ``ci/node_modules`` (``make test`` installs
them); ``ci/actions-expressions.mjs`` runs them, one node process per call.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "ci/actions-expressions.mjs"
PACKAGES = ("@actions/expressions", "@actions/workflow-parser")


def _call(request: dict) -> dict:
    node = shutil.which("node")
    assert node is not None, "node missing: apt-get install nodejs npm"
    for package in PACKAGES:
        installed = (REPO_ROOT / "ci/node_modules" / package).is_dir()
        assert installed, f"{package} missing: `make test` installs it (npm install --prefix ci)"
    result = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(request), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def evaluate_many(items: Sequence[tuple[str, Mapping[str, Any], str]]) -> list[Any]:
    """The values of ``(expression, contexts, status)`` items, in one node process.

    ``status`` is the job's state so far (``success``, ``failure`` or ``cancelled``), which
    ``success()``, ``failure()``, ``cancelled()`` and ``always()`` read. An expression that
    does not parse raises ``ValueError`` with GitHub's message.
    """
    request = [
        {"expression": expression, "contexts": contexts, "status": status}
        for expression, contexts, status in items
    ]
    values = _call({"evaluate": request})["values"]
    for (expression, _, _), value in zip(items, values, strict=True):
        if isinstance(value, dict) and set(value) == {"error"}:
            raise ValueError(f"{expression!r}: {value['error']}")
    return values


def evaluate(expression: str, contexts: Mapping[str, Any], status: str = "success") -> Any:
    """The value of ``expression`` (with or without ``${{ }}``) over ``contexts``."""
    return evaluate_many([(expression, contexts, status)])[0]


def read_workflow(path: Path) -> dict:
    """The workflow as GitHub's parser reads it: ``errors``, the workflow-level ``env``
    (``{"literal": value}`` or ``{"expression": text}``) and every job's ``steps`` with the
    condition each runs under (``if``)."""
    return _call({"workflow": str(path)})


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, '' and null are falsy."""
    return value not in (False, 0, "", None)
