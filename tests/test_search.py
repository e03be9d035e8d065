"""The search box of the services A to Z (assets/perfgen-search.js) in headless Chromium: it
filters by name, department and keyword, hides empty letters, announces the count politely,
works from the keyboard, passes axe with the box shown, and leaves the full A to Z list (and no
box) when JavaScript is off. Only the pages that load the script allow scripts in their policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser import WCAG_TAGS, describe_violations, open_site, requires_browser
from site_checks import build_site

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
AZ = "services/index.html"
ALL = ["Apply for a passport", "Apply for Pension Credit", "Book a driving theory test", "Claim Carer's Allowance",
       "Renew a driving licence", "Report a lost or stolen passport"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(EXAMPLE, tmp_path_factory.mktemp("search") / "site", workers=1)


@pytest.fixture(scope="module")
def browser_site(site):
    with open_site(site) as opened:
        yield opened


def shown_services(page) -> list[str]:
    return page.eval_on_selector_all("[data-app-search-item]", "items => items.filter(i => i.offsetParent !== null).map(i => i.querySelector('a').textContent)")


def shown_letters(page) -> list[str]:
    return page.eval_on_selector_all("[data-app-search-group] h2", "items => items.filter(i => i.offsetParent !== null).map(i => i.textContent)")


def status(page, starts: str = "") -> str:
    """The live region's text once it says something (starting with ``starts``). Polled from
    here: the page's policy forbids the string evaluation wait_for_function would need."""
    for _ in range(100):
        text = page.inner_text("#service-search-status")
        if text and text.startswith(starts):
            return text
        page.wait_for_timeout(50)
    return page.inner_text("#service-search-status")


# --- the page as published ------------------------------------------------------------------

def test_only_the_pages_with_a_search_box_allow_scripts_and_none_is_inline(site):
    for path, src in ((AZ, "../assets/perfgen-search.js"), ("index.html", "assets/perfgen-search.js")):
        text = (site / path).read_text(encoding="utf-8")
        assert "script-src 'self'" in text and "script-src 'none'" not in text
        assert re.findall(r"<script[^>]*>(.*?)</script>", text, re.DOTALL) == [""]
        assert re.findall(r"<script[^>]*>", text) == [f'<script src="{src}" defer>']
    az = (site / AZ).read_text(encoding="utf-8")
    assert '<form class="app-search" role="search" aria-label="Services" action="" method="get" data-app-search="service-search-status" hidden>' in az
    home = (site / "index.html").read_text(encoding="utf-8")
    assert '<form class="app-search" role="search" aria-label="Services" action="services/" method="get" data-app-search-link hidden>' in home
    for page in sorted(site.rglob("*.html")):
        if page.relative_to(site).as_posix() not in (AZ, "index.html"):
            text = page.read_text(encoding="utf-8")
            assert "<script" not in text and "script-src 'none'" in text, page


def test_each_service_carries_its_department_and_keywords(site):
    az = (site / AZ).read_text(encoding="utf-8")
    assert ('<li data-app-search-item data-department="Department for Work and Pensions DWP" '
            'data-keywords="pensioners, low income, retirement, Benefit"><a class="govuk-link" href="apply-pension-credit/">') in az


# --- in the browser ---------------------------------------------------------------------------

@requires_browser
def test_typing_filters_and_announces_and_clearing_restores(browser_site):
    with browser_site.visit(AZ) as visit:
        page = visit.page
        assert page.is_visible("#service-search")
        assert shown_services(page) == ALL
        assert page.inner_text("#service-search-status") == ""  # nothing said before a search
        page.fill("#service-search", "passport")
        assert status(page) == "2 services match 'passport'"
        assert shown_services(page) == ["Apply for a passport", "Report a lost or stolen passport"]
        assert shown_letters(page) == ["A", "R"]
        letters = page.eval_on_selector_all("[data-app-search-letter]", "items => items.filter(i => !i.hidden).map(i => i.textContent.trim())")
        assert letters == ["Services starting with A", "Services starting with R"]
        assert page.get_attribute("#service-search-status", "aria-live") == "polite"
        page.fill("#service-search", "")
        assert status(page, "Showing") == "Showing all 6 services"
        assert shown_services(page) == ALL and shown_letters(page) == ["A", "B", "C", "R"]
        assert not visit.console_errors and not visit.failed_requests


