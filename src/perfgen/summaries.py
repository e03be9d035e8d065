"""Plain-language summaries: one sentence per KPI for service, department and home pages.

In: the headline rows the render stage has indexed (:class:`perfgen.render.SiteModel`) and the
ranks of :class:`perfgen.compare.Comparison`. Out: plain strings such as "Digital take-up rose
4.2 percentage points to 87.1% in the 12 months to June 2017, 3rd of 40 ranked services."

The wording itself is :func:`sentence`, a pure function of a :class:`Figure`, so every branch
(rise, fall, no change, no earlier figure, missing, not applicable, stale, tie, only service
ranked, totals over different sets of services, a target met, missed or not judged) is tested
without building a site. A change in a percentage KPI is in percentage points, in money or a
count in percent (``formatters.change``). A service's notes (annotations) dated within the
headline period follow its sentences (:func:`note_sentences`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from perfgen import formatters, targets
from perfgen.cells import lower_first
from perfgen.compare import ordinal
from perfgen.periods import months_spanned, period_words, year_earlier

if TYPE_CHECKING:  # render imports this module's users; avoid a cycle at import time
    from perfgen.compare import Comparison
    from perfgen.render import SiteModel

SUMMARY_KPIS = ("digital_take_up", "cost_per_transaction", "completion_rate", "user_satisfaction")
MISSING = ("not_provided", "invalid", "")


@dataclass(frozen=True)
class Figure:
    """One KPI's headline for one service, department or the whole site, ready for words."""

    label: str
    unit: str  # money, percent or count
    better: str  # higher, lower or neutral
    status: str  # value, stale, not_provided, not_applicable, invalid ("" when no row at all)
    value: float | None = None
    period_start: date | None = None
    period_end: date | None = None
    previous: float | None = None  # the value for the same period a year earlier
    rank: int | None = None
    ranked_of: int | None = None
    tied: bool = False
    contributing: int | None = None  # for totals: services that reported it
    expected: int | None = None
    previous_contributing: int | None = None
    # For totals with no figure in the headline period: that period and the latest earlier total.
    window_end: date | None = None
    latest: float | None = None
    latest_start: date | None = None
    latest_end: date | None = None
    latest_contributing: int | None = None
    target: float | None = None  # the service's target for this KPI (a fraction for a rate)


def when(start: date, end: date) -> str:
    """"the 12 months to June 2017", "May 2024", "July to September 2024"."""
    months = months_spanned(start, end)
    if months == 12:
        return f"the 12 months to {end:%B %Y}"
    return period_words(start, end)


def sentence(figure: Figure, subject: str = "") -> str:
    """One sentence about ``figure``; ``subject`` ("this service") is named when nothing is known."""
    label = figure.label
    about = f" for {subject}" if subject else ""
    if figure.status == "not_applicable":
        return f"{label} does not apply{about.replace(' for ', ' to ')}."
    target = targets.target_words(figure.unit, figure.target) if figure.target is not None else None
    if figure.status in MISSING or figure.value is None or figure.period_start is None or figure.period_end is None:
        if figure.latest is not None and figure.latest_start is not None and figure.latest_end is not None and figure.window_end is not None:
            return _earlier_total(figure)
        if target is not None:
            return f"No figure for {lower_first(label)} has been provided{about}, so there is none to compare with its target of {target}."
        return f"No figure for {lower_first(label)} has been provided{about}."
    value = formatters.for_unit(figure.unit, figure.value)
    period = when(figure.period_start, figure.period_end)
    if figure.status == "stale":
        if target is not None:
            return f"{label} was {value} in {period}, the latest figure provided: it is out of date, so it is not compared with its target of {target}."
        return f"{label} was {value} in {period}, the latest figure provided: it is out of date."
    compared, reason = _change(figure)
    if compared is None:
        text = f"{label} was {value} in {period} ({reason})"
    elif compared.direction == "same":
        text = f"{label} was unchanged at {value} in {period}"
    else:
        amount = compared.amount.lstrip("+\u2212")
        if amount.startswith(("Up by", "Down by")):
            amount = amount.split(" ", 1)[1]  # "by less than 0.1%"
        verb = "rose" if compared.direction == "up" else "fell"
        text = f"{label} {verb} {amount} to {value} in {period}"
    if figure.target is not None:
        text += ", " + targets.against_target(figure.value, figure.status, figure.target, figure.unit, figure.better).clause
    text += _rank(figure) + _coverage(figure)
    return text + "."


