"""Period labels in data files, their dates, and how periods are put in words."""

from __future__ import annotations

from datetime import date

import pytest

from perfgen.periods import (
    FINANCIAL_YEAR,
    MONTH,
    QUARTER,
    RANGE,
    Period,
    PeriodError,
    add_months,
    months_spanned,
    parse_period,
    period_words,
    twelve_months_ending,
    year_earlier,
)


@pytest.mark.parametrize(
    ("label", "period"),
    [
        ("2024-05", Period(date(2024, 5, 1), date(2024, 5, 31), MONTH)),
        ("2024-02", Period(date(2024, 2, 1), date(2024, 2, 29), MONTH)),
        ("2023-02", Period(date(2023, 2, 1), date(2023, 2, 28), MONTH)),
        ("2024-12", Period(date(2024, 12, 1), date(2024, 12, 31), MONTH)),
        (" 2024-05 ", Period(date(2024, 5, 1), date(2024, 5, 31), MONTH)),
        ("2024-Q1", Period(date(2024, 1, 1), date(2024, 3, 31), QUARTER)),
        ("2024-Q2", Period(date(2024, 4, 1), date(2024, 6, 30), QUARTER)),
        ("2024-Q3", Period(date(2024, 7, 1), date(2024, 9, 30), QUARTER)),
        ("2024-Q4", Period(date(2024, 10, 1), date(2024, 12, 31), QUARTER)),
        ("2024-25", Period(date(2024, 4, 1), date(2025, 3, 31), FINANCIAL_YEAR)),
        ("2012-13", Period(date(2012, 4, 1), date(2013, 3, 31), FINANCIAL_YEAR)),
        ("1999-00", Period(date(1999, 4, 1), date(2000, 3, 31), FINANCIAL_YEAR)),
        ("2024-04-01/2025-03-31", Period(date(2024, 4, 1), date(2025, 3, 31), RANGE)),
        ("2024-05-03/2024-06-02", Period(date(2024, 5, 3), date(2024, 6, 2), RANGE)),
        ("2024-02-29/2024-02-29", Period(date(2024, 2, 29), date(2024, 2, 29), RANGE)),
    ],
)
def test_parse_period(label, period):
    assert parse_period(label) == period


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("2024-13", "'2024-13' is neither a month (01 to 12) nor a financial year (it would be 2024-25)"),
        ("2024-00", "'2024-00' is neither a month (01 to 12) nor a financial year (it would be 2024-25)"),
        ("2024-26", "'2024-26' is neither a month (01 to 12) nor a financial year (it would be 2024-25)"),
        ("2024-Q5", "'2024-Q5' has no quarter 5: quarters are Q1 to Q4"),
        ("2024-Q0", "'2024-Q0' has no quarter 0: quarters are Q1 to Q4"),
        ("2024-05-01/2024-04-01", "'2024-05-01/2024-04-01' ends before it starts"),
        ("2024-02-30/2024-03-01", "'2024-02-30/2024-03-01' has an impossible date: 2024-02-30 does not exist"),
        ("2023-01-01/2023-02-29", "'2023-01-01/2023-02-29' has an impossible date: 2023-02-29 does not exist"),
        ("2024-13-01/2024-12-31", "'2024-13-01/2024-12-31' has an impossible date: 2024-13-01 does not exist"),
        ("0000-05", "'0000-05' has an impossible year: 0000"),
        ("0024-Q1", "'0024-Q1' has an impossible year: 0024"),
        ("9999-00", "'9999-00' has an impossible year: 9999"),
        ("0000-01-01/2024-01-31", "'0000-01-01/2024-01-31' has an impossible year: 0000"),
        ("May 2024", "'May 2024' is not a period: use 2024-05 (month), 2024-Q2 (quarter), 2024-25 (financial year) or 2024-04-01/2025-03-31"),
        ("2024-5", "'2024-5' is not a period: use 2024-05 (month), 2024-Q2 (quarter), 2024-25 (financial year) or 2024-04-01/2025-03-31"),
        ("2024-q2", "'2024-q2' is not a period: use 2024-05 (month), 2024-Q2 (quarter), 2024-25 (financial year) or 2024-04-01/2025-03-31"),
        ("2024/25", "'2024/25' is not a period: use 2024-05 (month), 2024-Q2 (quarter), 2024-25 (financial year) or 2024-04-01/2025-03-31"),
        ("2024-04-01 to 2025-03-31", "'2024-04-01 to 2025-03-31' is not a period: use 2024-05 (month), 2024-Q2 (quarter), 2024-25 (financial year) or 2024-04-01/2025-03-31"),
        ("", "'' is not a period: use 2024-05 (month), 2024-Q2 (quarter), 2024-25 (financial year) or 2024-04-01/2025-03-31"),
    ],
)
def test_parse_period_errors(label, message):
    with pytest.raises(PeriodError) as caught:
        parse_period(label)
    assert str(caught.value) == message


