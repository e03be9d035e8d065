"""The "Latest month" / "Latest quarter" table of service and department pages, on the example
fixture and on copies of it with gaps, checked against figures worked out here from the raw CSV."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from perfgen.errors import Warnings
from perfgen.latest import department_table, service_table
from perfgen.pipeline import Project, check
from perfgen.render import METHOD_WORDS, SiteModel

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
MINUS, DASH = "\u2212", "\u2013"


def build_model(root: Path):
    config, loaded, results = check(Project(config=root / "config/services.yml", data=root / "data", root=root), Warnings())
    loaded.db.close()
    return config, SiteModel(config, results)


@pytest.fixture(scope="module")
def example():
    return build_model(EXAMPLE)


def edit(path: Path, replace: dict[str, str] | None = None, drop_prefixes: tuple[str, ...] = (), add: tuple[str, ...] = ()) -> None:
    """Rewrite a fixture CSV: replace whole lines, drop lines by prefix, add lines."""
    replace = replace or {}
    lines = [replace.get(line, line) for line in path.read_text(encoding="utf-8").splitlines()
             if not (drop_prefixes and line.startswith(drop_prefixes))]
    path.write_text("\n".join([*lines, *add]) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def gaps(tmp_path_factory):
    """The example with every gap the table must word: a service stopping in June 2024 (stale),
    a missing and an unusable earlier figure, a zero a year earlier, an unusable latest figure,
    a part missing from the previous quarter, a survey with few responses, a second service joining
    a department's total."""
    root = tmp_path_factory.mktemp("gaps") / "example"
    shutil.copytree(EXAMPLE, root)
    data = root / "data"
    edit(data / "dvla-renew-driving-licence.csv", drop_prefixes=tuple(f"renew-driving-licence,2024-{m:02d}," for m in range(7, 13)))
    edit(data / "hmpo-passports.csv", drop_prefixes=("apply-passport,2024-11,,rating_",),
         replace={"apply-passport,2023-12,online,started,409622": "apply-passport,2023-12,online,started,300000"})
    edit(data / "dvsa-theory-test.csv", replace={"book-theory-test,2023-Q4,,transactions,482510": "book-theory-test,2023-Q4,,transactions,0",
                                                 "book-theory-test,2024-Q4,digital,transactions,531477": "book-theory-test,2024-Q4,digital,transactions,600000"})
    edit(data / "dwp-carers-allowance.csv", drop_prefixes=("carers-allowance-change,2024-Q3,",),
         replace={"carers-allowance-claim,2024-Q4,,rating_3,46": "carers-allowance-claim,2024-Q4,,rating_3,6",
                  "carers-allowance-claim,2024-Q4,,rating_4,135": "carers-allowance-claim,2024-Q4,,rating_4,5",
                  "carers-allowance-claim,2024-Q4,,rating_5,135": "carers-allowance-claim,2024-Q4,,rating_5,5"},
         add=("apply-pension-credit,2024-Q4,,transactions,1000",))
    return build_model(root)


def words(cell: Any) -> str:
    """What a reader sees in a cell, tags removed."""
    text = str(cell.get("html", cell.get("text"))) if isinstance(cell, dict) else str(cell)
    return " ".join(html.unescape(re.sub(r"<br>", " / ", re.sub(r"<(?!br>)[^>]+>", "", text))).split())


def rows(table: dict[str, Any]) -> dict[str, list[str]]:
    return {row[0]: [words(cell) for cell in row[1:]] for row in table["table"]["rows"]}


def css(table: dict[str, Any], label: str, column: int) -> str:
    row = next(r for r in table["table"]["rows"] if r[0] == label)
    return re.search(r'class="([^"]+)"', str(row[column]["html"]))[1]


def service(config, slug: str):
    return next(s for s in config.services if s.slug == slug)


# --- the example as it is ---------------------------------------------------------------------


