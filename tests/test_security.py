"""Whatever text arrives through config or data, the published site stays inert."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from perfgen.render import render_markdown
from site_checks import build_site, tree_hashes

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
PAYLOADS = [
    "<script>alert('name')</script>",
    "\"><img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><circle r=1 /></svg>",
    "' onmouseover='alert(1)",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "{{ 7*7 }} {% raw %}",
]


class ActiveContent(HTMLParser):
    """Collects anything in a page that could run: scripts, handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script" and [name for name, _ in attrs] == ["src", "defer"] and re.fullmatch(r"(\.\./)*assets/perfgen-search\.js", dict(attrs)["src"]):
            pass  # perfgen's own search script, a file of the site (no inline code: the policy forbids it)
        elif tag in ("script", "iframe", "object", "embed", "img"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}")
            if name in ("href", "src", "xlink:href", "action") and value and value.strip().lower().startswith(("javascript:", "data:", "vbscript:")):
                self.found.append(f"{tag} {name}={value}")


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "project"
    shutil.copytree(EXAMPLE, root)
    config = yaml.safe_load((root / "config/services.yml").read_text(encoding="utf-8"))
    config["site"]["title"] = PAYLOADS[0]
    config["site"]["licence"] = PAYLOADS[1]
    config["departments"][0]["name"] = PAYLOADS[2]
    config["departments"][0]["abbreviation"] = PAYLOADS[3]
    service = config["services"][0]
    service["name"] = PAYLOADS[0] + PAYLOADS[4]
    service["description"] = (
        "[click me](javascript:alert(1)) <script>alert(2)</script> <b onclick=alert(3)>bold</b> "
        "![pic](http://evil.example/x.png) [data](data:text/html;base64,PHNjcmlwdD4=) " + PAYLOADS[5]
    )
    service["notes"] = "<iframe src=http://evil.example></iframe> <a href='javascript:alert(4)'>x</a>"
    service["cost_notes"] = PAYLOADS[2]
    service["category"] = PAYLOADS[1]
    (root / "config/services.yml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with (root / "data/dvsa-theory-test.csv").open("a", encoding="utf-8") as handle:
        handle.write('book-theory-test,2022-Q4,,transactions,,invalid,"<script>alert(5)</script>"\n')
    text = (root / "data/dvsa-theory-test.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[0] = "service,period,channel,metric,value,status,note"
    lines[1:-1] = [line + ",," for line in lines[1:-1]]
    (root / "data/dvsa-theory-test.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return build_site(root, tmp_path_factory.mktemp("hostile-out") / "site")


def test_no_active_content_anywhere(hostile_site):
    for page in sorted(hostile_site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        parser = ActiveContent()
        parser.feed(text)
        assert not parser.found, f"{page.relative_to(hostile_site)}: {parser.found}"
        scripts = re.findall(r"<script[^>]*>(.*?)</script>", text, re.DOTALL | re.IGNORECASE)
        if page.relative_to(hostile_site).as_posix() in ("services/index.html", "index.html"):  # the search box's pages
            assert scripts == [""] and "script-src 'self'" in text
        else:
            assert scripts == [] and "<script" not in text.lower() and "script-src 'none'" in text


def test_payloads_are_shown_as_text(hostile_site):
    page = (hostile_site / "services/renew-driving-licence/index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page  # template syntax in data is never evaluated
    assert "49" not in page.split("{{ 7*7 }}")[0][-20:]
    quality = (hostile_site / "data-quality/index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in quality


def test_svg_labels_are_escaped(hostile_site):
    page = (hostile_site / "services/renew-driving-licence/index.html").read_text(encoding="utf-8")
    assert 'aria-label="Line chart of transactions for &lt;script&gt;' in page


def test_manifest_and_csv_are_valid_and_inert(hostile_site):
    manifest = json.loads((hostile_site / "_build/manifest.json").read_text(encoding="utf-8"))
    assert manifest["warnings"]["invalid-value"] == 1
    csv_text = (hostile_site / "data/kpis.csv").read_text(encoding="utf-8")
    for line in csv_text.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), cell


@pytest.mark.parametrize("markdown, forbidden", [
    ("[x](javascript:alert(1))", "javascript:"),
    ("<script>alert(1)</script>", "<script"),
    ("<img src=x onerror=alert(1)>", "onerror"),
    ("<a href='http://ok.example' onclick='alert(1)'>x</a>", "onclick"),
    ("[x](data:text/html,hi)", "data:"),
    ("<style>body{display:none}</style>", "<style"),
    ("<p style='color:red'>x</p>", "style="),
])
def test_markdown_is_sanitised(markdown, forbidden):
    assert forbidden not in str(render_markdown(markdown))


def test_markdown_keeps_safe_formatting():
    html = str(render_markdown("Some **bold** and a [link](https://www.gov.uk/)"))
    assert '<strong>bold</strong>' in html
    assert '<a class="govuk-link" href="https://www.gov.uk/" rel="noopener noreferrer">link</a>' in html


def test_yaml_cannot_construct_objects_or_expand_aliases(example_project):
    from perfgen.config import load_config
    from perfgen.errors import ConfigError

    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    path = example_project / "config/bomb.yml"
    path.write_text(bomb + "departments: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path, "config/bomb.yml")
    assert "aliases" in str(error.value)
    path.write_text("departments: !!python/object/apply:os.system ['echo hi']\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path, "config/bomb.yml")


def test_manifest_records_inputs_warnings_and_versions(tmp_path):
    site = build_site(EXAMPLE, tmp_path / "site")
    manifest = json.loads((site / "_build/manifest.json").read_text(encoding="utf-8"))
    paths = [entry["path"] for entry in manifest["inputs"]]
    assert paths[0] == "config/services.yml"
    assert "data/dvsa-theory-test.csv" in paths
    rows = {entry["path"]: entry["rows"] for entry in manifest["inputs"]}
    assert rows["data/dvsa-theory-test.csv"] == 24
    assert rows["config/services.yml"] == 6
    assert manifest["warnings"] == {"completed-above-started": 1, "digital-above-total": 1, "no-data": 1, "stale-data": 1}
    assert manifest["kpi_rows"]["transactions"]["value"] > 0
    assert set(manifest["versions"]) >= {"perfgen", "duckdb", "python"}
    assert "index.html" in manifest["files"]
    again = build_site(EXAMPLE, tmp_path / "again")
    assert tree_hashes(site) == tree_hashes(again)
