"""`dvc plots show` draws its curves offline with the project's plots template.

A tiny DVC repository (a CSV plot of two losses, no stage) gets the project's .dvc/config,
whose ``plots.html_template`` names the template that `make` builds with vega, vega-lite and
vega-embed inlined, as a clone of the project does; the page it writes is opened in headless
Chromium with every request beyond the machine aborted. DVC's own page, which loads those
libraries from a CDN, stays blank there: the check can fail.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from configobj import ConfigObj
from support.browser import is_blank, render_page

REPO_ROOT = Path(__file__).resolve().parents[2]
LOSSES = "epoch,d_loss,g_loss\n" + "".join(
    f"{epoch},{1.4 - 0.05 * epoch:.2f},{0.6 + 0.04 * epoch:.2f}\n" for epoch in range(12)
)
DVC_YAML = "plots:\n  - logs/train.csv:\n      x: epoch\n      y: [d_loss, g_loss]\n"
# The div DVC writes for logs/train.csv once vega-embed ran in it, and vega's drawing in it
# (a canvas, DVC's default renderer, or an svg).
DRAWN_PLOT = re.compile(
    r'<div id="logs_train_csv" class="vega-embed[^"]*">.*?<(canvas|svg)[^>]*class="marks"', re.S
)


def project_template() -> str:
    """The project's plots.html_template, as written in .dvc/config (relative to .dvc/)."""
    value = ConfigObj(str(REPO_ROOT / ".dvc" / "config")).get("plots", {}).get("html_template")
    assert value, ".dvc/config sets no plots.html_template"
    if not (REPO_ROOT / ".dvc" / value).is_file():
        pytest.fail(
            f".dvc/{value} is not built: `make plots-template` (or `make test`) builds it",
            pytrace=False,
        )
    return value


def dvc(*arguments: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    assert result.returncode == 0, f"dvc {' '.join(arguments)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def plots_page(repo: Path, project_config: bool) -> Path:
    """`dvc plots show` in a new repository at ``repo``; the page it wrote."""
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc("init", "-q", cwd=repo)
    (repo / "logs").mkdir()
    (repo / "logs" / "train.csv").write_text(LOSSES)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    if project_config:
        template = project_template()
        shutil.copy(REPO_ROOT / ".dvc" / "config", repo / ".dvc" / "config")
        (repo / ".dvc" / template).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / ".dvc" / template, repo / ".dvc" / template)
    dvc("plots", "show", cwd=repo)
    return repo / "dvc_plots" / "index.html"


def test_plots_render_offline_with_the_project_template(tmp_path):
    page = plots_page(tmp_path / "repo", project_config=True)
    html = page.read_text()
    assert "<script src=" not in html, "the page still loads scripts from elsewhere"

    result = render_page(page, tmp_path / "offline.png", wait_for="#logs_train_csv .marks")

    assert result.blocked_requests == []
    assert result.console_errors == []
    assert DRAWN_PLOT.search(result.dom), "vega-embed drew no marks in the plot's div"
    assert not is_blank(result.screenshot)


def test_dvc_default_page_stays_blank_offline(tmp_path):
    """Without the project's template the curves need a CDN: this is what the test catches."""
    page = plots_page(tmp_path / "repo", project_config=False)

    result = render_page(page, tmp_path / "default.png")

    assert any("cdn.jsdelivr.net/npm/vega" in url for url in result.blocked_requests)
    assert any("vegaEmbed is not defined" in error for error in result.console_errors)
    assert not DRAWN_PLOT.search(result.dom)
    assert is_blank(result.screenshot)
