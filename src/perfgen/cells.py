"""Table cells and small phrases shared by every page builder (render, league, parts, latest).

A cell is what ``components.data_table`` takes: plain text, ``{"text", "title"}`` for a figure
with its exact value in a title, or ``{"html": Markup}``. A missing figure is always said in words
("Not provided"), never left blank or shown as 0.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from perfgen import formatters

#: A KPI row's status in words, where there is no figure to show.
STATUS_WORDS = {"not_provided": "Not provided", "not_applicable": "Not applicable", "invalid": "Not provided"}


def missing(words: str) -> Markup:
    """Words standing in for a figure ("Not provided", "Not ranked")."""
    return Markup('<span class="app-status--missing">{}</span>').format(words)


def missing_cell(words: str) -> dict[str, Any]:
    return {"html": missing(words)}


def exact_value(unit: str, value: Any) -> str | None:
    """The unrounded figure for a title, where rounding hides digits (money and percentages)."""
    if value is None or pd.isna(value):
        return None
    if unit == "money":
        return formatters.money_exact(value)
    if unit == "percent":
        return formatters.percent_exact(value)
    return None


def value_cell(unit: str, value: Any, status: str = "value") -> Any:
    """A table cell for one KPI value: formatted, exact value in a title, or the missing state."""
    if status not in ("value", "stale") or value is None or pd.isna(value):
        return missing_cell(STATUS_WORDS.get(status, "Not provided"))
    text = formatters.for_unit(unit, value)
    title = exact_value(unit, value)
    return {"text": text, "title": title} if title and title != text else text


def value_html(unit: str, value: Any) -> Markup:
    """A figure as markup, with its exact value in an ``<abbr>`` title where rounding hides it."""
    text = formatters.for_unit(unit, value)
    title = exact_value(unit, value)
    if title and title != text:
        return Markup('<abbr title="{}">{}</abbr>').format(title, text)
    return Markup(escape(text))


def lower_first(label: str) -> str:
    """"digital take-up" inside a sentence; an abbreviation ("CPT") keeps its capitals."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def and_list(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