def test_monthly_service_rise_fall_and_no_change(example):
    config, model = example
    table = service_table(model, service(config, "renew-driving-licence"), METHOD_WORDS)
    assert table["heading"] == "Latest month"
    assert table["table"]["caption"] == "Renew a driving licence: latest month, December 2024"
    assert table["table"]["headers"] == ["Figure", "December 2024", "Change on November 2024", "Change on December 2023"]
    assert table["stale"] is None and table["not_reported"] == ""
    got = rows(table)
    # Transactions, all channels: December 2024 231,250; November 2024 217,524; December 2023 231,250.
    assert 201_650 + 11_562 + 18_038 == 231_250 == 190_550 + 11_562 + 29_138
    assert round((231_250 / (188_811 + 10_876 + 17_837) - 1) * 100, 1) == 6.3
    assert got["Transactions"] == ["231,250", "+6.3%", "No change"]
    assert css(table, "Transactions", 2) == css(table, "Transactions", 3) == "app-change--neutral"  # volume: neither better nor worse
    # Cost per transaction: total cost / transactions; a fall is better.
    december, november = (215_533.37 + 106_967.96 + 242_438.15) / 231_250, (201_887.71 + 107_660.6 + 258_564.48) / 217_524
    a_year_before = (203_246.63 + 112_893.91 + 426_212.48) / 231_250
    assert (round(december, 2), round((december / november - 1) * 100, 1), round((december / a_year_before - 1) * 100, 1)) == (2.44, -6.5, -23.9)
    assert got["Cost per transaction"] == ["£2.44", f"{MINUS}6.5% {DASH} better", f"{MINUS}23.9% {DASH} better"]
    assert css(table, "Cost per transaction", 2) == "app-change--good"
    # Completion rate, in percentage points: 201,650 / 224,719 against 188,811 / 213,531 and 190,550 / 212,207.
    assert round((201_650 / 224_719 - 188_811 / 213_531) * 100, 1) == 1.3
    assert round((201_650 / 224_719 - 190_550 / 212_207) * 100, 1) == -0.1
    assert got["Completion rate"] == ["89.7%", f"+1.3 percentage points {DASH} better", f"{MINUS}0.1 percentage points {DASH} worse"]
    assert css(table, "Completion rate", 3) == "app-change--bad"
    # User satisfaction, mean score: (4,169 / 993 - 1) / 4 = 80.0% against (5,770 / 1,374 - 1) / 4: a fall below 0.1 points.
    assert 40 * 1 + 50 * 2 + 79 * 3 + 328 * 4 + 496 * 5 == 4_169 and 40 + 50 + 79 + 328 + 496 == 993
    assert 0 < ((5_770 / 1_374 - 1) / 4 - (4_169 / 993 - 1) / 4) * 100 < 0.05
    assert got["User satisfaction, mean score method"] == ["80.0% / 993 responses", f"Down by less than 0.1 percentage points {DASH} worse",
                                                          f"Down by less than 0.1 percentage points {DASH} worse"]


def test_quarterly_service_and_kpis_it_does_not_report(example):
    config, model = example
    table = service_table(model, service(config, "book-theory-test"), METHOD_WORDS)
    assert table["heading"] == "Latest quarter"
    assert table["table"]["headers"] == ["Figure", "October to December 2024", "Change on July to September 2024", "Change on October to December 2023"]
    got = rows(table)
    # Cost per transaction as supplied: £2.78 against £2.70 and £2.40; a rise is worse.
    assert (round((2.78 / 2.7 - 1) * 100, 1), round((2.78 / 2.4 - 1) * 100, 1)) == (3.0, 15.8)
    assert got["Cost per transaction"] == ["£2.78", f"+3.0% {DASH} worse", f"+15.8% {DASH} worse"]
    assert css(table, "Cost per transaction", 2) == "app-change--bad"
    # Digital take-up: 531,477 / 548,256 against 463,226 / 484,293 and 458,811 / 482,510.
    assert (round((531_477 / 548_256 - 463_226 / 484_293) * 100, 1), round((531_477 / 548_256 - 458_811 / 482_510) * 100, 1)) == (1.3, 1.9)
    assert got["Digital take-up"] == ["96.9%", f"+1.3 percentage points {DASH} better", f"+1.9 percentage points {DASH} better"]
    assert got["Transactions"] == ["548,256", "+13.2%", "+13.6%"]
    # Total cost derived from the supplied cost per transaction: 2.78 x 548,256 = £1.52m.
    assert got["Total cost"][0] == "£1.52m / Derived from the supplied cost per transaction"
    # No started or completed counts and no survey: no rows, said below the table.
    assert list(got) == ["Cost per transaction", "Digital take-up", "Transactions", "Total cost"]
    assert table["not_reported"] == "completion rate, user satisfaction"


def test_service_in_parts_uses_its_roll_up(example):
    config, model = example
    table = service_table(model, service(config, "claim-carers-allowance"), METHOD_WORDS)
    got = rows(table)
    # Both parts' transactions: 36,315 + 1,455 + 5,461 + 400 and 9,079 + 1,455 + 4,468 + 932.
    assert (36_315 + 1_455 + 5_461 + 400) + (9_079 + 1_455 + 4_468 + 932) == 59_565
    assert round((59_565 / ((35_345 + 1_326 + 5_331 + 344) + (8_836 + 1_327 + 4_361 + 804)) - 1) * 100, 1) == 3.3
    assert got["Transactions"][:2] == ["59,565", "+3.3%"]
    # Only the claim has a survey: its figure says it covers 1 of the 2 parts (top-two box: 270 / 386).
    assert 135 + 135 == 270 and 31 + 39 + 46 + 135 + 135 == 386
    assert got["User satisfaction, top-two-box method (satisfied or very satisfied)"][0] == "69.9% / 1 of 2 parts; 386 responses"


