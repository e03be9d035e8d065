"""Atom feeds, sitemap.xml and the site's address: feeds and sitemap list absolute addresses under
``site.base_url``; pages link relatively, so the site works under a project subpath. That is
tested by serving the built site under ``/perfgen/`` and following every link.
"""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from browser import serve
from perfgen.cli import main
from perfgen.feeds import page_address
from perfgen.pipeline import Project, build

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
BASE_URL = "https://example.org/perfgen/"
RFC3339_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00:00Z$")


@pytest.fixture(scope="module")
def hosted(tmp_path_factory) -> Path:
    """The example built for https://example.org/perfgen/, in <root>/perfgen/ as a web server would hold it."""
    root = tmp_path_factory.mktemp("hosting")
    build(Project(config=EXAMPLE / "config/services.yml", data=EXAMPLE / "data", output=root / "perfgen",
                  templates=EXAMPLE / "templates", root=EXAMPLE, base_url=BASE_URL), workers=1)
    return root


def test_page_addresses():
    assert page_address(BASE_URL, "index.html") == BASE_URL
    assert page_address(BASE_URL, "services/renew-driving-licence/index.html") == BASE_URL + "services/renew-driving-licence/"
    assert page_address(BASE_URL, "data/kpis.csv") == BASE_URL + "data/kpis.csv"


def test_sitemap_lists_every_page_under_the_base_url(hosted):
    site = hosted / "perfgen"
    sitemap = ET.parse(site / "sitemap.xml").getroot()
    assert sitemap.tag == f"{SITEMAP}urlset"
    locations = [element.text for element in sitemap.iter(f"{SITEMAP}loc")]
    pages = sorted(str(p.relative_to(site)) for p in site.rglob("*.html"))
    assert locations == sorted(page_address(BASE_URL, p) for p in pages)
    assert BASE_URL in locations and BASE_URL + "changelog/" in locations


def _check_feed(path: Path) -> ET.Element:
    feed = ET.parse(path).getroot()
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None, required
    assert RFC3339_DAY.match(feed.findtext(f"{ATOM}updated"))
    ids = []
    for entry in feed.findall(f"{ATOM}entry"):
        for required in ("id", "title", "updated", "summary"):
            assert entry.findtext(f"{ATOM}{required}"), required
        assert RFC3339_DAY.match(entry.findtext(f"{ATOM}updated"))
        assert entry.find(f"{ATOM}link").get("href").startswith(BASE_URL)
        ids.append(entry.findtext(f"{ATOM}id"))
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    return feed


def test_service_feed_announces_each_period_of_new_figures(hosted):
    feed = _check_feed(hosted / "perfgen/services/renew-driving-licence/feed.xml")
    assert feed.findtext(f"{ATOM}id") == BASE_URL + "services/renew-driving-licence/feed.xml"
    assert feed.findtext(f"{ATOM}updated") == "2024-12-31T00:00:00Z"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 24  # the newest two years of months
    newest = entries[0]
    assert newest.findtext(f"{ATOM}title") == "Renew a driving licence: figures for December 2024"
    assert newest.findtext(f"{ATOM}summary").startswith("New figures for December 2024. Transactions: 231,250; Cost per transaction: £2.44; Digital take-up: 87.2%;")
    assert [e.findtext(f"{ATOM}updated") for e in entries[:3]] == ["2024-12-31T00:00:00Z", "2024-11-30T00:00:00Z", "2024-10-31T00:00:00Z"]


def test_site_feed_and_a_service_without_figures(hosted):
    feed = _check_feed(hosted / "perfgen/feed.xml")
    titles = [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")]
    assert "Book a driving theory test: figures for October to December 2024" in titles
    empty = _check_feed(hosted / "perfgen/services/apply-pension-credit/feed.xml")
    assert empty.findall(f"{ATOM}entry") == []


def test_pages_link_to_their_feeds(hosted):
    home = (hosted / "perfgen/index.html").read_text(encoding="utf-8")
    assert '<link rel="alternate" type="application/atom+xml" href="feed.xml" title="Example service performance: new figures and corrections">' in home
    service = (hosted / "perfgen/services/book-theory-test/index.html").read_text(encoding="utf-8")
    assert '<a class="govuk-link" href="feed.xml">Get updates when Book a driving theory test publishes new figures (Atom feed)</a>' in service


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("href", "src"):
            if attributes.get(name) and tag in ("a", "link", "img", "script"):
                self.links.append(attributes[name])


def _fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


def test_site_works_under_a_project_subpath(hosted):
    """Served under /perfgen/ (a GitHub Pages project site), every page, asset, download and
    feed linked from the home page, and from the pages it links to, is found under /perfgen/."""
    with serve(hosted) as server:
        start = server + "perfgen/"
        queue, seen, failures = [start], {start}, []
        while queue:
            url = queue.pop()
            status, content_type, body = _fetch(url)
            if status != 200:
                failures.append(f"{status} {url}")
                continue
            if not content_type.startswith("text/html"):
                continue
            parser = _Links()
            parser.feed(body.decode("utf-8"))
            for link in parser.links:
                target = urljoin(url, link).split("#")[0]
                if urlsplit(target).netloc != urlsplit(server).netloc or target in seen:
                    continue  # another site (a service's start page)
                assert urlsplit(target).path.startswith("/perfgen/"), f"{url} links outside the subpath: {link}"
                seen.add(target)
                queue.append(target)
        assert not failures, failures
        pages = {urlsplit(u).path for u in seen if u.endswith("/")}
        assert len(pages) >= 17 and "/perfgen/changelog/" in pages
        # every address in the sitemap and the feeds resolves when the site is where base_url says
        sitemap = ET.parse(hosted / "perfgen/sitemap.xml").getroot()
        for location in [e.text for e in sitemap.iter(f"{SITEMAP}loc")]:
            assert _fetch(location.replace(BASE_URL, start))[0] == 200, location
        feed = ET.parse(hosted / "perfgen/feed.xml").getroot()
        for link in feed.iter(f"{ATOM}link"):
            assert _fetch(link.get("href").replace(BASE_URL, start).split("#")[0])[0] == 200, link.get("href")


def test_without_an_address_there_are_no_feeds(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".perfgen-cache"))
    monkeypatch.chdir(project)
    assert main(["build", "--workers", "1", "--output", str(tmp_path / "site")]) == 0
    assert "No site address (site.base_url or --base-url): sitemap.xml and the Atom feeds were not written\n" in capsys.readouterr().out
    site = tmp_path / "site"
    assert not (site / "sitemap.xml").exists() and not (site / "feed.xml").exists()
    assert "application/atom+xml" not in (site / "index.html").read_text(encoding="utf-8")
    assert "feed.xml" not in (site / "services/renew-driving-licence/index.html").read_text(encoding="utf-8")
    # an address given on the command line is checked (test_workflows builds with a good one)
    capsys.readouterr()
    assert main(["build", "--output", str(tmp_path / "site"), "--base-url", "example.org/x"]) == 1
    assert capsys.readouterr().err.startswith("error: --base-url: 'example.org/x' is not a site address: write it like https://example.org/performance/\n")


def test_base_url_is_checked_in_the_config(example_project, failing_build):
    config = example_project / "config/services.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("  min_responses: 100\n", "  min_responses: 100\n  base_url: ftp://example.org/\n"), encoding="utf-8")
    assert failing_build() == ("error: config/services.yml:10: site.base_url: 'ftp://example.org/' is not a site address: "
                               "write it like https://example.org/performance/")
