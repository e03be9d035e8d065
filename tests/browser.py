"""Headless Chromium against a built site: accessibility audits, screenshots, PDFs.

A helper for tests and scripts/screenshot.py, not a test module. It serves a
folder over HTTP on 127.0.0.1 (a free port, in a thread), so pages load their
CSS, fonts and icons exactly as they will when published, and drives the
Debian ``chromium`` package through Playwright. It never downloads a browser:
do not run ``playwright install``. Playwright allows one sync session per
thread at a time: share one ``open_site`` (a module-scoped fixture) rather
than nesting them.

    with open_site(site_dir) as site:
        violations = site.audit("index.html")          # axe-core, WCAG 2.2 AA
        with site.visit("index.html") as visit:        # a Playwright page
            assert not visit.failed_requests
        site.screenshot("index.html", out / "index.png")
        site.pdf("index.html", out / "index.pdf")

Tests that need the browser use the ``requires_browser`` mark: they are
skipped when Chromium is not installed, except in CI (``CI`` set), where
they fail instead, so a broken CI machine cannot pass silently.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("PERFGEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# axe-core rule tags for WCAG 2.2 level A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
DESKTOP_WIDTH = 1024
PAGE_HEIGHT = 768

requires_browser = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium fonts-liberation)",
)


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without logging every request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    """Ignores the browser closing a connection mid-download (a page closed early)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1; yield its base URL, ending in "/"."""
    handler = partial(_QuietHandler, directory=str(directory))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def launch_browser() -> Iterator[Any]:
    """Start Debian's Chromium through Playwright; yield the Browser."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"{CHROMIUM} not found: install it with `apt-get install -y chromium fonts-liberation`"
            " (never `playwright install`), or set PERFGEN_CHROMIUM"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Visit:
    """A loaded page and what went wrong while loading it."""

    page: Any
    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


class SiteBrowser:
    """One browser looking at one served site; paths are relative to its root."""

    def __init__(self, browser: Any, base_url: str, directory: Path) -> None:
        self.browser = browser
        self.base_url = base_url
        self.directory = directory

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    @contextmanager
    def visit(
        self, path: str, *, width: int = DESKTOP_WIDTH, media: str = "screen"
    ) -> Iterator[Visit]:
        """Open ``path`` in a fresh context; record failed requests and console errors.

        Content-Security-Policy violations show up in ``console_errors``.
        """
        context = self.browser.new_context(viewport={"width": width, "height": PAGE_HEIGHT})
        try:
            page = context.new_page()
            visit = Visit(page)

            def on_response(response: Any) -> None:
                if response.status >= 400:
                    visit.failed_requests.append(f"{response.status} {response.url}")

            def on_console(message: Any) -> None:
                if message.type == "error":
                    visit.console_errors.append(message.text)

            page.on("response", on_response)
            page.on(
                "requestfailed",
                lambda request: visit.failed_requests.append(f"{request.failure} {request.url}"),
            )
            page.on("console", on_console)
            page.on("pageerror", lambda error: visit.console_errors.append(str(error)))
            page.emulate_media(media=media)
            page.goto(self.url(path), wait_until="load")
            page.evaluate("document.fonts.ready.then(() => true)")
            yield visit
        finally:
            context.close()

    def audit(self, path: str, *, width: int = DESKTOP_WIDTH) -> list[dict[str, Any]]:
        """Run axe-core's WCAG 2.2 A and AA rules on ``path``; return the violations."""
        from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

        with self.visit(path, width=width) as visit:
            results = Axe().run(
                visit.page,
                options={
                    "runOnly": {"type": "tag", "values": WCAG_TAGS},
                    "resultTypes": ["violations"],
                },
            )
        return list(results.response["violations"])

    def screenshot(self, path: str, dest: Path, *, width: int = DESKTOP_WIDTH) -> Path:
        """Save a full-page PNG of ``path``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.visit(path, width=width) as visit:
            visit.page.screenshot(path=str(dest), full_page=True)
        return dest

    def pdf(self, path: str, dest: Path) -> Path:
        """Save ``path`` as printed on A4, with backgrounds."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.visit(path, media="print") as visit:
            visit.page.pdf(path=str(dest), format="A4", print_background=True)
        return dest


@contextmanager
def open_site(directory: Path) -> Iterator[SiteBrowser]:
    """Serve ``directory`` and open a browser on it."""
    with serve(Path(directory)) as base_url, launch_browser() as browser:
        yield SiteBrowser(browser, base_url, Path(directory))


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """A readable list of axe violations, for assertion messages."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:200]}")
    return "\n".join(lines)
