"""base.html and components.html: valid, accessible GOV.UK pages without inline code.

The static checks always run. The browser checks (axe-core WCAG 2.2 AA, every
asset loads, no Content-Security-Policy violation) need Debian's chromium; see
tests/browser.py for when they skip.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import html5lib
import pytest
from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    UndefinedError,
)
from jinja2.utils import missing
from markupsafe import Markup

from browser import describe_violations, open_site, requires_browser
from perfgen.cells import table_body

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "perfgen"
TEMPLATES = PACKAGE / "templates"
ASSETS = PACKAGE / "assets"

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)
XHTML = "{http://www.w3.org/1999/xhtml}"


class StrictNamesUndefined(ChainableUndefined):
    """Fails on an undefined variable name; chains on missing attributes.

    The GOV.UK macros read optional parameters as attributes (``params.classes``)
    so attribute look-ups must stay forgiving, while a page variable the render
    stage forgot must fail. A stand-in for the render stage's own Undefined.
    """

    def __init__(self, hint=None, obj=missing, name=None, exc=UndefinedError):
        super().__init__(hint, obj, name, exc)
        if obj is missing and hint is None:
            raise exc(f"{name!r} is undefined")


def make_environment() -> Environment:
    loader = ChoiceLoader(
        [
            FileSystemLoader(TEMPLATES),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    env = Environment(loader=loader, autoescape=True, undefined=StrictNamesUndefined)
    env.globals["table_body"] = table_body  # data_table's rows, as perfgen.render.make_environment registers them
    return env


@dataclass(frozen=True)
class Site:
    title: str
    licence: str
    govuk_branding: bool


SAMPLE_PAGE = """\
{% extends "base.html" %}
{% from "components.html" import data_table, chart_figure, kpi_grid, kpi_tile, status_text, stale_tag %}
{% block content %}
<h1 class="govuk-heading-xl">{{ page_title }}</h1>
<p class="govuk-body-l">How well the service worked between April 2016 and March 2017.</p>
<h2 class="govuk-heading-l">Key figures</h2>
{% call kpi_grid() %}
{{ kpi_tile("Cost per transaction", "£4.06", "£4.0612",
            "April 2016 to March 2017", "+4.1% on April 2015 to March 2016 – worse",
            "app-change--bad") }}
{{ kpi_tile("Digital take-up", "90.3%", "90.3125%", "April 2016 to March 2017",
            "+2.3 percentage points on April 2015 to March 2016 – better", "app-change--good") }}
{{ kpi_tile("User satisfaction", "81.0%", none, "April 2015 to March 2016", "No change",
            "app-change--neutral", "Low confidence: 42 responses") }}
{{ kpi_tile("Completion rate", none, note=stale_tag("Not provided since March 2016")) }}
{% endcall %}
<h2 class="govuk-heading-l">Transactions</h2>
{{ chart_figure("transactions-chart", "Transactions by quarter", chart_svg,
                "Transactions rose from 10.2m to 12.3m over the year.", chart_table) }}
{{ data_table("Cost by channel", ["Channel", "Transactions", "Cost per transaction", "Notes"],
              table_rows, numeric_columns=[1, 2]) }}
