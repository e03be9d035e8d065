"""Extension points: one door for built-in and third-party loaders, KPIs, page sections and outputs.

perfgen uses pluggy. Each hook is named after the pipeline stage that calls it:

========================  ======================================================================
``load_formats``          data loaders by file suffix (stage 2, load)
``load_metrics``          metric names data files may use (stage 2, load)
``kpis_definitions``      KPI definitions: metadata plus SQL (stage 3, kpis)
``render_template_folders``  folders of Jinja templates for a plugin's sections (stage 5, render)
``render_page_sections``  sections added to the end of a page (stage 5, render)
``publish_files``         extra files written into the site (stage 6, publish)
========================  ======================================================================

perfgen's own implementations are modules listed in :data:`DEFAULT_PLUGINS`, registered through
exactly the same hooks. A third-party package registers a module or object under the entry
point group ``perfgen`` in its ``pyproject.toml``::

    [project.entry-points.perfgen]
    calls = "perfgen_calls"

Installed plugins are active in every build; ``PERFGEN_DISABLE_PLUGIN_AUTOLOAD=1`` turns off
the installed ones (the built-ins stay). ``python -m perfgen.plugins`` lists what is active.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from perfgen.errors import PerfgenError, Problem
from perfgen.files import FileSlice

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from perfgen.config import Config
    from perfgen.kpis import KpiDefinition, KpiResults
    from perfgen.render import Page, SiteModel

PROJECT = "perfgen"
ENTRY_POINT_GROUP = "perfgen"
DISABLE_AUTOLOAD = "PERFGEN_DISABLE_PLUGIN_AUTOLOAD"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: perfgen's own plugins, registered in this order before any installed one.
DEFAULT_PLUGINS = (
    "perfgen.load",
    "perfgen.xlsx",
    "perfgen.kpis",
    "perfgen.sections",
    "perfgen.opendata",
)

#: Columns a loader's table has besides ``file`` and ``line`` (all text).
CANONICAL_COLUMNS = ("service", "period", "channel", "metric", "value", "status", "note")


class PluginError(PerfgenError):
    kind = "plugins"


# --- what hooks return ------------------------------------------------------------------------

#: ``load(db, path, display, table, problems)``: create the temporary DuckDB table ``table``
#: with the columns ``file, line`` and :data:`CANONICAL_COLUMNS` (text), one row per input row;
#: add a :class:`Problem` for everything wrong; return something true when the table was made.
LoadFunction = Callable[["duckdb.DuckDBPyConnection", Path, str, str, list[Problem]], Any]


@dataclass(frozen=True)
class Loader:
    """Reads one kind of data file. ``suffixes`` match the end of a file name, ignoring case
    (``.csv``, ``.records.json``); the longest matching suffix wins."""

    name: str
    suffixes: tuple[str, ...]
    load: LoadFunction
    plugin: str = ""  # filled in by perfgen: who registered it


@dataclass
class LoadedFile:
    """What a loader may return instead of ``True``: ``locate`` rewrites the position of every
    later problem in this file (for a spreadsheet: sheet, row and column instead of a line)."""

    locate: Callable[[Problem], Problem] | None = None

    def __bool__(self) -> bool:
        return True


@dataclass
class Records:
    """Rows read by a :func:`records_loader` function: mappings with ``line`` and any of
    :data:`CANONICAL_COLUMNS` (missing ones are empty)."""

    rows: Iterable[Mapping[str, Any]]
    locate: Callable[[Problem], Problem] | None = None


def value_text(value: Any) -> str | None:
    """A cell as the text the load stage checks: numbers without a trailing ``.0``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    text = str(value)
    return text if text.strip() else None


def records_loader(name: str, suffixes: Iterable[str], read: Callable[[Path, str, list[Problem]], Records | Iterable[Mapping[str, Any]] | None]) -> Loader:
    """A :class:`Loader` from a function returning rows, for formats DuckDB cannot read.

    ``read(path, display, problems)`` returns :class:`Records` (or just the rows), or ``None``
    when the file cannot be used (after adding a problem saying why). Values go through the
    same checks as CSV data: unknown services, bad periods and non-numbers are reported with
    the row's ``line``.
    """

    def load(db: duckdb.DuckDBPyConnection, path: Path, display: str, table: str, problems: list[Problem]) -> Any:
        result = read(path, display, problems)
        if result is None:
            return False
        records = result if isinstance(result, Records) else Records(result)
        lines: list[int] = []
        columns: dict[str, list[str | None]] = {column: [] for column in CANONICAL_COLUMNS}
        for row in records.rows:
            lines.append(int(row["line"]))
            for column in CANONICAL_COLUMNS:
                columns[column].append(value_text(row.get(column)))
        text = ", ".join(f"{c} VARCHAR" for c in CANONICAL_COLUMNS)
        db.execute(f"CREATE TEMP TABLE {table} (file VARCHAR, line BIGINT, {text})")
        if lines:
            unnested = ", ".join("unnest(?::VARCHAR[])" for _ in CANONICAL_COLUMNS)
            db.execute(f"INSERT INTO {table} SELECT ?, unnest(?::BIGINT[]), {unnested}", [display, lines, *columns.values()])
        return LoadedFile(records.locate)

    return Loader(name, tuple(s.lower() for s in suffixes), load)


