"""Freshness: services that declare how often they send figures are flagged when overdue, on
their page, their department's page and the data-quality report, and in the build's output.

The example's services, declared here as monthly, quarterly and yearly, have figures running to
December 2024 (one, yearly, to March 2024). Without a build date nothing is overdue (freshness is
measured against the latest figures on the site); with ``--today 2025-06-01`` every one of them is.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from browser import describe_violations, open_site, requires_browser
from perfgen.cli import main
from perfgen.config import Service
from perfgen.errors import Warnings
from perfgen.freshness import TodayError, parse_today, service_freshness, today_from_environment
from perfgen.pipeline import Project, build, check

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
TODAY = date(2025, 6, 1)
FREQUENCIES = {"renew-driving-licence": "monthly", "book-theory-test": "quarterly", "apply-passport": "monthly",
               "report-lost-passport": "yearly", "claim-carers-allowance": "quarterly"}


def with_frequencies(target: Path) -> Path:
    """A copy of the example whose services say how often they send figures."""
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".perfgen-cache"))
    config = target / "config/services.yml"
    text = config.read_text(encoding="utf-8")
    for slug, frequency in FREQUENCIES.items():
        text = text.replace(f"  - slug: {slug}\n", f"  - slug: {slug}\n    expected_frequency: {frequency}\n", 1)
    config.write_text(text, encoding="utf-8")
    return target


def _service(frequency: str | None) -> Service:
    return Service(slug="renew-passport", name="Renew a passport", department="ho", expected_frequency=frequency)


@pytest.mark.parametrize(("frequency", "latest", "next_period", "due"), [
    ("monthly", (date(2024, 12, 1), date(2024, 12, 31)), (date(2025, 1, 1), date(2025, 1, 31)), date(2025, 4, 1)),
    ("quarterly", (date(2024, 10, 1), date(2024, 12, 31)), (date(2025, 1, 1), date(2025, 3, 31)), date(2025, 5, 30)),
    ("yearly", (date(2023, 4, 1), date(2024, 3, 31)), (date(2024, 4, 1), date(2025, 3, 31)), date(2025, 5, 30)),
    # a month that ends on the 28th: the next month still ends on its own last day
    ("monthly", (date(2025, 2, 1), date(2025, 2, 28)), (date(2025, 3, 1), date(2025, 3, 31)), date(2025, 5, 30)),
    # an explicit range that does not start on the 1st: the same day a period later
    ("quarterly", (date(2024, 1, 15), date(2024, 4, 14)), (date(2024, 4, 15), date(2024, 7, 14)), date(2024, 9, 12)),
])
def test_next_figures_are_due_a_set_number_of_days_after_the_next_period(frequency, latest, next_period, due):
    found = service_freshness(_service(frequency), latest, as_of=due, due_days=60)
    assert (found.next_start, found.next_end, found.due) == (*next_period, due)
    assert not found.overdue  # due that day: not yet late
    late = service_freshness(_service(frequency), latest, as_of=date.fromordinal(due.toordinal() + 1), due_days=60)
    assert late.overdue and late.days_late == 1


def test_no_frequency_or_no_figures_means_no_freshness_check():
    assert service_freshness(_service(None), (date(2020, 1, 1), date(2020, 1, 31)), TODAY, 60) is None
    assert service_freshness(_service("monthly"), None, TODAY, 60) is None


def test_detail_says_what_was_expected_and_when_it_was_due():
    found = service_freshness(_service("monthly"), (date(2024, 12, 1), date(2024, 12, 31)), TODAY, 60)
    assert found.detail() == ("figures are expected every month; the latest are for December 2024, "
                              "and those for January 2025 were due by 1 April 2025")


def test_build_date_from_option_or_environment(monkeypatch):
    assert parse_today("2025-06-01") == TODAY
    with pytest.raises(TodayError, match=r"^--today: '1/6/2025' is not a date; write it as YYYY-MM-DD, for example 2025-06-01$"):
        parse_today("1/6/2025")
    monkeypatch.delenv("PERFGEN_TODAY", raising=False)
    assert today_from_environment() is None
    monkeypatch.setenv("PERFGEN_TODAY", "2025-06-01")
    assert today_from_environment() == TODAY
    monkeypatch.setenv("PERFGEN_TODAY", "June")
    with pytest.raises(TodayError, match="^PERFGEN_TODAY: 'June' is not a date"):
        today_from_environment()


def test_without_a_build_date_nothing_in_the_example_is_overdue(tmp_path):
    project = with_frequencies(tmp_path / "example")
    warnings = Warnings()
    _, loaded, results = check(Project(config=project / "config/services.yml", data=project / "data", root=project), warnings)
    loaded.db.close()
    assert results.as_of == date(2024, 12, 31) and not results.as_of_given
    assert "overdue" not in warnings.by_code()
    assert {f.service: f.frequency for f in results.freshness} == {
        "renew-driving-licence": "monthly", "book-theory-test": "quarterly", "apply-passport": "monthly",
        "report-lost-passport": "yearly", "claim-carers-allowance": "quarterly"}


@pytest.fixture(scope="module")
def late_site(tmp_path_factory) -> Path:
    """The example built as at 1 June 2025, when every service's next figures are late."""
    root = tmp_path_factory.mktemp("late")
    project = with_frequencies(root / "example")
    output = root / "site"
    result = build(Project(config=project / "config/services.yml", data=project / "data", output=output,
                           templates=project / "templates", root=project, today=TODAY), workers=1)
    assert [f.service for f in result.overdue] == ["renew-driving-licence", "book-theory-test", "apply-passport",
                                                   "report-lost-passport", "claim-carers-allowance"]
    assert result.warnings.by_code()["overdue"] == 5
    return output