@requires_browser
@pytest.mark.parametrize(("query", "expected", "said"), [
    ("dwp", ["Apply for Pension Credit", "Claim Carer's Allowance"], "2 services match 'dwp'"),
    ("Home Office", ["Apply for a passport", "Report a lost or stolen passport"], "2 services match 'Home Office'"),
    ("pensioners", ["Apply for Pension Credit"], "1 service matches 'pensioners'"),  # a keyword
    ("DVLA renew", ["Renew a driving licence"], "1 service matches 'DVLA renew'"),  # agency and name, every word
    ("carers", ["Claim Carer's Allowance"], "1 service matches 'carers'"),  # apostrophes ignored
    ("benefit", ["Apply for Pension Credit", "Claim Carer's Allowance"], "2 services match 'benefit'"),  # category
    ("zebra", [], "No services match 'zebra'"),
])
def test_matches_name_department_and_keywords(browser_site, query, expected, said):
    with browser_site.visit(AZ) as visit:
        visit.page.fill("#service-search", query)
        assert status(visit.page) == said
        assert shown_services(visit.page) == expected


@requires_browser
def test_keyboard_only(browser_site):
    with browser_site.visit(AZ) as visit:
        page = visit.page
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "service-search":
                break
        else:
            pytest.fail("the search box cannot be reached with the Tab key")
        page.keyboard.type("licence")
        page.keyboard.press("Enter")  # submitting filters in place: no reload
        assert status(page) == "1 service matches 'licence'"
        assert page.url.endswith("services/index.html")
        page.keyboard.press("Tab")
        for _ in range(10):
            if page.evaluate("document.activeElement.textContent") == "Renew a driving licence":
                break
            page.keyboard.press("Tab")
        else:
            pytest.fail("the matching service cannot be reached with the Tab key")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"services/renew-driving-licence/$"))


@requires_browser
def test_a_query_in_the_address_is_applied(browser_site):
    with browser_site.visit(AZ + "?q=theory") as visit:
        assert visit.page.input_value("#service-search") == "theory"
        assert status(visit.page) == "1 service matches 'theory'"
        assert shown_services(visit.page) == ["Book a driving theory test"]


@requires_browser
@pytest.mark.parametrize("width", [1024, 320])
def test_axe_passes_with_the_search_box_shown_and_used(browser_site, width):
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    with browser_site.visit(AZ, width=width) as visit:
        assert visit.page.is_visible("#service-search")
        visit.page.fill("#service-search", "passport")
        status(visit.page)
        results = Axe().run(visit.page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]})
        violations = list(results.response["violations"])
        assert not violations, describe_violations(violations)
        assert not visit.console_errors  # no CSP violation


@requires_browser
def test_without_javascript_the_full_list_and_no_search_box(browser_site):
    context = browser_site.browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(browser_site.url(AZ), wait_until="load")
        assert not page.is_visible("#service-search") and not page.is_visible("form[role=search]")
        names = [name.strip() for name in page.eval_on_selector_all("[data-app-search-item] a", "links => links.filter(l => l.offsetParent !== null).map(l => l.textContent)")]
        assert names == ALL
        assert page.is_visible("#letter-b")
    finally:
        context.close()


@requires_browser
def test_find_a_service_on_the_home_page_opens_the_filtered_a_to_z(browser_site):
    with browser_site.visit("index.html") as visit:
        page = visit.page
        assert page.is_visible("#find-service")
        page.fill("#find-service", "passport")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"services/\?q=passport$"))
        assert status(page) == "2 services match 'passport'"
        assert shown_services(page) == ["Apply for a passport", "Report a lost or stolen passport"]
        assert not visit.console_errors


@requires_browser
def test_home_page_without_javascript_has_only_the_a_to_z_link(browser_site):
    context = browser_site.browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(browser_site.url("index.html"), wait_until="load")
        assert not page.is_visible("#find-service")
        assert page.is_visible("text=Find a service in the A to Z of services")
    finally:
        context.close()