@dataclass(frozen=True)
class PageSection:
    """A section at the end of a page's main content.

    ``template`` is rendered with the page's whole context plus ``section`` (this object) and
    must start with its own ``<h2>``. Sections are ordered by ``order``, then ``id``."""

    id: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    order: int = 500


class TextParts:
    """A file's text in pieces, for ``publish_files``: the build writes the pieces one after
    another, so a file of hundreds of megabytes (the site's open data) is never held as one
    string, nor as one block of bytes. A piece is text, UTF-8 bytes, or a
    :class:`~perfgen.files.FileSlice` of UTF-8 read only when it is written. ``str()`` joins
    them."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[str | bytes | FileSlice]):
        self.parts = parts

    def __str__(self) -> str:
        return b"".join(self.chunks()).decode("utf-8")

    def size(self) -> int:
        """The length of the text in UTF-8, in bytes (an ASCII piece without encoding it)."""
        return sum(part.size if isinstance(part, FileSlice) else len(part) if isinstance(part, bytes) or part.isascii()
                   else len(part.encode("utf-8")) for part in self.parts)

    def chunks(self) -> Iterator[bytes]:
        """The pieces in UTF-8, one at a time."""
        for part in self.parts:
            chunk = part.read() if isinstance(part, FileSlice) else part if isinstance(part, bytes) else part.encode("utf-8")
            if chunk:
                yield chunk


# --- the hook specifications ------------------------------------------------------------------


class HookSpecs:
    @hookspec
    def load_formats(self) -> list[Loader]:  # type: ignore[empty-body]
        """Loaders for kinds of data file (stage: load)."""

    @hookspec
    def load_metrics(self) -> list[str]:  # type: ignore[empty-body]
        """Metric names allowed in the ``metric`` column of data files (stage: load)."""

    @hookspec
    def kpis_definitions(self) -> list[KpiDefinition]:  # type: ignore[empty-body]
        """KPI definitions, each with its SQL (stage: kpis). See :func:`perfgen.kpis.definitions_from`."""

    @hookspec
    def render_template_folders(self) -> list[Path]:  # type: ignore[empty-body]
        """Folders of templates used by the plugin's page sections (stage: render). A project's
        own ``templates/`` folder still overrides any of them by name."""

    @hookspec
    def render_page_sections(self, kind: str, page: Page, model: SiteModel) -> list[PageSection]:  # type: ignore[empty-body]
        """Sections to add to a page (stage: render). ``kind`` is the page type: ``home``,
        ``department``, ``service``, ``league``, ``league_kpi``, ``definitions``, ``quality``,
        ``data``, ``departments``, ``changelog`` or ``accessibility`` (the template's name);
        ``page.context`` holds ``service`` and
        ``department`` on their pages."""

    @hookspec
    def publish_files(self, config: Config, results: KpiResults, cache: Path | None) -> Iterable[tuple[str, str | bytes | TextParts]]:  # type: ignore[empty-body]
        """Files to write into the site, as (path relative to the site, content) (stage: publish):
        a list, or a generator that makes them one at a time; a large text may come in pieces
        (:class:`TextParts`). ``cache`` is the build's cache
        folder (``.perfgen-cache``; None when caching is off): a plugin may keep what it made
        there, in a folder of its own, to make it faster next time, never to change it."""


# --- the manager --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str  # "perfgen" for built-ins
    version: str
    hooks: tuple[str, ...]


_manager: pluggy.PluginManager | None = None
_info: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)


def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager: built-ins, then installed plugins (sorted by name)."""
    global _manager
    if _manager is None:
        manager = pluggy.PluginManager(PROJECT)
        manager.add_hookspecs(HookSpecs)
        from perfgen import __version__

        for module_name in DEFAULT_PLUGINS:
            manager.register(importlib.import_module(module_name), name=module_name)
            _info[module_name] = ("perfgen", __version__)
        if not os.environ.get(DISABLE_AUTOLOAD):
            _load_entry_points(manager)
        manager.check_pending()
        _manager = manager
    return _manager


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    problems = []
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if manager.get_plugin(entry_point.name) is not None or manager.is_blocked(entry_point.name):
            continue
        distribution = entry_point.dist.name if entry_point.dist else "?"
        version = entry_point.dist.version if entry_point.dist else "?"
        where = f"plugin '{entry_point.name}' ({distribution} {version}, entry point {entry_point.value})"
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except pluggy.PluginValidationError as error:
            problems.append(Problem(where, None, "", f"does not match perfgen's hooks: {error}",
                                    hint="see 'Writing a plugin' in the documentation for the hook names and arguments"))
            continue
        except Exception as error:  # noqa: BLE001 - a broken plugin must not look like a perfgen crash
            problems.append(Problem(where, None, "", f"cannot be loaded: {type(error).__name__}: {error}",
                                    hint=f"fix or uninstall {distribution}, or set {DISABLE_AUTOLOAD}=1 to build without installed plugins"))
            continue
        _info[entry_point.name] = (distribution, version)
    if problems:
        raise PluginError(problems)


def reset() -> None:
    """Forget the manager, so the next call looks for installed plugins again (for tests)."""
    global _manager
    _manager = None
    _info.clear()


def _label(name: str) -> str:
    """``plugin 'name' (package version)``, as problems name a plugin."""
    known = _info.get(name)
    return f"plugin '{name}'" + (f" ({known[0]} {known[1]})" if known else "")


def _in_registration_order(hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """(plugin name, result) of every implementation, built-ins first."""
    manager = plugin_manager()
    caller = getattr(manager.hook, hook_name)
    results = []
    problems = []
    first_error: Exception | None = None
    for implementation in caller.get_hookimpls():  # registration order
        arguments = [kwargs[name] for name in implementation.argnames]
        if implementation.plugin_name in DEFAULT_PLUGINS:
            result = implementation.function(*arguments)
        else:
            try:
                result = implementation.function(*arguments)
                if isinstance(result, Iterator):  # a generator fails while it runs: run it here, where the failure names the plugin
                    result = list(result)
            except PerfgenError:
                raise
            except Exception as error:  # noqa: BLE001 - name the plugin rather than show a perfgen traceback
                first_error = first_error or error
                problems.append(Problem(_label(implementation.plugin_name), None, "",
                                        f"hook {hook_name} failed: {type(error).__name__}: {error}",
                                        hint=f"run with --debug for the traceback, or set {DISABLE_AUTOLOAD}=1 to build without installed plugins"))
                continue
        if result is not None:
            results.append((implementation.plugin_name, result))
    if problems:
        raise PluginError(problems) from first_error
    return results


def describe() -> list[PluginInfo]:
    """Every registered plugin with its distribution, version and hooks (for the build record)."""
    manager = plugin_manager()
    described = []
    for name, plugin in manager.list_name_plugin():
        hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(plugin) or []))
        distribution, version = _info.get(name, ("?", "?"))
        described.append(PluginInfo(name, distribution, version, hooks))
    return described


