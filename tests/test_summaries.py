"""Plain-language summaries: one test per branch of perfgen.summaries.sentence, and the
sentences on the built example pages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from perfgen.summaries import Figure, sentence, when
from site_checks import build_site

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
YEAR = {"period_start": date(2016, 7, 1), "period_end": date(2017, 6, 30)}
TAKE_UP = {"label": "Digital take-up", "unit": "percent", "better": "higher"}
COST = {"label": "Cost per transaction", "unit": "money", "better": "lower"}


def test_rise_in_a_percentage_is_in_percentage_points_with_rank():
    figure = Figure(**TAKE_UP, status="value", value=0.871, previous=0.829, rank=3, ranked_of=40, **YEAR)
    assert sentence(figure) == "Digital take-up rose 4.2 percentage points to 87.1% in the 12 months to June 2017, 3rd of 40 ranked services."


def test_fall_in_money_is_in_percent():
    figure = Figure(**COST, status="value", value=2.0, previous=2.5, **YEAR)
    assert sentence(figure) == "Cost per transaction fell 20.0% to £2.00 in the 12 months to June 2017."


def test_no_change():
    figure = Figure(**TAKE_UP, status="value", value=0.5, previous=0.5, **YEAR)
    assert sentence(figure) == "Digital take-up was unchanged at 50.0% in the 12 months to June 2017."


def test_change_too_small_to_show():
    figure = Figure(**TAKE_UP, status="value", value=0.87101, previous=0.871, **YEAR)
    assert sentence(figure) == "Digital take-up rose by less than 0.1 percentage points to 87.1% in the 12 months to June 2017."


def test_first_period_has_no_previous_figure():
    figure = Figure(**TAKE_UP, status="value", value=0.871, **YEAR)
    assert sentence(figure) == "Digital take-up was 87.1% in the 12 months to June 2017 (no figure a year earlier to compare with)."


def test_previous_figure_of_zero_cannot_give_a_percent_change():
    figure = Figure(**COST, status="value", value=2.0, previous=0.0, **YEAR)
    assert sentence(figure) == ("Cost per transaction was £2.00 in the 12 months to June 2017 "
                                "(no change can be worked out from a figure of zero a year earlier).")


@pytest.mark.parametrize("status", ["not_provided", "invalid", ""])
def test_missing(status):
    assert sentence(Figure(**TAKE_UP, status=status), "this service") == "No figure for digital take-up has been provided for this service."


def test_not_applicable():
    assert sentence(Figure(**TAKE_UP, status="not_applicable"), "this service") == "Digital take-up does not apply to this service."


def test_stale_says_its_period_and_is_not_ranked_or_compared():
    figure = Figure(**COST, status="stale", value=5.11, previous=4.0, rank=1, ranked_of=4,
                    period_start=date(2015, 4, 1), period_end=date(2016, 3, 31))
    assert sentence(figure) == "Cost per transaction was £5.11 in the 12 months to March 2016, the latest figure provided: it is out of date."


def test_tie_is_joint():
    figure = Figure(**TAKE_UP, status="value", value=0.9, previous=0.95, rank=2, ranked_of=5, tied=True, **YEAR)
    assert sentence(figure) == "Digital take-up fell 5.0 percentage points to 90.0% in the 12 months to June 2017, joint 2nd of 5 ranked services."


def test_a_single_service_is_not_ranked_against_itself():
    figure = Figure(**TAKE_UP, status="value", value=0.9, previous=0.8, rank=1, ranked_of=1, **YEAR)
    assert sentence(figure) == "Digital take-up rose 10.0 percentage points to 90.0% in the 12 months to June 2017."


def test_total_says_its_coverage():
    figure = Figure(**TAKE_UP, status="value", value=0.9, previous=0.8, contributing=12, expected=40, previous_contributing=12, **YEAR)
    assert sentence(figure) == "Digital take-up rose 10.0 percentage points to 90.0% in the 12 months to June 2017, from 12 of 40 services."


def test_totals_over_different_services_are_not_compared():
    figure = Figure(**TAKE_UP, status="value", value=0.9, previous=0.8, contributing=4, expected=6, previous_contributing=3, **YEAR)
    assert sentence(figure) == ("Digital take-up was 90.0% in the 12 months to June 2017 "
                                "(not compared with a year earlier: 3 services reported then, 4 now), from 4 of 6 services.")


def test_periods_other_than_twelve_months_are_in_words():
    assert when(date(2024, 7, 1), date(2024, 9, 30)) == "July to September 2024"
    assert when(date(2024, 5, 1), date(2024, 5, 31)) == "May 2024"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_site(EXAMPLE, tmp_path_factory.mktemp("summaries") / "site")


def test_summaries_on_every_service_department_and_home_page(site):
    pages = [site / "index.html", *site.glob("services/*/index.html"), *site.glob("departments/*/index.html")]
    pages = [p for p in pages if p.parent.name not in ("services", "departments")]
    assert len(pages) == 1 + 6 + 3
    for page in pages:
        assert 'id="summary"' in page.read_text(encoding="utf-8"), page


def test_summary_sentences_on_the_example(site):
    service = (site / "services/renew-driving-licence/index.html").read_text(encoding="utf-8")
    assert "Digital take-up rose 4.8 percentage points to 84.9% in the 12 months to December 2024, 3rd of 4 ranked services." in service
    assert "Cost per transaction fell 18.1% to £2.82 in the 12 months to December 2024, 1st of 3 ranked services." in service
    stale = (site / "services/report-lost-passport/index.html").read_text(encoding="utf-8")
    assert "Digital take-up was 71.0% in the 12 months to March 2024, the latest figure provided: it is out of date." in stale
    assert "User satisfaction does not apply to this service." in stale
    department = (site / "departments/ho/index.html").read_text(encoding="utf-8")
    assert "Digital take-up rose 3.6 percentage points to 90.1% in the 12 months to December 2024, from 1 of 2 services." in department
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "(not compared with a year earlier: 3 services reported then, 4 now), from 4 of 6 services." in home
