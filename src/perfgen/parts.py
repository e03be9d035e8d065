"""Render stage: a service's parts and channels side by side.

In: the KPI results (a service's roll-up in ``values``, its parts in ``part_values``) and the
transactions observations by channel (``kpis.channel_breakdown``). Out: the context of the
service page's "Parts of this service" section (a table with a row per part and the service
total, and a sentence per KPI naming the part that drags the service down) and of its
"Channels" section (a table per headline period: each channel's volume, share and change).
Every number goes through :mod:`perfgen.formatters`; a missing figure is said in words.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd
from markupsafe import Markup

from perfgen import formatters
from perfgen.cells import STATUS_WORDS, and_list, lower_first, missing_cell, value_cell
from perfgen.config import Service
from perfgen.kpis import records
from perfgen.periods import add_months, months_spanned, period_words, year_earlier

#: The columns of the parts table: volume, then the four mandatory KPIs.
PART_KPIS = ("transactions", "cost_per_transaction", "completion_rate", "user_satisfaction", "digital_take_up")
class PartsIndex:
    """The parts' values indexed once for every service page."""

    def __init__(self, part_values: pd.DataFrame):
        self.at: dict[tuple, dict[str, Any]] = {}
        self.headlines: dict[tuple, dict[str, Any]] = {}
        if part_values is None or part_values.empty:
            return
        for row in records(part_values):
            key = (row["part"], row["kpi"], row["method"])
            if row["basis"] == "headline":
                self.headlines[key] = row
            else:
                self.at[key + (row["period_start"], row["period_end"])] = row


def parts_section(model: Any, index: PartsIndex, service: Service) -> dict[str, Any] | None:
    """The parts table and its sentences, or None for a service without parts."""
    if not service.parts:
        return None
    method_for = {kpi: (model.method_for(service) if kpi == "user_satisfaction" else "") for kpi in PART_KPIS}
    totals = {kpi: model.headline(service.slug, "", kpi, method_for[kpi]) for kpi in PART_KPIS}
    periods = {kpi: (row["period_start"], row["period_end"]) for kpi, row in totals.items()
               if row is not None and row["period_start"] is not None and not pd.isna(row["period_start"])}
    volume_period = periods.get("transactions") or next(iter(periods.values()), None)
    headers: list[Any] = ["Part"]
    for kpi in PART_KPIS:
        label = model.definitions[kpi].label
        if kpi in periods and periods[kpi] != volume_period:
            label += f" ({period_words(*periods[kpi])})"
        headers.append(label)
    rows: list[list[Any]] = []
    part_values: dict[str, list[tuple[str, float]]] = {kpi: [] for kpi in PART_KPIS}
    for part in service.parts:
        cells: list[Any] = [part.name]
        for kpi in PART_KPIS:
            unit = model.definitions[kpi].unit
            method = method_for[kpi]
            row = index.at.get((part.slug, kpi, method) + periods[kpi]) if kpi in periods else None
            if row is not None and row["status"] == "value":
                cells.append(value_cell(unit, row["value"]))
                part_values[kpi].append((part.name, float(row["value"])))
                continue
            headline = index.headlines.get((part.slug, kpi, method))
            if headline is not None and headline["status"] == "stale" and (row is None or row["status"] == "not_provided"):
                # An older figure only: shown with its period, never mixed into the comparison.
                cells.append({"html": Markup('{}<br><span class="govuk-body-s app-status--missing">out of date: {}</span>').format(
                    formatters.for_unit(unit, headline["value"]), headline["period"])})
                continue
            status = row["status"] if row is not None else (headline["status"] if headline is not None and headline["status"] == "not_applicable" else "not_provided")
            cells.append(missing_cell(STATUS_WORDS.get(status, "Not provided")))
        rows.append(cells)
    total_cells: list[Any] = [{"html": Markup("<strong>{}</strong>").format("All parts (the service)")}]
    for kpi in PART_KPIS:
        row = totals[kpi]
        unit = model.definitions[kpi].unit
        if row is None or row["status"] not in ("value", "stale") or pd.isna(row["value"]):
            total_cells.append(missing_cell(STATUS_WORDS.get(row["status"] if row is not None else "", "Not provided")))
            continue
        text = formatters.for_unit(unit, row["value"])
        contributing, expected = row.get("parts_contributing"), row.get("parts_expected")
        if contributing is not None and not pd.isna(contributing) and expected is not None and contributing < expected:
            total_cells.append({"html": Markup('{}<br><span class="govuk-body-s">{} of {} parts</span>').format(text, int(contributing), int(expected))})
        else:
            total_cells.append(value_cell(unit, row["value"]))
    rows.append(total_cells)
    sentences = []
    for kpi in PART_KPIS[1:]:
        found = part_values[kpi]
        total = totals[kpi]
        if len(found) < 2 or total is None or total["status"] != "value":
            continue
        definition = model.definitions[kpi]
        worst = (max if definition.better == "lower" else min)(value for _, value in found)
        laggards = [name for name, value in found if value == worst]
        if len(laggards) == len(found) or formatters.for_unit(definition.unit, worst) == formatters.for_unit(definition.unit, total["value"]):
            continue  # every part alike: none drags the service down
        extreme = "highest" if definition.better == "lower" else "lowest"
        verb = "has" if len(laggards) == 1 else "share"
        each = "" if len(laggards) == 1 else " each"
        sentences.append(f"{and_list(laggards)} {verb} the {extreme} {lower_first(definition.label)}: "
                         f"{formatters.for_unit(definition.unit, worst)}{each}, against {formatters.for_unit(definition.unit, total['value'])} for the service.")
    caption = f"{service.name}: each part" + (f", {period_words(*volume_period)}" if volume_period else "")
    return {
        "count": len(service.parts),
        "table": {"caption": caption, "headers": headers, "rows": rows, "numeric_columns": [1, 2, 3, 4, 5]},
        "sentences": sentences,
        "parts": [{"name": part.name, "slug": part.slug, "description": part.description} for part in service.parts],
        "satisfaction_method": method_for["user_satisfaction"],
    }