<p class="govuk-body">Call centre cost: {{ status_text("Not provided") }}</p>
{% endblock %}
"""

CHART_SVG = Markup(
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="120" viewBox="0 0 400 120" '
    'role="img" aria-label="Bar chart of transactions by quarter">'
    '<rect x="10" y="60" width="80" height="50" fill="#1d70b8"/>'
    '<rect x="110" y="45" width="80" height="65" fill="#1d70b8"/>'
    '<rect x="210" y="30" width="80" height="80" fill="#1d70b8"/>'
    '<rect x="310" y="20" width="80" height="90" fill="#1d70b8"/>'
    "</svg>"
)
CHART_TABLE = {
    "caption": "Transactions by quarter",
    "headers": ["Quarter", "Transactions"],
    "rows": [
        ["April to June 2016", {"text": "10.2m", "title": "10,201,334"}],
        ["July to September 2016", {"text": "11.0m", "title": "11,004,211"}],
        ["October to December 2016", {"text": "11.9m", "title": "11,876,002"}],
        ["January to March 2017", {"text": "12.3m", "title": "12,299,871"}],
    ],
    "numeric_columns": [1],
}
TABLE_ROWS = [
    ["Online", "9,812,004", {"text": "£1.23", "title": "£1.2345"}, ""],
    ["Telephone", "1,204,550", "£14.60", {"html": Markup('<a href="#notes">See notes</a>')}],
    ["Paper <forms>", None, "Not applicable", "Includes <b>post</b>"],
]


def page_context(govuk_branding: bool = False, root: str = "", **overrides: Any) -> dict:
    context = {
        "site": Site(
            title="Vehicle tax performance",
            licence="All content is available under the Open Government Licence v3.0.",
            govuk_branding=govuk_branding,
        ),
        "root": root,
        "page_title": "Tax your vehicle",
        "nav": [
            {"href": f"{root}index.html", "text": "Services", "current": True},
            {"href": f"{root}departments/", "text": "Departments", "current": False},
            {"href": f"{root}data/", "text": "Data", "current": False},
        ],
        "breadcrumbs": [],
        "built_on": "26 November 2026",
        "chart_svg": CHART_SVG,
        "chart_table": CHART_TABLE,
        "table_rows": TABLE_ROWS,
    }
    context.update(overrides)
    return context


def render_sample(**context_options: Any) -> str:
    return make_environment().from_string(SAMPLE_PAGE).render(page_context(**context_options))


def write_sample_site(directory: Path, govuk_branding: bool = False) -> Path:
    """A two-page site (home and a nested service page) with the packaged assets."""
    shutil.copytree(ASSETS, directory / "assets", dirs_exist_ok=True)
    (directory / "index.html").write_text(
        render_sample(govuk_branding=govuk_branding), encoding="utf-8"
    )
    nested = directory / "services" / "tax-your-vehicle"
    nested.mkdir(parents=True, exist_ok=True)
    breadcrumbs = [{"href": "../../", "text": "Services"}, {"text": "Tax your vehicle"}]
    (nested / "index.html").write_text(
        render_sample(govuk_branding=govuk_branding, root="../../", breadcrumbs=breadcrumbs),
        encoding="utf-8",
    )
    return directory


def parse(html: str):
    """Parse strictly: any HTML parse error fails the test."""
    return html5lib.HTMLParser(strict=True).parse(html)


def elements(tree, tag: str) -> list:
    return list(tree.iter(f"{XHTML}{tag}"))


def text_of(element) -> str:
    return " ".join("".join(element.itertext()).split())


# Static checks ----------------------------------------------------------------------


@pytest.mark.parametrize("govuk_branding", [False, True])
def test_page_structure(govuk_branding):
    html = render_sample(govuk_branding=govuk_branding)
    tree = parse(html)
    assert tree.get("lang") == "en"
    h1s = elements(tree, "h1")
    assert [text_of(h1) for h1 in h1s] == ["Tax your vehicle"]
    assert text_of(elements(tree, "title")[0]) == "Tax your vehicle – Vehicle tax performance"
    skip_link = elements(tree, "a")[0]
    assert skip_link.get("href") == "#main-content"
    assert "govuk-skip-link" in skip_link.get("class")
    (main,) = elements(tree, "main")
    assert main.get("id") == "main-content"
    viewports = [m for m in elements(tree, "meta") if m.get("name") == "viewport"]
    assert len(viewports) == 1


@pytest.mark.parametrize("govuk_branding", [False, True])
def test_no_inline_script_or_style(govuk_branding):
    tree = parse(render_sample(govuk_branding=govuk_branding))
    assert elements(tree, "script") == []
    assert elements(tree, "style") == []
    styled = [el.tag for el in tree.iter() if isinstance(el.tag, str) and "style" in el.attrib]
    assert styled == []
    handlers = [
        (el.tag, name)
        for el in tree.iter()
        if isinstance(el.tag, str)
        for name in el.attrib
        if name.startswith("on")
    ]
    assert handlers == []


def test_content_security_policy_comes_first():
    tree = parse(render_sample())
    head = elements(tree, "head")[0]
    metas = [el for el in head if el.tag == f"{XHTML}meta"]
    assert metas[0].get("charset") == "utf-8"
    assert metas[1].get("http-equiv") == "Content-Security-Policy"
    assert metas[1].get("content") == CSP


@pytest.mark.parametrize(
    ("govuk_branding", "root", "stylesheet", "icon"),
    [
        (False, "", "assets/perfgen.min.css", "assets/images/perfgen-favicon.svg"),
        (
            False,
            "../../",
            "../../assets/perfgen.min.css",
            "../../assets/images/perfgen-favicon.svg",
        ),
        (True, "../", "../assets/perfgen-govuk.min.css", "../assets/images/favicon.svg"),
    ],
)
def test_asset_links_are_relative_to_root(govuk_branding, root, stylesheet, icon):
    tree = parse(render_sample(govuk_branding=govuk_branding, root=root))
    links = {(el.get("rel"), el.get("href")) for el in elements(tree, "link")}
    assert ("stylesheet", stylesheet) in links
    assert ("icon", icon) in links
    for _, href in links:
        assert (ASSETS / href.removeprefix(root).removeprefix("assets/")).is_file(), href


def test_default_header_has_no_crown_and_govuk_header_has():
    default = render_sample()
    assert "govuk-generic-header" in default
    assert "govuk-logo" not in default
    assert "<svg" not in default.split("<main")[0]
    govuk = render_sample(govuk_branding=True)
    assert 'class="govuk-header' in govuk
    assert "govuk-logo" in govuk


@pytest.mark.parametrize("govuk_branding", [False, True])
def test_navigation_marks_the_current_page(govuk_branding):
    tree = parse(render_sample(govuk_branding=govuk_branding))
    (nav,) = [el for el in elements(tree, "nav") if el.get("aria-label") == "Main"]
    links = [(a.get("href"), text_of(a), a.get("aria-current")) for a in nav.iter(f"{XHTML}a")]
    assert links == [
        ("index.html", "Services", "page"),
        ("departments/", "Departments", None),
        ("data/", "Data", None),
    ]
    # No menu button: it needs JavaScript, and perfgen ships none.
    assert elements(tree, "button") == []


def test_breadcrumbs_only_when_given():
    assert "govuk-breadcrumbs" not in render_sample()
    crumbs = [{"href": "../../", "text": "Services"}, {"text": "Tax your vehicle"}]
    tree = parse(render_sample(root="../../", breadcrumbs=crumbs))
    (nav,) = [el for el in elements(tree, "nav") if el.get("aria-label") == "Breadcrumb"]
    items = [text_of(li) for li in nav.iter(f"{XHTML}li")]
    assert items == ["Services", "Tax your vehicle"]


def test_footer():
    tree = parse(render_sample(root="../"))
    (footer,) = elements(tree, "footer")
    links = [(a.get("href"), text_of(a)) for a in footer.iter(f"{XHTML}a")]
    assert links == [("../about/", "About this site"), ("../accessibility/", "Accessibility statement"), ("../data/", "Open data")]
    text = text_of(footer)
    assert "All content is available under the Open Government Licence v3.0." in text
    assert "Built with perfgen. Latest figures: 26 November 2026." in text


def test_missing_page_variable_fails_the_render():
    environment = make_environment()
    context = page_context()
    del context["built_on"]
    with pytest.raises(UndefinedError, match="'built_on' is undefined"):
        environment.from_string(SAMPLE_PAGE).render(context)


@pytest.mark.parametrize("govuk_branding", [False, True])
def test_renders_with_the_render_stage_environment(govuk_branding):
    """The same page through perfgen.render's environment (its loader and Undefined)."""
    from perfgen.render import make_environment as render_stage_environment

    environment = render_stage_environment()
    crumbs = [{"href": "../", "text": "Services"}, {"text": "Tax your vehicle"}]
    context = page_context(govuk_branding=govuk_branding, root="../", breadcrumbs=crumbs)
    tree = parse(environment.from_string(SAMPLE_PAGE).render(context))
    assert [text_of(h1) for h1 in elements(tree, "h1")] == ["Tax your vehicle"]
    assert elements(tree, "script") == []
    del context["built_on"]
    with pytest.raises(UndefinedError):
        environment.from_string(SAMPLE_PAGE).render(context)


