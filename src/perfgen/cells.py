"""Table cells and small phrases shared by every page builder (render, league, parts, latest).

A cell is what ``components.data_table`` takes: plain text, ``{"text", "title"}`` for a figure
with its exact value in a title, or ``{"html": Markup}``. A missing figure is always said in words
("Not provided"), never left blank or shown as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from perfgen import formatters

#: A KPI row's status in words, where there is no figure to show.
STATUS_WORDS = {"not_provided": "Not provided", "not_applicable": "Not applicable", "invalid": "Not provided"}


def is_missing(value: Any) -> bool:
    """``pd.isna`` for one figure (None, pd.NA, NaT or a NaN of any type), without its dispatch
    on array types: the pages and the open data test hundreds of thousands of figures."""
    return value is None or value is pd.NA or value is pd.NaT or value != value  # noqa: PLR0124 (NaN of any type)


@lru_cache(maxsize=1024)
def missing(words: str) -> Markup:
    """Words standing in for a figure ("Not provided", "Not ranked"): a few phrases, made once
    each (Markup is immutable; a large site has hundreds of thousands of missing cells)."""
    return Markup('<span class="app-status--missing">{}</span>').format(words)


class DeferredMarkup:
    """Markup made when a page is rendered rather than when it is laid out: a league table's
    body, tens of megabytes on a large site's league pages, all laid out before the first is
    rendered. Kept once made until the page's context goes.

    Pickled (for the page's key) as ``key`` when it has one, bytes that stand for everything
    the markup is made from (a league body: its rows' digests in order and the path to the
    root), so that a page taken from the previous build never makes it; else as the markup it
    makes."""

    __slots__ = ("_html", "_key", "_make")

    def __init__(self, make: Callable[[], str], key: bytes | None = None):
        self._make: Callable[[], str] | None = make
        self._html: Markup | None = None
        self._key = key

    def __html__(self) -> Markup:
        if self._html is None:
            assert self._make is not None
            self._html, self._make = Markup(self._make()), None
        return self._html

    def __str__(self) -> str:
        return str(self.__html__())

    def __reduce__(self) -> tuple[Any, ...]:
        if self._key is not None:
            return _MarkupKey, (self._key,)
        return Markup, (str(self.__html__()),)


class _MarkupKey(bytes):
    """What a keyed :class:`DeferredMarkup` pickles as: its key, marked as standing for markup."""

    __slots__ = ()


def missing_cell(words: str) -> dict[str, Any]:
    return {"html": missing(words)}


def exact_value(unit: str, value: Any) -> str | None:
    """The unrounded figure for a title, where rounding hides digits (money and percentages)."""
    if is_missing(value):
        return None
    return formatters.with_exact(unit, value)[1]


def value_cell(unit: str, value: Any, status: str = "value") -> Any:
    """A table cell for one KPI value: formatted, exact value in a title, or the missing state."""
    if status not in ("value", "stale") or is_missing(value):
        return missing_cell(STATUS_WORDS.get(status, "Not provided"))
    text, title = formatters.with_exact(unit, value)
    return {"text": text, "title": title} if title and title != text else text


def value_html(unit: str, value: Any) -> Markup:
    """A figure as markup, with its exact value in an ``<abbr>`` title where rounding hides it."""
    text, title = formatters.with_exact(unit, value)
    if title and title != text:
        return Markup(f'<abbr title="{escape(title)}">{escape(text)}</abbr>')  # as Markup.format would, without its Formatter
    return Markup(escape(text))


def lower_first(label: str) -> str:
    """"digital take-up" inside a sentence; an abbreviation ("CPT") keeps its capitals."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def and_list(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


_NOT_PROVIDED = str(missing(STATUS_WORDS["not_provided"]))


def _escaped(text: str) -> str:
    """``str(markupsafe.escape(text))`` for plain text: the same five characters replaced by the
    same entities, without making a ``Markup`` first (half the time; a site has millions of cells)."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace("'", "&#39;").replace('"', "&#34;")


def _text(value: Any) -> str:
    return _escaped(value) if type(value) is str else str(escape(value))


def _is_mapping(cell: Any) -> bool:
    return type(cell) is dict or isinstance(cell, Mapping)  # a dict, the usual cell, without the ABC check


def _content(cell: Any) -> str:
    """A cell's HTML: what ``components._cell_content`` gives, as a string."""
    if cell is None:
        return _NOT_PROVIDED
    if type(cell) is str:
        return _escaped(cell)
    if _is_mapping(cell):
        if "html" in cell:
            return str(escape(cell["html"]))
        if cell.get("title"):
            return f'<abbr title="{_text(cell["title"])}">{_text(cell.get("text", ""))}</abbr>'
        return _text(cell.get("text", ""))  # a template left a missing key blank too
    return str(escape(cell))


def _classes(cell: Any) -> str:
    return f" {_text(cell['classes'])}" if _is_mapping(cell) and cell.get("classes") else ""


def table_body(rows: list[list[Any]], numeric_columns: Any = (), compact: bool = False) -> Markup:
    """The body rows of ``components.data_table``, built here rather than by a template loop: a
    service page has thousands of cells, and a Jinja loop over them was most of the time spent
    rendering a site. The first cell of a row is its header. A ``compact`` table (the figures
    beside a chart) has no class per cell: the table's ``.app-figures`` styles them."""
    numeric = set(numeric_columns)
    parts: list[str] = []
    if compact:
        for row in rows:
            parts.append(f'<tr><th scope="row">{_content(row[0])}</th>')
            for cell in row[1:]:
                if type(cell) is str:  # most cells: plain text
                    parts.append(f"<td>{_escaped(cell)}</td>")
                else:
                    classes = _classes(cell)
                    parts.append(f'<td class="{classes[1:]}">{_content(cell)}</td>' if classes else f"<td>{_content(cell)}</td>")
            parts.append("</tr>")
        return Markup("".join(parts))
    for row in rows:
        parts.append('      <tr class="govuk-table__row">')
        for index, cell in enumerate(row):
            base, tag = ("govuk-table__header", 'th scope="row"') if index == 0 else ("govuk-table__cell", "td")
            modifier = f" {base}--numeric" if index in numeric else ""
            parts.append(f'        <{tag} class="{base}{modifier}{_classes(cell)}">{_content(cell)}</{tag[:2]}>')
        parts.append("      </tr>")
    return Markup("".join(parts))