# --- channels side by side --------------------------------------------------------------------

#: Channel names that are not their id in words.
CHANNEL_NAMES = {"api": "API"}


def _month_before(day: date) -> date:
    return day - timedelta(days=1)


class _Channels:
    """One service's transactions by channel, from each of its reporting units (the service
    itself, or each of its parts) at that unit's finest regular periods."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.units: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row["months"] in (1, 3, 12):
                self.units.setdefault(row["unit"], []).append(row)
        self.finest = {unit: min(r["months"] for r in unit_rows) for unit, unit_rows in self.units.items()}

    def window(self, start: date, end: date) -> dict[str, Any] | None:
        """Volumes by channel over start..end from the units whose periods cover it fully; None
        when no unit does. ``complete`` is False when some unit does not cover it."""
        need = months_spanned(start, end)
        if need is None:
            return None
        channels: dict[str, float | None] = {}
        total: float | None = 0.0
        covering = 0
        for unit, unit_rows in sorted(self.units.items()):
            inside = [r for r in unit_rows if r["months"] == self.finest[unit] and r["period_start"] >= start and r["period_end"] <= end]
            periods = sorted({(r["period_start"], r["period_end"]) for r in inside})
            if sum(self.finest[unit] for _ in periods) != need:
                continue
            covering += 1
            for period in periods:
                at = [r for r in inside if (r["period_start"], r["period_end"]) == period]
                supplied = [r for r in at if r["channel"] == ""]
                by_channel = [r for r in at if r["channel"] not in ("", "digital")]
                if supplied:
                    period_total = supplied[0]["value"] if supplied[0]["status"] == "value" else None
                elif by_channel and all(r["status"] == "value" for r in by_channel):
                    period_total = sum(r["value"] for r in by_channel)
                else:
                    period_total = None
                total = None if total is None or period_total is None else total + period_total
                for r in at:
                    if r["channel"] == "":
                        continue
                    known = channels.get(r["channel"], 0.0)
                    # A channel above its period's total (digital above all) is a data error:
                    # its sum over the window is not published either.
                    unusable = r["status"] != "value" or (period_total is not None and r["value"] > period_total)
                    channels[r["channel"]] = None if known is None or unusable else known + r["value"]
        if covering == 0:
            return None
        return {"channels": channels, "total": total, "complete": covering == len(self.units), "start": start, "end": end}

    def latest_short_window(self) -> tuple[date, date] | None:
        """The latest month or quarter every unit covers (quarters when any unit reports only
        quarters); None when some unit reports only yearly figures."""
        if not self.units:
            return None
        months = max(self.finest.values())
        if months == 12:
            return None
        ends = sorted({(r["period_start"], r["period_end"]) for unit, unit_rows in self.units.items() for r in unit_rows
                       if self.finest[unit] == months and r["months"] == months and r["status"] == "value"}, reverse=True)
        for start, end in ends:
            found = self.window(start, end)
            if found is not None and found["complete"]:
                return start, end
        return None


def _share(volume: float | None, total: float | None) -> float | None:
    if volume is None or total is None or total <= 0 or volume > total:
        return None
    return volume / total


def _change_cell(old: float | None, new: float | None, unit: Literal["count", "percent"], present_before: bool, present_now: bool) -> Any:
    if present_now and not present_before:
        return "New"
    if not present_now or old is None or new is None:
        return missing_cell("Not provided")
    result = formatters.change(old, new, unit, "higher")
    if result is None:
        return "New" if old == 0 and new > 0 else missing_cell("Not provided")
    return result.amount


def _channel_name(channel: str, digital: set[str]) -> str:
    name = "All digital channels" if channel == "digital" else CHANNEL_NAMES.get(channel, channel.replace("_", " ").capitalize())
    return name + " (digital)" if channel in digital else name


def _table(current: dict[str, Any], comparisons: list[tuple[str, str, dict[str, Any] | None]], digital: set[str], parts: int) -> dict[str, Any]:
    """``comparisons``: (short name for the headers, the period in words, its window)."""
    names = sorted(set(current["channels"]) | {c for _, _, other in comparisons if other for c in other["channels"]})
    headers = ["Channel", "Transactions", "Share of all transactions"]
    for name, _, _ in comparisons:
        headers += [f"Change on {name}", f"Change in share on {name}"]
    rows: list[list[Any]] = []
    for channel in names:
        volume = current["channels"].get(channel)
        present = channel in current["channels"]
        share = _share(volume, current["total"])
        cells: list[Any] = [_channel_name(channel, digital)]
        cells.append(formatters.count(volume) if volume is not None else missing_cell("Not provided"))
        if share is not None:
            cells.append(formatters.percent(share))
        elif volume is not None and current["total"] is not None and volume > current["total"]:
            cells.append(missing_cell("Not provided (more than the total)"))
        else:
            cells.append(missing_cell("Not provided"))
        for _, _, other in comparisons:
            if other is None:
                cells += [missing_cell("No figures to compare with")] * 2
                continue
            before = other["channels"].get(channel)
            was_present = channel in other["channels"]
            cells.append(_change_cell(before, volume, "count", was_present, present and volume is not None))
            cells.append(_change_cell(_share(before, other["total"]), share, "percent", was_present, present and share is not None))
        rows.append(cells)
    total_row: list[Any] = ["All channels", formatters.count(current["total"]) if current["total"] is not None else missing_cell("Not provided"),
                            "100%" if current["total"] else missing_cell("Not provided")]
    for _, _, other in comparisons:
        if other is None:
            total_row += [missing_cell("No figures to compare with")] * 2
            continue
        total_row += [_change_cell(other["total"], current["total"], "count", True, True), "No change"]
    rows.append(total_row)
    caption = f"Transactions by channel, {period_words(current['start'], current['end'])}"
    caption += ", compared with " + " and ".join(words for _, words, _ in comparisons)
    if not current["complete"]:
        caption += f" (not every one of the {parts} parts reported)"
    # The change columns are left aligned so that their headers and "Up by less than 0.1
    # percentage points" can wrap (numeric columns never wrap).
    return {"caption": caption, "headers": headers, "rows": rows, "numeric_columns": [1, 2]}


def _comparable(current: dict[str, Any], other: dict[str, Any] | None) -> dict[str, Any] | None:
    """A period to compare with: only one every reporting unit (part) covers, like the current one."""
    return other if other is not None and other["complete"] and current["complete"] else None


def channel_tables(model: Any, observations: list[dict[str, Any]] | None, service: Service) -> list[dict[str, Any]]:
    """A table for the headline 12 months against the 12 months before, and one for the latest
    month or quarter against the one before and the same one a year earlier, from the service's
    rows of :func:`perfgen.kpis.channel_breakdown`."""
    if not observations:
        return []
    channels = _Channels(observations)
    if not any(r["channel"] not in ("",) for unit_rows in channels.units.values() for r in unit_rows):
        return []
    digital = set(model.config.digital_channels_for(service))
    parts = len(service.parts)
    tables = []
    headline = model.headline(service.slug, "", "transactions", "")
    if headline is not None and headline["status"] in ("value", "stale") and headline["period_start"] is not None and not pd.isna(headline["period_start"]):
        start, end = headline["period_start"], headline["period_end"]
        current = channels.window(start, end)
        if current is not None and current["channels"]:
            before = year_earlier(start, end)
            tables.append(_table(current, [("a year before", period_words(*before), _comparable(current, channels.window(*before)))], digital, parts))
    short = channels.latest_short_window()
    if short is not None:
        start, end = short
        months = months_spanned(start, end) or 1
        previous = (add_months(start, -months), _month_before(start))
        earlier = year_earlier(start, end)
        current = channels.window(start, end)
        if current is not None and current["channels"]:
            comparisons = [(f"previous {'month' if months == 1 else 'quarter'}", period_words(*previous), _comparable(current, channels.window(*previous)))]
            if earlier != previous:
                comparisons.append(("a year before", period_words(*earlier), _comparable(current, channels.window(*earlier))))
            tables.append(_table(current, comparisons, digital, parts))
    return tables