def _earlier_total(figure: Figure) -> str:
    """A total with no figure in the headline period, but one earlier: say both, never "none"."""
    value = formatters.for_unit(figure.unit, figure.latest)
    text = (f"No figure for {lower_first(figure.label)} covers the 12 months to {figure.window_end:%B %Y}; "
            f"the latest, {value} in {when(figure.latest_start, figure.latest_end)}")
    if figure.latest_contributing is not None and figure.expected is not None:
        text += f", came from {figure.latest_contributing} of {figure.expected} {'service' if figure.expected == 1 else 'services'}"
    return text + "."


def note_sentences(notes: list[targets.Note], periods: dict[str, tuple[date, date]], labels: dict[str, str]) -> list[str]:
    """The notes dated within the headline period (``periods``: KPI id -> start and end) of the
    KPI they are about; a note on the whole service, within any KPI's. "3 April 2023: New online
    form launched." or, for one KPI, "3 April 2023, digital take-up: New online form launched."."""
    sentences = []
    for note in notes:
        spans = list(periods.values()) if note.kpi is None else [periods[note.kpi]] if note.kpi in periods else []
        if any(note.within(start, end) for start, end in spans):
            sentences.append(note.words(labels.get(note.kpi) if note.kpi else None))
    return sentences


def _change(figure: Figure) -> tuple[formatters.Change | None, str]:
    if figure.previous is None or pd.isna(figure.previous):
        return None, "no figure a year earlier to compare with"
    if figure.contributing is not None and figure.previous_contributing is not None and figure.contributing != figure.previous_contributing:
        return None, (f"not compared with a year earlier: {figure.previous_contributing} "
                      f"{'service' if figure.previous_contributing == 1 else 'services'} reported then, {figure.contributing} now")
    better = figure.better if figure.better in ("higher", "lower") else "higher"
    unit = figure.unit if figure.unit in ("percent", "money", "count") else "count"
    result = formatters.change(figure.previous, figure.value, unit, better)  # type: ignore[arg-type]
    if result is None:
        return None, "no change can be worked out from a figure of zero a year earlier"
    return result, ""


def _rank(figure: Figure) -> str:
    if figure.rank is None or figure.ranked_of is None or figure.ranked_of < 2:
        return ""  # nothing to compare with
    joint = "joint " if figure.tied else ""
    return f", {joint}{ordinal(figure.rank)} of {formatters.count(figure.ranked_of)} ranked services"


