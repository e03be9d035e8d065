"""Render stage: the KPIs of the latest month or quarter, against the one before and a year earlier.

In: the indexed KPI results (:class:`perfgen.render.SiteModel`: every period row of a service's
or a department's series, with its status and coverage). Out: the context of the "Latest month"
(or "Latest quarter") table of service and department pages: a row per KPI reported by month
(or quarter), the figure for the latest one, its change on the month (quarter) before and on the
same month (quarter) a year earlier; or None for a service or department with only 12-month
figures.

A change in a percentage KPI is in percentage points, in money or a count in percent
(``formatters.change``), signed with a real minus sign, and says "better" or "worse" beside its
colour. Figures are compared only when both exist and are usable, and, for a total, only when
the same number of parts (or services) contributed to both. Every other case is said in words:
no figure for the earlier period, a figure of zero then, a figure that is not usable, a latest
month older than the site's latest figures ("out of date").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from perfgen import formatters
from perfgen.cells import is_missing, value_html
from perfgen.cells import missing_cell as _missing
from perfgen.config import Service
from perfgen.periods import add_months, period_words, year_earlier

#: The rows of the table, in the order of the service page's tiles.
LATEST_KPIS = ("cost_per_transaction", "completion_rate", "user_satisfaction", "digital_take_up", "transactions", "total_cost")
#: Months in a regular period, and its name.
PERIOD_NOUNS = {1: "month", 3: "quarter"}


@dataclass(frozen=True)
class _Unit:
    """Whose series the table shows: a service (its own rows, or its parts' roll-up) or a
    department's totals (service "")."""

    service: str
    department: str
    coverage: str  # the column saying how many contributed: parts_contributing or services_contributing
    noun: str  # "part" or "service"
    methods: dict[str, str]  # KPI -> satisfaction method ("" for the others)


def _known(value: Any) -> bool:
    return not is_missing(value)


def _coverage(row: dict[str, Any], unit: _Unit) -> int | None:
    value = row.get(unit.coverage)
    return int(value) if _known(value) else None


def _plural(count: int, noun: str) -> str:
    return f"{formatters.count(count)} {noun if count == 1 else noun + 's'}"


class _Series:
    """The month and quarter rows of one KPI's series, as the columns the table chooses by (a
    row's dict is made only for the few rows it shows: a page asked for every row of nine series)."""

    def __init__(self, model: Any, unit: _Unit, kpi: str):
        positions = model.positions(unit.service, unit.department, kpi, unit.methods[kpi])
        months = model.values("months", positions)
        self.model = model
        self.positions = positions[[i for i, length in enumerate(months) if length in PERIOD_NOUNS]]
        self.months, self.status, self.value, self.start, self.end, self._coverage = (
            model.values(column, self.positions) for column in ("months", "status", "value", "period_start", "period_end", unit.coverage))

    def coverage(self, index: int) -> int | None:
        """How many parts (services) the row adds up; read for the latest period's rows only."""
        value = self._coverage[index]
        return int(value) if _known(value) else None

    def valued(self, months: int) -> list[int]:
        """The rows of periods of ``months`` with a value (status "value")."""
        return [i for i, length in enumerate(self.months) if length == months and self.status[i] == "value"]

    def at(self, months: int) -> dict[tuple[date, date], int]:
        """Each period of ``months`` to its row (the last one of a period, as in frame order)."""
        return {(self.start[i], self.end[i]): i for i, length in enumerate(self.months) if length == months}

    def row(self, index: int | None) -> dict[str, Any] | None:
        return None if index is None else self.model.row_at(int(self.positions[index]))


def _choose_period(series: dict[str, _Series]) -> tuple[int, date, date] | None:
    """The months of the regular periods the table shows and its latest one with any figure:
    the length whose latest period has the most parts (services) contributing, months before
    quarters when equal. None when nothing is reported by month or quarter."""
    best: tuple[tuple[int, int], tuple[int, date, date]] | None = None
    for months in sorted(PERIOD_NOUNS):
        valued = [(one, i) for one in series.values() for i in one.valued(months)]
        if not valued:
            continue
        start, end = max(((one.start[i], one.end[i]) for one, i in valued), key=lambda period: (period[1], period[0]))
        covered = max(one.coverage(i) or 1 for one, i in valued if (one.start[i], one.end[i]) == (start, end))
        rank = (covered, -months)
        if best is None or rank > best[0]:
            best = (rank, (months, start, end))
    return best[1] if best else None


def _change_cell(model: Any, kpi: str, unit: _Unit, current: dict[str, Any], other: dict[str, Any] | None, words: str) -> dict[str, Any]:
    """The change from ``other`` (the row for the period ``words``) to ``current``, in words."""
    definition = model.definitions[kpi]
    if other is not None and other["status"] == "invalid":  # listed on the data-quality page, never compared
        return _missing(f"Not compared: the figure for {words} is not usable")
    if other is None or other["status"] != "value" or not _known(other["value"]):
        return _missing(f"No figure for {words}")
    then, now = _coverage(other, unit), _coverage(current, unit)
    if then is not None and now is not None and then != now:
        # Totals over different sets of parts (services) are not comparable: say so, do not compare.
        return _missing(f"Not compared: {_plural(then, unit.noun)} reported for {words}, {formatters.count(now)} now")
    better = definition.better if definition.better in ("higher", "lower") else "higher"
    result = formatters.change(other["value"], current["value"], definition.unit, better)
    if result is None:  # a relative change from zero does not exist
        return _missing(f"Not compared: the figure for {words} was {formatters.for_unit(definition.unit, other['value'])}")
    if result.direction == "same":
        return {"html": Markup('<span class="app-change--neutral">No change</span>')}
    if definition.better == "neutral":  # more transactions are neither better nor worse
        return {"html": Markup('<span class="app-change--neutral">{}</span>').format(result.amount)}
    return {"html": Markup('<span class="{}">{}</span>').format(result.css_class, result.text)}


def _value_cell(model: Any, kpi: str, unit: _Unit, row: dict[str, Any], min_responses: int) -> dict[str, Any]:
    """The figure, its exact value in a title, and what qualifies it (coverage, responses)."""
    definition = model.definitions[kpi]
    figure = value_html(definition.unit, row["value"])
    notes: list[str] = []
    contributing, expected = _coverage(row, unit), row.get(unit.coverage.replace("contributing", "expected"))
    if contributing is not None and _known(expected) and (unit.noun == "service" or contributing < int(expected)):
        notes.append(f"{formatters.count(contributing)} of {_plural(int(expected), unit.noun)}")
    if kpi == "user_satisfaction" and _known(row["denominator"]):
        notes.append(f"{_plural(row['denominator'], 'response')}")
        if row["denominator"] < min_responses:
            notes.append(f"low confidence: fewer than {_plural(min_responses, 'response')}")
    if kpi == "total_cost" and row.get("derived") is True:
        notes.append("derived from the supplied cost per transaction")
    if not notes:
        return {"html": figure}
    words = "; ".join(notes)
    return {"html": Markup('{}<br><span class="govuk-body-s">{}</span>').format(figure, words[:1].upper() + words[1:])}


def _table(model: Any, unit: _Unit, name: str, method_words: dict[str, str]) -> dict[str, Any] | None:
    series = {kpi: _Series(model, unit, kpi) for kpi in LATEST_KPIS if kpi in model.definitions}
    chosen = _choose_period(series)
    if chosen is None:
        return None
    months, start, end = chosen
    noun = PERIOD_NOUNS[months]
    previous = (add_months(start, -months), start - timedelta(days=1))
    earlier = year_earlier(start, end)
    current_words, previous_words, earlier_words = period_words(start, end), period_words(*previous), period_words(*earlier)
    rows: list[list[Any]] = []
    not_reported: list[str] = []
    for kpi, one in series.items():
        definition = model.definitions[kpi]
        at = one.at(months)
        valued = [i for i in at.values() if one.status[i] == "value" and _known(one.value[i])]
        label = definition.label
        if unit.methods[kpi]:
            label += f", {method_words[unit.methods[kpi]]}"
        if not valued:
            if not any(one.status[i] == "not_applicable" for i in at.values()):
                not_reported.append(definition.label[:1].lower() + definition.label[1:] if not definition.label[:2].isupper() else definition.label)
            continue
        current = at.get((start, end))
        if current is not None and one.status[current] == "value" and _known(one.value[current]):
            row = one.row(current)
            rows.append([label, _value_cell(model, kpi, unit, row, model.config.site.min_responses),
                         _change_cell(model, kpi, unit, row, one.row(at.get(previous)), previous_words),
                         _change_cell(model, kpi, unit, row, one.row(at.get(earlier)), earlier_words)])
            continue
        # No usable figure for the latest period: the latest older one, labelled with its period,
        # and nothing compared (it is not the period the columns are about).
        older = one.row(max(valued, key=lambda i: (one.end[i], one.start[i])))
        status = one.status[current] if current is not None else "not_provided"
        missing = "Not applicable" if status == "not_applicable" else "Not provided"
        cell = {"html": Markup('<span class="app-status--missing">{}</span><br><span class="govuk-body-s">Latest: {} for {} (out of date)</span>').format(
            missing, formatters.for_unit(definition.unit, older["value"]), older["period"])}
        rows.append([label, cell, *[_missing(f"Not compared: no figure for {current_words}")] * 2])
    stale_since = model.results.latest_end if model.results.latest_end is not None and end < model.results.latest_end else None
    caption = f"{name}: latest {noun}, {current_words}" + (" (out of date)" if stale_since else "")
    return {
        "heading": f"Latest {noun}",
        "totals": unit.noun == "service",
        "noun": noun,
        "period": current_words,
        "previous": previous_words,
        "earlier": earlier_words,
        "stale": period_words(start, end) if stale_since else None,
        "site_latest": stale_since.strftime("%B %Y") if stale_since else None,
        "not_reported": ", ".join(not_reported),
        "table": {"caption": caption, "headers": ["Figure", current_words, f"Change on {previous_words}", f"Change on {earlier_words}"],
                  "rows": rows, "numeric_columns": [1]},
    }


def service_table(model: Any, service: Service, method_words: dict[str, str]) -> dict[str, Any] | None:
    """The service's latest month or quarter (its parts' roll-up for a service with parts), or
    None when it reports only 12-month figures."""
    methods = {kpi: (model.method_for(service) if kpi == "user_satisfaction" else "") for kpi in LATEST_KPIS}
    unit = _Unit(service.slug, service.department, "parts_contributing", "part", methods)
    return _table(model, unit, service.name, method_words)


def department_table(model: Any, department: Any, method_words: dict[str, str]) -> dict[str, Any] | None:
    """A department's totals for its latest month or quarter, each with how many services it
    adds up; compared only with periods to which the same number of services contributed."""
    methods = {kpi: (model.method_for(None) if kpi == "user_satisfaction" else "") for kpi in LATEST_KPIS}
    unit = _Unit("", department.slug, "services_contributing", "service", methods)
    return _table(model, unit, department.name, method_words)
