"""End-to-end: build the example fixture and check what users see.

Golden files: the built site (without the shared assets) is compared with tests/expected/site.
After an intended change, regenerate them and review the diff:

    PERFGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_site.py
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import html5lib
import pytest

from site_checks import build_site, page_facts, tree_hashes

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
EXPECTED = Path(__file__).parent / "expected" / "site"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(EXAMPLE, tmp_path_factory.mktemp("build") / "site", workers=2)


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_golden_site(site):
    # Shared assets are checked by test_assets.py; the manifest records library versions.
    built = {k: v for k, v in tree_hashes(site).items() if not k.startswith(("assets/", "_build/"))}
    if os.environ.get("PERFGEN_UPDATE_GOLDEN"):
        shutil.rmtree(EXPECTED, ignore_errors=True)
        for relative in built:
            target = EXPECTED / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site / relative, target)
    expected = tree_hashes(EXPECTED)
    assert sorted(built) == sorted(expected), "pages added or removed: regenerate the golden files and review"
    changed = [name for name in built if built[name] != expected[name]]
    assert not changed, f"pages differ from tests/expected/site: {changed[:5]}"


def test_expected_page_types(site):
    names = {str(p.relative_to(site)) for p in pages(site)}
    for required in ("index.html", "league/index.html", "definitions/index.html", "accessibility/index.html",
                     "data-quality/index.html", "data/index.html", "departments/index.html",
                     "departments/ho/index.html", "services/renew-driving-licence/index.html",
                     "services/apply-pension-credit/index.html"):
        assert required in names


def test_every_page_is_valid_html5_with_one_h1_and_matching_title(site):
    parser = html5lib.HTMLParser(strict=True)
    titles = set()
    for page in pages(site):
        parser.parse(page.read_bytes())  # raises on any parse error
        facts = page_facts(page)
        assert len(facts.h1) == 1, page
        assert facts.title.startswith(facts.h1[0]), (page, facts.title, facts.h1)
        assert facts.lang == "en"
        assert "main-content" in facts.ids
        assert "#main-content" in facts.links  # the skip link
        assert facts.inline_scripts == 0 and facts.style_attributes == 0, page
        assert facts.title not in titles, f"duplicate title {facts.title}"
        titles.add(facts.title)


def test_no_broken_internal_links(site):
    for page in pages(site):
        for link in page_facts(page).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("#", "mailto:")):
                continue
            target = (page.parent / parts.path).resolve()
            if link.endswith("/") or target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"{page.relative_to(site)} links to missing {link}"


def test_every_chart_has_caption_summary_and_table(site):
    page = (site / "services/renew-driving-licence/index.html").read_text(encoding="utf-8")
    figures = page.count('<figure class="app-chart"')
    assert figures == 5
    assert page.count('<figcaption') == figures
    assert page.count('class="app-chart__summary"') == figures
    assert page.count('role="img" aria-label=') == figures
    # plus the latest month's KPIs, the two channel tables (12 months, latest month) and "How this service compares"
    assert page.count("<table") == figures + 4


def test_missing_values_say_not_provided_never_zero(site):
    page = (site / "services/apply-pension-credit/index.html").read_text(encoding="utf-8")
    assert page.count("Not provided") >= 4
    assert "£0" not in page and ">0%<" not in page
    stale = (site / "services/report-lost-passport/index.html").read_text(encoding="utf-8")
    assert "Out of date: the latest figure is for April 2023 to March 2024" in stale
    assert "Not applicable" in stale


def test_kpis_csv_contract(site):
    with (site / "data/kpis.csv").open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    for column in ("service", "department", "period_start", "period_end", "kpi", "value", "numerator", "denominator", "status"):
        assert column in reader.fieldnames
    assert {r["status"] for r in rows} <= {"value", "not_provided", "not_applicable", "stale", "invalid"}
    lost = [r for r in rows if r["service"] == "report-lost-passport" and r["kpi"] == "cost_per_transaction" and r["period_start"] == "2023-04-01" and r["basis"] == "period"]
    assert len(lost) == 1
    assert float(lost[0]["value"]) == pytest.approx(1_466_500 / 287_200)
    assert (lost[0]["numerator"], lost[0]["denominator"]) == ("1466500", "287200")
    government = [r for r in rows if r["service"] == "" and r["department"] == "" and r["basis"] == "headline"]
    assert government and all(r["services_expected"] for r in government)
    for r in rows:
        if r["kpi"] in ("digital_take_up", "completion_rate", "user_satisfaction") and r["value"]:
            assert 0 <= float(r["value"]) <= 1


def test_build_is_deterministic(site, tmp_path):
    again = build_site(EXAMPLE, tmp_path / "again", workers=1)
    assert tree_hashes(again) == tree_hashes(site)


def _changed_project(tmp_path: Path, name: str, path: str, line: str) -> Path:
    """A copy of the example project with ``line`` appended to one of its files."""
    project = tmp_path / name
    shutil.copytree(EXAMPLE, project)
    with (project / path).open("a", encoding="utf-8") as handle:
        handle.write(line)
    return project


def test_failed_build_leaves_previous_site_untouched(site, tmp_path):
    broken = _changed_project(tmp_path, "broken", "data/dvsa-theory-test.csv", "book-theory-test,2025-Q1,,transactions,lots\n")
    output = tmp_path / "published"
    shutil.copytree(site, output)
    before = tree_hashes(output)
    from perfgen.errors import DataError

    with pytest.raises(DataError):
        build_site(broken, output)
    assert tree_hashes(output) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".published")]


def test_failure_while_writing_pages_leaves_previous_site_untouched(site, tmp_path, monkeypatch):
    """Pages are written as they are rendered, into a temporary folder: a failure half way
    through throws that folder away and the published site is as it was."""
    from perfgen import render

    changed = _changed_project(tmp_path, "changed", "config/services.yml", "\n# a comment: a different build key, so the build runs\n")
    output = tmp_path / "published"
    shutil.copytree(site, output)
    before = tree_hashes(output)
    real = render.iter_rendered
    written: list[str] = []

    def failing(*args, **kwargs):
        for number, (page, html) in enumerate(real(*args, **kwargs)):
            if number == 5:
                raise RuntimeError("a template failed half way through")
            written.append(page.path)
            yield page, html

    monkeypatch.setattr(render, "iter_rendered", failing)
    with pytest.raises(RuntimeError, match="half way"):
        build_site(changed, output)
    assert len(written) == 5  # some pages were written before the failure
    assert tree_hashes(output) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".published")]


def table_text(page: str, caption: str) -> list[list[str]]:
    """The cells of the table with this caption, as the words a reader sees."""
    import html as html_lib
    import re
    table = page[page.index(f">{caption}</caption>"):]
    table = table[: table.index("</table>")]
    return [[" ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
            for row in re.findall(r"<tr.*?</tr>", table, re.DOTALL)]


def test_parts_of_a_service_side_by_side(site):
    page = (site / "services/claim-carers-allowance/index.html").read_text(encoding="utf-8")
    assert '<h2 class="govuk-heading-l" id="parts">Parts of this service</h2>' in page
    assert table_text(page, "Claim Carer&#39;s Allowance: each part, January to December 2024") == [
        ["Part", "Transactions", "Cost per transaction", "Completion rate", "User satisfaction", "Digital take-up"],
        ["Make a claim", "170,785", "£22.43", "Not provided", "70.0%", "86.3%"],
        ["Report a change", "63,007", "£26.06", "Not provided", "Not provided", "65.6%"],
        ["All parts (the service)", "233,792", "£23.41", "Not provided", "70.0% 1 of 2 parts", "80.7%"],
    ]
    assert "<li>Report a change has the highest cost per transaction: £26.06, against £23.41 for the service.</li>" in page
    assert "<li>Report a change has the lowest digital take-up: 65.6%, against 80.7% for the service.</li>" in page
    assert "lowest user satisfaction" not in page  # one part has a survey: nothing to compare
    # The service's own tile says what its figure covers; services without parts have no section.
    assert "Top-two-box method (satisfied or very satisfied), 1,205 responses; 1 of 2 parts" in page
    assert 'id="parts"' not in (site / "services/apply-passport/index.html").read_text(encoding="utf-8")


def test_channels_side_by_side_with_changes(site):
    raw: dict[tuple[str, str], float] = {}
    for path in sorted((EXAMPLE / "data").glob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                if r["service"].startswith("carers-allowance-") and r["metric"] == "transactions":
                    key = (r["period"][:4], r["channel"])
                    raw[key] = raw.get(key, 0) + float(r["value"])
    from perfgen import formatters
    total = {year: sum(v for (y, _), v in raw.items() if y == year) for year in ("2023", "2024")}
    api_now, api_then = raw[("2024", "api")], raw[("2023", "api")]
    page = (site / "services/claim-carers-allowance/index.html").read_text(encoding="utf-8")
    rows = table_text(page, "Transactions by channel, January to December 2024, compared with January to December 2023")
    assert rows[0] == ["Channel", "Transactions", "Share of all transactions", "Change on a year before", "Change in share on a year before"]
    assert rows[1] == ["API (digital)", formatters.count(api_now), formatters.percent(api_now / total["2024"]),
                       formatters.change(api_then, api_now, "count", "higher").amount,
                       formatters.change(api_then / total["2023"], api_now / total["2024"], "percent", "higher").amount]
    assert rows[-1][:3] == ["All channels", formatters.count(total["2024"]), "100%"]
    quarter = table_text(page, "Transactions by channel, October to December 2024, compared with July to September 2024 and October to December 2023")
    assert quarter[0][3:] == ["Change on previous quarter", "Change in share on previous quarter", "Change on a year before", "Change in share on a year before"]


def test_satisfaction_tables_name_the_numerator_of_their_method(site):
    # Carer's Allowance uses top-two-box: 232 of 331 responses satisfied in January to March 2023.
    carers = table_text((site / "services/claim-carers-allowance/index.html").read_text(encoding="utf-8"), "User satisfaction by period")
    assert carers[0][:4] == ["Period", "User satisfaction", "Satisfied or very satisfied responses", "Survey responses"]
    assert carers[1][:4] == ["January to March 2023", "70.1%", "232", "331"]
    passport = table_text((site / "services/apply-passport/index.html").read_text(encoding="utf-8"), "User satisfaction by period")
    assert passport[0][2] == "Score: sum of (rating \u2212 1) / 4"


def test_long_series_are_lines_without_dots(site):
    # Monthly series of two years (24 figures) keep their dots; the example has no longer ones,
    # so the rule itself is checked on the spec.
    from perfgen.charts import MAX_DOTTED, ChartRequest, spec_for

    def request(count: int) -> ChartRequest:
        return ChartRequest("k", "percent", tuple((f"{2000 + i // 12}-{i % 12 + 1:02d}-28", 0.5, "a") for i in range(count)), "label")

    assert "point" in spec_for(request(MAX_DOTTED))["mark"]
    assert "point" not in spec_for(request(MAX_DOTTED + 1))["mark"]
    page = (site / "services/apply-passport/index.html").read_text(encoding="utf-8")
    assert 'class="mark-symbol' in page  # 24 monthly figures: dotted


def test_latest_month_table_on_service_and_department_pages(site):
    page = (site / "services/renew-driving-licence/index.html").read_text(encoding="utf-8")
    assert '<h3 class="govuk-heading-m" id="latest">Latest month</h3>' in page
    assert page.index("Key performance indicators") < page.index('id="latest"') < page.index("Over time")  # beside the tiles
    rows = table_text(page, "Renew a driving licence: latest month, December 2024")
    assert rows[0] == ["Figure", "December 2024", "Change on November 2024", "Change on December 2023"]
    assert rows[5] == ["Transactions", "231,250", "+6.3%", "No change"]
    table = page[page.index(">Renew a driving licence: latest month, December 2024</caption>"):]
    table = table[: table.index("</table>")]
    assert table.count('<th scope="col"') == 4 and table.count('<th scope="row"') == 6
    quarterly = (site / "services/book-theory-test/index.html").read_text(encoding="utf-8")
    assert '<h3 class="govuk-heading-m" id="latest">Latest quarter</h3>' in quarterly
    assert "Not reported by quarter: completion rate, user satisfaction." in quarterly
    for slug in ("report-lost-passport", "apply-pension-credit"):  # 12-month figures only, or none: no table, no heading
        other = (site / f"services/{slug}/index.html").read_text(encoding="utf-8")
        assert 'id="latest"' not in other and "Latest month" not in other and "Latest quarter" not in other
    department = (site / "departments/dwp/index.html").read_text(encoding="utf-8")
    assert table_text(department, "Department for Work and Pensions: latest quarter, October to December 2024")[4] == [
        "Transactions", "59,565 1 of 2 services", "+3.3%", "+4.2%"]