def test_twelve_month_only_and_no_data_services_get_no_table(example):
    config, model = example
    assert service_table(model, service(config, "report-lost-passport"), METHOD_WORDS) is None  # financial years only
    assert service_table(model, service(config, "apply-pension-credit"), METHOD_WORDS) is None  # no figures at all


def test_department_totals_say_their_coverage(example):
    config, model = example
    dft = next(d for d in config.departments if d.slug == "dft")
    table = department_table(model, dft, METHOD_WORDS)
    # Months and quarters each cover 1 of the 2 services: months first.
    assert table["table"]["caption"] == "Department for Transport: latest month, December 2024"
    assert rows(table)["Transactions"] == ["231,250 / 1 of 2 services", "+6.3%", "No change"]
    assert table["totals"] is True


# --- every gap, in words ----------------------------------------------------------------------


def test_stale_series_says_it_is_out_of_date(gaps):
    config, model = gaps
    table = service_table(model, service(config, "renew-driving-licence"), METHOD_WORDS)
    assert table["table"]["caption"] == "Renew a driving licence: latest month, June 2024 (out of date)"
    assert (table["stale"], table["site_latest"]) == ("June 2024", "December 2024")
    assert table["table"]["headers"][2:] == ["Change on May 2024", "Change on June 2023"]


def test_missing_and_unusable_earlier_figures_are_not_compared(gaps):
    config, model = gaps
    got = rows(service_table(model, service(config, "apply-passport"), METHOD_WORDS))
    # No survey counts for November 2024.
    assert got["User satisfaction, mean score method"][1] == "No figure for November 2024"
    # December 2023: more completed (315,231) than started (300,000): never compared.
    assert got["Completion rate"][2] == "Not compared: the figure for December 2023 is not usable"
    assert got["Completion rate"][1] == f"{MINUS}4.5 percentage points {DASH} worse"  # the month before still is


def test_zero_a_year_earlier_and_an_unusable_latest_figure(gaps):
    config, model = gaps
    got = rows(service_table(model, service(config, "book-theory-test"), METHOD_WORDS))
    # October to December 2023: zero transactions. No relative change from zero; its cost per
    # transaction (a cost for no transactions) is unusable.
    assert got["Transactions"] == ["548,256", "+13.2%", "Not compared: the figure for October to December 2023 was 0"]
    assert got["Cost per transaction"][2] == "Not compared: the figure for October to December 2023 is not usable"
    # October to December 2024: 600,000 digital of 548,256 in all is unusable. The latest usable
    # figure, 463,226 / 484,293 for July to September 2024, is shown with its period, not compared.
    assert round(463_226 / 484_293 * 100, 1) == 95.6
    assert got["Digital take-up"] == ["Not provided / Latest: 95.6% for July to September 2024 (out of date)",
                                      "Not compared: no figure for October to December 2024",
                                      "Not compared: no figure for October to December 2024"]


def test_totals_over_different_parts_or_services_are_not_compared(gaps):
    config, model = gaps
    got = rows(service_table(model, service(config, "claim-carers-allowance"), METHOD_WORDS))
    assert got["Transactions"][1] == "Not compared: 1 part reported for July to September 2024, 2 now"
    assert got["Transactions"][2] == "+4.2%"  # both parts a year earlier
    # The claim's survey, October to December 2024: 31 + 39 + 6 + 5 + 5 = 86 responses, 10 satisfied.
    assert round(10 / 86 * 100, 1) == 11.6
    assert got["User satisfaction, top-two-box method (satisfied or very satisfied)"][0] == (
        "11.6% / 1 of 2 parts; 86 responses; low confidence: fewer than 100 responses")
    dwp = next(d for d in config.departments if d.slug == "dwp")
    totals = rows(department_table(model, dwp, METHOD_WORDS))
    assert totals["Transactions"][:2] == ["60,565 / 2 of 2 services", "Not compared: 1 service reported for July to September 2024, 2 now"]
    # The one new service's own table: nothing before to compare with.
    assert rows(service_table(model, service(config, "apply-pension-credit"), METHOD_WORDS)) == {
        "Transactions": ["1,000", "No figure for July to September 2024", "No figure for October to December 2023"]}


