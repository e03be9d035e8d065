"""League pages on the example site: every sort order is a page, missing values come last in both
directions, aria-sort marks the sorted column, filtered pages hold one department."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import yaml

from perfgen.league import category_league_path, category_slugs, group_league_path, league_path
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
    # Its peer group "Applications and renewals" comes first: 84.9% is that group's median take-up.
    assert "It is not behind the median on any KPI compared. It leads on cost per transaction: it is £9.10 (76.3%) below the median of the 3 ranked services in Applications and renewals (£11.92)." in html
    assert "3rd of 4" in html


def test_department_page_readiness_and_movers(site):
    html = read(site, "departments/ho")
    assert "0 of 2 services publish all four mandatory KPIs" in html
    assert "No service rose in rank" in html  # apply-passport was 3rd of 4 a year earlier, but 2nd of the 3 ranked both years
    # apply-passport is 2nd of all ranked services now but still 1st of the 3 ranked both years:
    # a newcomer above it is not a fall.
    assert "No service fell in rank" in html


# --- peer groups of the config -----------------------------------------------------------

DIGITAL = {"renew-driving-licence": {"online"}, "apply-passport": {"online"}, "claim-carers-allowance": {"online", "api"}}
PARTS = {"carers-allowance-claim": "claim-carers-allowance", "carers-allowance-change": "claim-carers-allowance"}


def hand_take_up(year: int) -> dict[str, float]:
    """Digital take-up of the group's services for a calendar year, summed by hand from the
    example's CSV files (digital channels over all channels)."""
    digital: dict[str, float] = {}
    total: dict[str, float] = {}
    for path in sorted((EXAMPLE / "data").glob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                service = PARTS.get(record["service"], record["service"])  # a part's figures add up to its service's
                if service in DIGITAL and record["metric"] == "transactions" and record["period"].startswith(str(year)):
                    total[service] = total.get(service, 0) + float(record["value"])
                    if record["channel"] in DIGITAL[service]:
                        digital[service] = digital.get(service, 0) + float(record["value"])
    return {service: digital[service] / total[service] for service in total}


def rows_of(html: str) -> list[list[str]]:
    body = html.split('<tbody class="govuk-table__body">')[1].split("</tbody>")[0]
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
            for row in body.split("</tr>") if "<t" in row]


def test_peer_group_league_ranks_within_the_group_by_hand(site):
    now, before = hand_take_up(2024), hand_take_up(2023)
    # Passport 90.1%, licence 84.9%, Carer's Allowance 80.7% in 2024; a year earlier the
    # passport led, then Carer's Allowance, then the licence.
    order_now = sorted(now, key=lambda s: -now[s])
    order_before = sorted(before, key=lambda s: -before[s])
    assert order_now == ["apply-passport", "renew-driving-licence", "claim-carers-allowance"]
    assert order_before == ["apply-passport", "claim-carers-allowance", "renew-driving-licence"]
    html = read(site, group_league_path("applications", "digital_take_up"))
    assert services_in_order(html) == [*order_now, "apply-pension-credit"]  # no figures: last
    rows = rows_of(html)
    for position, service in enumerate(order_now):
        change = order_before.index(service) - position
        words = "No change" if change == 0 else f"{'Up' if change > 0 else 'Down'} {abs(change)}"
        percentile = ["100%", "50.0%", "0%"][position]
        assert rows[position][0] == ["1st", "2nd", "3rd"][position]
        assert rows[position][3] == f"{now[service] * 100:.1f}%"
        assert rows[position][5:] == [percentile, words], service
    assert rows[3][0] == "Not ranked" and rows[3][3] == "Not provided"
    assert "Digital take-up: the 4 services of Applications and renewals, ranked within the group for January to December 2024" in html
    # Among all services the licence is 3rd of 4 (the theory test leads); within the group, 2nd.
    assert rows_of(read(site, "league/digital-take-up"))[2][:2] == ["3rd", "Renew a driving licence"]
    worst_first = services_in_order(read(site, group_league_path("applications", "digital_take_up") + "value/ascending"))
    assert worst_first == [*reversed(order_now), "apply-pension-credit"]  # missing last both ways


