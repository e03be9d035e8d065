"""Freshness: is each service's data as recent as it promised?

A service may declare ``expected_frequency`` (monthly, quarterly or yearly). Figures for a period
are due ``site.data_due_days`` after it ends; a service is **overdue** when the figures for the
period after its latest one are later than that, as at the build's reference date.

The reference date ("as at") is explicit so builds stay reproducible:

- ``perfgen build --today 2025-06-01`` (or ``PERFGEN_TODAY=2025-06-01``) checks against that date;
  the nightly workflow passes the day it runs.
- Without it, perfgen checks against the end of the latest period any service reports, so a desk
  build of old data (such as the bundled 2012-2017 export) flags only services behind the rest of
  the site, and the same inputs always give the same pages. The clock is never read.

In: the config and each service's latest reported period. Out: :class:`Overdue` findings, which
the KPI stage turns into ``overdue`` warnings (data-quality report, ``--strict``) and the render
stage into markers on service and department pages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from perfgen.config import Config, Service
from perfgen.periods import add_months, period_words

FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
FREQUENCY_WORDS = {"monthly": "every month", "quarterly": "every quarter", "yearly": "every year"}
TODAY_VARIABLE = "PERFGEN_TODAY"


class TodayError(ValueError):
    def __init__(self, source: str, message: str):
        super().__init__(f"{source}: {message}")
        self.source, self.message = source, message


def parse_today(text: str, source: str = "--today") -> date:
    """A reference date written as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise TodayError(source, f"'{text}' is not a date; write it as YYYY-MM-DD, for example 2025-06-01") from None


def today_from_environment() -> date | None:
    """The reference date from ``PERFGEN_TODAY``, if set."""
    text = os.environ.get(TODAY_VARIABLE, "").strip()
    return parse_today(text, TODAY_VARIABLE) if text else None


def _shift_months(day: date, months: int) -> date:
    """The end of the period ``months`` long that starts the day after ``day``."""
    start = day + timedelta(days=1)
    if start.day == 1:
        return add_months(start, months) - timedelta(days=1)
    # A period that does not start on the 1st (an explicit date range): same day, months later.
    first = add_months(start, months)
    last_day = (add_months(first, 1) - timedelta(days=1)).day
    return first.replace(day=min(start.day, last_day)) - timedelta(days=1)


@dataclass(frozen=True)
class Freshness:
    """What a service promised and when its next figures are due."""

    service: str
    frequency: str
    latest_start: date
    latest_end: date
    next_start: date
    next_end: date
    due: date
    as_of: date

    @property
    def overdue(self) -> bool:
        return self.as_of > self.due

    @property
    def days_late(self) -> int:
        return max(0, (self.as_of - self.due).days)

    def expected_words(self) -> str:
        return f"New figures are expected {FREQUENCY_WORDS[self.frequency]}"

    def detail(self) -> str:
        """One sentence for the data-quality report and the build output."""
        return (f"figures are expected {FREQUENCY_WORDS[self.frequency]}; the latest are for "
                f"{period_words(self.latest_start, self.latest_end)}, and those for "
                f"{period_words(self.next_start, self.next_end)} were due by {long_date(self.due)}")


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def service_freshness(service: Service, latest: tuple[date, date] | None, as_of: date, due_days: int) -> Freshness | None:
    """Freshness of one service, or None when it declares no frequency or has no figures."""
    if service.expected_frequency is None or latest is None:
        return None
    start, end = latest
    months = FREQUENCY_MONTHS[service.expected_frequency]
    next_end = _shift_months(end, months)
    return Freshness(service.slug, service.expected_frequency, start, end, end + timedelta(days=1), next_end,
                     next_end + timedelta(days=due_days), as_of)


def check_freshness(config: Config, latest: dict[str, tuple[date, date]], as_of: date) -> list[Freshness]:
    """Freshness of every service that declares a frequency and has figures, in config order."""
    found = []
    for service in config.services:
        freshness = service_freshness(service, latest.get(service.slug), as_of, config.site.data_due_days)
        if freshness is not None:
            found.append(freshness)
    return found


#: Each service's latest period with a figure: the latest end and, of periods ending then, the
#: shortest (December 2024 rather than the 12 months to December 2024). The greatest (end, start)
#: pair, a struct compared field by field: a hash aggregate, where a window numbering each
#: service's rows sorted every figure (2.0 s at 10,000 services, 0.5 s now).
LATEST_SQL = """
    SELECT service, latest.start AS period_start, latest."end" AS period_end FROM (
        SELECT service, max({'end': period_end, 'start': period_start}) AS latest
        FROM clean_observations WHERE status = 'value' GROUP BY service
    ) ORDER BY service
"""


# --- page context (render stage) ------------------------------------------------------------

def as_of_words(as_of: date | None, given: bool) -> str:
    if as_of is None:
        return ""
    if given:
        return f"as at {long_date(as_of)}"
    return f"as at {long_date(as_of)}, the end of the latest figures on this site"


def service_context(results: Any, slug: str) -> dict[str, Any] | None:
    """What a service page says about its freshness; None if it declares no frequency."""
    found = results.freshness_of(slug)
    if found is None:
        return None
    return {"overdue": found.overdue, "expected": found.expected_words(),
            "latest": period_words(found.latest_start, found.latest_end),
            "next": period_words(found.next_start, found.next_end), "due": long_date(found.due),
            "as_of": as_of_words(results.as_of, results.as_of_given)}


def department_context(results: Any, services: list[Any], page_path: str) -> dict[str, Any] | None:
    """The overdue services of a department (``services``, in config order), for its page; None
    when none is overdue. Each service's freshness is looked up (``KpiResults.freshness_of``):
    scanning every service's for each department grew with departments times services."""
    from markupsafe import Markup

    from perfgen.render import href

    late = [(service, found) for service in services if (found := results.freshness_of(service.slug)) is not None and found.overdue]
    if not late:
        return None
    items = [{"html": Markup('<a class="govuk-link" href="{}">{}</a>: the latest figures are for {}; those for {} were due by {}').format(
        href(page_path, f"services/{f.service}/"), service.name, period_words(f.latest_start, f.latest_end),
        period_words(f.next_start, f.next_end), long_date(f.due))} for service, f in late]
    return {"items": items, "count": len(late), "as_of": as_of_words(results.as_of, results.as_of_given)}
