"""Targets and annotations in words, for the render stage and the summaries.

In: a KPI figure (value and status), the service's target for it (``Service.targets``: rates as
fractions, money in pounds), the KPI's unit and better direction (``kpis.yml``); a service's
annotations (``Service.annotations``). Out: a :class:`Verdict` ("Target 85%: met", "2.1
percentage points below its target of 85%") and numbered :class:`Note` objects, the same
numbers on the charts, the period tables and the "Notes on the figures" list.

A gap from a target is in percentage points for a rate, in pounds for money and in
transactions for a count (``formatters.difference``). A figure exactly on its target meets it.
An out-of-date or missing figure is never judged against a target: the page says so instead.
A KPI where neither direction is better (transactions) gets its gap without a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from perfgen import formatters
from perfgen.freshness import long_date

#: A difference smaller than this (in percentage points, pounds or transactions) is float noise.
_NOISE = 1e-9


@dataclass(frozen=True)
class Verdict:
    """One figure against its target."""

    target: str  # the target, formatted: "85%", "£4.50"
    state: str  # above, below, on, no_figure (missing or not applicable), out_of_date
    gap: str = ""  # "2.1 percentage points", "£0.40"; empty unless above or below
    met: bool | None = None  # None: not judged (no figure, out of date, or no better direction)

    @property
    def short(self) -> str:
        """For a tile or a table cell: "Target 85%: met, 2.1 percentage points above"."""
        head = f"Target {self.target}"
        if self.state == "no_figure":
            return f"{head}: no figure to compare with"
        if self.state == "out_of_date":
            return f"{head}: not compared, the figure is out of date"
        if self.state == "on":
            return f"{head}: met exactly"
        if self.met is None:
            return f"{head}: {self.gap} {self.state}"
        return f"{head}: {'met' if self.met else 'not met'}, {self.gap} {self.state}"

    @property
    def clause(self) -> str:
        """For a sentence about a figure: "2.1 percentage points below its target of 85% (target
        not met)", "exactly on its target of 85%"; empty when there is no figure to judge."""
        if self.state == "on":
            return f"exactly on its target of {self.target}"
        if self.state in ("above", "below"):
            verdict = "" if self.met is None else " (target met)" if self.met else " (target not met)"
            return f"{self.gap} {self.state} its target of {self.target}{verdict}"
        return ""

    @property
    def mark(self) -> str:
        """For a row of a period table: "Met", "Not met: 2.1 percentage points below"."""
        if self.state == "on":
            return "Met exactly"
        if self.state not in ("above", "below"):
            return "Not compared"
        position = f"{self.gap} {self.state}"
        if self.met is None:
            return position[:1].upper() + position[1:]
        return f"Met: {position}" if self.met else f"Not met: {position}"


def target_words(unit: str, target: float) -> str:
    """A target as its owner wrote it: "85%" and "87.5%" (not "85.0%"), "£4.50", "1,000,000"."""
    return formatters.percent_exact(target) if unit == "percent" else formatters.for_unit(unit, target)


def against_target(value: Any, status: str, target: float, unit: str, better: str) -> Verdict:
    """``value`` (with its ``status``: value, stale, not_provided, ...) against ``target``."""
    shown = target_words(unit, target)
    if status == "stale":
        return Verdict(shown, "out_of_date")
    if status != "value" or value is None or pd.isna(value):
        return Verdict(shown, "no_figure")
    gap = float(value) - float(target)
    scale = 100 if unit == "percent" else 1  # percentage points for rates
    if abs(gap * scale) < _NOISE:
        return Verdict(shown, "on", met=True if better in ("higher", "lower") else None)
    state = "above" if gap > 0 else "below"
    met = None if better not in ("higher", "lower") else (state == "above") == (better == "higher")
    return Verdict(shown, state, formatters.difference(unit, gap), met)


def targets_met(verdicts: Iterable[Verdict]) -> str | None:
    """"2 of 3 targets met" (a target with no current figure counts as not met); None when no
    target can be met or missed (none set, or only on a KPI where neither direction is better)."""
    judged = [v for v in verdicts if not (v.met is None and v.state in ("above", "below", "on"))]
    if not judged:
        return None
    met = sum(1 for v in judged if v.met)
    noun = "target" if len(judged) == 1 else "targets"
    return f"{formatters.count(met)} of {formatters.count(len(judged))} {noun} met"


# --- annotations ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Note:
    """An annotation with its number on the service's page (1 is the earliest)."""

    number: int
    day: date
    text: str
    kpi: str | None  # None: every KPI of the service

    def applies_to(self, kpi: str) -> bool:
        return self.kpi is None or self.kpi == kpi

    def within(self, start: date, end: date) -> bool:
        return start <= self.day <= end

    @property
    def when(self) -> str:
        return long_date(self.day)

    def words(self, kpi_label: str | None = None) -> str:
        """"3 April 2023: New online form launched." with the KPI named when it has one
        ("3 April 2023, digital take-up: ...") and ``kpi_label`` is given."""
        about = f", {kpi_label[0].lower() + kpi_label[1:]}" if kpi_label and self.kpi else ""
        text = self.text.strip()
        end = "" if text.endswith((".", "!", "?")) else "."
        return f"{self.when}{about}: {text}{end}"


def numbered(annotations: Iterable[Any]) -> list[Note]:
    """A service's annotations in date order (the order written breaks ties), numbered from 1."""
    ordered = sorted(enumerate(annotations), key=lambda item: (item[1].date, item[0]))
    return [Note(number, annotation.date, annotation.text, annotation.kpi) for number, (_, annotation) in enumerate(ordered, start=1)]


def for_period(notes: Iterable[Note], kpi: str, start: date, end: date) -> list[Note]:
    """The notes about ``kpi`` (or the whole service) dated within ``start``..``end``."""
    return [note for note in notes if note.applies_to(kpi) and note.within(start, end)]