def test_peer_group_pages_in_every_sort_order_and_linked(site):
    base = group_league_path("applications", "digital_take_up")
    for key in ("service", "department", "transactions", "change"):
        for direction in ("ascending", "descending"):
            html = read(site, f"{base}{key}/{direction}")
            assert html.count("aria-sort=") == 1 and set(services_in_order(html)) == {
                "renew-driving-licence", "apply-passport", "claim-carers-allowance", "apply-pension-credit"}
    assert 'href="../../league/digital-take-up/groups/applications/"' in read(site, "league/digital-take-up")  # the filter
    assert "Compare within a peer group" in read(site, "league/digital-take-up")
    assert 'href="../league/groups/"' in read(site, "league")
    groups = read(site, "league/groups")
    assert "Applications and renewals" in groups and 'href="../../league/cost-per-transaction/groups/applications/"' in groups
    assert 'href="../../services/apply-pension-credit/"' in groups
    total = read(site, group_league_path("applications", "transactions"))
    assert "Rank" not in rows_of(total)[0] and services_in_order(total)[0] == "apply-passport"


def test_service_page_shows_its_rank_within_its_peer_group(site):
    html = read(site, "services/renew-driving-licence")
    assert "Within Applications and renewals" in html
    assert '<a class="govuk-link" href="../../league/digital-take-up/groups/applications/">2nd of 3</a>' in html
    assert "Among Licence services" in html
    assert "Within Applications" not in read(site, "services/book-theory-test")


# --- categories -----------------------------------------------------------------------------

#: The example with its services in two categories: "Applications" holds the services of the peer
#: group "applications" (slugified to the group's slug too, in a folder of its own).
CATEGORIES = {"renew-driving-licence": "Applications", "apply-passport": "Applications", "claim-carers-allowance": "Applications",
              "apply-pension-credit": "Applications", "book-theory-test": "Bookings & notices", "report-lost-passport": "Bookings & notices"}


