"""Extension points: loaders, metrics, KPIs, page sections and output files through one door.

The example plugin in examples/ is installed with pip (into a folder on PYTHONPATH, so the test
environment itself is left alone) and a real ``perfgen`` process finds it through its entry
point, as it would any third-party package. perfgen's own loaders, KPIs, sections and open data
are registered through the same hooks.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser import describe_violations, open_site, requires_browser
from perfgen import plugins
from perfgen.errors import Problem
from perfgen.kpis import KpiDefinition
from site_checks import build_site, page_facts

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = Path(__file__).parent / "fixtures" / "example"
EXAMPLE_PLUGIN = REPO / "examples" / "perfgen-example-plugin"


def pip_install(source: Path, target: Path) -> None:
    """``pip install`` into ``target`` without touching the test environment or the network."""
    build = target.parent / f"{source.name}-source"
    shutil.copytree(source, build, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                             "--no-index", "--target", str(target), str(build)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def installed_example_plugin(tmp_path_factory) -> Path:
    """A folder holding the installed example plugin (put it on PYTHONPATH to activate it)."""
    target = tmp_path_factory.mktemp("plugins") / "site-packages"
    pip_install(EXAMPLE_PLUGIN, target)
    return target


def run_perfgen(cwd: Path, *args: str, path: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != plugins.DISABLE_AUTOLOAD}
    if path is not None:
        environment["PYTHONPATH"] = os.pathsep.join([str(path), environment.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    environment.update(env)
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, env=environment, check=False)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- built-ins through the same door ----------------------------------------------------------

def test_built_in_stages_are_registered_as_plugins():
    names = [name for name, _ in plugins.plugin_manager().list_name_plugin()]
    assert names[: len(plugins.DEFAULT_PLUGINS)] == list(plugins.DEFAULT_PLUGINS)
    loaders = plugins.loaders()
    assert {suffix: loader.plugin for suffix, loader in loaders.items()} == {
        ".csv": "perfgen.load", ".parquet": "perfgen.load", ".json": "perfgen.load", ".jsonl": "perfgen.load",
        ".xlsx": "perfgen.xlsx", ".xlsm": "perfgen.xlsx"}
    assert {d.source for d in plugins.kpi_definitions()} == {"perfgen.kpis"}
    assert plugins.metrics()[:2] == ("transactions", "cost")
    hooks = {info.name: info.hooks for info in plugins.describe()}
    assert hooks["perfgen.opendata"] == ("publish_files", "render_page_sections")


def test_the_longest_suffix_wins(tmp_path):
    available = {".json": "json", ".records.json": "records", ".csv": "csv"}
    assert plugins.loader_for(Path("data/export.records.json"), available) == "records"
    assert plugins.loader_for(Path("data/EXPORT.JSON"), available) == "json"
    assert plugins.loader_for(Path("data/notes.txt"), available) is None


# --- the example plugin, installed -------------------------------------------------------------

CALLS = """service,period,channel,metric,value
apply-passport,2024-01,phone,calls,12000
apply-passport,2024-02,phone,calls,11000
"""
RECORDS = [
    {"_timestamp": "2024-03-01T00:00:00+00:00", "service": "apply-passport", "channel": "phone", "count": 9000, "dataType": "calls", "period": "month"},
]


@pytest.fixture(scope="module")
def plugin_site(installed_example_plugin, tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("with-plugin") / "example"
    shutil.copytree(EXAMPLE, project)
    (project / "data/calls.csv").write_text(CALLS, encoding="utf-8")
    (project / "data/contact-centre.records.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    result = run_perfgen(project, "perfgen", "build", "--quiet", "--workers", "1", path=installed_example_plugin)
    assert result.returncode == 0, result.stderr
    return project / "site"


def test_python_m_perfgen_plugins_lists_the_installed_plugin(installed_example_plugin, tmp_path):
    result = run_perfgen(tmp_path, "perfgen.plugins", path=installed_example_plugin)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "perfgen.load (perfgen 0.1.0): load_formats, load_metrics"
    assert "example (perfgen-example-plugin 0.1.0): kpis_definitions, load_formats, load_metrics" in lines
    disabled = run_perfgen(tmp_path, "perfgen.plugins", path=installed_example_plugin, **{plugins.DISABLE_AUTOLOAD: "1"})
    assert not [line for line in disabled.stdout.splitlines() if line.startswith("example ")]


def test_the_plugin_kpi_is_computed_from_csv_and_record_style_data(plugin_site):
    rows = [r for r in read_csv(plugin_site / "data/kpis.csv") if r["kpi"] == "contact_rate"]
    mine = {r["period"]: r for r in rows if r["service"] == "apply-passport" and r["basis"] == "period"}
    assert set(mine) == {"January 2024", "February 2024", "March 2024"}
    transactions = {r["period"]: float(r["value"]) for r in read_csv(plugin_site / "data/services/apply-passport.csv")
                    if r["kpi"] == "transactions" and r["basis"] == "period" and r["period"] in mine}
    for period, calls in (("January 2024", 12000), ("February 2024", 11000), ("March 2024", 9000)):
        assert float(mine[period]["numerator"]) == calls
        assert float(mine[period]["value"]) == pytest.approx(calls / transactions[period])
    government = [r for r in rows if r["service"] == "" and r["department"] == "" and r["period"] == "March 2024"]
    assert [(r["numerator"], r["services_contributing"]) for r in government] == [("9000", "1")]
    definitions = {r["id"]: r for r in read_csv(plugin_site / "data/kpi-definitions.csv")}
    assert definitions["contact_rate"]["better"] == "lower"


def test_the_plugin_kpi_shows_on_the_site(plugin_site):
    page = (plugin_site / "services/apply-passport/index.html").read_text(encoding="utf-8")
    section = page[page.index('id="other-measures"'):page.index('id="download-data"')]
    assert "Contact rate" in section and "1.7%" in section  # 9,000 calls for 529,119 transactions, March 2024
    assert "Contact rate" in (plugin_site / "definitions/index.html").read_text(encoding="utf-8")
    assert 'id="other-measures"' in (plugin_site / "departments/ho/index.html").read_text(encoding="utf-8")
    assert 'id="other-measures"' in (plugin_site / "index.html").read_text(encoding="utf-8")
    index = json.loads((plugin_site / "api/index.json").read_text(encoding="utf-8"))
    assert "contact_rate" in [k["id"] for k in index["kpis"]]
    facts = page_facts(plugin_site / "services/apply-passport/index.html")
    assert len(facts.h1) == 1 and facts.ids.count("other-measures") == 1


def test_without_the_plugin_there_is_no_other_measures_section(published_example):
    page = (published_example.site / "services/apply-passport/index.html").read_text(encoding="utf-8")
    assert 'id="other-measures"' not in page and 'id="download-data"' in page


def test_record_style_export_problems_name_the_record(installed_example_plugin, example_project):
    records = [{"_timestamp": "2024-03-01", "service": "apply-passport", "channel": "phone", "count": 1, "dataType": "calls", "period": "week"},
               {"service": "apply-passport"},
               {"_timestamp": "2024-04-01T00:00:00", "service": "apply-passport", "channel": "phone", "count": "lots", "dataType": "calls", "period": "month"}]
    (example_project / "data/bad.records.json").write_text(json.dumps(records), encoding="utf-8")
    result = run_perfgen(example_project, "perfgen", "validate", path=installed_example_plugin)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: data/bad.records.json:1: key 'period': 'week' starting 01 March 2024 is not a month, a calendar quarter or a financial year",
        "  Hint: weekly and daily figures must be added up to months first",
        "error: data/bad.records.json:2: record: missing '_timestamp', 'channel', 'count', 'dataType', 'period'",
        '  Hint: each record needs the keys _timestamp, service, channel, count, dataType and period, for example {"_timestamp": "2024-05-01T00:00:00+00:00", "service": "renew-passport", "channel": "online", "count": 41230, "dataType": "transactions", "period": "month"}',
        "error: data/bad.records.json:3: column 'value': 'lots' is not a number",
        "perfgen: 3 problems in the data; nothing was written",
    ]


def test_a_plugin_that_cannot_be_loaded_is_named(tmp_path, example_project):
    """A broken installed plugin stops the run with its name, package and version; no traceback."""
    packages = tmp_path / "site-packages"
    info = packages / "broken_plugin-1.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.2\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[perfgen]\nbroken = broken_plugin\n", encoding="utf-8")
    (packages / "broken_plugin.py").write_text("raise RuntimeError('this plugin is broken')\n", encoding="utf-8")
    result = run_perfgen(example_project, "perfgen", "validate", path=packages)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: plugin 'broken' (broken-plugin 1.2, entry point broken_plugin): cannot be loaded: RuntimeError: this plugin is broken",
        "  Hint: fix or uninstall broken-plugin, or set PERFGEN_DISABLE_PLUGIN_AUTOLOAD=1 to build without installed plugins",
        "perfgen: 1 problem in the plugins; nothing was written",
    ]
    (packages / "broken_plugin.py").write_text("from perfgen.plugins import hookimpl\n@hookimpl\ndef load_formats(colour):\n    return []\n", encoding="utf-8")
    result = run_perfgen(example_project, "perfgen", "validate", path=packages)
    assert result.returncode == 1
    assert result.stderr.startswith("error: plugin 'broken' (broken-plugin 1.2, entry point broken_plugin): does not match perfgen's hooks: ")
    assert "colour" in result.stderr


# --- hooks registered in process (the same door the entry points use) --------------------------


class registered:
    """Register a plugin object for the duration of a ``with`` block."""

    def __init__(self, plugin: object, name: str):
        self.plugin, self.name = plugin, name

    def __enter__(self):
        plugins.plugin_manager().register(self.plugin, name=self.name)
        return self.plugin

    def __exit__(self, *exc):
        plugins.plugin_manager().unregister(name=self.name)


class DuplicateKpi:
    @plugins.hookimpl
    def kpis_definitions(self):
        return [KpiDefinition("completion_rate", "Completion", "percent", "higher", "ratio", False, "a", "b", "c", "SELECT 1")]


def test_two_definitions_of_one_kpi_stop_the_build(example_project, failing_build):
    with registered(DuplicateKpi(), "duplicate"):
        assert failing_build() == "error: plugin 'duplicate': KPI 'completion_rate' is already defined by plugin 'perfgen.kpis'\n  Hint: give the KPI another id"


class FailingHook:
    @plugins.hookimpl
    def publish_files(self):
        raise KeyError("report.pdf")


class FailingGenerator:
    @plugins.hookimpl
    def publish_files(self):
        yield "report.txt", "made"
        raise KeyError("report.pdf")


@pytest.mark.parametrize("hook", [FailingHook, FailingGenerator], ids=["at once", "as a generator runs"])
def test_a_failing_hook_is_reported_with_the_plugin_name(example_project, failing_build, hook):
    with registered(hook(), "failing"):
        assert failing_build() == (
            "error: plugin 'failing': hook publish_files failed: KeyError: 'report.pdf'\n"
            "  Hint: run with --debug for the traceback, or set PERFGEN_DISABLE_PLUGIN_AUTOLOAD=1 to build without installed plugins")


class WrongTable:
    @plugins.hookimpl
    def load_formats(self):
        def load(db, path, display, table, problems):
            db.execute(f"CREATE TEMP TABLE {table} AS SELECT 1 AS one")
            return True
        return [plugins.Loader("wrong", (".wrong",), load)]


def test_a_loader_that_makes_the_wrong_table_is_named(example_project, failing_build):
    (example_project / "data/figures.wrong").write_text("x", encoding="utf-8")
    with registered(WrongTable(), "wrong-table"):
        assert failing_build() == (
            "error: plugin 'wrong-table': loader 'wrong' made a table with the columns one; expected file, line, service, period, channel, metric, value, status, note\n"
            "  Hint: use perfgen.plugins.records_loader")


class ContactSection:
    """A page section from a plugin's own template folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    @plugins.hookimpl
    def render_template_folders(self):
        return [self.folder]

    @plugins.hookimpl
    def render_page_sections(self, kind, page):
        if kind == "service":
            return [plugins.PageSection("contact-centre", "contact_centre.html", {"phone": "0300 123 4567"}, order=200)]
        return None


