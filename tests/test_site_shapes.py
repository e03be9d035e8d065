"""Sites of every size: one service, one department's services, several departments.

Each shape is a trimmed copy of the example project, built end to end: the home page leads with
what the site is about, no page is empty, no link is broken and comparisons appear only where
there is something to compare with."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from site_checks import build_site, page_facts

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
DATA_FILES = {"renew-driving-licence": "dvla-renew-driving-licence.csv", "book-theory-test": "dvsa-theory-test.csv",
              "claim-carers-allowance": "dwp-carers-allowance.csv", "apply-passport": "hmpo-passports.csv",
              "report-lost-passport": "hmpo-passports.csv"}


def trimmed_project(root: Path, services: list[str]) -> Path:
    """The example project with only ``services`` (and their departments, agencies and data)."""
    project = root / "project"
    shutil.copytree(EXAMPLE, project)
    path = project / "config/services.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["services"] = [s for s in config["services"] if s["slug"] in services]
    departments = {s["department"] for s in config["services"]}
    config["departments"] = [d for d in config["departments"] if d["slug"] in departments]
    config["agencies"] = [a for a in config["agencies"] if a["department"] in departments]
    groups = [{**g, "services": [s for s in g["services"] if s in services]} for g in config.get("peer_groups", [])]
    config["peer_groups"] = [g for g in groups if len(g["services"]) >= 2]
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    keep = {DATA_FILES[s] for s in services if s in DATA_FILES}
    for data in (project / "data").iterdir():
        if data.name not in keep:
            data.unlink()
    return project


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def assert_no_broken_links(site: Path) -> None:
    for page in html_pages(site):
        for link in page_facts(page).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("#", "mailto:")):
                continue
            target = (page.parent / parts.path).resolve()
            if link.endswith("/") or target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"{page.relative_to(site)} links to missing {link}"


def assert_one_h1_and_unique_titles(site: Path) -> None:
    titles = set()
    for page in html_pages(site):
        facts = page_facts(page)
        assert len(facts.h1) == 1, page
        assert facts.title not in titles, f"duplicate title {facts.title}"
        titles.add(facts.title)


@pytest.fixture(scope="module")
def one_service(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("one-service")
    return build_site(trimmed_project(root, ["renew-driving-licence"]), root / "site")


@pytest.fixture(scope="module")
def one_department(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("one-department")
    return build_site(trimmed_project(root, ["apply-passport", "report-lost-passport"]), root / "site")


@pytest.fixture(scope="module")
def several_departments(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("several")
    return build_site(EXAMPLE, root / "site")


def test_one_service_home_page_is_the_service_page(one_service):
    home = (one_service / "index.html").read_text(encoding="utf-8")
    assert "Renew a photocard driving licence" in home  # the service's description
    assert 'id="summary"' in home and "Digital take-up rose 4.8 percentage points to 84.9%" in home
    assert 'figure class="app-chart"' in home
    assert "How this service compares" not in home and "ranked services" not in home
    assert not (one_service / "league").exists()
    assert not (one_service / "departments").exists()
    assert not (one_service / "services/index.html").exists()  # no A to Z of one service
    assert (one_service / "about/index.html").exists()
    for page in html_pages(one_service):
        for link in page_facts(page).links:
            assert not re.search(r"(^|/)(league|departments)/", link) or "data/" in link, (page, link)
    assert_no_broken_links(one_service)
    assert_one_h1_and_unique_titles(one_service)


def test_one_service_page_has_no_comparison(one_service):
    page = (one_service / "services/renew-driving-licence/index.html").read_text(encoding="utf-8")
    assert "How this service compares" not in page
    assert "ranked services" not in page


def test_one_department_home_page_leads_with_the_department(one_department):
    home = (one_department / "index.html").read_text(encoding="utf-8")
    assert "Service standard readiness" in home
    assert "Apply for a passport" in home and "Report a lost or stolen passport" in home
    assert "Best and worst movers" in home
    assert 'href="services/"' in home  # the A to Z
    assert not (one_department / "departments/index.html").exists()
    assert (one_department / "league/index.html").exists()
    assert (one_department / "services/index.html").exists()
    service = (one_department / "services/apply-passport/index.html").read_text(encoding="utf-8")
    assert "How this service compares" in service
    for page in html_pages(one_department):
        assert 'href="../departments/"' not in page.read_text(encoding="utf-8") or page.name != "index.html", page
    nav = (one_department / "about/index.html").read_text(encoding="utf-8")
    assert ">Departments<" not in nav
    assert_no_broken_links(one_department)
    assert_one_h1_and_unique_titles(one_department)


def test_several_departments_have_every_page(several_departments):
    home = (several_departments / "index.html").read_text(encoding="utf-8")
    assert "Across government" in home and 'href="league/"' in home and 'href="services/"' in home
    assert (several_departments / "departments/index.html").exists()
    assert ">Departments<" in home
    assert_no_broken_links(several_departments)


def test_a_to_z_lists_every_service_in_order_without_javascript(several_departments):
    page = (several_departments / "services/index.html").read_text(encoding="utf-8")
    names = ["Apply for a passport", "Apply for Pension Credit", "Book a driving theory test", "Claim Carer&#39;s Allowance",
             "Renew a driving licence", "Report a lost or stolen passport"]
    positions = [page.index(name) for name in names]
    assert positions == sorted(positions)
    # The search box is hidden until its script runs; the script is a file, never inline code.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="../assets/perfgen-search.js" defer>']
    assert 'data-app-search="service-search-status" hidden>' in page
    assert 'href="#letter-a"' in page and 'id="letter-a"' in page


def test_about_page_speaks_to_each_audience(several_departments):
    page = (several_departments / "about/index.html").read_text(encoding="utf-8")
    for heading in ("If you are responsible for services", "If you manage a service", "If you are a developer", "For everyone"):
        assert heading in page
    assert 'href="../about/"' in (several_departments / "departments/index.html").read_text(encoding="utf-8")


def test_one_department_league_has_no_department_filter(one_department):
    assert not (one_department / "league/digital-take-up/departments").exists()
    assert "Show one department only" not in (one_department / "league/digital-take-up/index.html").read_text(encoding="utf-8")


def test_peer_group_pages_only_where_a_group_keeps_two_services(one_service, one_department, several_departments):
    # The example's group "applications" has four services; trimmed to one (or none) it is gone.
    for site in (one_service, one_department):
        assert not list(site.rglob("groups")), site
        for page in html_pages(site):
            text = page.read_text(encoding="utf-8")
            assert "peer group" not in text.lower() and "Within Applications and renewals" not in text, page
    assert (several_departments / "league/groups/index.html").exists()
    for page in sorted((several_departments / "league").rglob("groups/applications/**/index.html")):
        assert "Apply for a passport" in page.read_text(encoding="utf-8"), page


@pytest.fixture(scope="module")
def one_category(tmp_path_factory) -> Path:
    """DWP's two services, both of the category Benefit."""
    root = tmp_path_factory.mktemp("one-category")
    return build_site(trimmed_project(root, ["claim-carers-allowance", "apply-pension-credit"]), root / "site")


def test_category_pages_only_for_a_category_of_two_services_among_others(one_service, one_department, one_category, several_departments):
    # One service: no leagues at all. One department: its two services have a category each.
    # One category: its league would be the whole league again. The example: Benefit's two.
    for site in (one_service, one_department, one_category):
        assert not list(site.rglob("categories")), site
        for page in html_pages(site):
            text = page.read_text(encoding="utf-8")
            assert "Compare within a category" not in text and "categories/" not in text and 'id="categories"' not in text, page
    assert "Peer groups</h1>" in (one_category / "league/groups/index.html").read_text(encoding="utf-8")  # the group is left
    assert_no_broken_links(one_category)
    assert_one_h1_and_unique_titles(one_category)
    pages = sorted((several_departments / "league").rglob("categories/*/**/index.html"))
    assert {page.relative_to(several_departments / "league").parts[2] for page in pages} == {"benefit"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "Apply for Pension Credit" in text and "Apply for a passport" not in text, page
    assert_one_h1_and_unique_titles(several_departments)