@pytest.fixture(scope="module")
def categorised(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("categories")
    project = root / "project"
    shutil.copytree(EXAMPLE, project)
    path = project / "config/services.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for service in config["services"]:
        service["category"] = CATEGORIES[service["slug"]]
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return build_site(project, root / "site")


def test_category_slugs_are_deterministic_and_never_clash():
    names = ["Licence", "licence", "Licence!", "licence-2", "Amending/deleting information", "Bookings & notices", "Économie", "***"]
    slugs = category_slugs(names)
    assert slugs == {"***": "category", "Amending/deleting information": "amending-deleting-information", "Bookings & notices": "bookings-and-notices",
                     "Licence": "licence", "Licence!": "licence-3", "licence": "licence-4", "licence-2": "licence-2", "Économie": "economie"}
    assert category_slugs(reversed(names)) == slugs
    assert len(set(slugs.values())) == len(names)
    assert category_league_path("benefit", "digital_take_up") == "league/digital-take-up/categories/benefit/"


def test_category_league_ranks_within_the_category_by_hand(categorised):
    now, before = hand_take_up(2024), hand_take_up(2023)
    order_now = sorted(now, key=lambda s: -now[s])
    order_before = sorted(before, key=lambda s: -before[s])
    html = read(categorised, category_league_path("applications", "digital_take_up"))
    assert services_in_order(html) == [*order_now, "apply-pension-credit"]  # no figures: last
    rows = rows_of(html)
    for position, service in enumerate(order_now):
        change = order_before.index(service) - position
        words = "No change" if change == 0 else f"{'Up' if change > 0 else 'Down'} {abs(change)}"
        assert rows[position][0] == ["1st", "2nd", "3rd"][position]
        assert rows[position][3] == f"{now[service] * 100:.1f}%"
        assert rows[position][5:] == [["100%", "50.0%", "0%"][position], words], service
    assert rows[3][0] == "Not ranked" and rows[3][3] == "Not provided"
    assert "Digital take-up: the 4 services of the category Applications, ranked within the category for January to December 2024" in html
    # The same services as the peer group "applications", so the same table, at another address.
    assert rows == rows_of(read(categorised, group_league_path("applications", "digital_take_up")))
    worst_first = services_in_order(read(categorised, category_league_path("applications", "digital_take_up") + "value/ascending"))
    assert worst_first == [*reversed(order_now), "apply-pension-credit"]  # missing last both ways
    # The theory test leads the whole league; the lost-passport report's take-up is out of date:
    # listed after it, with the reason, in both directions.
    for folder in ("", "value/ascending/"):
        others = rows_of(read(categorised, category_league_path("bookings-and-notices", "digital_take_up") + folder))
        assert [row[:2] for row in others] == [["1st", "Book a driving theory test"], ["Not ranked", "Report a lost or stolen passport"]]
        assert others[1][3] == "71.0% Out of date: data for April 2023 to March 2024"


def test_category_pages_in_every_sort_order_with_working_links(categorised):
    for kpi, best in (("digital_take_up", "descending"), ("cost_per_transaction", "ascending"), ("user_satisfaction", "descending"), ("transactions", "descending")):
        base = category_league_path("applications", kpi)
        keys = ("value", "service", "department") + (("transactions", "change") if kpi != "transactions" else ())
        for key in keys:
            for direction in ("ascending", "descending"):
                folder = base if (key, direction) == ("value", best) else f"{base}{key}/{direction}/"
                html = read(categorised, folder)
                # Sorted by value, a ranked KPI's rank and percentile columns are sorted too.
                assert html.count("aria-sort=") == (3 if key == "value" and kpi != "transactions" else 1), (kpi, key, direction)
                order = services_in_order(html)
                assert sorted(order) == ["apply-passport", "apply-pension-credit", "claim-carers-allowance", "renew-driving-licence"]
                if key in ("value", "transactions", "change"):
                    assert order[-1] == "apply-pension-credit", (kpi, key, direction)  # no figures at all: last both ways
                for link in re.findall(r'class="govuk-link app-sort" href="([^"]+)"', html.split("</thead>")[0]):
                    assert (categorised / folder / link / "index.html").exists(), (folder, link)


def test_category_leagues_are_linked(categorised):
    league = read(categorised, "league/digital-take-up")
    assert "Compare within a category" in league
    assert 'href="../../league/digital-take-up/categories/applications/">Applications<' in league
    assert 'href="../../league/digital-take-up/categories/bookings-and-notices/">Bookings &amp; notices<' in league
    assert 'href="../../league/groups/#categories"' in league
    assert 'href="../league/groups/#categories"' in read(categorised, "league")
    groups = read(categorised, "league/groups")
    assert "<h1 class=\"govuk-heading-xl\">Peer groups and categories</h1>" in groups
    assert 'id="category-bookings-and-notices"' in groups and 'href="../../league/total-cost/categories/applications/"' in groups
    # "Among Applications services" links to the category's league, as a group's column does to the group's.
    service = read(categorised, "services/renew-driving-licence")
    assert "Among Applications services" in service
    assert '<a class="govuk-link" href="../../league/digital-take-up/categories/applications/">2nd of 3</a>' in service
    category = read(categorised, category_league_path("applications", "completion_rate"))
    assert 'href="../../../../league/groups/#categories">all categories</a>' in category
    assert 'href="../../../../league/completion-rate/">Show every service</a>' in category


def test_example_categories_of_one_service_have_no_league(site):
    # Of the example's categories only Benefit has two services.
    assert sorted(p.name for p in (site / "league/digital-take-up/categories").iterdir()) == ["benefit"]
    assert services_in_order(read(site, category_league_path("benefit", "digital_take_up"))) == ["claim-carers-allowance", "apply-pension-credit"]
    assert "Compare within a category" in read(site, "league/digital-take-up")
    assert "categories/" not in read(site, "league/digital-take-up/departments/dwp")
    # Carer's Allowance is the only Benefit service ranked: its rank among them links nowhere.
    assert "No other Benefit service ranked" in read(site, "services/claim-carers-allowance")


def test_league_tables_are_made_only_when_their_pages_are_rendered():
    """Every league page is laid out before the first page is rendered. A KPI's league table
    (a row per service) is made only when a page of it is rendered, the page keyed by what it
    is made from; the overview's body (every row, joined) only when its page is rendered, its
    key holding its rows' digests."""
    from perfgen.cells import DeferredMarkup
    from perfgen.config import load_config
    from perfgen.errors import Warnings
    from perfgen.kpis import compute_kpis
    from perfgen.load import load_data
    from perfgen.render import PageReuse, SiteModel, build_pages

    config = load_config(EXAMPLE / "config" / "services.yml")
    results = compute_kpis(load_data(EXAMPLE / "data", config, EXAMPLE), config, Warnings(), channels=True)
    model = SiteModel(config, results)
    pages = [page for page in build_pages(model, {}, results.channels) if page.template in ("league.html", "league_kpi.html")]
    kpi_pages = [page for page in pages if page.template == "league_kpi.html"]
    assert len(kpi_pages) > 20 and all("table" not in page.context and page.deferred is not None for page in kpi_pages)
    keys = [PageReuse(None, "code").key(page, page.context) for page in pages]
    assert None not in keys and len(set(keys)) == len(pages)
    bodies = [(page.context.get("table") or page.deferred()["table"])["rows"][0] for page in pages]
    assert all(isinstance(body, DeferredMarkup) and body._html is None for body in bodies)  # keyed, not made
    assert all('<tr class="govuk-table__row">' in str(body) for body in bodies)
