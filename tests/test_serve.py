"""``perfgen serve``: builds, serves on 127.0.0.1, rebuilds within seconds of an edit, and reloads
open pages under the site's strict Content-Security-Policy (relaxed in the served copy only).

Every wait is bounded; the server listens on a free loopback port and is stopped by each test.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from browser import launch_browser, requires_browser
from perfgen.pipeline import Project
from perfgen.serve import PUBLISHED_POLICY, SERVED_POLICY, served_page, snapshot

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
TEMPLATES = Path(__file__).resolve().parent.parent / "src" / "perfgen" / "templates"
DECEMBER = ("renew-driving-licence,2024-12,online,transactions,201650\n", "renew-driving-licence,2024-12,online,transactions,300000\n")
STARTUP_SECONDS = 90  # the first build draws the charts unless they are cached
REBUILD_SECONDS = 20


class Server:
    def __init__(self, process: subprocess.Popen[str], lines: queue.Queue[str], url: str, log: list[str]):
        self.process, self.lines, self.url, self.log = process, lines, url, log

    def get(self, path: str) -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type", ""), error.read().decode("utf-8")

    def status(self) -> dict:
        return json.loads(self.get("__perfgen__/status.json")[2])

    def wait_for(self, condition, seconds: float = REBUILD_SECONDS) -> float:
        """Poll the build status until ``condition(status)``; returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if condition(self.status()):
                return time.monotonic() - started
            time.sleep(0.1)
        pytest.fail(f"no rebuild within {seconds} s; status {self.status()}; output:\n" + "\n".join(self.log))


@contextmanager
def serving(project: Path, output: Path):
    command = [sys.executable, "-m", "perfgen", "serve", "--port", "0", "--workers", "1", "--output", str(output)]
    process = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def read() -> None:
        for line in process.stdout:
            log.append(line.rstrip("\n"))
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        url = None
        while url is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("perfgen serve did not start:\n" + "\n".join(log))
            if line.startswith("Serving the site at "):
                url = line.split()[4]
        assert url.startswith("http://127.0.0.1:")
        yield Server(process, lines, url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def project(tmp_path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".perfgen-cache"))
    cache = Path.cwd() / ".perfgen-cache"  # the charts other tests drew (the cache is by content)
    cache.mkdir(exist_ok=True)
    (target / ".perfgen-cache").symlink_to(cache.resolve())
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_serve_rebuilds_within_seconds_of_an_edit(project, tmp_path):
    output = tmp_path / "site"
    data = project / "data/dvsa-theory-test.csv"
    good_data = data.read_text(encoding="utf-8")
    data.write_text(good_data + "book-theory-test,2025-Q1,,transactions,lots\n", encoding="utf-8")
    with serving(project, output) as server:
        # a site that cannot be built: a page saying why, which reloads once it is fixed
        status, _, page = server.get("")
        assert status == 503
        assert "The site could not be built" in page and "data/dvsa-theory-test.csv:26" in page
        assert '<script src="/__perfgen__/reload.js" data-build="0"></script>' in page
        data.write_text(good_data, encoding="utf-8")
        server.wait_for(lambda s: s["build"] == 1 and s["ok"])
        assert server.status() == {"build": 1, "ok": True, "errors": []}
        status, content_type, page = server.get("services/renew-driving-licence/")
        assert status == 200 and content_type == "text/html; charset=utf-8"
        # the served copy may run the reload script, from this server only; the files never
        assert SERVED_POLICY in page and PUBLISHED_POLICY not in page
        assert '<script src="/__perfgen__/reload.js" data-build="1" defer></script>\n</head>' in page
        on_disk = (output / "services/renew-driving-licence/index.html").read_text(encoding="utf-8")
        assert PUBLISHED_POLICY in on_disk and "reload.js" not in on_disk and "<script" not in on_disk
        assert server.get("__perfgen__/reload.js")[:2] == (200, "text/javascript; charset=utf-8")
        assert "329,600" not in page

        _edit(project / "data/dvla-renew-driving-licence.csv", *DECEMBER)
        took = server.wait_for(lambda s: s["build"] == 2)
        assert took < REBUILD_SECONDS
        assert "Changed: dvla-renew-driving-licence.csv; rebuilding" in server.log
        page = server.get("services/renew-driving-licence/")[2]
        assert "329,600" in page and 'data-build="2"' in page
        # the preview's changelog shows what the edit would record as corrections
        assert "Transactions" in server.get("changelog/")[2] and "231,250" in server.get("changelog/")[2]

        config = project / "config/services.yml"
        good = config.read_text(encoding="utf-8")
        config.write_text(good.replace("departments:\n", "departments:\n\t- slug: x\n", 1), encoding="utf-8")
        server.wait_for(lambda s: not s["ok"])
        status = server.status()
        assert status["build"] == 2
        assert status["errors"][0].startswith("config/services.yml:12: YAML syntax error: found character '\\t'")
        assert server.get("services/renew-driving-licence/")[0] == 200  # still the previous build

        config.write_text(good, encoding="utf-8")
        server.wait_for(lambda s: s["ok"])
        assert server.status()["build"] == 2  # back to the inputs of build 2: nothing to rebuild
        process = server.process
    assert process.returncode == 0
    assert "Stopped." in server.log


def test_served_page_changes_only_the_policy_and_adds_the_script():
    base = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    assert PUBLISHED_POLICY in base  # what serve relaxes is what every page has
    page = '<html><head><meta http-equiv="Content-Security-Policy" content="default-src \'self\'; script-src \'none\'">\n</head><body></body></html>'
    assert served_page(page, 7) == ('<html><head><meta http-equiv="Content-Security-Policy" content="default-src \'self\'; script-src \'self\'">\n'
                                    '<script src="/__perfgen__/reload.js" data-build="7" defer></script>\n</head><body></body></html>')


def test_editor_temporary_files_do_not_trigger_a_rebuild(project):
    watched = Project(config=project / "config/services.yml", data=project / "data", templates=project / "templates")
    before = snapshot(watched)
    (project / "data/.dvsa-theory-test.csv.swp").write_text("x", encoding="utf-8")
    (project / "data/dvsa-theory-test.csv~").write_text("x", encoding="utf-8")
    assert snapshot(watched) == before
    (project / "templates").mkdir()
    (project / "templates/service.html").write_text("{% extends 'base.html' %}", encoding="utf-8")
    assert set(snapshot(watched)) - set(before) == {str(project / "templates/service.html")}


@requires_browser
def test_open_page_reloads_itself_under_the_content_security_policy(project, tmp_path):
    with serving(project, tmp_path / "site") as server, launch_browser() as browser:
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(server.url + "services/renew-driving-licence/", wait_until="load")
        assert "329,600" not in page.content()
        page.wait_for_timeout(700)  # the script has polled at least once
        with page.expect_event("load", timeout=REBUILD_SECONDS * 1000):
            _edit(project / "data/dvla-renew-driving-licence.csv", *DECEMBER)
        assert "329,600" in page.content()
        assert not problems, problems  # no Content-Security-Policy violation, no script error