# Components ----------------------------------------------------------------------------


def render_macro(call: str, **context: Any) -> str:
    source = '{% from "components.html" import data_table, chart_figure, kpi_tile, kpi_grid, '
    source += "status_text, stale_tag %}" + call
    return make_environment().from_string(source).render(context)


def test_data_table_markup():
    html = render_macro(
        "{{ data_table('Cost by channel', headers, rows, numeric_columns=[1, 2]) }}",
        headers=["Channel", "Transactions", "Cost"],
        rows=TABLE_ROWS,
    )
    tree = html5lib.parse(html)
    (wrapper,) = elements(tree, "div")
    assert wrapper.get("class") == "app-table-wrapper"
    assert wrapper.get("role") == "region"
    assert wrapper.get("aria-label") == "Cost by channel"
    assert wrapper.get("tabindex") == "0"
    assert text_of(elements(tree, "caption")[0]) == "Cost by channel"
    head_cells = [
        (th.get("scope"), th.get("class"))
        for th in elements(tree, "thead")[0].iter()
        if th.tag == f"{XHTML}th"
    ]
    assert head_cells == [
        ("col", "govuk-table__header"),
        ("col", "govuk-table__header govuk-table__header--numeric"),
        ("col", "govuk-table__header govuk-table__header--numeric"),
    ]
    rows = elements(elements(tree, "tbody")[0], "tr")
    first = list(rows[0])
    assert first[0].tag == f"{XHTML}th" and first[0].get("scope") == "row"
    assert [cell.tag.removeprefix(XHTML) for cell in first] == ["th", "td", "td", "td"]
    assert first[2].get("class") == "govuk-table__cell govuk-table__cell--numeric"
    (abbr,) = first[2]
    assert (abbr.tag, abbr.get("title"), abbr.text) == (f"{XHTML}abbr", "£1.2345", "£1.23")
    assert '<a href="#notes">See notes</a>' in html  # {"html": Markup} is not escaped
    assert "Paper &lt;forms&gt;" in html  # text is escaped
    assert "Includes &lt;b&gt;post&lt;/b&gt;" in html
    assert '<span class="app-status--missing">Not provided</span>' in html  # None cell