def _coverage(figure: Figure) -> str:
    if figure.contributing is None or figure.expected is None:
        return ""
    noun = "service" if figure.expected == 1 else "services"
    return f", from {figure.contributing} of {figure.expected} {noun}"


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _count(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


class Summaries:
    """Builds the sentences of every page from the indexed model, with ties counted once."""

    def __init__(self, model: SiteModel, comparison: Comparison | None):
        self.model = model
        self.comparison = comparison
        self._ties: dict[tuple[str, int], int] = {}
        if comparison is not None:
            ranked = comparison.table[comparison.table["ranked"]]
            for (kpi, rank), size in ranked.groupby(["kpi", "rank"]).size().items():
                self._ties[(kpi, int(rank))] = int(size)

    def ties_of(self, service: str) -> list[tuple[str, int, int]]:
        """How many services share each rank of this service (its sentences say "joint"):
        with :meth:`Comparison.service_rows`, what its summary reads of other services."""
        if self.comparison is None:
            return []
        standings = [(kpi, self.comparison.standing(service, kpi)) for kpi in self.comparison.definitions]
        return [(kpi, int(row["rank"]), self._ties.get((kpi, int(row["rank"])), 1)) for kpi, row in standings if row["ranked"]]

    def figure(self, service: str, department: str, kpi: str, method: str, aggregate: bool) -> Figure:
        definition = self.model.definitions[kpi]
        row = self.model.headline(service, department, kpi, method)
        base = {"label": definition.label, "unit": definition.unit, "better": definition.better}
        start = row["period_start"] if row is not None else None
        if row is None or start is None or pd.isna(start) or row["status"] not in ("value", "stale"):
            status = row["status"] if row is not None else ""
            if aggregate and status != "not_applicable":
                return Figure(status=status, **base, **self._earlier_total(department, kpi, method))
            return Figure(status=status, **base)
        end = row["period_end"]
        previous = self.model.value_at(service, department, kpi, method, *year_earlier(start, end))
        figure: dict[str, Any] = {**base, "status": row["status"], "value": _number(row["value"]),
                                  "period_start": start, "period_end": end,
                                  "previous": _number(previous["value"]) if previous else None}
        if aggregate:
            figure["contributing"] = _count(row.get("services_contributing"))
            figure["expected"] = _count(row.get("services_expected"))
            figure["previous_contributing"] = _count(previous.get("services_contributing")) if previous else None
        elif self.comparison is not None and row["status"] == "value":
            standing = self.comparison.standing(service, kpi)
            if standing["ranked"] and standing["period_start"] == start and standing["period_end"] == end:
                rank = int(standing["rank"])
                figure.update(rank=rank, ranked_of=int(standing["of"]), tied=self._ties.get((kpi, rank), 1) > 1)
        return Figure(**figure)

    def _earlier_total(self, department: str, kpi: str, method: str) -> dict[str, Any]:
        """The headline period of a department (or the site) and its latest earlier 12-month total."""
        window = self.model.headline("", department, "transactions", "")
        if window is None or window["period_end"] is None or pd.isna(window["period_end"]):
            return {}
        earlier = [row for row in self.model.series_rows("", department, kpi, method)
                   if row["status"] == "value" and row.get("months") == 12 and not pd.isna(row["value"])
                   and row["period_end"] < window["period_end"]]
        if not earlier:
            return {}
        latest = max(earlier, key=lambda row: (row["period_end"], row["period_start"]))
        return {"window_end": window["period_end"], "latest": float(latest["value"]), "latest_start": latest["period_start"],
                "latest_end": latest["period_end"], "latest_contributing": _count(latest.get("services_contributing")),
                "expected": _count(latest.get("services_expected"))}

    def _method(self, kpi: str, service: Any = None) -> str:
        return self.model.method_for(service) if kpi == "user_satisfaction" else ""

    def for_service(self, service: Any) -> list[str]:
        sentences = [sentence(replace(self.figure(service.slug, "", kpi, self._method(kpi, service), aggregate=False), target=service.targets.get(kpi)),
                              "this service") for kpi in SUMMARY_KPIS]
        if not service.annotations:
            return sentences
        periods = {}
        for kpi in dict.fromkeys([*SUMMARY_KPIS, *(a.kpi for a in service.annotations if a.kpi)]):
            row = self.model.headline(service.slug, "", kpi, self._method(kpi, service))
            if row is not None and row["status"] in ("value", "stale") and not pd.isna(row["period_start"]):
                periods[kpi] = (row["period_start"], row["period_end"])
        labels = {kpi: definition.label for kpi, definition in self.model.definitions.items()}
        return sentences + note_sentences(targets.numbered(service.annotations), periods, labels)

    def for_department(self, department: str) -> list[str]:
        return [sentence(self.figure("", department, kpi, self._method(kpi), aggregate=True), "these services")
                for kpi in SUMMARY_KPIS]

    def for_site(self) -> list[str]:
        return self.for_department("")
