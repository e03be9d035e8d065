"""Stage 6, publish: rendered pages and data files in, the site folder out.

Everything is written to a temporary folder beside the output first; the old site is swapped
out only when the whole site is written, so a failed build never leaves a half-written site and
the previously published one stays untouched.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import pandas as pd

from perfgen.plugins import TextParts
from perfgen.processes import lower_priority


def package_versions() -> dict[str, str]:
    """Versions of perfgen and the libraries that shape its output."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("perfgen", "duckdb", "pandas", "altair", "vl-convert-python", "jinja2", "govuk-frontend-jinja", "markdown", "nh3", "pydantic", "pyyaml"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            found[name] = "not installed"
    return found


def manifest_json(inputs: list[dict[str, Any]], values: pd.DataFrame, warnings: dict[str, int], pages: int, files: list[str], build_key: str = "") -> str:
    """The build's machine-readable record: inputs with hashes and rows, KPI rows, warnings,
    versions. No clock time, so identical inputs still give identical files."""
    manifest = {
        "perfgen_manifest_version": 1,
        "build_key": build_key,
        "inputs": inputs,
        "kpi_rows": _rows_by_kpi_and_status(values),
        "kpi_rows_total": len(values),
        "warnings": warnings,
        "pages": pages,
        "files": sorted(files),
        "versions": package_versions(),
    }
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _rows_by_kpi_and_status(values: pd.DataFrame) -> dict[str, dict[str, int]]:
    """How many rows each KPI has of each status, counted from the two columns' codes (one
    ``bincount``): a group-by sorted arrays of a 64-bit number per row, 0.3 GB at 10,000 services."""
    kpi_codes, kpis = pd.factorize(values["kpi"])
    status_codes, statuses = pd.factorize(values["status"])
    known = (kpi_codes >= 0) & (status_codes >= 0)
    pairs = kpi_codes[known].astype(np.int64) * len(statuses) + status_codes[known]
    counts = np.bincount(pairs, minlength=len(kpis) * len(statuses)).reshape(len(kpis), len(statuses))
    rows: dict[str, dict[str, int]] = {}
    for k, kpi in sorted(enumerate(kpis), key=lambda item: item[1]):
        rows[kpi] = {status: int(counts[k, s]) for s, status in sorted(enumerate(statuses), key=lambda item: item[1]) if counts[k, s]}
    return rows


def asset_files() -> list[tuple[str, bytes]]:
    """The shared CSS, fonts and icons shipped inside the package, as site files."""
    assets = resources.files("perfgen").joinpath("assets")
    with resources.as_file(assets) as source:
        return [(f"assets/{path.relative_to(source).as_posix()}", path.read_bytes())
                for path in sorted(source.rglob("*")) if path.is_file()]


def _same_file(old: Path, data: bytes | TextParts) -> bool:
    """Whether the file holds exactly ``data``, read a block at a time (the open data files of a
    large site are hundreds of megabytes: a second copy of one is not needed to compare). Each
    block is compared with a slice of bytes (a copy of a megabyte at most, then one ``memcmp``):
    a ``memoryview`` compares byte by byte, 5 ms a megabyte, 1.4 s of the open-data process in a
    1,000-service rebuild."""
    try:
        size = data.size() if isinstance(data, TextParts) else len(data)
        if old.stat().st_size != size:
            return False
        with old.open("rb") as handle:
            for chunk in data.chunks() if isinstance(data, TextParts) else [data]:
                offset = 0
                while offset < len(chunk):
                    block = handle.read(min(1 << 20, len(chunk) - offset))
                    if not block or chunk[offset : offset + len(block)] != block:
                        return False
                    offset += len(block)
            return handle.read(1) == b""
    except OSError:
        return False


