"""League pages on the example site: every sort order is a page, missing values come last in both
directions, aria-sort marks the sorted column, filtered pages hold one department."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perfgen.league import league_path
from site_checks import build_site

EXAMPLE = Path(__file__).parent / "fixtures" / "example"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(EXAMPLE, tmp_path_factory.mktemp("league") / "site")


def read(site: Path, folder: str) -> str:
    return (site / folder / "index.html").read_text(encoding="utf-8")


def services_in_order(html: str) -> list[str]:
    body = html.split('<tbody class="govuk-table__body">')[1]
    return re.findall(r'<th scope="row" class="govuk-table__header"><a class="govuk-link" href="[./]*services/([a-z0-9-]+)/">', body)


def test_paths():
    assert league_path(None) == "league/"
    assert league_path(None, "service", "ascending") == "league/"
    assert league_path(None, "digital_take_up", "descending") == "league/sorted/digital-take-up/descending/"
    assert league_path("cost_per_transaction") == "league/cost-per-transaction/"
    assert league_path("cost_per_transaction", "service", "descending") == "league/cost-per-transaction/service/descending/"


def test_kpi_league_best_first_with_missing_last(site):
    # Digital take-up, higher is better: 95.1%, 90.1%, 84.9%, 80.7% ranked; a stale 71.0%; none.
    expected = ["book-theory-test", "apply-passport", "renew-driving-licence", "claim-carers-allowance", "report-lost-passport", "apply-pension-credit"]
    assert services_in_order(read(site, "league/digital-take-up")) == expected
    worst_first = services_in_order(read(site, "league/digital-take-up/value/ascending"))
    assert worst_first == ["claim-carers-allowance", "renew-driving-licence", "apply-passport", "book-theory-test", "report-lost-passport", "apply-pension-credit"]


def test_lower_is_better_league_and_stale_marked(site):
    html = read(site, "league/cost-per-transaction")
    order = services_in_order(html)
    assert order[:3] == ["renew-driving-licence", "apply-passport", "claim-carers-allowance"]
    assert order[-1] == "apply-pension-credit"
    assert "Out of date: data for April 2023 to March 2024" in html
    assert '<td class="govuk-table__cell govuk-table__cell--numeric">1st</td>' in html


def test_every_column_sorts_both_ways_and_marks_itself(site):
    for key in ("service", "department", "transactions", "change"):
        for direction in ("ascending", "descending"):
            html = read(site, f"league/digital-take-up/{key}/{direction}")
            assert html.count("aria-sort=") == 1, (key, direction)
            assert f'aria-sort="{direction}"' in html
    names = services_in_order(read(site, "league/digital-take-up/service/ascending"))
    assert names == services_in_order(read(site, "league/digital-take-up/service/descending"))[::-1]
    # Missing transactions stay last whichever way transactions are sorted.
    for direction in ("ascending", "descending"):
        assert services_in_order(read(site, f"league/digital-take-up/transactions/{direction}"))[-1] == "apply-pension-credit"


def test_rank_value_and_percentile_headers_agree_when_sorted_by_value(site):
    html = read(site, "league/digital-take-up")  # higher is better: values descending, ranks ascending
    head = html.split("</thead>")[0]
    assert re.search(r'aria-sort="ascending"><a class="govuk-link app-sort" href="[^"]*digital-take-up/value/ascending/">Rank', head)
    assert re.search(r'aria-sort="descending"><a class="govuk-link app-sort" href="[^"]*digital-take-up/value/ascending/">Digital take-up', head)
    assert re.search(r'aria-sort="descending"><a class="govuk-link app-sort" href="[^"]*digital-take-up/value/ascending/">Percentile', head)


def test_header_links_lead_to_existing_pages(site):
    for folder in ("league", "league/digital-take-up", "league/sorted/cost-per-transaction/descending", "league/transactions/service/descending"):
        head = read(site, folder).split("</thead>")[0]
        for link in re.findall(r'class="govuk-link app-sort" href="([^"]+)"', head):
            assert (site / folder / link / "index.html").exists(), (folder, link)


def test_totals_are_listed_not_ranked(site):
    html = read(site, "league/transactions")
    assert ">Rank<" not in html and "Percentile" not in html
    assert services_in_order(html)[:2] == ["apply-passport", "renew-driving-licence"]  # largest first


def test_overview_sorts_by_each_kpi(site):
    order = services_in_order(read(site, "league/sorted/cost-per-transaction/ascending"))
    assert order[:3] == ["renew-driving-licence", "apply-passport", "claim-carers-allowance"]
    assert order[-1] == "apply-pension-credit"
    assert services_in_order(read(site, "league"))[0] == "apply-passport"  # by name


def test_department_filter_pages(site):
    html = read(site, "league/digital-take-up/departments/ho")
    assert services_in_order(html) == ["apply-passport", "report-lost-passport"]
    assert "2nd" in html  # ranks stay those among all services
    assert 'href="../../../../departments/ho/"' in html


def test_service_page_compares_and_summarises(site):
    html = read(site, "services/renew-driving-licence")
    assert "How this service compares" in html
    assert "Improve digital take-up first: it is 2.6 percentage points below the median of all 4 ranked services (87.5%)." in html
    assert "3rd of 4" in html


def test_department_page_readiness_and_movers(site):
    html = read(site, "departments/ho")
    assert "0 of 2 services publish all four mandatory KPIs" in html
    assert "No service rose in rank" in html  # apply-passport was 3rd of 4 a year earlier, but 2nd of the 3 ranked both years
    # apply-passport is 2nd of all ranked services now but still 1st of the 3 ranked both years:
    # a newcomer above it is not a fall.
    assert "No service fell in rank" in html