def test_a_plugin_page_section_renders_on_service_pages(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "contact_centre.html").write_text(
        '<h2 class="govuk-heading-l" id="{{ section.id }}">Contact centre</h2>\n<p class="govuk-body">Call {{ phone }} about {{ service.name }}.</p>\n', encoding="utf-8")
    with registered(ContactSection(folder), "contact"):
        site = build_site(EXAMPLE, tmp_path / "site")
    page = (site / "services/apply-passport/index.html").read_text(encoding="utf-8")
    assert "Call 0300 123 4567 about Apply for a passport." in page
    assert page.index('id="contact-centre"') < page.index('id="download-data"'), "ordered by `order`"
    assert 'id="contact-centre"' not in (site / "index.html").read_text(encoding="utf-8")


class EverywhereSection:
    @plugins.hookimpl
    def render_page_sections(self, kind):
        return [plugins.PageSection("everywhere", "sections/everywhere.html", {"kind": kind})]


def test_every_page_type_renders_plugin_sections(tmp_path):
    """A page template without {% include "_sections.html" %} would silently drop sections."""
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    (project / "templates/sections").mkdir(parents=True)
    (project / "templates/sections/everywhere.html").write_text('<h2 class="govuk-heading-m" id="everywhere">On the {{ kind }} page</h2>\n', encoding="utf-8")
    with registered(EverywhereSection(), "everywhere"):
        site = build_site(project, tmp_path / "site")
    pages = sorted(site.rglob("*.html"))
    kinds = set()
    for page in pages:
        found = re.search(r'id="everywhere">On the (\w+) page<', page.read_text(encoding="utf-8"))
        assert found, f"{page.relative_to(site)} does not render page sections"
        kinds.add(found.group(1))
    assert {"home", "service", "department", "departments", "league", "definitions", "quality", "data", "accessibility"} <= kinds


