"""Targets and annotations: the verdict on a figure against its target, in each of the forms a
page uses, the numbered notes, and how they reach the charts, tables and open data of the
example site (Claim Carer's Allowance has four targets and two annotations)."""

from __future__ import annotations

import json
import math
import re
from datetime import date
from html import unescape
from types import SimpleNamespace

import pytest

from perfgen import charts
from perfgen.charts import ChartRequest, spec_for
from perfgen.targets import Note, against_target, for_period, numbered, target_words, targets_met

# --- against_target ---------------------------------------------------------------------------

def test_a_rate_above_its_target_meets_it_by_percentage_points():
    verdict = against_target(0.871, "value", 0.85, "percent", "higher")
    assert (verdict.state, verdict.met, verdict.gap) == ("above", True, "2.1 percentage points")
    assert verdict.short == "Target 85%: met, 2.1 percentage points above"
    assert verdict.clause == "2.1 percentage points above its target of 85% (target met)"
    assert verdict.mark == "Met: 2.1 percentage points above"


def test_a_rate_below_its_target_misses_it():
    verdict = against_target(0.829, "value", 0.85, "percent", "higher")
    assert verdict.short == "Target 85%: not met, 2.1 percentage points below"
    assert verdict.clause == "2.1 percentage points below its target of 85% (target not met)"
    assert verdict.mark == "Not met: 2.1 percentage points below"


def test_exactly_on_target_meets_it():
    verdict = against_target(0.85, "value", 0.85, "percent", "higher")
    assert (verdict.state, verdict.met) == ("on", True)
    assert verdict.short == "Target 85%: met exactly"
    assert verdict.clause == "exactly on its target of 85%"
    assert verdict.mark == "Met exactly"


def test_float_noise_from_summing_is_exactly_on_target():
    assert against_target(0.1 + 0.2, "value", 0.3, "percent", "higher").state == "on"


def test_a_gap_too_small_to_show_is_still_on_one_side():
    verdict = against_target(0.84999, "value", 0.85, "percent", "higher")
    assert verdict.short == "Target 85%: not met, less than 0.1 percentage points below"


def test_lower_is_better_money_above_its_target_misses_it_by_pounds():
    verdict = against_target(4.90, "value", 4.5, "money", "lower")
    assert verdict.short == "Target £4.50: not met, £0.40 above"
    assert verdict.clause == "£0.40 above its target of £4.50 (target not met)"


def test_lower_is_better_money_below_its_target_meets_it():
    verdict = against_target(4.10, "value", 4.5, "money", "lower")
    assert verdict.short == "Target £4.50: met, £0.40 below"
    assert verdict.met is True


def test_a_kpi_with_no_better_direction_gets_its_gap_but_no_verdict():
    verdict = against_target(1_200_000, "value", 1_000_000, "count", "neutral")
    assert verdict.met is None
    assert verdict.short == "Target 1,000,000: 200,000 above"
    assert verdict.clause == "200,000 above its target of 1,000,000"
    assert verdict.mark == "200,000 above"


@pytest.mark.parametrize("status, value", [("not_provided", None), ("invalid", None), ("", None), ("value", math.nan), ("value", None)])
def test_no_figure_is_not_judged(status, value):
    verdict = against_target(value, status, 0.85, "percent", "higher")
    assert (verdict.state, verdict.met, verdict.clause) == ("no_figure", None, "")
    assert verdict.short == "Target 85%: no figure to compare with"
    assert verdict.mark == "Not compared"


def test_an_out_of_date_figure_is_not_judged():
    verdict = against_target(0.95, "stale", 0.85, "percent", "higher")
    assert (verdict.state, verdict.met) == ("out_of_date", None)
    assert verdict.short == "Target 85%: not compared, the figure is out of date"


def test_targets_are_shown_as_written():
    assert target_words("percent", 0.85) == "85%"
    assert target_words("percent", 0.875) == "87.5%"
    assert target_words("percent", 1) == "100%"
    assert target_words("money", 4.5) == "£4.50"
    assert target_words("count", 1_000_000) == "1,000,000"


def test_targets_met_counts_missing_and_out_of_date_figures_as_not_met():
    verdicts = [against_target(0.9, "value", 0.85, "percent", "higher"), against_target(5, "value", 4.5, "money", "lower"),
                against_target(None, "not_provided", 0.9, "percent", "higher"), against_target(0.9, "stale", 0.8, "percent", "higher")]
    assert targets_met(verdicts) == "1 of 4 targets met"
    assert targets_met(verdicts[:1]) == "1 of 1 target met"
    assert targets_met([against_target(10, "value", 5, "count", "neutral")]) is None
    assert targets_met([]) is None


