"""Accessibility: axe-core (WCAG 2.2 A and AA) in headless Chromium on every page type of the
example site, at desktop and at 320 px wide, with no failed requests or CSP errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import describe_violations, open_site, requires_browser
from site_checks import build_site

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
PAGE_TYPES = [
    "index.html",
    "departments/index.html",
    "departments/ho/index.html",
    "services/renew-driving-licence/index.html",
    "services/report-lost-passport/index.html",
    "services/apply-pension-credit/index.html",
    "services/claim-carers-allowance/index.html",  # a service measured in parts, with targets and annotations
    "departments/dwp/index.html",  # readiness with targets met
    "league/index.html",
    "league/sorted/cost-per-transaction/ascending/index.html",
    "league/digital-take-up/index.html",
    "league/transactions/service/descending/index.html",
    "league/user-satisfaction/departments/ho/index.html",
    "league/groups/index.html",
    "league/digital-take-up/groups/applications/index.html",
    "league/cost-per-transaction/groups/applications/change/descending/index.html",
    "league/digital-take-up/categories/benefit/index.html",
    "definitions/index.html",
    "data-quality/index.html",
    "data/index.html",
    "accessibility/index.html",
    "about/index.html",
    "services/index.html",
]


@pytest.fixture(scope="module")
def browser_site(tmp_path_factory):
    site = build_site(EXAMPLE, tmp_path_factory.mktemp("a11y") / "site", workers=1)
    with open_site(site) as opened:
        yield opened


@requires_browser
@pytest.mark.parametrize("path", PAGE_TYPES)
@pytest.mark.parametrize("width", [1024, 320])
def test_no_axe_violations(browser_site, path, width):
    violations = browser_site.audit(path, width=width)
    assert not violations, describe_violations(violations)


@requires_browser
@pytest.mark.parametrize("path", PAGE_TYPES)
def test_page_loads_everything_under_its_csp(browser_site, path):
    with browser_site.visit(path) as visit:
        assert not visit.failed_requests
        assert not visit.console_errors