def test_data_table_cell_classes():
    html = render_macro(
        "{{ data_table('T', ['A', 'B'], [['x', {'text': '1', 'classes': 'app-x'}]], [1]) }}"
    )
    assert 'class="govuk-table__cell govuk-table__cell--numeric app-x"' in html


def test_chart_figure_markup():
    html = render_macro(
        "{{ chart_figure('cpt', 'Cost per transaction', svg, 'It fell.', table) }}",
        svg=CHART_SVG,
        table=CHART_TABLE,
    )
    tree = html5lib.parse(html)
    (figure,) = elements(tree, "figure")
    assert figure.get("class") == "app-chart"
    assert figure.get("aria-labelledby") == "cpt-caption"
    children = [child.tag.removeprefix(XHTML) for child in figure]
    assert children == ["figcaption", "div", "p", "details"]
    assert figure[0].get("id") == "cpt-caption"
    assert text_of(figure[0]) == "Cost per transaction"
    assert figure[1].find("{http://www.w3.org/2000/svg}svg") is not None
    assert text_of(figure[2]) == "It fell."
    assert figure[3].get("class") == "govuk-details app-chart__data"
    (wrapper,) = [e for e in figure[3].iter() if e.get("class") == "app-table-wrapper"]
    assert len(elements(wrapper, "tr")) == 5


def test_chart_svg_must_be_markup():
    html = render_macro(
        "{{ chart_figure('c', 'C', svg, 'S', table) }}", svg="<svg>", table=CHART_TABLE
    )
    assert "&lt;svg&gt;" in html


