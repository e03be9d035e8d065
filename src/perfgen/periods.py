"""Periods: parse the labels data files use and describe periods in words.

Accepted labels: ``2024-05`` (month), ``2024-Q2`` (calendar quarter), ``2024-25`` (UK financial
year, April to March) and ``2024-04-01/2025-03-31`` (explicit inclusive range). Published
periods are always described in words: "May 2024", "July to September 2024",
"April 2024 to March 2025".
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

MONTH = "month"
QUARTER = "quarter"
FINANCIAL_YEAR = "financial_year"
RANGE = "range"


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # inclusive
    kind: str

    @property
    def months(self) -> int | None:
        """Whole calendar months covered, or None when the period is not month-aligned."""
        return months_spanned(self.start, self.end)

    @property
    def words(self) -> str:
        return period_words(self.start, self.end)


class PeriodError(ValueError):
    pass


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: date, months: int) -> date:
    """First day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@lru_cache(maxsize=65536)  # called for every KPI row; few distinct periods
def months_spanned(start: date, end: date) -> int | None:
    if start.day != 1 or end != _month_end(end.year, end.month):
        return None
    return (end.year - start.year) * 12 + end.month - start.month + 1


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q(\d)$")
_FINANCIAL_YEAR = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{4}-\d{2}-\d{2})$")
FORMATS_HINT = "use 2024-05 (month), 2024-Q2 (quarter), 2024-25 (financial year) or 2024-04-01/2025-03-31"


def _year(label: str, text: str) -> int:
    year = int(text)
    # Four-digit years that ``date`` can hold a year either side of (financial years, comparisons).
    if not 1000 <= year < 9999:
        raise PeriodError(f"'{label}' has an impossible year: {text}")
    return year


def _date(label: str, text: str) -> date:
    _year(label, text[:4])
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"'{label}' has an impossible date: {text} does not exist") from None


def parse_period(text: str) -> Period:
    """Parse a period label; raise :class:`PeriodError` with a plain-English reason."""
    text = text.strip()
    if match := _QUARTER.match(text):
        year, quarter = _year(text, match[1]), int(match[2])
        if not 1 <= quarter <= 4:
            raise PeriodError(f"'{text}' has no quarter {quarter}: quarters are Q1 to Q4")
        start = date(year, 3 * quarter - 2, 1)
        return Period(start, _month_end(year, 3 * quarter), QUARTER)
    if match := _MONTH.match(text):
        year, second = _year(text, match[1]), int(match[2])
        if 1 <= second <= 12:
            return Period(date(year, second, 1), _month_end(year, second), MONTH)
        # 2024-25 style: a financial year whose second year is the next one.
        if second == (year + 1) % 100:
            return Period(date(year, 4, 1), date(year + 1, 3, 31), FINANCIAL_YEAR)
        raise PeriodError(f"'{text}' is neither a month (01 to 12) nor a financial year (it would be {year}-{(year + 1) % 100:02d})")
    if match := _RANGE.match(text):
        start, end = _date(text, match[1]), _date(text, match[2])
        if end < start:
            raise PeriodError(f"'{text}' ends before it starts")
        return Period(start, end, RANGE)
    raise PeriodError(f"'{text}' is not a period: {FORMATS_HINT}")


def _day(day: date) -> str:
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"


@lru_cache(maxsize=65536)  # called for every KPI row; few distinct periods
def period_words(start: date, end: date) -> str:
    """"May 2024", "July to September 2024", "April 2024 to March 2025", or dates in full."""
    if months_spanned(start, end) is not None:
        first, last = calendar.month_name[start.month], calendar.month_name[end.month]
        if (start.year, start.month) == (end.year, end.month):
            return f"{first} {start.year}"
        if start.year == end.year:
            return f"{first} to {last} {end.year}"
        return f"{first} {start.year} to {last} {end.year}"
    if start == end:
        return _day(start)
    return f"{_day(start)} to {_day(end)}"


def twelve_months_ending(end: date) -> tuple[date, date]:
    """The 12 whole months ending with ``end``'s month."""
    return add_months(end, -11), _month_end(end.year, end.month)


def year_earlier(start: date, end: date) -> tuple[date, date]:
    """The same period one year earlier (month-aligned periods keep their month ends)."""
    if months_spanned(start, end) is not None:
        new_end = add_months(end, -12)
        return add_months(start, -12), _month_end(new_end.year, new_end.month)
    return _a_year_before(start), _a_year_before(end)


def _a_year_before(day: date) -> date:
    """The same date a year earlier (28 February for 29 February); 365 days back would be a
    day out whenever a 29 February lies in between."""
    if (day.month, day.day) == (2, 29):
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)
