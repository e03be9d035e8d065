"""``perfgen serve``: preview the site locally, rebuilt whenever its inputs change.

In: a project (config, data, templates). Out: an HTTP server on this computer (127.0.0.1 unless
told otherwise) serving the built site, and a watcher that rebuilds it when a file under the
config, data or templates changes. Rebuilds are ordinary builds (``pipeline.build``), so they
reuse the chart cache and skip work when nothing that matters changed.

Pages reload themselves after a rebuild. Published pages forbid every script
(``script-src 'none'``); the served copy alone is changed on the way out: its policy allows
scripts from the server itself (``'self'``, still no inline code) and it loads one small file,
``/__perfgen__/reload.js``, which polls ``/__perfgen__/status.json`` and reloads the page when
the build number changes, or shows why a rebuild failed. Files on disk are never changed, so the
served folder stays identical to a published build.

Corrections in the preview are measured against the site as it was when ``serve`` started, so the
changelog page shows what the edits so far would record.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import threading
import time
import traceback
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from perfgen.errors import PerfgenError, Problem
from perfgen.pipeline import Project, build

CONTROL = "/__perfgen__/"
PUBLISHED_POLICY = "script-src 'none'"
SERVED_POLICY = "script-src 'self'"
POLL_SECONDS = 0.25  # how often the watcher looks at the inputs
SETTLE_SECONDS = 0.2  # inputs must be unchanged this long before a rebuild (editors save in steps)

RELOAD_JS = """// perfgen serve: reload this page when the site is rebuilt. Served only by `perfgen serve`.
(function () {
  "use strict";
  var script = document.currentScript;
  var built = script ? Number(script.getAttribute("data-build")) : -1;
  var panel = null;

  function show(errors) {
    if (!errors.length) {
      if (panel) { panel.parentNode.removeChild(panel); panel = null; }
      return;
    }
    if (!panel) {
      panel = document.createElement("div");
      panel.className = "govuk-error-summary";
      panel.setAttribute("role", "alert");
      panel.id = "perfgen-serve-errors";
      var main = document.querySelector("main") || document.body;
      main.insertBefore(panel, main.firstChild);
    }
    panel.textContent = "";
    var title = document.createElement("h2");
    title.className = "govuk-error-summary__title";
    title.textContent = "The last rebuild failed: this page shows the previous build";
    var list = document.createElement("ul");
    list.className = "govuk-list govuk-error-summary__list";
    errors.forEach(function (error) {
      var item = document.createElement("li");
      item.textContent = error;
      list.appendChild(item);
    });
    panel.appendChild(title);
    panel.appendChild(list);
  }

  function poll() {
    fetch("/__perfgen__/status.json", {cache: "no-store"})
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (status.build !== built) { window.location.reload(); return; }
        show(status.errors);
        window.setTimeout(poll, 500);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }

  poll();
}());
"""

NO_SITE_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self'">
<title>The site could not be built – perfgen serve</title></head>
<body><main><h1>The site could not be built</h1><ul>{items}</ul>
<p>Fix the problems above: the site is rebuilt as soon as a file changes.</p></main>
<script src="/__perfgen__/reload.js" data-build="{build}"></script></body>
</html>
"""


class Rebuilder:
    """Builds the project into one folder and remembers how the last build went."""

    def __init__(self, project: Project, workers: int | None, log=print):
        self.project = project
        self.workers = workers
        self.log = log
        self.build_number = 0  # counts builds that changed the site
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self._baseline: Path | None = None

    def status(self) -> dict[str, Any]:
        return {"build": self.build_number, "ok": not self.errors, "errors": list(self.errors)}

    def rebuild(self) -> bool:
        with self.lock:
            started = time.monotonic()
            try:
                result = build(self.project, workers=self.workers)
            except PerfgenError as error:
                self.errors = [str(problem) for problem in error.problems]
                self.log(f"Rebuild failed ({len(self.errors)} {'problem' if len(self.errors) == 1 else 'problems'}); still serving the previous build:")
                for line in self.errors:
                    self.log(f"  error: {line}")
                return False
            except Exception as error:  # noqa: BLE001 - a bug: keep serving, say what happened
                self.errors = [f"internal error: {type(error).__name__}: {error}"]
                self.log("".join(traceback.format_exception(error)).rstrip())
                return False
            self.errors = []
            if result.up_to_date:
                return False
            self.build_number += 1
            self.log(f"Built {result.pages} pages in {time.monotonic() - started:.1f} s ({result.files_written} files new or changed)")
            for late in result.overdue:
                self.log(f"  overdue: {late.service}: {late.detail()}")
            history = result.changelog
            if history is not None and history.new:
                self.log(f"  {history.new} published {'figure' if history.new == 1 else 'figures'} corrected since serve started: see /changelog/")
            self._keep_baseline()
            return True

    def _keep_baseline(self) -> None:
        """After the first build: keep its published figures, so corrections in the preview are
        measured against the site as it was when serve started."""
        if self._baseline is not None or self.project.previous is not None:
            return
        baseline = Path(tempfile.mkdtemp(prefix="perfgen-serve-baseline-"))
        for relative in ("data/kpis.csv", "changelog/corrections.csv"):
            source = self.project.output / relative
            if source.is_file():
                (baseline / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, baseline / relative)
        self._baseline = baseline
        self.project.previous = baseline

    def close(self) -> None:
        if self._baseline is not None:
            shutil.rmtree(self._baseline, ignore_errors=True)


