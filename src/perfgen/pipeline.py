"""The build, from top to bottom: config -> load -> kpis -> charts -> render -> publish.

Everything is gathered and checked before anything is written; see ARCHITECTURE.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from perfgen import charts as charts_stage
from perfgen import render as render_stage
from perfgen.config import Config, load_config
from perfgen.errors import StrictModeError, Warnings
from perfgen.kpis import KpiResults, channel_breakdown, compute_kpis
from perfgen.load import LoadedData, load_data
from perfgen.progress import Progress
from perfgen.publish import kpis_csv, manifest_json, write_site


@dataclass
class Project:
    """Where a build reads and writes."""

    config: Path = Path("config/services.yml")
    data: Path = Path("data")
    output: Path = Path("site")
    templates: Path = Path("templates")
    root: Path = Path(".")  # paths in messages are shown relative to this


@dataclass
class BuildResult:
    output: Path
    pages: int
    services: int
    kpi_rows: int
    warnings: Warnings = field(default_factory=Warnings)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def check(project: Project, warnings: Warnings) -> tuple[Config, LoadedData, KpiResults]:
    """Config, data and KPIs: everything a build needs, all checked. Writes nothing."""
    config = load_config(project.config, _display(project.config, project.root))
    loaded = load_data(project.data, config, project.root.resolve())
    results = compute_kpis(loaded, config, warnings)
    return config, loaded, results


def build(project: Project, strict: bool = False, workers: int | None = None, progress: Progress | None = None) -> BuildResult:
    progress = progress or Progress(enabled=False)
    warnings = Warnings()
    with progress.step("Checking config and data"):
        config, loaded, results = check(project, warnings)
    if strict and len(warnings):
        raise StrictModeError(warnings.sorted())
    model = render_stage.SiteModel(config, results)
    requests = render_stage.chart_requests(model)
    with progress.counter("Drawing charts", len(requests)) as tick:
        svgs = charts_stage.render_charts(requests, workers=workers, progress=tick)
    pages = render_stage.build_pages(model, svgs, channel_breakdown(loaded.db, results))
    env = render_stage.make_environment(project.templates)
    site_context = {"site": config.site, "built_on": _latest_words(results)}
    with progress.counter("Writing pages", len(pages)) as tick:
        html = render_stage.render_pages(env, pages, site_context, progress=tick)
    files: list[tuple[str, str | bytes]] = sorted(html.items())
    files.append(("data/kpis.csv", kpis_csv(results.values)))
    inputs = [{"path": project_path, "sha256": digest, "rows": rows} for project_path, digest, rows in _inputs(project, loaded)]
    files.append(("_build/manifest.json", manifest_json(inputs, results.values, warnings.by_code(), len(pages), [name for name, _ in files])))
    with progress.step("Publishing"):
        write_site(project.output, files)
    loaded.db.close()
    return BuildResult(project.output, len(pages), len(config.services), len(results.values), warnings)


def _inputs(project: Project, loaded: LoadedData) -> list[tuple[str, str, int]]:
    """Every input file with its SHA-256 and row count (the config counts its services)."""
    config_digest = hashlib.sha256(project.config.read_bytes()).hexdigest()
    config_rows = loaded.db.execute("SELECT count(*) FROM services").fetchone()[0]
    entries = [(_display(project.config, project.root), config_digest, int(config_rows))]
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
