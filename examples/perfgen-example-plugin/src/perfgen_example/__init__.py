"""An example perfgen plugin: a contact rate KPI and a loader for record-style JSON exports.

perfgen finds this module through the entry point ``perfgen`` declared in ``pyproject.toml`` and
calls the functions marked with ``@hookimpl``; each is named after the pipeline stage that calls
it (``load_...``, ``kpis_...``). perfgen's own loaders and KPIs use the same hooks.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from perfgen.errors import Problem
from perfgen.kpis import KpiDefinition, definitions_from
from perfgen.plugins import Loader, Records, hookimpl, records_loader

__version__ = "0.1.0"

RECORD_KEYS = ("_timestamp", "service", "channel", "count", "dataType", "period")
RECORDS_HINT = 'each record needs the keys _timestamp, service, channel, count, dataType and period, for example {"_timestamp": "2024-05-01T00:00:00+00:00", "service": "renew-passport", "channel": "online", "count": 41230, "dataType": "transactions", "period": "month"}'


# --- stage 2, load: a metric and a file format -------------------------------------------------

@hookimpl
def load_metrics() -> list[str]:
    """Data files may now use the metric ``calls`` (calls to the contact centre)."""
    return ["calls"]


def _period_label(start: datetime, period: str) -> str | None:
    """perfgen's period label for a record's ``_timestamp`` (the period's first day) and ``period``."""
    if period == "month":
        return f"{start:%Y-%m}"
    if period == "quarter" and start.month in (1, 4, 7, 10):
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if period in ("year", "financial_year") and start.month == 4 and start.day == 1:
        return f"{start.year}-{(start.year + 1) % 100:02d}"
    return None


def read_records(path: Path, display: str, problems: list[Problem]) -> Records | None:
    """Rows from a record-style export: a JSON list of records, or ``{"data": [...]}``.

    A record's position in the list (1 for the first) stands in for a line number in messages.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        problems.append(Problem(display, None, "", "the file is not UTF-8 text", hint="save it as UTF-8"))
        return None
    except json.JSONDecodeError as error:
        problems.append(Problem(display, error.lineno, "", f"is not valid JSON: {error.msg}"))
        return None
    records: Any = document.get("data") if isinstance(document, dict) else document
    if not isinstance(records, list):
        problems.append(Problem(display, None, "", "must be a list of records, or an object with a 'data' list", hint=RECORDS_HINT))
        return None
    rows = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            problems.append(Problem(display, number, "record", "is not an object", hint=RECORDS_HINT))
            continue
        missing = [key for key in RECORD_KEYS if key not in record]
        if missing:
            problems.append(Problem(display, number, "record", "missing " + ", ".join(f"'{key}'" for key in missing), hint=RECORDS_HINT))
            continue
        try:
            start = datetime.fromisoformat(str(record["_timestamp"]))
        except ValueError:
            problems.append(Problem(display, number, "key '_timestamp'", f"'{record['_timestamp']}' is not a date and time such as 2024-05-01T00:00:00+00:00"))
            continue
        label = _period_label(start, str(record["period"]))
        if label is None:
            problems.append(Problem(display, number, "key 'period'", f"'{record['period']}' starting {start:%d %B %Y} is not a month, a calendar quarter or a financial year",
                                    hint="weekly and daily figures must be added up to months first"))
            continue
        channel = record["channel"]
        rows.append({
            "line": number,
            "service": record["service"],
            "period": label,
            "channel": "" if channel in (None, "", "all") else channel,
            "metric": str(record["dataType"]).replace("-", "_"),
            "value": record["count"],
        })
    return Records(rows)


@hookimpl
def load_formats() -> list[Loader]:
    return [records_loader("record-style JSON export", (".records.json",), read_records)]


# --- stage 3, kpis: the contact rate --------------------------------------------------------------

@hookimpl
def kpis_definitions() -> list[KpiDefinition]:
    """``kpis.yml`` and ``contact_rate.sql`` beside this file."""
    return definitions_from(resources.files("perfgen_example"))
