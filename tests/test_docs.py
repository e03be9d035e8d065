"""The documentation site: it builds with ``mkdocs build --strict``, documents every config key,
KPI and data-quality warning code, and its walkthrough works when followed to the letter.

The walkthrough test replays the steps marked ``<!-- walkthrough: ... -->`` in
docs/getting-started.md and docs/plugins.md on a clean copy of the example project: add a
service to the config, add its data file, install the example plugin, add calls, build, and
find both the service and the plugin's KPI on the site.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from perfgen import reference
from perfgen.config import KPI_IDS, Config
from perfgen.quality import WARNING_CODES
from perfgen.xlsx import template_bytes
from test_plugins import EXAMPLE, REPO, pip_install, run_perfgen

DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--config-file", str(REPO / "mkdocs.yml"), "--site-dir", str(site)],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return site


class Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}  # id -> tag

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] = tag


def ids(page: Path) -> dict[str, str]:
    parser = Ids()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.ids


def test_mkdocs_build_strict_passes_and_writes_every_page(docs_site):
    for page in ("index.html", "getting-started/index.html", "data-format/index.html", "reference/kpis/index.html",
                 "reference/config/index.html", "data-quality/index.html", "open-data/index.html", "plugins/index.html",
                 "templates/index.html", "nightly/index.html"):
        assert (docs_site / page).is_file(), page


def test_every_config_key_is_documented(docs_site):
    documented = ids(docs_site / "reference/config/index.html")
    keys = [key for section in reference.config_sections() for key in section.keys]
    assert len(keys) > 30
    for key in keys:
        assert key.description, f"{key.path} has no description"
        assert documented.get(key.anchor) == "h3", f"{key.path} is not in the config reference"
    for name in Config.model_fields["site"].annotation.model_fields:  # type: ignore[union-attr]
        assert f"site.{name}" in documented


def test_a_config_key_without_a_description_fails_the_docs_build():
    schema = Config.model_json_schema()
    del schema["$defs"]["Service"]["properties"]["notes"]["description"]
    assert reference.undocumented_config_keys(schema) == ["services[].notes"]
    with pytest.raises(reference.UndocumentedError, match=r"services\[\]\.notes"):
        reference.config_markdown(schema)


def test_every_kpi_is_documented(docs_site):
    documented = ids(docs_site / "reference/kpis/index.html")
    text = (docs_site / "reference/kpis/index.html").read_text(encoding="utf-8")
    definitions = reference.builtin_kpis()
    assert sorted(d.id for d in definitions) == sorted(KPI_IDS)
    for definition in definitions:
        assert documented.get(definition.id) == "h2", f"KPI {definition.id} is not in the KPI definitions"
        assert definition.label in text and definition.definition.split()[0] in text
    blank = [type(definitions[0])(**{**definitions[0].__dict__, "definition": " "})]
    with pytest.raises(reference.UndocumentedError, match=definitions[0].id):
        reference.kpis_markdown(blank)


def test_every_warning_code_is_documented_and_no_other(docs_site):
    page = docs_site / "data-quality/index.html"
    documented = {name for name, tag in ids(page).items() if tag == "h3"}
    assert documented == set(WARNING_CODES), (
        f"undocumented: {sorted(set(WARNING_CODES) - documented)}; documented but unknown: {sorted(documented - set(WARNING_CODES))}")


def test_the_spreadsheet_template_is_published_with_the_docs(docs_site):
    assert (docs_site / "perfgen-data-template.xlsx").read_bytes() == template_bytes()
    assert 'href="../perfgen-data-template.xlsx"' in (docs_site / "data-format/index.html").read_text(encoding="utf-8")


# --- the walkthrough, followed to the letter ----------------------------------------------------

STEP = re.compile(r"<!-- walkthrough: (?P<action>append|add-service|create|run)(?: (?P<path>\S+))? -->\n```[a-z]*\n(?P<body>.*?)```", re.DOTALL)


def add_service(config: str, entry: str) -> str:
    """``config`` with ``entry`` at the end of its ``services:`` list, as the docs ask: before
    any top-level key that follows the list (``peer_groups:``, say), else at the end."""
    start = config.index("\nservices:\n") + len("\nservices:\n")
    following = re.search(r"^\S", config[start:], re.MULTILINE)
    if following is None:
        return config + entry
    at = start + following.start()
    return config[:at].rstrip("\n") + "\n" + entry + "\n" + config[at:]


def walkthrough_steps() -> list[tuple[str, str | None, str]]:
    steps = []
    for page in ("getting-started.md", "plugins.md"):
        found = [(m["action"], m["path"], m["body"]) for m in STEP.finditer((DOCS / page).read_text(encoding="utf-8"))]
        assert found, f"no walkthrough steps in {page}"
        steps += found
    return steps


def test_a_new_service_and_the_example_kpi_plugin_by_following_the_docs(tmp_path):
    project = tmp_path / "my-project"
    shutil.copytree(EXAMPLE, project)  # "cp -r tests/fixtures/example my-project"
    packages = tmp_path / "site-packages"  # what `pip install` installs into, on PYTHONPATH below
    packages.mkdir()
    ran = []
    for action, path, body in walkthrough_steps():
        if action == "create":
            assert not (project / path).exists()
            (project / path).write_text(body, encoding="utf-8")
        elif action == "add-service":
            (project / path).write_text(add_service((project / path).read_text(encoding="utf-8"), body), encoding="utf-8")
        elif action == "append":
            with (project / path).open("a", encoding="utf-8") as handle:
                handle.write(body)
        else:
            for line in body.strip().splitlines():
                words = shlex.split(line)
                ran.append(words[0:2])
                if words[:2] == ["pip", "install"]:
                    pip_install(REPO / words[2], packages)
                    continue
                command = ["perfgen", *words[1:]] if words[0] == "perfgen" else words[2:]  # "python -m X" -> X
                if command[:2] == ["perfgen", "build"]:
                    command += ["--workers", "1"]
                result = run_perfgen(project, *command, path=packages)
                assert result.returncode == 0, f"{line}: {result.stderr}"
    assert ["pip", "install"] in ran and ["perfgen", "build"] in ran

    page = (project / "site/services/register-vehicle/index.html").read_text(encoding="utf-8")
    assert "<h1 class=\"govuk-heading-xl\">Register a vehicle</h1>" in page
    # Cost per transaction for 2024: 8,840,000 / (871,500 + 205,300) transactions.
    assert "£8.21" in page
    # Digital take-up 871,500 / 1,076,800 = 80.9%, compared with 77.1% in 2023.
    assert "80.9%" in page
    # The plugin's KPI, as the docs say: 81,200 calls for 1,076,800 transactions.
    other = page[page.index('id="other-measures"'):page.index('id="download-data"')]
    assert "Contact rate" in other and "7.5%" in other
    assert "7.5%" in (DOCS / "plugins.md").read_text(encoding="utf-8")
    rows = (project / "site/data/services/register-vehicle.csv").read_text(encoding="utf-8")
    assert "contact_rate" in rows
    assert "register-vehicle" in (project / "site/departments/dft/index.html").read_text(encoding="utf-8")
    assert "register-vehicle" in (project / "site/league/index.html").read_text(encoding="utf-8")
    assert not [p for p in (REPO / "examples/perfgen-example-plugin").rglob("*.egg-info")], "the install left files in the repository"
    assert os.environ.get("PERFGEN_DISABLE_PLUGIN_AUTOLOAD") is None