class SiteWriter:
    """The site, written file by file into a fresh temporary folder beside ``output`` and
    swapped in for it by :meth:`commit` (or thrown away by :meth:`discard`), so that pages can
    be written as they are rendered instead of all being held in memory.

    A file whose content is unchanged since the previous build is hard-linked from it rather
    than rewritten, so only the files a change affects are new (``written`` counts them)."""

    def __init__(self, output: Path):
        self.output = output.resolve()
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.building-", dir=self.output.parent))
        self.staging.chmod(0o755)  # mkdtemp makes it private; a published site must be readable by a web server
        self.written = 0
        self._folders: set[Path] = set()  # made in the staging folder already (thousands of files share a few)
        self.add_all(asset_files())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if kind is not None:
            self.discard()

    def add(self, relative: str, content: str | bytes | TextParts, published: bool = False) -> None:
        """Write one file (text in pieces is written a piece at a time). ``published``: the
        content was just read from the published site's same file (a page the previous build
        rendered from the same inputs), so it is linked without being compared again."""
        path = self.staging / relative
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        data = content if isinstance(content, (bytes, TextParts)) else content.encode("utf-8")
        previous = self.output / relative
        if published or _same_file(previous, data):
            try:
                os.link(previous, path)
                return
            except OSError:
                pass
        if isinstance(data, TextParts):
            with path.open("wb") as handle:
                for chunk in data.chunks():
                    handle.write(chunk)
        else:
            path.write_bytes(data)
        self.written += 1

    def add_all(self, files: Iterable[tuple[str, str | bytes | TextParts]]) -> list[str]:
        """Write each file as it comes (a generator's files are never all held); their names."""
        names = []
        for relative, content in files:
            self.add(relative, content)
            names.append(relative)
            del content  # written: not held while the next file is made
        return names

    def commit(self) -> int:
        """Swap the written site in for the previous one; returns how many files were written."""
        try:
            _normalise_times(self.staging)
            retired = self.output.with_name(f".{self.output.name}.previous")
            if retired.exists():
                shutil.rmtree(retired)
            if self.output.exists():
                os.replace(self.output, retired)
            os.replace(self.staging, self.output)
            if retired.exists():
                shutil.rmtree(retired)
        except BaseException:
            self.discard()
            raise
        return self.written

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _normalise_times(folder: Path | str) -> None:
    """Fixed file times so archives of the site are reproducible too. Walked with
    ``os.scandir`` (``Path.rglob`` made a path object per file: three times as long)."""
    stamp = 946684800  # 2000-01-01
    with os.scandir(folder) as entries:
        for entry in entries:
            os.utime(entry.path, (stamp, stamp))
            if entry.is_dir(follow_symlinks=False):
                _normalise_times(entry.path)


class ChildProcessFailure(Exception):
    """The traceback of an error raised in a forked process (the cause of the error re-raised)."""


class BackgroundFiles:
    """Files made and written into a :class:`SiteWriter`'s folder by a forked process while the
    build goes on with other work (the open data of a thousand services takes as long to make
    as the pages; made beside them, a rebuild that draws no charts uses both cores).

    :meth:`join` waits for the files and gives their names, or raises what making them raised.
    Where a process cannot be forked safely (no ``os.fork``, or other threads running: a
    forked copy of a threaded process can deadlock) the files are made at once, in this
    process, by the constructor. Either way the same files are written."""

    def __init__(self, writer: SiteWriter, make: Callable[[], Iterable[tuple[str, str | bytes | TextParts]]], fork: bool = True):
        self.writer = writer
        self.seconds = 0.0  # time spent making and writing the files
        self._names: list[str] = []
        self._pid: int | None = None
        self._read: int | None = None
        if not (fork and hasattr(os, "fork") and threading.active_count() == 1):
            started = time.monotonic()
            self._names = writer.add_all(make())
            self.seconds = time.monotonic() - started
            return
        read, write = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered is written twice
        pid = os.fork()
        if pid == 0:  # the child: make the files, report, and leave without unwinding the build
            status = 0
            try:
                os.close(read)
                lower_priority()  # the build, laying out pages meanwhile, is the one everything waits for
                started = time.monotonic()
                written = writer.written
                try:
                    names = writer.add_all(make())
                    report: tuple[Any, ...] = ("done", names, writer.written - written, time.monotonic() - started)
                except BaseException as error:  # noqa: BLE001 - handed to the parent, which raises it
                    report = ("failed", error, traceback.format_exc())
                try:
                    data = pickle.dumps(report)
                except Exception:  # noqa: BLE001 - an error that cannot be pickled: its traceback instead
                    data = pickle.dumps(("failed", RuntimeError(report[-1]), report[-1]))
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
            except BaseException:  # noqa: BLE001 - never return into the build's code
                status = 1
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._read = pid, read

    def join(self) -> list[str]:
        """The names of the files written (after waiting for them)."""
        if self._pid is None:
            return self._names
        with os.fdopen(self._read, "rb") as pipe:  # type: ignore[arg-type]
            data = pipe.read()
        self._read = None
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if not data:
            raise RuntimeError(f"the process writing the open data stopped without a report (wait status {status})")
        report = pickle.loads(data)
        if report[0] == "failed":
            raise report[1] from ChildProcessFailure(report[2])
        _, self._names, written, self.seconds = report
        self.writer.written += written
        return self._names

    def close(self) -> None:
        """Stop the process if it still runs (the build failed elsewhere): call before the
        writer's folder is thrown away."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self._pid, 0)
            self._pid = None
        if self._read is not None:
            os.close(self._read)
            self._read = None

