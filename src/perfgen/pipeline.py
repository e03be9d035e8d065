"""The build, from top to bottom: config -> load -> kpis -> charts -> render -> publish.

Everything is gathered and checked before anything is written; see ARCHITECTURE.md.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from perfgen import __version__, plugins
from perfgen import changelog as changelog_stage
from perfgen import charts as charts_stage
from perfgen import feeds as feeds_stage
from perfgen import render as render_stage
from perfgen.config import Config, load_config
from perfgen.diff import is_url, services_csv, warnings_csv
from perfgen.errors import StrictModeError, Warnings
from perfgen.freshness import Freshness
from perfgen.kpis import KpiResults, compute_kpis
from perfgen.kpis.facts_cache import FactsCache
from perfgen.load import LoadedData, RowCache, load_data
from perfgen.progress import Progress
from perfgen.publish import BackgroundFiles, SiteWriter, manifest_json, package_versions


@dataclass
class Project:
    """Where a build reads and writes."""

    config: Path = Path("config/services.yml")
    data: Path = Path("data")
    output: Path = Path("site")
    templates: Path = Path("templates")
    root: Path = Path(".")  # paths in messages are shown relative to this
    cache: Path | None = Path(".perfgen-cache")  # rendered charts by content; None to disable
    today: date | None = None  # build date: freshness reference and correction date (freshness.py, changelog.py)
    base_url: str | None = None  # overrides site.base_url (feeds.py)
    previous: str | Path | None = None  # previously published site (folder or URL); default: output


@dataclass
class BuildResult:
    output: Path
    pages: int
    services: int
    kpi_rows: int
    warnings: Warnings = field(default_factory=Warnings)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    files_written: int = 0  # files whose content changed since the previous build
    up_to_date: bool = False  # nothing changed since the build in the output folder: nothing done
    changelog: changelog_stage.Changelog | None = None  # corrections to published figures
    overdue: list[Freshness] = field(default_factory=list)  # services whose next figures are late
    pages_reused: int = 0  # pages taken from the previous build: rendered from the same inputs (render.PageReuse)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def check(project: Project, warnings: Warnings) -> tuple[Config, LoadedData, KpiResults]:
    """Config, data and KPIs: everything a build needs, all checked. Writes nothing."""
    config = load_config(project.config, _display(project.config, project.root))
    loaded = load_data(project.data, config, project.root.resolve())  # no row cache: validating writes nothing
    results = compute_kpis(loaded, config, warnings, today=project.today)
    return config, loaded, results


def build(project: Project, strict: bool = False, workers: int | None = None, progress: Progress | None = None) -> BuildResult:
    progress = progress or Progress(enabled=False)
    warnings = Warnings()
    with progress.step("Checking for changes", "key"):
        package = package_fingerprint()
        code = code_fingerprint(project, package)
        key = build_key(project, strict, code)
    if key == _published_key(project.output):
        return BuildResult(project.output, 0, 0, 0, warnings, timings=dict(progress.timings), up_to_date=True)
    with progress.step("Reading config", "config"):
        config = load_config(project.config, _display(project.config, project.root))
    with progress.step("Loading data", "load"):
        loaded = load_data(project.data, config, project.root.resolve(), _row_cache(project, package))
    # The chart workers start now and load their engine while this process computes the KPIs
    # on one core (not before: the load runs on both); the charts are known once the KPIs are.
    # When every chart will be drawn, one of them warms up meanwhile. A rebuild, which draws
    # few, starts one: a second starting beside it slowed the KPI stage by half a second (the
    # job starts it if many charts changed after all).
    count = charts_stage.worker_count(workers)
    every_chart = charts_stage.cache_is_empty(project.cache)
    chart_workers = charts_stage.ChartWorkers(count, warm_up=every_chart, start=None if every_chart else 1) if count > 1 else None
    try:
        return _build(project, strict, progress, warnings, code, key, config, loaded, chart_workers, _facts_cache(project, package, config))
    finally:
        if chart_workers is not None:
            chart_workers.close()


def _build(project: Project, strict: bool, progress: Progress, warnings: Warnings, code: str, key: str, config: Config,
           loaded: LoadedData, chart_workers: charts_stage.ChartWorkers | None, facts_cache: FactsCache | None = None) -> BuildResult:
    with progress.step("Computing KPIs", "kpis"):
        results = compute_kpis(loaded, config, warnings, today=project.today, channels=True, facts_cache=facts_cache)
        channels, results.channels = results.channels, None  # the pages' only: not kept beside the results
        loaded.db.close()  # what is left of the loaded rows: nothing reads them again
    if strict and len(warnings):
        raise StrictModeError(warnings.sorted())
    results.value_hashes()  # before the fork: the open data's process keys its blocks on them too
    _freeze_survivors()
    try:
        base_url = project.base_url or config.site.base_url
        with SiteWriter(project.output) as writer:  # a temporary folder: the published site stays untouched until commit
            # The open data (data/kpis.csv, the other open data and the API: perfgen.opendata),
            # plugins' files and what perfgen diff reads are made and written by a forked process
            # while this one records the corrections and lays out the pages (a process is forked
            # only while it runs one thread: the chart workers are processes that start no thread here).
            open_data = BackgroundFiles(writer, lambda: itertools.chain(
                plugins.published_files(config, results, project.cache),
                [("_build/services.csv", services_csv(config)), ("_build/warnings.csv", warnings_csv(warnings))]))
            drawing: charts_stage.ChartJob | None = None
            try:
                with progress.step("Comparing with the published figures", "opendata"):
                    digests = changelog_stage.figure_digests(results.values, config)
                    published = changelog_stage.read_published(project.previous if project.previous is not None else project.output, digests)
                    history = changelog_stage.record(published, results.values, config, project.today)
                    del published  # the previous site's figures: compared, no longer needed
                    changelog_names = writer.add_all(changelog_stage.files(history) + [(changelog_stage.FIGURES_FILE, changelog_stage.figures_json(digests))])
                with progress.step("Preparing pages", "model"):
                    model = render_stage.SiteModel(config, results)
                    page_inputs = render_stage.ServiceInputs(model, channels)
                    # A service whose charts are made from what the last build's were: its
                    # charts' addresses taken from that build's record, its requests not made.
                    memo = charts_stage.AddressMemo(project.cache)
                    chart_digests = {service.slug: page_inputs.charts_digest(service.slug, code) for service in config.services}
                    known = {slug: charts for slug, digest in chart_digests.items() if (charts := memo.get(digest)) is not None}
                    requests = render_stage.chart_requests(model, only={slug for slug in chart_digests if slug not in known})
                # The charts are drawn by worker processes while this process lays out the pages;
                # a page is rendered once its own charts are drawn.
                drawing = charts_stage.ChartJob(requests, workers=chart_workers or 1, cache_dir=project.cache,
                                                known={key: address for charts in known.values() for key, address in charts},
                                                request_for=functools.partial(render_stage.chart_requests, model))
                del requests, known  # the job's: it lets them go once the workers have them
                _freeze_survivors()
                with progress.step("Laying out pages", "pages"):
                    pages = render_stage.build_pages(model, drawing.slots(), channels, page_inputs)
                    del channels, page_inputs
                    changelog_stage.add_pages(pages, history, config, results.definitions)
                    render_stage.add_page_sections(pages, model)  # plugins' and built-in sections, on every page
                    page_paths = [page.path for page in pages]
                    files = feeds_stage.files(config, results, page_paths, history, base_url)
                    writer.add_all(files)
                _freeze_survivors()
                env = render_stage.make_environment(project.templates, project.cache / "templates" if project.cache is not None else None)
                site_context = {"site": config.site, "built_on": _latest_words(results), "feeds": base_url is not None}
                # Pages rendered from the same inputs by the previous build are taken from it (not
                # with caching turned off, cache None: the keys are still written, so that the
                # output is the same either way).
                reusable = _reusable_site(project)
                reuse = render_stage.PageReuse(reusable, code)
                # A page taken from the output folder is its published file's bytes: linked as it is.
                published = reusable is not None and reusable.resolve() == writer.output
                with progress.counter("Rendering pages", len(pages), "render") as tick:
                    # A service page waits for its own charts only: pages render while later charts draw.
                    for page, html in render_stage.iter_rendered(env, pages, site_context, progress=tick, reuse=reuse):
                        writer.add(page.path, html, published=published and isinstance(html, bytes))
                        page.context = {}  # rendered: its context is no longer needed (memory)
                waited_while_rendering = drawing.waited
                with progress.counter("Drawing charts", len(drawing.keys), "charts") as tick:
                    drawing.finish(progress=tick)  # any chart left (every one is cached by now)
                drawing.forget_others()  # the cache keeps this build's charts only
                charts_of = drawing.addresses_by_service()
                memo.save({digest: charts_of.get(slug, []) for slug, digest in chart_digests.items() if digest is not None})
                # Time spent waiting for charts is reported as the charts stage, not as rendering.
                progress.timings["render"] -= waited_while_rendering
                progress.timings["charts"] = drawing.waited
                drawing.request_for = None  # no page asks for a chart now: the model can go
                del model, pages
                with progress.step("Publishing", "write"):
                    data_names = open_data.join()
                    progress.timings["opendata"] += open_data.seconds  # made beside the pages: its own time
                    inputs = [{"path": project_path, "sha256": digest, "rows": rows} for project_path, digest, rows in _inputs(project, config, loaded)]
                    names = page_paths + data_names + changelog_names + [name for name, _ in files]
                    writer.add(reuse.FILE, reuse.json())
                    names.append(reuse.FILE)
                    writer.add("_build/manifest.json", manifest_json(inputs, results.values, warnings.by_code(), len(page_paths), names, key))
                    written = writer.commit()
            finally:
                open_data.close()  # before the writer's folder is thrown away, if the build failed
                if drawing is not None:
                    drawing.close()
    finally:
        gc.unfreeze()
    return BuildResult(project.output, len(page_paths), len(config.services), len(results.values), warnings,
                       timings=dict(progress.timings), files_written=written, changelog=history,
                       overdue=[f for f in results.freshness if f.overdue], pages_reused=reuse.reused)


def _freeze_survivors() -> None:
    """Exempt every object alive now from the cyclic garbage collector until the build ends
    (``gc.unfreeze`` in :func:`build`). A build holds millions of long-lived objects (figures,
    rows, page contexts); each full collection scanned them all again, a cost that grew faster
    than the site. Objects are still freed as soon as nothing refers to them."""
    gc.collect()
    gc.freeze()


def _tree_digest(digest: hashlib._Hash, folder: Path) -> None:
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())


def package_fingerprint() -> str:
    """Hash of perfgen's own code, templates and assets, the plugins and the versions of the
    libraries: what reads the data and computes the figures (the row cache's key)."""
    digest = hashlib.sha256()
    digest.update(f"{__version__}|{plugins.fingerprint()}|{sorted(package_versions().items())}".encode())
    _tree_digest(digest, Path(__file__).parent)
    return digest.hexdigest()


def code_fingerprint(project: Project, package: str | None = None) -> str:
    """Hash of everything but the inputs that shapes the output: ``package`` (by default
    :func:`package_fingerprint`) and the project's templates."""
    digest = hashlib.sha256((package or package_fingerprint()).encode())
    _tree_digest(digest, project.templates)
    return digest.hexdigest()


def _row_cache(project: Project, package: str) -> RowCache | None:
    return RowCache(project.cache / "rows", package) if project.cache is not None else None


def _facts_cache(project: Project, package: str, config: Config) -> FactsCache | None:
    """The facts of each group of services, keyed by ``package`` (perfgen's code, the plugins,
    the libraries' versions) and the config (which checks the rows and says which channels are
    digital)."""
    if project.cache is None:
        return None
    return FactsCache(project.cache / "facts", hashlib.sha256(f"{package}\n{config.model_dump_json()}".encode()).hexdigest())


def build_key(project: Project, strict: bool, code: str) -> str:
    """Hash of everything a build's output depends on: the code (``code``: ``code_fingerprint``),
    the config, every data file and the options."""
    digest = hashlib.sha256()
    digest.update(f"{code}|{strict}|{project.today}|{project.base_url}|{project.previous}".encode())
    if project.previous is not None and not is_url(project.previous):
        _tree_digest(digest, Path(project.previous) / "changelog")  # what a separate previous site says
        _tree_digest(digest, Path(project.previous) / "data")
    digest.update(project.config.read_bytes() if project.config.is_file() else b"missing")
    _tree_digest(digest, project.data)
    return digest.hexdigest()


def _reusable_site(project: Project) -> Path | None:
    """The previous build whose pages may be taken as they are: the output folder's, else a
    previous site given as a folder (a pull request's preview is built beside the site it is
    compared with); None with caching off."""
    if project.cache is None:
        return None
    if (project.output / render_stage.PageReuse.FILE).is_file() or project.previous is None or is_url(project.previous):
        return project.output
    return Path(project.previous)


def _published_key(output: Path) -> str | None:
    try:
        return json.loads((output / "_build" / "manifest.json").read_text(encoding="utf-8")).get("build_key")
    except (OSError, ValueError):
        return None


def _inputs(project: Project, config: Config, loaded: LoadedData) -> list[tuple[str, str, int]]:
    """Every input file with its SHA-256 and row count (the config counts its services)."""
    config_digest = hashlib.sha256(project.config.read_bytes()).hexdigest()
    entries = [(_display(project.config, project.root), config_digest, len(config.services))]
    entries += [(f.path, f.sha256, f.rows) for f in loaded.files]
    return entries


def validate(project: Project) -> Warnings:
    warnings = Warnings()
    _, loaded, _ = check(project, warnings)
    loaded.db.close()
    return warnings


def _latest_words(results: KpiResults) -> str:
    """How recent the figures are, for the footer. Taken from the data (not the clock) so the
    same inputs always give byte-identical pages."""
    return f"{results.latest_end:%B %Y}" if results.latest_end else "none yet"