def test_kpi_tile_markup():
    html = render_macro(
        "{{ kpi_tile('Cost per transaction', '£4.06', '£4.0612', 'April 2016 to March 2017', "
        "'+4.1% – worse', 'app-change--bad', 'Low confidence: 42 responses') }}"
    )
    tree = html5lib.parse(html)
    (tile,) = elements(tree, "div")
    assert tile.get("class") == "app-kpi"
    parts = [(child.tag.removeprefix(XHTML), child.get("class"), text_of(child)) for child in tile]
    assert parts == [
        ("h3", "app-kpi__label", "Cost per transaction"),
        ("p", "app-kpi__value", "£4.06"),
        ("p", "app-kpi__period", "April 2016 to March 2017"),
        ("p", "app-kpi__change app-change--bad", "+4.1% – worse"),
        ("p", "app-kpi__note", "Low confidence: 42 responses"),
    ]
    assert tile[1][0].get("title") == "£4.0612"


def test_kpi_tile_optional_parts():
    html = render_macro("{{ kpi_tile('Completion rate', none, heading_level=2) }}")
    tree = html5lib.parse(html)
    (tile,) = elements(tree, "div")
    assert [child.tag.removeprefix(XHTML) for child in tile] == ["h2", "p"]
    assert '<span class="app-status--missing">Not provided</span>' in html


def test_status_text_and_stale_tag():
    assert render_macro("{{ status_text('Not applicable') }}") == (
        '<span class="app-status--missing">Not applicable</span>'
    )
    assert render_macro("{{ stale_tag() }}") == '<strong class="app-stale">Out of date</strong>'


# In the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory):
    """Both sample sites, served side by side, and one browser to look at them."""
    root = tmp_path_factory.mktemp("sites")
    write_sample_site(root / "default", govuk_branding=False)
    write_sample_site(root / "govuk", govuk_branding=True)
    with open_site(root) as site:
        yield site


@requires_browser
@pytest.mark.parametrize("govuk_branding", [False, True])
@pytest.mark.parametrize("path", ["index.html", "services/tax-your-vehicle/index.html"])
def test_pages_in_the_browser(sample_site, govuk_branding, path):
    path = ("govuk/" if govuk_branding else "default/") + path
    with sample_site.visit(path) as visit:
        page = visit.page
        assert visit.failed_requests == []
        assert visit.console_errors == []  # includes CSP violations
        font = page.locator("h1").evaluate("el => getComputedStyle(el).fontFamily")
        if govuk_branding:
            assert font.startswith('"GDS Transport"')
            assert page.evaluate("""document.fonts.check('19px "GDS Transport"')""")
        else:
            assert font == "arial, sans-serif"
        # The stylesheet applied: the scroll wrapper and the SVG scale down.
        wrapper = page.locator(".app-table-wrapper").first
        assert wrapper.evaluate("el => getComputedStyle(el).overflowX") == "auto"
        page.set_viewport_size({"width": 320, "height": 640})
        svg_width = page.locator(".app-chart svg").evaluate("el => el.clientWidth")
        assert svg_width < 320
    for width in (1024, 320):
        violations = sample_site.audit(path, width=width)
        assert violations == [], describe_violations(violations)


@requires_browser
def test_the_harness_reports_problems(sample_site):
    """Guard against a vacuous pass: a bad page must produce findings."""
    (sample_site.directory / "bad.html").write_text(
        "<!DOCTYPE html><html><head><title>Bad</title>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '</head><body><p style="color:#999">Low contrast</p><img src="missing.png">'
        "<script>document.title = 'ran'</script></body></html>",
        encoding="utf-8",
    )
    with sample_site.visit("bad.html") as visit:
        assert any("missing.png" in failure for failure in visit.failed_requests)
        assert any("Content Security Policy" in error for error in visit.console_errors)
        assert visit.page.title() == "Bad"  # the inline script was blocked
    found = {violation["id"] for violation in sample_site.audit("bad.html")}
    assert {"html-has-lang", "image-alt"} <= found