def test_a_section_template_using_a_missing_variable_fails_the_build(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "contact_centre.html").write_text("<h2>Contact</h2><p>{{ phone_number }}</p>", encoding="utf-8")
    with registered(ContactSection(folder), "contact"), pytest.raises(RuntimeError, match="phone_number"):
        build_site(EXAMPLE, tmp_path / "site")


# --- project templates override by name ----------------------------------------------------------

def test_a_project_template_overrides_a_built_in_one_by_name(tmp_path):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    (project / "templates/sections").mkdir(parents=True)
    service = (REPO / "src/perfgen/templates/service.html").read_text(encoding="utf-8")
    (project / "templates/service.html").write_text(
        service.replace("{% block content %}", '{% block content %}\n<p class="govuk-body">Checked by the {{ department.name }} performance team.</p>', 1), encoding="utf-8")
    (project / "templates/sections/downloads.html").write_text(
        '<h2 class="govuk-heading-l" id="{{ section.id }}">Get the figures</h2>\n{% for link in downloads %}<a class="govuk-link" href="{{ root }}{{ link.href }}">{{ link.text }}</a>{% endfor %}\n', encoding="utf-8")
    site = build_site(project, tmp_path / "site")
    page = (site / "services/apply-passport/index.html").read_text(encoding="utf-8")
    assert "Checked by the Home Office performance team." in page
    assert "Get the figures" in page and "Download the data" not in page
    assert "Checked by the" not in (site / "departments/ho/index.html").read_text(encoding="utf-8")


def test_problem_locations_can_be_rewritten_by_a_loader():
    located = plugins.LoadedFile(lambda p: Problem(p.file, p.line, "elsewhere", p.message))
    assert located and located.locate(Problem("f", 1, "", "m")).where == "elsewhere"


@requires_browser
def test_pages_with_plugin_sections_are_accessible(plugin_site):
    with open_site(plugin_site) as opened:
        violations = opened.audit("services/apply-passport/index.html", width=320)  # the tiles and downloads sections
        assert not violations, describe_violations(violations)