def _text(page: Path) -> str:
    import re
    from html import unescape

    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))).split())
    return re.sub(r"\( ", "(", re.sub(r" ([:;,.)])", r"\1", text))  # no space where a tag ended before punctuation


def test_overdue_service_page_says_so(late_site):
    text = _text(late_site / "services/renew-driving-licence/index.html")
    assert ("Warning Overdue: new figures are expected every month. The latest are for December 2024; those for "
            "January 2025 were due by 1 April 2025 (as at 1 June 2025).") in text
    # the overdue marker is its own warning, not one of the problems with the figures supplied
    assert "Problems with the figures supplied" not in text


def test_department_page_lists_its_overdue_services(late_site):
    page = (late_site / "departments/ho/index.html").read_text(encoding="utf-8")
    text = _text(late_site / "departments/ho/index.html")
    assert "2 services are overdue with new figures (as at 1 June 2025):" in text
    assert ("Report a lost or stolen passport: the latest figures are for April 2023 to March 2024; those for "
            "April 2024 to March 2025 were due by 30 May 2025.") in text
    assert 'href="../../services/report-lost-passport/"' in page


def test_data_quality_report_lists_overdue_services(late_site):
    text = _text(late_site / "data-quality/index.html")
    assert "checked for overdue figures as at 1 June 2025" in text
    assert "Overdue overdue The service declares how often it sends figures" in text
    assert ("Book a driving theory test Overdue January to March 2025 figures are expected every quarter; the latest "
            "are for October to December 2024, and those for January to March 2025 were due by 30 May 2025") in text


def test_page_without_overdue_figures_says_when_the_next_are_due(tmp_path):
    project = with_frequencies(tmp_path / "example")
    output = tmp_path / "site"
    build(Project(config=project / "config/services.yml", data=project / "data", output=output, root=project,
                  templates=project / "templates"), workers=1)
    text = _text(output / "services/report-lost-passport/index.html")
    assert ("New figures are expected every year. The latest are for April 2023 to March 2024; those for April 2024 "
            "to March 2025 are due by 30 May 2025.") in text
    assert "Overdue" not in text
    assert "checked for overdue figures as at 31 December 2024, the end of the latest figures on this site" in _text(output / "data-quality/index.html")


def test_build_lists_overdue_services_and_strict_fails_on_them(tmp_path, monkeypatch, capsys):
    project = with_frequencies(tmp_path / "example")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PERFGEN_TODAY", "2025-06-01")
    assert main(["build", "--output", str(tmp_path / "site"), "--workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 services are overdue with new figures:\n")
    assert ("  report-lost-passport: figures are expected every year; the latest are for April 2023 to March 2024, "
            "and those for April 2024 to March 2025 were due by 30 May 2025 (2 days late)\n") in out
    assert main(["validate", "--strict", "--today", "2025-04-02"]) == 1
    err = capsys.readouterr().err
    assert ("  warning: service 'renew-driving-licence': January 2025: figures are expected every month; the latest are "
            "for December 2024, and those for January 2025 were due by 1 April 2025 [overdue]") in err
    assert main(["validate", "--today", "2025-13-01"]) == 1
    assert capsys.readouterr().err.startswith("error: --today: '2025-13-01' is not a date; write it as YYYY-MM-DD")


def test_expected_frequency_is_checked_in_the_config(example_project, failing_build):
    config = example_project / "config/services.yml"
    text = config.read_text(encoding="utf-8").replace("  - slug: book-theory-test\n", "  - slug: book-theory-test\n    expected_frequency: weekly\n", 1)
    config.write_text(text, encoding="utf-8")
    problems = failing_build()
    assert problems == "error: config/services.yml:47: services[1].expected_frequency: 'weekly' is not allowed; expected 'monthly', 'quarterly' or 'yearly'"


@requires_browser
def test_overdue_markers_are_accessible(late_site):
    with open_site(late_site) as site:
        for path in ("services/renew-driving-licence/index.html", "departments/ho/index.html"):
            violations = site.audit(path)
            assert not violations, describe_violations(violations)


def test_latest_period_is_the_latest_end_then_the_shortest_period_with_a_figure():
    """``LATEST_SQL``: each service's latest period with a figure (status "value"): the latest
    end and, of the periods ending then, the shortest; later periods without a figure and other
    services' periods do not count."""
    import duckdb

    from perfgen.freshness import LATEST_SQL

    db = duckdb.connect()
    db.execute("""CREATE TABLE clean_observations AS SELECT service, period_start::DATE AS period_start,
                  period_end::DATE AS period_end, status FROM (VALUES
        ('b', '2024-01-01', '2024-12-31', 'value'), ('b', '2024-12-01', '2024-12-31', 'value'),
        ('b', '2024-10-01', '2024-12-31', 'value'), ('b', '2025-01-01', '2025-01-31', 'not_provided'),
        ('a', '2023-04-01', '2024-03-31', 'value'), ('a', '2023-06-01', '2023-06-30', 'value'),
        ('c', '2025-01-01', '2025-01-31', 'invalid')) v(service, period_start, period_end, status)""")
    assert db.execute(LATEST_SQL).fetchall() == [
        ("a", date(2023, 4, 1), date(2024, 3, 31)), ("b", date(2024, 12, 1), date(2024, 12, 31))]