def test_series_positions_grouped_with_numpy_are_the_rows_of_each_series(example):
    """``SiteModel`` splits the period rows into series with numpy (``_grouped``): each series'
    positions must be its rows in frame order, the series in the order of their first row, as a
    row-by-row grouping gives; text columns and missing values group as categories do."""
    import numpy as np
    import pandas as pd

    from perfgen.render import _column_array

    _, model = example
    values = model.results.values
    expected: dict[tuple, list[int]] = {}
    for position in model.period_rows.tolist():
        row = values.iloc[position]
        expected.setdefault((row["service"], row["department"], row["kpi"], row["method"]), []).append(position)
    assert [(key, rows.tolist()) for key, rows in model._positions.items()] == list(expected.items())

    frame = pd.DataFrame({"name": ["b", "a", None, "b", "a", None], "kind": pd.Categorical(["x", "x", "y", "x", None, "y"])})
    plain = SiteModel.__new__(SiteModel)
    plain._array_of = {column: _column_array(frame[column]) for column in frame.columns}
    plain._array_of["name"] = (frame["name"].to_numpy(dtype=object), None)  # text kept as objects
    grouped = plain._grouped(np.arange(6), ("name", "kind"))
    assert [(key, rows.tolist()) for key, rows in grouped.items()][:2] == [(("b", "x"), [0, 3]), (("a", "x"), [1])]
    assert [rows.tolist() for rows in grouped.values()] == [[0, 3], [1], [2, 5], [4]]
    assert plain._grouped(np.array([], dtype=np.int64), ("name", "kind")) == {}


def test_one_row_is_the_same_dict_as_rows_at_gives(example):
    """``SiteModel.row_at`` (one row, sliced) gives exactly what ``rows_at`` gives: the same
    keys, values and Python types (floats, dates, text, missing categories, counts as objects)."""
    import numpy as np

    _, model = example
    positions = np.arange(len(model.results.values))
    for position, row in zip(positions.tolist(), model.rows_at(positions)):
        one = model.row_at(position)
        assert list(one) == list(row)
        assert all(type(one[key]) is type(row[key]) and (one[key] is row[key] or repr(one[key]) == repr(row[key])) for key in row), position


def test_channel_rows_by_position_are_the_rows_pandas_gives():
    """A service page's channel rows are picked by position from the channel frame's columns
    (``render._Columns``): the same keys, values and Python types as ``records`` of the rows
    pandas picks (``iloc``), missing values and categories included."""
    import numpy as np
    import pandas as pd

    from perfgen.config import load_config
    from perfgen.kpis import compute_kpis, records
    from perfgen.load import load_data
    from perfgen.render import _Columns

    config = load_config(EXAMPLE / "config/services.yml")
    loaded = load_data(EXAMPLE / "data", config)
    channels = compute_kpis(loaded, config, Warnings(), channels=True).channels
    loaded.db.close()
    assert len(channels) and any(isinstance(dtype, pd.CategoricalDtype) for dtype in channels.dtypes)
    table = _Columns(channels)
    for positions in channels.groupby("service", sort=False, observed=True).indices.values():
        expected, got = records(channels.iloc[positions]), table.rows_at(positions)
        assert [list(row) for row in got] == [list(row) for row in expected]
        assert all(type(row[key]) is type(want[key]) and (row[key] == want[key] or repr(row[key]) == repr(want[key]))
                   for row, want in zip(got, expected) for key in row)
    assert table.rows_at(np.array([], dtype=np.int64)) == []


def test_value_at_is_the_last_row_with_a_value_for_the_period(example):
    """``SiteModel.value_at`` against the values frame filtered here: every period of every
    series of the example (services by their own rows, departments and the site by their
    totals), and periods no row has."""
    from datetime import date

    _, model = example
    values = model.results.values
    periods = values[(values["basis"] == "period") & (values["status"] == "value")]
    checked = 0
    for (service, department, kpi, method), rows in periods.groupby(["service", "department", "kpi", "method"], observed=True, sort=False):
        for (start, end), same in rows.groupby(["period_start", "period_end"], observed=True, sort=False):
            expected = same.iloc[-1].to_dict()
            found = model.value_at(service, "" if service else department, kpi, method, start, end)
            assert found is not None and found["value"] == expected["value"] and found["numerator"] == expected["numerator"]
            assert (found["period_start"], found["period_end"], found["status"]) == (start, end, "value")
            checked += 1
        assert model.value_at(service, "" if service else department, kpi, method, date(1999, 1, 1), date(1999, 12, 31)) is None
    assert checked > 1000
    # A period whose rows have no value (not provided, invalid): no row.
    keys = ["service", "department", "kpi", "method", "period_start", "period_end"]
    valued = set(map(tuple, periods[keys].astype(object).to_numpy().tolist()))
    without = [row for row in values[(values["basis"] == "period") & (values["status"] != "value")][keys].astype(object).to_numpy().tolist()
               if tuple(row) not in valued]
    assert without
    for service, department, kpi, method, start, end in without:
        assert model.value_at(service, "" if service else department, kpi, method, start, end) is None
