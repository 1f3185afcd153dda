"""Headless Chromium for tests: open a local page with the network cut, as a person offline would.

:func:`render_page` loads an HTML file in the system Chromium through Playwright (no browser
download: ``GANTRACK_CHROMIUM``, default ``/usr/bin/chromium``, which ``make test`` installs
from Debian), lets its scripts run, and returns the console errors, the DOM and a screenshot.
Every request other than ``file:``, ``data:``, ``blob:`` and ``about:`` (and, when a test
serves the page itself, http to the hosts it names in ``allowed_hosts``, e.g. 127.0.0.1) is
aborted and listed in :attr:`PageResult.blocked_requests`, so a page that renders here
renders offline.
:func:`is_blank` tells a screenshot of nothing (one colour) from one that shows something.

A missing Chromium or Playwright fails the calling test rather than skipping it: CI must not
pass by testing nothing.
"""

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
# Headless on a sandboxed machine as root; nothing that phones home at start.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@dataclass(frozen=True)
class PageResult:
    console_errors: list[str]  # uncaught exceptions and console.error (failed loads included)
    screenshot: Path
    dom: str  # the page as HTML after its scripts ran (Playwright's page.content())
    blocked_requests: list[str]  # URLs the page asked for beyond the machine
    images: int = 0  # <img> elements on the page
    broken_images: int = 0  # of those, how many did not decode (naturalWidth 0)
    title: str = ""  # document.title
    text: str = ""  # the body's visible text (innerText)
    interaction: object = None  # what the caller's ``interact`` returned


def chromium_path() -> Path:
    """The Chromium to drive; fails the test, saying how to get one, when it is missing."""
    path = Path(os.environ.get("GANTRACK_CHROMIUM") or "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"Chromium not found at {path}: `make test` installs Debian's "
            "(apt-get install chromium), or set GANTRACK_CHROMIUM to a Chromium or Chrome",
            pytrace=False,
        )
    return path


def render_page(
    html_path: Path | str,
    screenshot_path: Path,
    width: int = 1400,
    height: int = 2000,
    wait_ms: int = 1000,
    wait_for: str | None = None,
    full_page: bool = False,
    allowed_hosts: frozenset[str] = frozenset(),
    interact: Callable | None = None,
) -> PageResult:
    """Open ``html_path`` offline, let its scripts run, and screenshot it.

    ``html_path`` is a file, or an ``http://`` URL on one of ``allowed_hosts`` (a server the
    test runs on the loopback interface). After the load event, waits up to 30 s for the CSS
    selector ``wait_for`` to match (when given: a page that never draws it is still
    returned, for the caller's assertions to tell), then ``wait_ms`` more for drawing to
    settle, then calls ``interact(page)`` (Playwright's page) when given. ``width`` ×
    ``height`` is the viewport; ``full_page`` captures the whole scrollable page instead.
    """
    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright is not installed: `make test` installs the dev extra "
            "(pip install -e '.[dev]')",
            pytrace=False,
        )
    executable = chromium_path()
    errors: list[str] = []
    blocked: list[str] = []

    def route(route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        local_server = parts.scheme in ("http", "https") and parts.hostname in allowed_hosts
        if parts.scheme in LOCAL_SCHEMES or local_server:
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    def console(message) -> None:
        if message.type == "error":
            errors.append(f"console.error: {message.text}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.route("**/*", route)
            page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
            page.on("console", console)
            address = str(html_path)
            if not address.startswith(("http://", "https://")):
                address = Path(html_path).resolve().as_uri()
            page.goto(address, wait_until="load")
            if wait_for:
                with contextlib.suppress(PlaywrightTimeout):
                    page.wait_for_selector(wait_for, state="attached", timeout=30_000)
            page.wait_for_timeout(wait_ms)
            interaction = interact(page) if interact else None
            screenshot_path = Path(screenshot_path)
            screenshot_path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=screenshot_path, full_page=full_page)
            dom = page.content()
            images = page.evaluate("document.images.length")
            broken = page.evaluate(
                "Array.from(document.images).filter(i => !i.complete || !i.naturalWidth).length"
            )
            title = page.title()
            text = page.evaluate("document.body.innerText")
        finally:
            browser.close()
    return PageResult(
        console_errors=errors,
        screenshot=screenshot_path,
        dom=dom,
        blocked_requests=blocked,
        images=images,
        broken_images=broken,
        title=title,
        text=text,
        interaction=interaction,
    )


def is_blank(png_path: Path) -> bool:
    """Whether every pixel of the image has one colour: a page that drew nothing."""
    with Image.open(png_path) as image:
        return all(low == high for low, high in image.convert("RGB").getextrema())