def fingerprint() -> str:
    """What the active plugins are, for deciding whether a site must be rebuilt: each plugin's
    name, package and version and, for plugins outside perfgen, a hash of their source files
    (so editing an installed-in-place plugin counts as a change)."""
    import hashlib

    digest = hashlib.sha256()
    manager = plugin_manager()
    for name, plugin in manager.list_name_plugin():
        distribution, version = _info.get(name, ("?", "?"))
        digest.update(f"{name}|{distribution}|{version}|{type(plugin).__module__}.{type(plugin).__qualname__}\n".encode())
        if name in DEFAULT_PLUGINS:
            continue  # part of perfgen's own code, which the build key already covers
        source = getattr(plugin, "__file__", None) or getattr(sys.modules.get(type(plugin).__module__), "__file__", None)
        if source:
            folder = Path(source).parent if Path(source).name == "__init__.py" else None
            paths = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if folder else [Path(source)]
            for path in paths:
                digest.update(str(path.name).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# --- what the stages ask for -------------------------------------------------------------------


def loaders() -> dict[str, Loader]:
    """Loaders by lower-case suffix. A plugin may replace a built-in loader; two plugins may not
    claim the same suffix."""
    chosen: dict[str, Loader] = {}
    problems = []
    for plugin, found in _in_registration_order("load_formats"):
        for loader in found:
            load = loader.load if plugin in DEFAULT_PLUGINS else _checked(loader.load, plugin, loader.name)
            loader = Loader(loader.name, tuple(s.lower() for s in loader.suffixes), load, plugin)
            for suffix in loader.suffixes:
                previous = chosen.get(suffix)
                if previous is not None and previous.plugin not in DEFAULT_PLUGINS:
                    problems.append(Problem(f"plugin '{plugin}'", None, "", f"loader '{loader.name}' claims '{suffix}' files, already read by loader '{previous.name}' of plugin '{previous.plugin}'",
                                            hint="uninstall one of the two plugins"))
                    continue
                chosen[suffix] = loader
    if problems:
        raise PluginError(problems)
    return chosen


def _checked(load: LoadFunction, plugin: str, name: str) -> LoadFunction:
    """A plugin's loader, checked to have made the table perfgen expects."""

    def checked(db: duckdb.DuckDBPyConnection, path: Path, display: str, table: str, problems: list[Problem]) -> Any:
        try:
            result = load(db, path, display, table, problems)
        except PerfgenError:
            raise
        except Exception as error:
            raise PluginError([Problem(f"plugin '{plugin}'", None, "", f"loader '{name}' failed on {display}: {type(error).__name__}: {error}")]) from error
        if result:
            columns = [row[0] for row in db.execute(f"DESCRIBE {table}").fetchall()]
            if columns != ["file", "line", *CANONICAL_COLUMNS]:
                raise PluginError([Problem(f"plugin '{plugin}'", None, "", f"loader '{name}' made a table with the columns {', '.join(columns)}; "
                                           f"expected file, line, {', '.join(CANONICAL_COLUMNS)}", hint="use perfgen.plugins.records_loader")])
        return result

    return checked


def loader_for(path: Path, available: Mapping[str, Loader]) -> Loader | None:
    name = path.name.lower()
    matches = [suffix for suffix in available if name.endswith(suffix) and len(name) > len(suffix)]
    return available[max(matches, key=len)] if matches else None


def metrics() -> tuple[str, ...]:
    """Metric names in registration order (the built-in ones first), without repeats."""
    names: list[str] = []
    for _, found in _in_registration_order("load_metrics"):
        names += [m for m in found if m not in names]
    return tuple(names)


def kpi_definitions() -> list[KpiDefinition]:
    """Every KPI definition, built-ins first; ids must be unique."""
    from dataclasses import replace

    definitions: list[KpiDefinition] = []
    owner: dict[str, str] = {}
    problems = []
    for plugin, found in _in_registration_order("kpis_definitions"):
        for definition in found:
            if definition.id in owner:
                problems.append(Problem(f"plugin '{plugin}'", None, "", f"KPI '{definition.id}' is already defined by plugin '{owner[definition.id]}'",
                                        hint="give the KPI another id"))
                continue
            owner[definition.id] = plugin
            definitions.append(replace(definition, source=plugin))
    if problems:
        raise PluginError(problems)
    return definitions


def template_folders() -> list[Path]:
    folders: list[Path] = []
    for _, found in _in_registration_order("render_template_folders"):
        folders += [Path(f) for f in found]
    return folders


def page_sections(kind: str, page: Page, model: SiteModel) -> list[PageSection]:
    sections: list[PageSection] = []
    for _, found in _in_registration_order("render_page_sections", kind=kind, page=page, model=model):
        sections += list(found)
    return sorted(sections, key=lambda s: (s.order, s.id))


def published_files(config: Config, results: KpiResults, cache: Path | None = None) -> Iterator[tuple[str, str | bytes | TextParts]]:
    """Every plugin's files, as they are made: perfgen's own open data comes one file at a time
    (``opendata.open_data_files``), so the build writes each before the next is made. A path
    two plugins both write is kept from the first and reported once all are written."""
    seen: dict[str, str] = {}
    problems = []
    for plugin, found in _in_registration_order("publish_files", config=config, results=results, cache=cache):
        for path, content in found:
            if path in seen:
                problems.append(Problem(f"plugin '{plugin}'", None, "", f"file '{path}' is already written by plugin '{seen[path]}'"))
                continue
            seen[path] = plugin
            yield path, content
            del content  # written by now: not held while the next file is made
    if problems:
        raise PluginError(problems)


def main(argv: list[str] | None = None) -> int:
    """``python -m perfgen.plugins``: the active plugins and their hooks."""
    try:
        described = describe()
    except PerfgenError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    for info in described:
        print(f"{info.name} ({info.distribution} {info.version}): {', '.join(info.hooks)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