def test_months_before_2013_read_as_months_not_financial_years():
    # 2009-10, 2010-11 and 2011-12 are months; only a second part above 12 is a financial year.
    assert parse_period("2011-12") == Period(date(2011, 12, 1), date(2011, 12, 31), MONTH)
    assert parse_period("2012-13").kind == FINANCIAL_YEAR


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (date(2024, 5, 1), date(2024, 5, 31), "May 2024"),
        (date(2024, 7, 1), date(2024, 9, 30), "July to September 2024"),
        (date(2024, 4, 1), date(2025, 3, 31), "April 2024 to March 2025"),
        (date(2023, 12, 1), date(2024, 2, 29), "December 2023 to February 2024"),
        (date(2024, 1, 1), date(2024, 12, 31), "January to December 2024"),
        (date(2024, 5, 3), date(2024, 6, 2), "3 May 2024 to 2 June 2024"),
        (date(2024, 5, 1), date(2024, 5, 15), "1 May 2024 to 15 May 2024"),
        (date(2024, 2, 29), date(2024, 2, 29), "29 February 2024"),
    ],
)
def test_period_words(start, end, words):
    assert period_words(start, end) == words


@pytest.mark.parametrize(
    ("label", "words", "months"),
    [
        ("2024-05", "May 2024", 1),
        ("2024-Q3", "July to September 2024", 3),
        ("2024-25", "April 2024 to March 2025", 12),
        ("2024-05-03/2024-06-02", "3 May 2024 to 2 June 2024", None),
        ("2024-04-01/2024-06-30", "April to June 2024", 3),
    ],
)
def test_parsed_period_words_and_months(label, words, months):
    period = parse_period(label)
    assert period.words == words
    assert period.months == months


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2024, 1, 1), date(2024, 1, 31), 1),
        (date(2024, 2, 1), date(2024, 2, 29), 1),
        (date(2024, 1, 1), date(2024, 3, 31), 3),
        (date(2024, 4, 1), date(2025, 3, 31), 12),
        (date(2023, 1, 1), date(2024, 12, 31), 24),
        (date(2024, 2, 1), date(2024, 2, 28), None),  # 2024 is a leap year
        (date(2024, 1, 2), date(2024, 1, 31), None),
        (date(2024, 1, 1), date(2024, 1, 30), None),
        (date(2024, 5, 3), date(2024, 6, 2), None),
    ],
)
def test_months_spanned(start, end, months):
    assert months_spanned(start, end) == months


@pytest.mark.parametrize(
    ("start", "end", "earlier"),
    [
        (date(2024, 5, 1), date(2024, 5, 31), (date(2023, 5, 1), date(2023, 5, 31))),
        (date(2024, 2, 1), date(2024, 2, 29), (date(2023, 2, 1), date(2023, 2, 28))),
        (date(2025, 2, 1), date(2025, 2, 28), (date(2024, 2, 1), date(2024, 2, 29))),
        (date(2024, 1, 1), date(2024, 3, 31), (date(2023, 1, 1), date(2023, 3, 31))),
        (date(2024, 4, 1), date(2025, 3, 31), (date(2023, 4, 1), date(2024, 3, 31))),
        (date(2024, 12, 1), date(2025, 2, 28), (date(2023, 12, 1), date(2024, 2, 29))),
        # Not month-aligned: the same dates a year earlier, even across 29 February.
        (date(2024, 5, 3), date(2024, 6, 2), (date(2023, 5, 3), date(2023, 6, 2))),
        (date(2024, 3, 1), date(2024, 3, 15), (date(2023, 3, 1), date(2023, 3, 15))),
        (date(2025, 2, 10), date(2025, 3, 9), (date(2024, 2, 10), date(2024, 3, 9))),
        (date(2024, 2, 29), date(2024, 2, 29), (date(2023, 2, 28), date(2023, 2, 28))),
    ],
)
def test_year_earlier(start, end, earlier):
    assert year_earlier(start, end) == earlier


def test_add_months_and_twelve_months_ending():
    assert add_months(date(2024, 5, 17), 0) == date(2024, 5, 1)
    assert add_months(date(2024, 1, 31), -1) == date(2023, 12, 1)
    assert add_months(date(2024, 11, 30), 14) == date(2026, 1, 1)
    assert twelve_months_ending(date(2025, 3, 10)) == (date(2024, 4, 1), date(2025, 3, 31))
    assert twelve_months_ending(date(2024, 12, 31)) == (date(2024, 1, 1), date(2024, 12, 31))
