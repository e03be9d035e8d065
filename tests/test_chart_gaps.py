"""A chart's series with periods missing between its figures: the line breaks there (it never
joins two figures across periods that have none), the table beside the chart has a row for each
gap saying why, and the chart's summary names the gaps."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from perfgen import charts, render
from test_latest import build_model, edit, service, words

EXAMPLE = Path(__file__).parent / "fixtures" / "example"


@pytest.fixture(scope="module")
def example():
    return build_model(EXAMPLE)


def figure(model, slug: str, kpi: str) -> tuple[list[dict], list[render.Gap], dict]:
    """A service's chart series, its gaps and the table beside the chart."""
    config, site = model
    chosen = service(config, slug)
    series = render.series_for(site, chosen.slug, chosen.department, kpi, "")
    gaps = render.series_gaps([row["period_start"] for row in series], [row["period_end"] for row in series])
    return series, gaps, render._history_table(site, chosen, kpi, series, [], gaps)


def test_gaps_are_the_periods_between_figures_that_do_not_meet():
    starts = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 4, 1), date(2024, 10, 1), date(2024, 11, 1)]
    ends = [date(2024, 1, 31), date(2024, 2, 29), date(2024, 6, 30), date(2024, 10, 31), date(2024, 11, 30)]
    gaps = render.series_gaps(starts, ends)
    assert gaps == [render.Gap(1, date(2024, 3, 1), date(2024, 3, 31)), render.Gap(2, date(2024, 7, 1), date(2024, 9, 30))]
    assert [gap.words for gap in gaps] == ["March 2024", "July to September 2024"]
    assert render.series_gaps(starts[:2], ends[:2]) == []


def test_a_missing_month_breaks_the_line_and_is_a_row_of_the_table(example):
    """Apply for a passport's March 2024 completion rate is unusable (more completed than
    started): the chart has no figure there, and its line does not join February to April."""
    site = example[1]
    series, gaps, table = figure(example, "apply-passport", "completion_rate")
    assert [gap.words for gap in gaps] == ["March 2024"]
    request = next(r for r in render.chart_requests(site) if r.key == "apply-passport/completion_rate")
    assert len(request.points) == len(series) + 1
    at = [end for end, value, _ in request.points].index("2024-03-31")
    assert request.points[at][1] is None
    assert [end for end, _, _ in request.points[at - 1:at + 2:2]] == ["2024-02-29", "2024-04-30"]
    rows = {row[0]: [words(cell) for cell in row[1:]] for row in table["rows"]}
    assert list(rows).index("March 2024") == list(rows).index("February 2024") + 1
    assert rows["March 2024"] == ["Not provided"] * 3  # the rate, its completions and its starts
    assert render._gaps_summary(gaps) == " There is no figure for March 2024, where the line breaks."


def test_a_gap_of_figures_that_do_not_apply_says_so(tmp_path):
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root)
    edit(root / "data" / "dvsa-theory-test.csv", drop_prefixes=("book-theory-test,2024-Q2,,cost_per_transaction,",))
    (root / "data" / "not-applicable.csv").write_text(
        "service,period,channel,metric,value,status\nbook-theory-test,2024-Q2,,cost_per_transaction,,not_applicable\n", encoding="utf-8")
    _, gaps, table = figure(build_model(root), "book-theory-test", "cost_per_transaction")
    assert [gap.words for gap in gaps] == ["April to June 2024"]
    assert {row[0]: words(row[1]) for row in table["rows"]}["April to June 2024"] == "Not applicable"


def test_many_gaps_are_counted_in_the_summary_and_listed_in_the_table():
    gaps = [render.Gap(index, date(2020 + index, 1, 1), date(2020 + index, 1, 31)) for index in range(4)]
    assert render._gaps_summary(gaps) == " The line breaks at 4 gaps, periods with no figure, listed in the table."
    assert render._gaps_summary(gaps[:2]) == " There is no figure for January 2020 and January 2021, where the line breaks."
    assert render._gaps_summary([]) == ""


def _monthly(missing: set[int], months: int = 60) -> charts.ChartRequest:
    points = tuple((f"{2020 + month // 12}-{month % 12 + 1:02d}-28", None if month in missing else 100.0 + month % 7, "Transactions")
                   for month in range(months))
    return charts.ChartRequest("gapped", "count", points, "Line chart")


def test_the_drawn_line_breaks_at_each_gap():
    """Vega-Lite breaks a line at a point without a value: one path, moved to anew after each gap."""
    drawn = charts._draw(_monthly({20, 21, 22}))
    assert _line(drawn).count("M") == 2
    assert _line(charts._draw(_monthly(set()))).count("M") == 1


def _line(svg: str) -> str:
    """The drawing of a chart's line: its longest path."""
    return max(re.findall(r'<path [^>]*d="(M[^"]*)"', svg), key=len)


def test_a_figure_alone_between_gaps_gets_a_dot_of_its_own():
    """A long series is drawn as a line alone, but a figure with no figure on either side would
    be a line of no length, not drawn: it gets a dot (the other figures none, which would make
    the page heavy)."""
    dots_and_lone = [charts._shape_of(_monthly(missing))[-2:] for missing in (set(), {20, 21, 22}, {39, 41}, {1}, {58})]
    assert dots_and_lone == [(False, False), (False, False), (False, True), (False, True), (False, True)]
    assert charts._shape_of(_monthly({3}, months=12))[-2:] == (True, False)  # few figures: a dot each, as before
    lone = _monthly({39, 41})
    assert [index for index, alone in enumerate(charts._alone(lone.points)) if alone] == [40]
    assert len(re.findall(r'd="M2\.739,0A', charts._draw(lone))) == 1  # one dot, at month 40
    assert len(re.findall(r'd="M2\.739,0A', charts._draw(_monthly({3}, months=12)))) == 11



def test_a_quarter_some_parts_did_not_report_is_a_gap_of_the_roll_up(tmp_path):
    """A service made of parts is charted over its most parts: a quarter one part did not report
    is a gap of the chart, which says so, rather than a fall in the line."""
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root)
    edit(root / "data" / "dwp-carers-allowance.csv", drop_prefixes=("carers-allowance-change,2024-Q3,",))
    _, gaps, table = figure(build_model(root), "claim-carers-allowance", "transactions")
    assert [gap.words for gap in gaps] == ["July to September 2024"]
    assert {row[0]: words(row[1]) for row in table["rows"]}["July to September 2024"] == "Not every part reported"
