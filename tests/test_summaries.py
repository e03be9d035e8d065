"""Plain-language summaries: one test per branch of perfgen.summaries.sentence, and the
sentences on the built example pages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from perfgen.summaries import Figure, note_sentences, sentence, when
from perfgen.targets import Note
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


def test_total_missing_now_says_the_latest_earlier_total():
    # DWP's real cost per transaction: none for the 12 months to September 2017, but one earlier.
    figure = Figure(**COST, status="", window_end=date(2017, 9, 30), latest=2.2, latest_start=date(2014, 10, 1),
                    latest_end=date(2015, 9, 30), latest_contributing=1, expected=49)
    assert sentence(figure, "these services") == ("No figure for cost per transaction covers the 12 months to September 2017; "
                                                   "the latest, £2.20 in the 12 months to September 2015, came from 1 of 49 services.")


def test_total_never_provided_says_so():
    assert sentence(Figure(**COST, status="not_provided", window_end=date(2017, 9, 30)), "these services") == (
        "No figure for cost per transaction has been provided for these services.")


def test_periods_other_than_twelve_months_are_in_words():
    assert when(date(2024, 7, 1), date(2024, 9, 30)) == "July to September 2024"
    assert when(date(2024, 5, 1), date(2024, 5, 31)) == "May 2024"


# --- targets ---------------------------------------------------------------------------------------

def test_target_met():
    figure = Figure(**TAKE_UP, status="value", value=0.871, previous=0.829, rank=3, ranked_of=40, target=0.85, **YEAR)
    assert sentence(figure) == ("Digital take-up rose 4.2 percentage points to 87.1% in the 12 months to June 2017, "
                                "2.1 percentage points above its target of 85% (target met), 3rd of 40 ranked services.")


def test_target_missed():
    figure = Figure(**TAKE_UP, status="value", value=0.829, previous=0.871, target=0.85, **YEAR)
    assert sentence(figure) == ("Digital take-up fell 4.2 percentage points to 82.9% in the 12 months to June 2017, "
                                "2.1 percentage points below its target of 85% (target not met).")


def test_exactly_on_target():
    figure = Figure(**TAKE_UP, status="value", value=0.85, previous=0.85, target=0.85, **YEAR)
    assert sentence(figure) == "Digital take-up was unchanged at 85.0% in the 12 months to June 2017, exactly on its target of 85%."


def test_lower_is_better_target_missed_when_above_it():
    figure = Figure(**COST, status="value", value=4.90, previous=5.0, target=4.5, **YEAR)
    assert sentence(figure) == ("Cost per transaction fell 2.0% to £4.90 in the 12 months to June 2017, "
                                "£0.40 above its target of £4.50 (target not met).")


def test_lower_is_better_target_met_when_below_it():
    figure = Figure(**COST, status="value", value=4.10, target=4.5, **YEAR)
    assert sentence(figure) == ("Cost per transaction was £4.10 in the 12 months to June 2017 (no figure a year earlier to compare with), "
                                "£0.40 below its target of £4.50 (target met).")


def test_no_target_says_nothing_about_one():
    figure = Figure(**TAKE_UP, status="value", value=0.871, previous=0.829, **YEAR)
    assert "target" not in sentence(figure)


@pytest.mark.parametrize("status", ["not_provided", "invalid", ""])
def test_target_with_no_figure(status):
    figure = Figure(**TAKE_UP, status=status, target=0.85)
    assert sentence(figure, "this service") == ("No figure for digital take-up has been provided for this service, "
                                                "so there is none to compare with its target of 85%.")


def test_target_with_an_out_of_date_figure_is_not_compared():
    figure = Figure(**COST, status="stale", value=5.11, target=4.5, period_start=date(2015, 4, 1), period_end=date(2016, 3, 31))
    assert sentence(figure) == ("Cost per transaction was £5.11 in the 12 months to March 2016, the latest figure provided: "
                                "it is out of date, so it is not compared with its target of £4.50.")


def test_target_on_a_kpi_that_does_not_apply_is_not_mentioned():
    assert sentence(Figure(**TAKE_UP, status="not_applicable", target=0.85), "this service") == "Digital take-up does not apply to this service."


# --- notes (annotations) --------------------------------------------------------------------------

LABELS = {"digital_take_up": "Digital take-up", "cost_per_transaction": "Cost per transaction", "transactions": "Transactions"}
HEADLINE = {"digital_take_up": (date(2016, 7, 1), date(2017, 6, 30)), "cost_per_transaction": (date(2016, 7, 1), date(2017, 6, 30))}


def test_a_note_on_the_whole_service_inside_the_period():
    notes = [Note(1, date(2017, 4, 3), "New online form launched", None)]
    assert note_sentences(notes, HEADLINE, LABELS) == ["3 April 2017: New online form launched."]


def test_a_note_outside_the_period_is_left_out():
    notes = [Note(1, date(2016, 6, 30), "Before", None), Note(2, date(2017, 7, 1), "After", "digital_take_up")]
    assert note_sentences(notes, HEADLINE, LABELS) == []


def test_a_note_on_one_kpi_names_it_and_uses_its_period():
    periods = {**HEADLINE, "cost_per_transaction": (date(2015, 4, 1), date(2016, 3, 31))}  # cost out of date
    notes = [Note(1, date(2015, 9, 1), "Fees changed", "cost_per_transaction"), Note(2, date(2017, 1, 9), "Form redesigned", "digital_take_up"),
             Note(3, date(2017, 1, 9), "Transactions only", "transactions")]  # no headline period for transactions given
    assert note_sentences(notes, periods, LABELS) == ["1 September 2015, cost per transaction: Fees changed.",
                                                      "9 January 2017, digital take-up: Form redesigned."]


def test_a_note_on_the_whole_service_counts_in_any_kpis_period():
    periods = {"digital_take_up": (date(2016, 7, 1), date(2017, 6, 30)), "cost_per_transaction": (date(2015, 4, 1), date(2016, 3, 31))}
    notes = [Note(1, date(2015, 9, 1), "Contact centre moved", None)]
    assert note_sentences(notes, periods, LABELS) == ["1 September 2015: Contact centre moved."]
    assert note_sentences(notes, {}, LABELS) == []


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
    # The Home Office's completion rate: apply-passport's invalid March 2024 (more completed than
    # started) breaks every later 12-month window, so the latest total is for the 12 months to February 2024.
    home_office = (site / "departments/ho/index.html").read_text(encoding="utf-8")
    assert ("No figure for completion rate covers the 12 months to December 2024; the latest, 78.1% in the "
            "12 months to February 2024, came from 1 of 2 services.") in home_office


def test_summary_sentences_with_targets_and_notes_on_the_example(site):
    service = (site / "services/claim-carers-allowance/index.html").read_text(encoding="utf-8")
    assert ("<li>Digital take-up fell 0.2 percentage points to 80.7% in the 12 months to December 2024, "
            "0.7 percentage points above its target of 80% (target met), 4th of 4 ranked services.</li>") in service
    assert ("<li>Cost per transaction rose 0.2% to £23.41 in the 12 months to December 2024, "
            "£3.41 above its target of £20.00 (target not met), 3rd of 3 ranked services.</li>") in service
    assert "<li>No figure for completion rate has been provided for this service, so there is none to compare with its target of 90%.</li>" in service
    # the note of September 2024 is in the headline period; the one of May 2023 is not
    assert "<li>16 September 2024: Claims by phone moved to a new contact centre.</li>" in service
    assert "New online claim form launched.</li>" not in service