# --- notes --------------------------------------------------------------------------------------

def annotation(day: date, text: str, kpi: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(date=day, text=text, kpi=kpi)


def test_notes_are_numbered_in_date_order_with_ties_in_the_order_written():
    notes = numbered([annotation(date(2024, 5, 1), "Later"), annotation(date(2023, 4, 3), "First"), annotation(date(2024, 5, 1), "Same day")])
    assert [(n.number, n.text) for n in notes] == [(1, "First"), (2, "Later"), (3, "Same day")]


def test_a_note_in_words():
    note = Note(1, date(2023, 4, 3), "New online form launched", None)
    assert note.words() == "3 April 2023: New online form launched."
    assert Note(2, date(2023, 4, 3), "Fees changed.", "digital_take_up").words("Digital take-up") == "3 April 2023, digital take-up: Fees changed."


def test_notes_for_a_period_are_those_on_the_kpi_or_the_whole_service_within_it():
    notes = numbered([annotation(date(2023, 4, 3), "Whole service"), annotation(date(2023, 6, 1), "Take-up only", "digital_take_up"),
                      annotation(date(2023, 7, 1), "Cost only", "cost_per_transaction"), annotation(date(2025, 1, 1), "After the period")])
    shown = for_period(notes, "digital_take_up", date(2023, 1, 1), date(2024, 12, 31))
    assert [n.text for n in shown] == ["Whole service", "Take-up only"]
    assert [n.number for n in shown] == [1, 2]  # the page's numbers, not renumbered per chart
    assert for_period(notes, "digital_take_up", date(2023, 4, 3), date(2023, 4, 3))[0].text == "Whole service"  # both ends count


# --- charts -------------------------------------------------------------------------------------

POINTS = (("2023-03-31", 0.80, "Digital take-up"), ("2023-06-30", 0.84, "Digital take-up"), ("2023-09-30", 0.87, "Digital take-up"))


def test_a_chart_without_target_or_notes_keeps_its_single_layer_spec():
    spec = spec_for(ChartRequest("a/digital_take_up", "percent", POINTS, "Line chart"))
    assert "layer" not in spec and spec["mark"]["type"] == "line"
    assert spec["data"]["values"][0] == {"end": "2023-03-31", "value": 0.80, "series": "Digital take-up"}


def test_the_target_and_notes_are_layers_of_the_one_data_set():
    request = ChartRequest("a/digital_take_up", "percent", POINTS, "Line chart", target=(0.85, "Target 85%"), notes=(("2023-05-15", "1"),))
    spec = spec_for(request)
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["line", "rule", "text", "rule", "text"]
    values = spec["data"]["values"]
    assert {"kind": "target", "value": 0.85, "label": "Target 85%"} in values
    assert {"kind": "note", "end": "2023-05-15", "label": "1"} in values
    assert [row["kind"] for row in values].count("value") == 3
    filters = [layer["transform"][0]["filter"] for layer in spec["layer"]]
    assert filters == ["datum.kind === 'value'"] + ["datum.kind === 'target'"] * 2 + ["datum.kind === 'note'"] * 2


def test_target_and_note_colours_contrast_with_white():
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for colour in (charts._TARGET_COLOUR, charts._NOTE_COLOUR):
        assert 1.05 / (luminance(colour) + 0.05) >= 3, colour


def test_the_cache_key_covers_the_target_and_the_notes():
    plain = ChartRequest("a/k", "percent", POINTS, "Line chart")
    keys = {charts._cache_key(plain),
            charts._cache_key(ChartRequest("a/k", "percent", POINTS, "Line chart", target=(0.85, "Target 85%"))),
            charts._cache_key(ChartRequest("a/k", "percent", POINTS, "Line chart", target=(0.9, "Target 90%"))),
            charts._cache_key(ChartRequest("a/k", "percent", POINTS, "Line chart", notes=(("2023-05-15", "1"),))),
            charts._cache_key(ChartRequest("a/k", "percent", POINTS, "Line chart", notes=(("2023-05-16", "1"),)))}
    assert len(keys) == 5


def test_the_svg_draws_the_labelled_target_and_numbered_notes():
    request = ChartRequest("a/k", "percent", POINTS, "Line chart", target=(0.85, "Target 85%"), notes=(("2023-05-15", "1"), ("2023-08-01", "2, 3")))
    svg = charts.render_charts([request], workers=1)["a/k"]
    assert ">Target 85%</text>" in svg
    assert ">1</text>" in svg and ">2, 3</text>" in svg
    assert 'stroke-dasharray="8,4"' in svg and 'stroke-dasharray="3,3"' in svg


# --- the example site ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(published_example):
    assert published_example.exit_code == 0, published_example.stderr
    return published_example.site


def text_of(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>", "", html, flags=re.DOTALL)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" :", ":"))


def test_the_service_page_shows_targets_in_tiles_tables_and_charts(site):
    html = (site / "services/claim-carers-allowance/index.html").read_text(encoding="utf-8")
    text = text_of(html)
    # tiles (the headline figures)
    assert '<p class="app-kpi__note app-kpi__target">Target £20.00: not met, £3.41 above</p>' in html
    assert '<p class="app-kpi__note app-kpi__target">Target 80%: met, 0.7 percentage points above</p>' in html
    assert '<p class="app-kpi__note app-kpi__target">Target 90%: no figure to compare with</p>' in html
    # the comparison table: the cost figure and its target in one cell
    assert "£23.41<br><span class=\"govuk-body-s app-status--missing\">Target £20.00: not met, £3.41 above</span>" in html
    # the chart: labelled target, numbered note markers, and an accessible name saying so
    assert ">Target 80%</text>" in html
    assert 'aria-label="Line chart of digital take-up for Claim Carer&#x27;s Allowance, with a dashed line at its target of 80% and dotted lines marking notes 1 and 2"' in html
    # the same in words beside the chart, and in its table
    assert "The dashed line marks the target of 80%: 6 of 8 figures meet it." in text
    assert "Numbered dotted lines mark notes on the figures: 1, 15 May 2023, New online claim form launched; 2, 16 September 2024, Claims by phone moved to a new contact centre." in text
    assert "Against the target of 80%" in text
    assert "April to June 2023 79.9% 44,449 55,621 Not met: 0.1 percentage points below Note 1" in text


def test_the_service_page_lists_its_notes_and_marks_the_periods_they_fall_in(site):
    html = (site / "services/claim-carers-allowance/index.html").read_text(encoding="utf-8")
    assert '<h2 class="govuk-heading-l" id="notes">Notes on the figures</h2>' in html
    assert '<li id="note-1"><time datetime="2023-05-15">15 May 2023</time>: New online claim form launched (digital take-up)</li>' in html
    assert '<li id="note-2"><time datetime="2024-09-16">16 September 2024</time>: Claims by phone moved to a new contact centre (all figures)</li>' in html
    # note 2 is on the whole service: every chart covering September 2024 marks it
    assert html.count('<a class="govuk-link" href="#note-2">Note 2</a>') == 4
    # note 1 is on digital take-up only
    assert html.count('<a class="govuk-link" href="#note-1">Note 1</a>') == 1


def test_a_service_without_targets_or_notes_shows_neither(site):
    html = (site / "services/book-theory-test/index.html").read_text(encoding="utf-8")
    assert "Target" not in text_of(html) and "app-kpi__target" not in html
    assert 'id="notes"' not in html and "dashed line" not in html


def test_the_department_readiness_table_counts_targets_met(site):
    text = text_of((site / "departments/dwp/index.html").read_text(encoding="utf-8"))
    assert "Publishes all four, up to date Targets met" in text
    assert "Claim Carer's Allowance Yes No Yes Yes No: KPIs missing 1 of 4 targets met" in text
    assert "Apply for Pension Credit No No No No No: KPIs missing No targets set" in text
    # a department none of whose services sets a target has no such column
    assert "Targets met" not in text_of((site / "departments/dft/index.html").read_text(encoding="utf-8"))


def test_service_json_carries_targets_and_annotations(site):
    document = json.loads((site / "data/services/claim-carers-allowance.json").read_text(encoding="utf-8"))
    assert document["targets"] == {"completion_rate": 0.9, "cost_per_transaction": 20, "digital_take_up": 0.8, "user_satisfaction": 0.75}
    assert document["annotations"] == [
        {"date": "2023-05-15", "text": "New online claim form launched", "kpi": "digital_take_up"},
        {"date": "2024-09-16", "text": "Claims by phone moved to a new contact centre", "kpi": None},
    ]
    other = json.loads((site / "data/services/book-theory-test.json").read_text(encoding="utf-8"))
    assert (other["targets"], other["annotations"]) == ({}, [])
    assert "targets" not in json.loads((site / "data/departments/dwp.json").read_text(encoding="utf-8"))
