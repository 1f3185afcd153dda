"""The docs site builds strictly and renders offline: opened in headless Chromium with every
request beyond the machine aborted, it shows its title, navigation and pages, its search
works, and it never tried to reach the network (no web fonts, no CDN scripts)."""

import functools
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.browser import is_blank, render_page

BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="module")
def site(repo_root, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--quiet", "--site-dir", str(folder)],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


@pytest.fixture
def served(site):
    """The built site over http on a free loopback port (search's worker needs http)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_home_page_renders_from_disk_with_the_network_cut(site, tmp_path):
    result = render_page(site / "index.html", tmp_path / "home.png", height=1000)
    assert result.blocked_requests == []
    assert result.title.startswith("gantrack")
    for entry in ("Tutorial", "Your own dataset", "The recipe study", "Design", "Parameters"):
        assert entry in result.text, entry
    assert "Where to start" in result.text
    assert not is_blank(result.screenshot)


def test_every_page_renders_offline_with_its_text(site, tmp_path):
    pages = {
        "tutorial.html": "A seed sweep",
        "how-to/own-dataset.html": "A folder of images",
        "how-to/inception.html": "The 2015 graph",
        "how-to/scale-out.html": "Several GPUs on one host",
        "how-to/gate.html": "A rank test per metric",
        "recipes.html": "Findings",
        "metrics.html": "Reading them together",
        "architecture.html": "The stage graph",
        "design.html": "The non-saturating form",
        "security.html": "How secrets travel",
        "reference/params.html": "train.latent_dim",
        "reference/cli.html": "usage: python -m gantrack compare",
        "reference/metrics.html": "Inception Score",
        "reference/stages.html": "Which edits rerun which stages",
    }
    for name, text in pages.items():
        result = render_page(site / name, tmp_path / f"{Path(name).stem}.png", wait_ms=200)
        assert result.blocked_requests == [], name
        assert text in result.text, name
        assert result.console_errors == [], name


def search(page) -> int:
    """Type a query into Material's search box; the number of results it lists."""
    page.keyboard.press("/")  # Material's search shortcut
    page.keyboard.type("mode collapse", delay=20)
    page.wait_for_selector(".md-search-result__item", timeout=20_000)
    return page.locator(".md-search-result__item").count()


def test_search_works_from_disk_with_the_network_cut(site, tmp_path):
    # The offline plugin's worker shim comes from npm via docs/hooks.py, not from its CDN.
    result = render_page(site / "tutorial.html", tmp_path / "search.png", interact=search)
    assert result.blocked_requests == []
    assert result.console_errors == []
    assert result.interaction >= 1  # the design page, at least


def test_search_works_served_on_the_loopback_interface(served, tmp_path):
    result = render_page(
        f"{served}/tutorial.html",
        tmp_path / "served.png",
        allowed_hosts=frozenset({LOOPBACK}),
        interact=search,
    )
    assert result.blocked_requests == []
    assert result.console_errors == []
    assert result.interaction >= 1