def snapshot(project: Project) -> dict[str, tuple[int, int]]:
    """Modification time and size of every input file: the config, data and templates."""
    found: dict[str, tuple[int, int]] = {}
    candidates: list[Path] = [project.config]
    for folder in (project.data, project.templates):
        if folder.is_dir():
            candidates += sorted(folder.rglob("*"))
    for path in candidates:
        name = path.name
        if name.startswith(".") or name.endswith("~") or "__pycache__" in path.parts:
            continue  # editor swap files, backups
        try:
            stat = path.stat()
        except OSError:
            continue
        if path.is_file():
            found[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return found


class Watcher(threading.Thread):
    """Rebuilds whenever the inputs change (polling: no extra dependency, works everywhere)."""

    def __init__(self, project: Project, rebuilder: Rebuilder, log=print):
        super().__init__(name="perfgen-watcher", daemon=True)
        self.project = project
        self.rebuilder = rebuilder
        self.log = log
        self.stopping = threading.Event()
        self.seen = snapshot(project)  # before the first build: an edit made during it is not missed

    def run(self) -> None:
        seen = self.seen
        while not self.stopping.wait(POLL_SECONDS):
            current = snapshot(self.project)
            if current == seen:
                continue
            while True:  # let a save in several steps finish
                if self.stopping.wait(SETTLE_SECONDS):
                    return
                settled = snapshot(self.project)
                if settled == current:
                    break
                current = settled
            changed = sorted(set(current.items()) ^ set(seen.items()))
            names = sorted({Path(path).name for path, _ in changed})
            self.log(f"Changed: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}; rebuilding")
            seen = current
            self.rebuilder.rebuild()

    def stop(self) -> None:
        self.stopping.set()


class _Handler(SimpleHTTPRequestHandler):
    rebuilder: Rebuilder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if path.startswith(CONTROL):
            return self._control(path[len(CONTROL):])
        site = Path(self.directory)
        if not (site / "index.html").is_file():
            return self._no_site()
        target = Path(self.translate_path(self.path))
        if target.is_dir() and path.endswith("/"):
            target = target / "index.html"
        if target.suffix == ".html" and target.is_file():
            return self._page(target)
        return super().do_GET()

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _control(self, name: str) -> None:
        if name == "status.json":
            return self._send(200, "application/json", json.dumps(self.rebuilder.status()).encode("utf-8"))
        if name == "reload.js":
            return self._send(200, "text/javascript; charset=utf-8", RELOAD_JS.encode("utf-8"))
        return self._send(404, "text/plain; charset=utf-8", b"not found")

    def _page(self, target: Path) -> None:
        html = target.read_text(encoding="utf-8")
        self._send(200, "text/html; charset=utf-8", served_page(html, self.rebuilder.build_number).encode("utf-8"))

    def _no_site(self) -> None:
        from html import escape

        items = "".join(f"<li>{escape(error)}</li>" for error in self.rebuilder.errors) or "<li>Building...</li>"
        self._send(503, "text/html; charset=utf-8", NO_SITE_PAGE.format(items=items, build=self.rebuilder.build_number).encode("utf-8"))


def served_page(html: str, build_number: int) -> str:
    """A built page as ``serve`` sends it: scripts from this server allowed, the reload script
    added. Published pages never go through this."""
    html = html.replace(PUBLISHED_POLICY, SERVED_POLICY, 1)
    script = f'<script src="{CONTROL}reload.js" data-build="{build_number}" defer></script>\n'
    return html.replace("</head>", script + "</head>", 1) if "</head>" in html else html + script


def serve(project: Project, output: Path | None = None, port: int = 8000, bind: str = "127.0.0.1", workers: int | None = None) -> int:
    """Build, serve and watch until interrupted. Returns the exit code."""

    def log(message: str) -> None:
        print(message, flush=True)

    temporary = None
    if output is None:
        temporary = Path(tempfile.mkdtemp(prefix="perfgen-serve-"))
        output = temporary / "site"
    project.output = output
    rebuilder = Rebuilder(project, workers, log=log)
    handler = type("Handler", (_Handler,), {"rebuilder": rebuilder})
    try:  # listen first: a busy port fails at once, not after a build
        server = ThreadingHTTPServer((bind, port), partial(handler, directory=str(output.resolve())))
    except OSError as error:
        rebuilder.close()
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
        raise PerfgenError([Problem(f"{bind}:{port}", None, "", f"cannot listen there: {error.strerror or error}",
                                    hint="give another --port, or --port 0 for any free one")]) from None
    server.daemon_threads = True
    host, bound_port = str(server.server_address[0]), server.server_address[1]
    watcher = Watcher(project, rebuilder, log=log)
    previous_handler = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() else None
    try:
        log(f"Building {project.config} and {project.data}/ into {output}/ ...")
        rebuilder.rebuild()
        watcher.start()
        log(f"Serving the site at http://{host}:{bound_port}/ and rebuilding it when {project.config}, {project.data}/ or {project.templates}/ change. Press Ctrl+C to stop.")
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        log("Stopped.")
    finally:
        watcher.stop()
        server.server_close()
        if watcher.is_alive():
            watcher.join(timeout=5)
        rebuilder.close()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
