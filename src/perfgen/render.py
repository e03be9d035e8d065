"""Stage 5, render: config, KPI values and chart SVGs in, HTML pages (path -> text) out.

One template per page type in ``templates/`` (a project's own ``templates/`` folder overrides
any of them by name). Each page gets a plain context built here; every number on a page goes
through :mod:`perfgen.formatters`. A variable missing from a page's context fails the build
(:class:`PageUndefined`) instead of publishing a blank.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import pickle
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import markdown as markdown_lib
import nh3
import numpy as np
import pandas as pd
from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.exceptions import UndefinedError
from markupsafe import Markup
from pydantic import BaseModel

from perfgen import formatters, freshness, latest, plugins, targets
from perfgen import parts as parts_stage
from perfgen.cells import (
    STATUS_WORDS,
    and_list,
    exact_value,
    is_missing,
    lower_first,
    missing,
    missing_cell,
    table_body,
    value_cell,
)
from perfgen.charts import ChartRequest
from perfgen.config import Config, Service
from perfgen.kpis import SCHEMA_COLUMNS, KpiDefinition, KpiResults, records, row_hashes
from perfgen.periods import period_words, year_earlier
from perfgen.quality import WARNING_CODES
from perfgen.summaries import Summaries

HEADLINE_KPIS = ("cost_per_transaction", "completion_rate", "user_satisfaction", "digital_take_up")
METHOD_WORDS = {"mean_score": "mean score method", "top_two_box": "top-two-box method (satisfied or very satisfied)"}
QUALITY_LABELS = {
    "digital-above-total": "Digital transactions above the total",
    "completed-above-started": "More completed than started",
    "cost-with-zero-volume": "A cost with no transactions",
    "invalid-value": "A figure that is not a number",
    "stale-data": "Out of date",
    "no-data": "No figures",
    "overdue": "Overdue",
}


def _column_array(column: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """A column as numpy: its values, or a category's code per row and the categories (the last
    one missing, for code -1) so that rows taken from it are the Python values ``tolist`` gives.
    The codes are the column's own (read-only): ``Series.cat.codes`` is a copy of them in
    pandas 3, which SiteModel's columns and a large site's channel rows held beside the frames
    (180 MiB at 10,000 services)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = np.empty(len(column.cat.categories) + 1, dtype=object)
        categories[:-1] = column.cat.categories.tolist()
        categories[-1] = np.nan
        return column.array.codes, categories
    return column.to_numpy(dtype=object) if column.dtype == object or str(column.dtype) == "str" else column.to_numpy(), None


def _day(value: Any) -> float:
    """A date's day number (``date.toordinal``), NaN for a missing one."""
    return float(value.toordinal()) if isinstance(value, date) and not pd.isna(value) else np.nan


class _Columns:
    """A frame's columns as numpy (:func:`_column_array`), its rows made as dicts only for the
    positions asked for: ``kpis.records(frame.iloc[positions])`` without pandas' indexing and
    its categories' conversion per call (the channel rows of 1,000 service pages took 2.5 s so)."""

    def __init__(self, frame: pd.DataFrame):
        self.names = list(frame.columns)
        self.arrays = [_column_array(frame[column]) for column in self.names]

    def rows_at(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The rows at these positions as dicts (column name to value)."""
        lists = [array[positions].tolist() if categories is None else categories[array[positions]].tolist() for array, categories in self.arrays]
        return [dict(zip(self.names, row)) for row in zip(*lists)]

    def row_at(self, position: int) -> dict[str, Any]:
        """One row as a dict: ``rows_at`` for one position, by slicing rather than picking (a
        row picked from each column costs as much as a whole series' rows)."""
        return {column: array[position:position + 1].tolist()[0] if categories is None else categories[array[position]]
                for column, (array, categories) in zip(self.names, self.arrays)}


class PageUndefined(ChainableUndefined):
    """Strict for perfgen's own context, forgiving inside GOV.UK macro parameters.

    GOV.UK Frontend's macros test optional keys of their ``params`` dict (``params.classes``),
    which must quietly be empty. Anything else that is missing (a page variable, an attribute
    of a perfgen object) raises, so a page never publishes a blank where a value should be."""

    def _forgiven(self) -> bool:
        return isinstance(self._undefined_obj, dict)

    def __str__(self) -> str:
        if self._forgiven():
            return ""
        self._fail_with_undefined_error()

    def __iter__(self):  # type: ignore[override]
        if self._forgiven():
            return iter(())
        self._fail_with_undefined_error()

    def __bool__(self) -> bool:
        if self._forgiven():
            return False
        self._fail_with_undefined_error()

    def __len__(self) -> int:
        if self._forgiven():
            return 0
        self._fail_with_undefined_error()


class _CompiledTemplates(FileSystemBytecodeCache):
    """Jinja's compiled templates in a folder, a file that cannot be read (damaged, cut short)
    compiled again rather than failing the build: a cache costs time, never output."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - whatever a damaged file raises (pickle, marshal, OSError)
            bucket.reset()


def make_environment(project_templates: Path | None = None, compiled: Path | None = None) -> Environment:
    """The templates' environment; with ``compiled``, a folder where Jinja keeps each template
    compiled (by its source's checksum: a third of a second per build, every rebuild)."""
    loaders = []
    if project_templates is not None and project_templates.is_dir():
        loaders.append(FileSystemLoader(str(project_templates)))
    loaders += [FileSystemLoader(str(folder)) for folder in plugins.template_folders()]  # plugins' sections
    loaders.append(PackageLoader("perfgen", "templates"))
    loaders.append(PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja", "templates")}))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "xml", "svg"], default_for_string=True),
        undefined=PageUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # One environment per build, and templates do not change during one: without this each
        # page's get_template looked at the template files' times again (half a second per
        # 1,000 pages).
        auto_reload=False,
    )
    if compiled is not None:
        compiled.mkdir(parents=True, exist_ok=True)
        env.bytecode_cache = _CompiledTemplates(str(compiled))
    env.filters["markdown"] = render_markdown
    env.globals["table_body"] = table_body
    return env


def render_markdown(text: str | None) -> Markup:
    """Markdown from config, sanitised: no raw HTML, no scripts, only http(s) and mailto links."""
    if not text:
        return Markup("")
    html = markdown_lib.markdown(text, output_format="html")
    clean = nh3.clean(
        html,
        tags={"p", "a", "em", "strong", "ul", "ol", "li", "code", "br", "blockquote"},
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    clean = clean.replace("<p>", '<p class="govuk-body">').replace("<a ", '<a class="govuk-link" ')
    clean = clean.replace("<ul>", '<ul class="govuk-list govuk-list--bullet">').replace("<ol>", '<ol class="govuk-list govuk-list--number">')
    return Markup(clean)


# --- formatting helpers ---------------------------------------------------------------------

format_value = formatters.for_unit


@dataclass
class Tile:
    label: str
    value: str | None
    value_title: str | None
    period: str | None
    change_text: str | None
    change_class: str | None
    note: str | None
    target: str | None = None  # "Target 85%: met, 2.1 percentage points above"


@dataclass
class Page:
    path: str  # relative to the site root, e.g. "services/renew-passport/index.html"
    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    breadcrumbs: list[dict[str, str]] = field(default_factory=list)
    section: str = ""  # which nav item is current
    sections: list[plugins.PageSection] = field(default_factory=list)  # from the render_page_sections hook
    # The costly part of the context, made only if the page is rendered (not taken from the
    # previous build), and what stands for everything it is made from in the page's key (a
    # service page's ``ServiceInputs`` digest; a league page's league digest, with how its rows
    # are chosen and ordered: ``league._defer_table``).
    deferred: Callable[[], dict[str, Any]] | None = None
    inputs: Any = None

    @property
    def root(self) -> str:
        depth = self.path.count("/")
        return "../" * depth


def href(page_path: str, target: str) -> str:
    """A link from ``page_path`` to the site path ``target`` (a folder ends with '/')."""
    return "../" * page_path.count("/") + target


def _positions_of(mask: np.ndarray) -> np.ndarray:
    """The positions where ``mask`` is true, as 32-bit numbers where they fit (half the memory
    of ``np.flatnonzero``'s, for millions of rows)."""
    positions = np.flatnonzero(mask)
    return positions.astype(np.int32) if len(mask) < 2**31 else positions


class SiteModel:
    """KPI results indexed for page building.

    A site has about a thousand period rows per service. They stay in columns (numpy arrays,
    a category's code per row) and become dicts only for the series a page asks for, once each:
    a dict per row for the whole site was a third of a build's memory."""

    def __init__(self, config: Config, results: KpiResults):
        self.config = config
        self.results = results
        self.definitions = {d.id: d for d in results.definitions}
        values = results.values
        self.headline_rows = np.flatnonzero((values["basis"] == "headline").to_numpy())
        self.headlines = values.iloc[self.headline_rows]
        # The period rows are read where they are, in the values' own columns (no copy of
        # them: a tenth of the build's memory while pages are made); a position is a row of
        # ``results.values``.
        self.period_rows = _positions_of((values["basis"] == "period").to_numpy())
        self._table = _Columns(values)
        self._array_of = dict(zip(self._table.names, self._table.arrays))
        # Each series' row positions, in frame order. Split once: filtering the whole frame per
        # service is quadratic on large sites.
        self._positions = self._grouped(self.period_rows, ("service", "department", "kpi", "method"))
        self._departments: dict[str, list[str]] = {}  # a service's department(s), for value_at
        for service, department, _, _ in self._positions:
            if department not in self._departments.setdefault(service, []):
                self._departments[service].append(department)
        self._series_rows: dict[tuple, list[dict[str, Any]]] = {}
        self._valued: dict[tuple, dict[str, Any] | None] = {}  # value_at's rows
        self._codes: dict[str, dict[Any, int]] = {}  # a categorical column's code of each category
        self._days: dict[str, np.ndarray] = {}  # a date column's day number of each category (``days``)
        self._period_columns: dict[tuple, tuple[np.ndarray, ...]] = {}
        self._series_cache: dict[tuple, list[dict[str, Any]]] = {}
        self._headline: dict[tuple, dict[str, Any]] = {}
        # Departments and agencies by slug (unique: checked by config): ``Config.department``
        # reads the list, which a page per service made quadratic on a large site.
        self._departments_by_slug = {d.slug: d for d in config.departments}
        self._agencies_by_slug = {a.slug: a for a in config.agencies}
        for row in records(self.headlines):
            key_department = row["department"] if row["service"] == "" else ""
            self._headline[(row["service"], key_department, row["kpi"], row["method"])] = row

    def _grouped(self, rows: np.ndarray, columns: tuple[str, ...]) -> dict[tuple, np.ndarray]:
        """``rows`` (positions, ascending) by their values of ``columns``: each group's positions
        in frame order, the groups in the order of their first row. Numbered with numpy (a
        category's code, or ``pd.factorize``) rather than a dict lookup per row: a million
        period rows at 1,000 services."""
        if not len(rows):
            return {}
        # Codes kept in their own (small) types and the key built in place: 64-bit copies of
        # each column's codes and of the sorted keys were most of the model's peak (0.6 GB at
        # 10,000 services).
        combined = np.zeros(len(rows), dtype=np.int64)
        numbered = []
        for column in columns:
            array, categories = self._array_of[column]
            if categories is None:
                codes, distinct = pd.factorize(array[rows])
                categories = np.empty(len(distinct) + 1, dtype=object)
                categories[:-1] = list(distinct)
                categories[-1] = np.nan
            else:
                codes = array[rows]
            codes[codes < 0] = len(categories) - 1  # missing: the last, as in _column_array
            combined *= len(categories)
            combined += codes
            numbered.append((codes, categories))
        order = np.argsort(combined, kind="stable")  # equal keys keep their (ascending) positions
        keys_in_order = combined[order]
        del combined
        starts = np.flatnonzero(np.r_[True, keys_in_order[1:] != keys_in_order[:-1]])
        del keys_in_order
        groups = np.split(rows[order], starts[1:])
        firsts = order[starts]  # each group's first row, as an index into ``rows``
        keys = zip(*(categories[codes[firsts]].tolist() for codes, categories in numbered))
        in_order = sorted(zip(firsts.tolist(), keys, groups), key=lambda group: group[0])
        return {key: positions for _, key, positions in in_order}

    def department(self, slug: str) -> Any:
        return self._departments_by_slug[slug]

    def agency(self, slug: str) -> Any:
        return self._agencies_by_slug[slug]

    def method_for(self, service: Service | None) -> str:
        return self.config.satisfaction_method_for(service) if service else self.config.site.satisfaction_method

    def headline(self, service: str, department: str, kpi: str, method: str = "") -> dict[str, Any] | None:
        return self._headline.get((service, department, kpi, method))

    def series_rows(self, service: str, department: str, kpi: str, method: str) -> list[dict[str, Any]]:
        """Every period row of one series (a department's totals: service "")."""
        key = (service, department, kpi, method)
        rows = self._series_rows.get(key)
        if rows is None:
            rows = self._series_rows[key] = self.rows_at(self.positions(*key))
        return rows

    def positions(self, service: str, department: str, kpi: str, method: str, valued: bool = False) -> np.ndarray:
        """The row positions of one series in frame order; with ``valued``, those with a value
        (status "value") only. Picking rows by position first and making dicts of the rows
        chosen only is what keeps a page's series cheap."""
        positions = self._positions.get((service, department, kpi, method))
        if positions is None:
            return np.array([], dtype=np.int64)
        if valued:
            positions = positions[self._equal("status", positions, "value")]
        return positions

    def _equal(self, column: str, positions: np.ndarray, value: Any) -> np.ndarray:
        """Whether each row at ``positions`` holds ``value`` in ``column`` (a categorical
        column: compared by its code, not its values made into a list)."""
        array, categories = self._array_of[column]
        if categories is None:
            return np.asarray(array[positions].tolist(), dtype=object) == value
        codes = self._codes.get(column)
        if codes is None:
            codes = self._codes[column] = {category: code for code, category in enumerate(categories[:-1].tolist())}
        code = codes.get(value)
        return array[positions] == code if code is not None else np.zeros(len(positions), dtype=bool)

    def values(self, column: str, positions: np.ndarray) -> list[Any]:
        """One column's values at these positions, as the rows' dicts would have them."""
        if column not in self._array_of:
            return [None] * len(positions)
        array, categories = self._array_of[column]
        return (array[positions] if categories is None else categories[array[positions]]).tolist()

    def days(self, column: str, positions: np.ndarray) -> np.ndarray:
        """A date column's values at these positions as day numbers (``date.toordinal``; NaN
        where there is none), to compare a series' dates at once."""
        array, categories = self._array_of[column]
        if categories is None:
            return np.array([_day(value) for value in array[positions].tolist()], dtype=float)
        ordinals = self._days.get(column)
        if ordinals is None:
            ordinals = self._days[column] = np.array([_day(value) for value in categories.tolist()], dtype=float)
        return ordinals[array[positions]]

    def period_columns(self, service: str, department: str, kpi: str, method: str) -> tuple[np.ndarray, ...]:
        """One series' start and end days (:meth:`days`), months and statuses (object arrays),
        in frame order, made once per series (a chart's gaps each look for the rows inside them)."""
        key = (service, department, kpi, method)
        found = self._period_columns.get(key)
        if found is None:
            positions = self.positions(*key)
            found = self._period_columns[key] = (self.days("period_start", positions), self.days("period_end", positions),
                                                 np.asarray(self.values("months", positions), dtype=object),
                                                 np.asarray(self.values("status", positions), dtype=object))
        return found

    def rows_at(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The rows at these positions as dicts (column name to value)."""
        return self._table.rows_at(positions)

    def row_at(self, position: int) -> dict[str, Any]:
        """One row as a dict (:meth:`_Columns.row_at`)."""
        return self._table.row_at(position)

    def forget_series(self) -> None:
        """Drop the rows built so far (they are built again if asked for): the pages of a large
        site then hold one service's rows at a time, not the whole site's."""
        self._series_rows.clear()
        self._valued.clear()
        self._period_columns.clear()
        self._series_cache.clear()

    def value_at(self, service: str, department: str, kpi: str, method: str, start: date, end: date) -> dict[str, Any] | None:
        """The row with a value for one period of a series (a department's totals: service "";
        a service's: department ""): the last in frame order if there are several. Its row is
        made once (found by the codes of its dates: an index of the whole series per call was
        half the time of a service's summary)."""
        key = (service, department, kpi, method, start, end)
        if key in self._valued:
            return self._valued[key]
        found = None
        units = [(service, d) for d in self._departments.get(service, [])] if service else [("", department)]
        for unit_service, unit_department in units:
            positions = self.positions(unit_service, unit_department, kpi, method, valued=True)
            hits = positions[self._equal("period_start", positions, start) & self._equal("period_end", positions, end)]
            if len(hits):
                found = int(hits[-1])
        row = self._valued[key] = self.row_at(found) if found is not None else None
        return row

    def tile(self, service: Service | None, department: str, kpi: str) -> Tile:
        definition = self.definitions[kpi]
        method = self.method_for(service) if kpi == "user_satisfaction" else ""
        slug = service.slug if service else ""
        row = self.headline(slug, department if not service else "", kpi, method)
        verdict = self.target_verdict(service, kpi, row)
        target = verdict.short if verdict else None
        if row is None:
            return Tile(definition.label, None, None, None, None, None, "No figures supplied", target)
        status = row["status"]
        period = row["period"] or None
        notes: list[str] = []
        if status in ("value", "stale") and not pd.isna(row["value"]):
            value: str | None = format_value(definition.unit, row["value"])
            title = exact_value(definition.unit, row["value"])
            if definition.unit == "count" and row["value"] >= 10_000_000:
                # Long counts overflow a tile: abbreviate, with the exact figure in the title.
                value, title = formatters.count_short(row["value"]), formatters.count(row["value"])
            value_title = title if title != value else None
        else:
            value = missing(STATUS_WORDS.get(status, "Not provided"))
            value_title = None
        if status == "stale":
            notes.append(f"Out of date: the latest figure is for {row['period']}")
        if kpi == "user_satisfaction" and status in ("value", "stale"):
            responses = row["denominator"]
            notes.append(f"{METHOD_WORDS[method].capitalize()}, {formatters.count(responses)} responses")
            if responses < self.config.site.min_responses:
                notes.append(f"Low confidence: fewer than {formatters.count(self.config.site.min_responses)} responses")
        if row.get("derived") is True and kpi in ("total_cost",):
            notes.append("Derived from the supplied cost per transaction")
        if not service and status == "value" and row.get("services_expected") and not pd.isna(row["services_expected"]):
            notes.append(f"{int(row['services_contributing'])} of {int(row['services_expected'])} services")
        if service and status in ("value", "stale") and _partial_parts(row):
            notes.append(f"{int(row['parts_contributing'])} of {int(row['parts_expected'])} parts")
        change_text, change_class = self.change_text(slug, department if not service else "", kpi, method, row)
        return Tile(definition.label, value, value_title, period, change_text, change_class, "; ".join(notes) or None, target)

    def target_verdict(self, service: Service | None, kpi: str, row: dict[str, Any] | None) -> targets.Verdict | None:
        """The service's headline figure for ``kpi`` against its target, if it has one."""
        if service is None or kpi not in service.targets:
            return None
        status = "not_provided" if row is None else row["status"]
        if status == "not_applicable":
            return None
        definition = self.definitions[kpi]
        return targets.against_target(None if row is None else row["value"], status, service.targets[kpi], definition.unit, definition.better)

    def change_text(self, service: str, department: str, kpi: str, method: str, row: dict[str, Any]) -> tuple[str | None, str | None]:
        if row["status"] not in ("value", "stale") or row["period_start"] is None or pd.isna(row["period_start"]):
            return None, None
        definition = self.definitions[kpi]
        start, end = year_earlier(row["period_start"], row["period_end"])
        previous = self.value_at(service, department, kpi, method, start, end)
        if previous is None:
            return "No figure for the previous year to compare with", "app-change--neutral"
        words = period_words(start, end)
        if service == "" and previous["services_contributing"] != row["services_contributing"]:
            # Totals over different sets of services are not comparable: say so, do not compare.
            return (f"Not compared with {words}: {int(previous['services_contributing'])} services reported then, "
                    f"{int(row['services_contributing'])} now"), "app-change--neutral"
        parts_then, parts_now = previous.get("parts_contributing"), row.get("parts_contributing")
        if service != "" and parts_then is not None and parts_now is not None and not pd.isna(parts_now) and parts_then != parts_now:  # likewise a service's parts
            return f"Not compared with {words}: {int(parts_then)} parts reported then, {int(parts_now)} now", "app-change--neutral"
        if definition.better == "neutral":
            result = formatters.change(previous["value"], row["value"], definition.unit, "higher")
            if result is None:
                return None, None
            return (f"{result.amount} on {words}" if result.direction != "same" else f"No change on {words}"), "app-change--neutral"
        result = formatters.change(previous["value"], row["value"], definition.unit, definition.better)
        if result is None:
            return None, None
        return (result.against(words) if result.direction != "same" else f"No change on {words}"), result.css_class


class ServiceInputs:
    """Everything the deferred part of a service page (``service_details`` in :func:`build_pages`:
    its summary, ranks and standings, its charts' figures and tables, tiles, latest figures,
    channels and parts) is made from, hashed per service: the service's period, headline, part
    and channel rows (each row hashed by pandas from its values), what every page shares (the
    config, the KPI definitions, the latest period, the build date), and (:meth:`of`) its charts
    and what it reads of other services. With the rest of the page's context it makes the page's
    key (:meth:`PageReuse.key`), so that a rebuild lays out only the pages it renders."""

    def __init__(self, model: SiteModel, channels: pd.DataFrame):
        results = model.results
        shared = key_bytes((model.config, results.definitions, results.latest_end, results.as_of, results.as_of_given))
        self._shared = hashlib.sha256(shared).digest() if shared is not None else None
        self._rows: dict[str, Any] = {}  # service -> running SHA-256 of its rows
        # (name, frame, the rows of it hashed: all if None); the values' rows are hashed once
        # for both their period and their headline rows.
        values = results.values
        values_hashes = row_hashes(values, [c for c in values.columns if c not in SCHEMA_COLUMNS], start=results.value_hashes())
        frames = (("periods", values, model.period_rows), ("headlines", values, model.headline_rows),
                  ("parts", results.part_values, None), ("channels", channels, None))
        for name, frame, chosen in frames:
            if frame.empty or (chosen is not None and not len(chosen)):
                continue
            hashes, services = values_hashes if frame is values else row_hashes(frame), frame["service"]
            if chosen is not None:
                hashes, services = hashes[chosen], services.iloc[chosen].reset_index(drop=True)
            columns = ",".join(f"{column}:{frame[column].dtype.name}" for column in frame.columns)
            for service, positions in services.groupby(services, sort=False, observed=True).indices.items():
                digest = self._rows.setdefault(service, hashlib.sha256())
                digest.update(f"{name}|{columns}|{len(positions)}|".encode())
                digest.update(hashes[positions].tobytes())

    def charts_digest(self, service: str, code: str) -> str | None:
        """What the service's chart requests (:func:`chart_requests`) are made from, hashed with
        perfgen's code (``code``): its rows and what every page shares. A rebuild takes the
        charts of a service whose digest it has seen from the last build's record
        (:class:`perfgen.charts.AddressMemo`) instead of making its requests again."""
        return self._digest(service, f"charts|{code}|{service}|".encode())

    def of(self, service: str, path: str, charts: list[Any], more: Any = None) -> str | None:
        """The digest for one service's page at ``path`` with these charts (each pickled as its
        content address) and ``more`` (what else its deferred part reads: its comparisons with
        other services, findings and freshness); None if something cannot be hashed (the page
        is then always rendered)."""
        return self._digest(service, key_bytes((service, path, charts, more)))

    def _digest(self, service: str, own: bytes | None) -> str | None:
        """``own`` hashed with what every page shares and the service's rows; None if either
        could not be pickled."""
        if self._shared is None or own is None:
            return None
        digest = hashlib.sha256(self._shared)
        digest.update(own)
        rows = self._rows.get(service)
        digest.update(rows.digest() if rows is not None else b"no rows")
        return digest.hexdigest()


def _partial_parts(row: dict[str, Any]) -> bool:
    """True for a service's figure that adds up fewer than all of its parts."""
    contributing, expected = row.get("parts_contributing"), row.get("parts_expected")
    return contributing is not None and expected is not None and not pd.isna(contributing) and not pd.isna(expected) and contributing < expected


# --- charts -----------------------------------------------------------------------------------

CHARTED_KPIS = ("transactions", "digital_take_up", "cost_per_transaction", "completion_rate", "user_satisfaction")


def series_for(model: SiteModel, service: str, department: str, kpi: str, method: str) -> list[dict[str, Any]]:
    """The series a chart shows (:func:`series_positions`), as plain dicts in time order
    (pandas per small series costs milliseconds each)."""
    key = (service, department, kpi, method)
    if key not in model._series_cache:
        model._series_cache[key] = model.rows_at(series_positions(model, *key))
    return model._series_cache[key]


def series_positions(model: SiteModel, service: str, department: str, kpi: str, method: str) -> np.ndarray:
    """The row positions of the series a chart shows, in time order: the finest regular periods
    (months or quarters) if there are at least two values, otherwise the 12-month periods
    (supplied ones rather than summed ones)."""
    valued = model.positions(service, department, kpi, method, valued=True)
    # A service made of parts: chart only its sums over the most parts (months that some parts
    # report only by quarter would otherwise look like a fall).
    parts = model.values("parts_contributing", valued)
    best = max((count for count in parts if not is_missing(count)), default=None)
    if best is not None:
        valued = valued[np.array([count == best for count in parts], dtype=bool)]
    months_of, kinds = model.values("months", valued), model.values("period_kind", valued)
    for months in (1, 3, 12):
        chosen = [i for i, length in enumerate(months_of) if length == months]
        if months == 12:
            supplied = [i for i in chosen if kinds[i] != "rolling_12_months"]
            if len(supplied) >= 2:
                chosen = supplied
        if len(chosen) >= 2:
            positions = valued[np.array(chosen, dtype=np.int64)]
            ends, starts = model.values("period_end", positions), model.values("period_start", positions)
            return positions[sorted(range(len(positions)), key=lambda i: (ends[i], starts[i]))]  # stable, as sorted rows were
    return np.array([], dtype=np.int64)


@dataclass(frozen=True)
class Gap:
    """Periods with no figure between two figures of a chart's series: the line breaks there."""
    after: int  # the position in the series of the figure before it
    first: date  # the first day without a figure
    last: date  # the last day without a figure

    @property
    def words(self) -> str:
        return period_words(self.first, self.last)


def series_gaps(starts: list[date], ends: list[date]) -> list[Gap]:
    """The gaps of a series in time order: wherever a figure's period does not begin the day
    after the one before ends. A line drawn across them would show figures that do not exist."""
    day = timedelta(days=1)
    return [Gap(index, ends[index] + day, starts[index + 1] - day)
            for index in range(len(ends) - 1) if starts[index + 1] > ends[index] + day]


def chart_marks(model: SiteModel, service: Service, kpi: str, series: list[dict[str, Any]]) -> tuple[str | None, list[targets.Note]]:
    """What a chart draws besides its series: the target (formatted) and the service's notes
    dated within the chart's periods."""
    return _chart_marks(model, service, kpi, series[0]["period_start"], series[-1]["period_end"])


def _chart_marks(model: SiteModel, service: Service, kpi: str, first_start: date, last_end: date) -> tuple[str | None, list[targets.Note]]:
    definition = model.definitions[kpi]
    target = service.targets.get(kpi)
    shown = targets.target_words(definition.unit, target) if target is not None else None
    notes = targets.for_period(targets.numbered(service.annotations), kpi, first_start, last_end)
    return shown, notes


def _chart_label(definition: KpiDefinition, service: Service, target: str | None, notes: list[targets.Note]) -> str:
    label = f"Line chart of {definition.label.lower()} for {service.name}"
    extras = []
    if target is not None:
        extras.append(f"a dashed line at its target of {target}")
    if notes:
        numbers = [formatters.count(note.number) for note in notes]
        listed = and_list(numbers)
        extras.append(f"dotted lines marking {'note' if len(notes) == 1 else 'notes'} {listed}")
    return label + (f", with {' and '.join(extras)}" if extras else "")


def chart_requests(model: SiteModel, only: Container[str] | None = None) -> list[ChartRequest]:
    """Every service's charts (``only``: those of the services with these slugs)."""
    requests = []
    iso: dict[date, str] = {}  # each distinct date written once (a site has a few hundred, and 270,000 points at 1,000 services)
    for service in model.config.services:
        if only is not None and service.slug not in only:
            continue
        for kpi in CHARTED_KPIS:
            method = model.method_for(service) if kpi == "user_satisfaction" else ""
            # The series' columns only: a page made later makes the series' rows (dicts) if it is rendered.
            positions = series_positions(model, service.slug, service.department, kpi, method)
            if not len(positions):
                continue
            definition = model.definitions[kpi]
            starts, ends = model.values("period_start", positions), model.values("period_end", positions)
            points = [(iso[end] if end in iso else iso.setdefault(end, end.isoformat()), float(value), definition.label)
                      for end, value in zip(ends, model.values("value", positions))]
            for gap in reversed(series_gaps(starts, ends)):  # a point without a value breaks the line
                points.insert(gap.after + 1, (gap.last.isoformat(), None, definition.label))
            target, notes = _chart_marks(model, service, kpi, starts[0], ends[-1])
            markers: dict[str, list[str]] = {}  # notes on one day share a marker: "1, 2"
            for note in notes:
                markers.setdefault(note.day.isoformat(), []).append(formatters.count(note.number))
            requests.append(ChartRequest(
                f"{service.slug}/{kpi}", definition.unit, tuple(points), _chart_label(definition, service, target, notes),
                target=(float(service.targets[kpi]), f"Target {target}") if target is not None else None,
                notes=tuple((day, ", ".join(numbers)) for day, numbers in markers.items())))
        model.forget_series()
    return requests


# --- pages ------------------------------------------------------------------------------------

def _nav(page: Page, existing: set[str] | None = None) -> list[dict[str, Any]]:
    """The main navigation; a section this site has no page for (a one-service site has no league
    table) is left out."""
    items = [("", "Home", "home"), ("departments/", "Departments", "departments"), ("league/", "League table", "league"),
             ("data-quality/", "Data quality", "data-quality"), ("definitions/", "Definitions", "definitions"), ("data/", "Open data", "data")]
    return [{"href": href(page.path, target) or "./", "text": text, "active": page.section == key, "current": page.section == key}
            for target, text, key in items if existing is None or f"{target}index.html" in existing]


def _headline_cells(model: SiteModel, service: Service, kpis: tuple[str, ...]) -> list[Any]:
    cells = []
    for kpi in kpis:
        definition = model.definitions[kpi]
        method = model.method_for(service) if kpi == "user_satisfaction" else ""
        row = model.headline(service.slug, "", kpi, method)
        if row is None:
            cells.append(value_cell(definition.unit, None, "not_provided"))
            continue
        cell = value_cell(definition.unit, row["value"], row["status"])
        if row["status"] == "stale":
            text = cell["text"] if isinstance(cell, dict) else cell
            cell = {"html": Markup('{}<br><span class="govuk-body-s app-status--missing">out of date: {}</span>').format(text, row["period"])}
        cells.append(cell)
    return cells


LEAGUE_KPIS = ("transactions", "cost_per_transaction", "completion_rate", "user_satisfaction", "digital_take_up")


def _service_link(page: Page, service: Service) -> dict[str, Any]:
    return {"html": Markup('<a class="govuk-link" href="{}">{}</a>').format(href(page.path, f"services/{service.slug}/"), service.name)}


def _league_rows(model: SiteModel, page: Page, services: list[Service], with_department: bool = True) -> list[list[Any]]:
    rows = []
    for service in sorted(services, key=lambda s: s.name.lower()):
        department = model.department(service.department)
        owner = [department.abbreviation or department.name] if with_department else []
        rows.append([_service_link(page, service), *owner, *_headline_cells(model, service, LEAGUE_KPIS)])
    return rows


def _league_headers(model: SiteModel, with_department: bool = True) -> list[str]:
    return ["Service"] + (["Department"] if with_department else []) + [model.definitions[k].label for k in LEAGUE_KPIS]


def _history_table(model: SiteModel, service: Service, kpi: str, series: list[dict[str, Any]], notes: list[targets.Note] | None = None,
                   gaps: list[Gap] = ()) -> dict[str, Any]:
    """A chart's figures by period; with the service's target, whether each figure meets it, and
    with notes, the notes dated in each period (the chart's dashed and dotted lines, in words).
    Each gap of the series is a row of its own, saying why it has no figure."""
    definition = model.definitions[kpi]
    target = service.targets.get(kpi)
    ratio = definition.aggregate == "ratio"
    unit = definition.unit
    # A numerator is money or a count; a mean score's, a sum of quarters, keeps its fraction.
    numerator_text = formatters.money if unit == "money" else formatters.score
    rows = []
    gap_after = {gap.after: gap for gap in gaps}
    for index, row in enumerate(series):
        if index - 1 in gap_after:
            gap = gap_after[index - 1]
            none = missing_cell(_gap_words(model, service, kpi, row["months"], gap))  # the figure, and its numerator and denominator
            rows.append([gap.words] + [none] * (1 + 2 * ratio) + [""] * (target is not None) + [""] * bool(notes))
        cells: list[Any] = [row["period"], value_cell(unit, row["value"], row["status"])]
        if ratio:
            cells.append(numerator_text(row["numerator"]) if not is_missing(row["numerator"]) else None)
            cells.append(formatters.count(row["denominator"]) if not is_missing(row["denominator"]) else None)
        if target is not None:
            cells.append(targets.against_target(row["value"], row["status"], target, unit, definition.better).mark)
        if notes:
            cells.append(_note_links([note for note in notes if note.within(row["period_start"], row["period_end"])]))
        rows.append(cells)
    headers = ["Period", definition.label]
    if definition.aggregate == "ratio":
        method = series[0].get("method") if series else ""
        headers += [SATISFACTION_NUMERATORS.get(method, _short(definition.numerator)) if kpi == "user_satisfaction" else _short(definition.numerator),
                    _short(definition.denominator)]
    numeric = [1, 2, 3][: len(headers) - 1]
    if target is not None:
        numeric.append(len(headers))  # kept on one line, beside the figures it judges
        headers.append(f"Against the target of {targets.target_words(definition.unit, target)}")
    if notes:
        numeric.append(len(headers))
        headers.append("Notes")
    return {"caption": f"{definition.label} by period", "headers": headers, "rows": rows, "numeric_columns": numeric}


#: The numerator column of a satisfaction table, by method (kpis.yml describes both in one line).
SATISFACTION_NUMERATORS = {
    "mean_score": "Score: sum of (rating − 1) / 4",
    "top_two_box": "Satisfied or very satisfied responses",
}


def _short(text: str) -> str:
    """First clause of a numerator or denominator description, for a column header."""
    for stop in (" (", ";", ":"):
        text = text.split(stop)[0]
    return text


def _gap_words(model: SiteModel, service: Service, kpi: str, months: Any, gap: Gap) -> str:
    """Why a gap has no figure, from the service's rows of the series' period length (``months``) dated in
    it: "Not applicable" if every one says so; "Not every part reported" if some parts have
    figures there (a service made of parts is charted over its most parts); else "Not provided"."""
    method = model.method_for(service) if kpi == "user_satisfaction" else ""
    starts, ends, lengths, status = model.period_columns(service.slug, service.department, kpi, method)
    statuses = set(status[(starts >= gap.first.toordinal()) & (ends <= gap.last.toordinal()) & (lengths == months)].tolist())
    if statuses == {"not_applicable"}:
        return STATUS_WORDS["not_applicable"]
    return "Not every part reported" if "value" in statuses else STATUS_WORDS["not_provided"]


def _gaps_summary(gaps: list[Gap]) -> str:
    """The gaps of a chart's line in words, after its summary."""
    if not gaps:
        return ""
    if len(gaps) > 3:
        return f" The line breaks at {formatters.count(len(gaps))} gaps, periods with no figure, listed in the table."
    return f" There is no figure for {and_list([gap.words for gap in gaps])}, where the line breaks."


def _chart_summary(definition: KpiDefinition, series: list[dict[str, Any]]) -> str:
    first, last = series[0], series[-1]
    high = max(series, key=lambda row: row["value"])  # the first of equal highs, as in the table
    low = min(series, key=lambda row: row["value"])
    return (f"{definition.label} went from {format_value(definition.unit, first['value'])} in {first['period']} "
            f"to {format_value(definition.unit, last['value'])} in {last['period']}; the highest was "
            f"{format_value(definition.unit, high['value'])} ({high['period']}) and the lowest "
            f"{format_value(definition.unit, low['value'])} ({low['period']}).")


def _note_links(notes: list[targets.Note]) -> Any:
    """"Note 1" (or "Note 1, Note 2"), each linked to its note on the page; empty for none."""
    if not notes:
        return ""
    return {"html": Markup(", ").join(Markup('<a class="govuk-link" href="#note-{0}">Note {0}</a>').format(formatters.count(note.number)) for note in notes)}


def _chart_marks_summary(definition: KpiDefinition, service: Service, series: list[dict[str, Any]], notes: list[targets.Note]) -> str:
    """The target and the notes of a chart, in words, after its summary sentence."""
    text = ""
    target = service.targets.get(definition.id)
    if target is not None:
        verdicts = [targets.against_target(row["value"], row["status"], target, definition.unit, definition.better) for row in series]
        text += f" The dashed line marks the target of {targets.target_words(definition.unit, target)}"
        if definition.better in ("higher", "lower"):
            met = sum(1 for verdict in verdicts if verdict.met)
            text += f": {formatters.count(met)} of {formatters.count(len(verdicts))} figures meet it"
        text += "."
    if notes:
        listed = "; ".join(f"{formatters.count(note.number)}, {note.when}, {note.text.strip().rstrip('.')}" for note in notes)
        text += f" Numbered dotted lines mark {'a note' if len(notes) == 1 else 'notes'} on the figures: {listed}."
    return text


def build_pages(model: SiteModel, charts: Mapping[str, Any], channels: pd.DataFrame, page_inputs: ServiceInputs | None = None) -> list[Page]:
    """Every page with its context. ``charts`` maps each chart's key to its SVG, or to a
    :class:`perfgen.charts.ChartSvg` still being drawn (read only when the page is rendered).
    ``page_inputs``: the service pages' digests, if the build made them already."""
    from perfgen import compare  # league builds on this module's Page
    from perfgen import league as league_stage
    config = model.config
    leagues = league_stage.Leagues(model, compare.Comparison(model.results.values, model.results.definitions, config))
    pages: list[Page] = []
    by_department: dict[str, list[Service]] = {d.slug: [] for d in config.departments}
    for service in config.services:
        by_department[service.department].append(service)
    # Each service's channel rows by position, split once (filtering the whole frame inside the
    # service loop is quadratic); a page makes dicts of its own rows only if it is rendered.
    channel_rows = channels.groupby("service", sort=False, observed=True).indices if not channels.empty else {}
    channel_table = _Columns(channels)
    page_inputs = page_inputs or ServiceInputs(model, channels)
    parts_index = parts_stage.PartsIndex(model.results.part_values)
    quality_by_service: dict[str, list[dict[str, Any]]] = {}
    for finding in model.results.quality.to_dict("records"):
        quality_by_service.setdefault(finding["service"], []).append(finding)
    shape = site_shape(config)
    comparable = len(config.services) > 1  # comparisons only where there is something to compare with
    summaries = Summaries(model, leagues.comparison if comparable else None)

    home = Page("index.html", "home.html", config.site.title, section="home")
    home.context = {
        "summary": summaries.for_site(),
        "az_href": "services/",
        "tiles": [model.tile(None, "", k) for k in HEADLINE_KPIS],
        "volume_tile": model.tile(None, "", "transactions"),
        "department_table": {
            "caption": "Departments, latest 12 months",
            "headers": ["Department", "Services"] + [model.definitions[k].label for k in ("transactions", *HEADLINE_KPIS)],
            "rows": [[{"html": Markup('<a class="govuk-link" href="departments/{}/">{}</a>').format(d.slug, d.name)}, str(len(by_department[d.slug]))]
                     + [_aggregate_cell(model, d.slug, k) for k in ("transactions", *HEADLINE_KPIS)] for d in config.departments],
            "numeric_columns": [1, 2, 3, 4, 5, 6],
        },
        "service_count": len(config.services),
        "department_count": len(config.departments),
        "quality_count": len(model.results.quality),
    }
    pages.append(home)

    departments_index = Page("departments/index.html", "departments.html", "Departments", section="departments",
                             breadcrumbs=[{"text": "Home", "href": "../"}])
    departments_index.context = {"departments": [
        {"name": d.name, "href": f"{d.slug}/", "services": len(by_department[d.slug])} for d in sorted(config.departments, key=lambda d: d.name)]}
    if shape == "government":
        pages.append(departments_index)

    def department_context(department: Any, page: Page) -> dict[str, Any]:
        services = by_department[department.slug]
        return {
            "summary": summaries.for_department(department.slug),
            "az_href": href(page.path, "services/") if page.path == "index.html" else None,
            "department": department,
            "tiles": [model.tile(None, department.slug, k) for k in HEADLINE_KPIS],
            "volume_tile": model.tile(None, department.slug, "transactions"),
            "latest": latest.department_table(model, department, METHOD_WORDS),
            "league": {"caption": f"{department.name}: each service's latest figures", "headers": _league_headers(model, with_department=False),
                       "rows": _league_rows(model, page, services, with_department=False), "numeric_columns": [1, 2, 3, 4, 5]},
            "service_count": len(services),
            "overdue": freshness.department_context(model.results, services, page.path),
            "compares": leagues.department_context(department.slug, page.path),
            "movers": comparable,
        }

    for department in config.departments if shape != "service" else []:
        page = Page(f"departments/{department.slug}/index.html", "department.html", department.name, section="departments",
                    breadcrumbs=[{"text": "Home", "href": "../../"}] + ([{"text": "Departments", "href": "../"}] if shape == "government" else []))
        page.context = department_context(department, page)
        pages.append(page)
        if shape == "department" and by_department[department.slug]:  # the department leads: home shows its content
            home.template = "department.html"
            home.context = department_context(department, home)

    def service_figures(service: Service, page: Page) -> dict[str, Any]:
        """The costly part of a service page's context: made only when the page is rendered,
        from the service's own rows, the config and its charts (``ServiceInputs``)."""
        department = model.department(service.department)
        figures = []
        for kpi in CHARTED_KPIS:
            method = model.method_for(service) if kpi == "user_satisfaction" else ""
            series = series_for(model, service.slug, service.department, kpi, method)
            definition = model.definitions[kpi]
            key = f"{service.slug}/{kpi}"
            if not series or key not in charts:
                continue
            notes = chart_marks(model, service, kpi, series)[1]
            gaps = series_gaps([row["period_start"] for row in series], [row["period_end"] for row in series])
            figures.append({
                "id": f"chart-{kpi.replace('_', '-')}",
                "caption": f"{definition.label} over time" + (f" ({METHOD_WORDS[method]})" if method else ""),
                "svg": charts[key] if hasattr(charts[key], "__html__") else Markup(charts[key]),  # a ChartSvg: drawn by render time
                "summary": _chart_summary(definition, series) + _chart_marks_summary(definition, service, series, notes) + _gaps_summary(gaps),
                "table": _history_table(model, service, kpi, series, notes, gaps),
            })
        missing = [model.definitions[k].label for k in CHARTED_KPIS if k not in [f["id"][6:].replace("-", "_") for f in figures]]
        positions = channel_rows.get(service.slug)
        context = {
            "tiles": [model.tile(service, department.slug, k) for k in HEADLINE_KPIS],
            "volume_tile": model.tile(service, department.slug, "transactions"),
            "cost_tile": model.tile(service, department.slug, "total_cost"),
            "latest": latest.service_table(model, service, METHOD_WORDS),
            "figures": figures,
            "not_charted": missing,
            "channel_tables": parts_stage.channel_tables(model, channel_table.rows_at(positions) if positions is not None else None, service),
            "parts": parts_stage.parts_section(model, parts_index, service),
        }
        model.forget_series()
        return context

    def service_context(service: Service, page: Page) -> dict[str, Any]:
        """The rest of a service page's context: what it says about the service compared with
        others (its summary, ranks and standings), its config and its findings. Deferred too:
        its key holds what this reads of other services (``compared``)."""
        department = model.department(service.department)
        return {
            "summary": summaries.for_service(service),
            "agency": model.agency(service.agency) if service.agency else None,
            "notes": [{"number": formatters.count(note.number), "date": note.day.isoformat(), "when": note.when, "text": note.text,
                       "about": lower_first(model.definitions[note.kpi].label) if note.kpi else "all figures"}
                      for note in targets.numbered(service.annotations)],
            "digital_channels": ", ".join(c.replace("_", " ") for c in config.digital_channels_for(service)),
            "satisfaction_method": METHOD_WORDS[model.method_for(service)],
            "quality": [{"label": QUALITY_LABELS[q["code"]], "period": period_words(q["period_start"], q["period_end"]) if q["period_start"] is not None and not pd.isna(q["period_start"]) else "",
                         "detail": q["detail"]} for q in quality_by_service.get(service.slug, []) if q["code"] != "overdue"],
            "quality_words": WARNING_CODES,
            "freshness": freshness.service_context(model.results, service.slug),  # overdue: its own marker
            "compares": leagues.service_context(service, page.path) if comparable else None,
            "facts": [(label, value) for label, value in (
                ("Department", department.name),
                ("Agency", model.agency(service.agency).name if service.agency else None),
                ("Category", service.category), ("Customer type", service.customer_type),
                ("Business model", service.business_model), ("Type of transaction", service.transaction_type),
            ) if value],
        }

    def compared(service: Service) -> Any:
        """What a service page reads beyond its own rows and the config: its rows in the
        comparisons (ranks, medians, standings in its groups), how many share its ranks, its
        findings and its freshness."""
        return ((leagues.comparison.service_rows(service.slug), summaries.ties_of(service.slug)) if comparable else None,
                quality_by_service.get(service.slug, []), model.results.freshness_of(service.slug))

    def service_page(service: Service, page: Page) -> None:
        # Laid out: what the page sections' hook is promised (its service and department);
        # the rest is made only if the page is rendered, and keyed by what it is made from.
        page.context = {"service": service, "department": model.department(service.department), "home": page.path == "index.html"}
        page.deferred = functools.partial(service_details, service, page)
        page.inputs = page_inputs.of(service.slug, page.path, [charts[f"{service.slug}/{kpi}"] for kpi in CHARTED_KPIS if f"{service.slug}/{kpi}" in charts],
                                     compared(service))

    def service_details(service: Service, page: Page) -> dict[str, Any]:
        return {**service_context(service, page), **service_figures(service, page)}

    for service in config.services:
        department = model.department(service.department)
        page = Page(f"services/{service.slug}/index.html", "service.html", service.name, section="",
                    breadcrumbs=[{"text": "Home", "href": "../../"}]
                    + ([{"text": department.name, "href": f"../../departments/{department.slug}/"}] if shape != "service" else []))
        service_page(service, page)
        pages.append(page)
        if shape == "service":  # a site of one service: its home page is that service's page
            home.template = "service.html"
            service_page(service, home)

    if comparable:
        pages += league_stage.league_pages(leagues)  # the overview and one league per KPI, in every sort order

    definitions = Page("definitions/index.html", "definitions.html", "Definitions", section="definitions", breadcrumbs=[{"text": "Home", "href": "../"}])
    definitions.context = {"definitions": model.results.definitions, "min_responses": config.site.min_responses,
                           "digital_channels": ", ".join(c.replace("_", " ") for c in config.site.digital_channels),
                           "satisfaction_method": METHOD_WORDS[config.site.satisfaction_method]}
    pages.append(definitions)

    quality = Page("data-quality/index.html", "quality.html", "Data quality", section="data-quality", breadcrumbs=[{"text": "Home", "href": "../"}])
    quality.context = _quality_context(model, quality)
    pages.append(quality)

    data_page = Page("data/index.html", "data.html", "Open data", section="data", breadcrumbs=[{"text": "Home", "href": "../"}])
    data_page.context = {"licence": config.site.licence}
    pages.append(data_page)

    accessibility = Page("accessibility/index.html", "accessibility.html", "Accessibility statement", breadcrumbs=[{"text": "Home", "href": "../"}])
    pages.append(accessibility)
    pages += about_and_az_pages(model, shape, comparable)
    return pages


def site_shape(config: Config) -> str:
    """"service" (one service), "department" (one department's services) or "government"."""
    if len(config.services) <= 1:
        return "service"
    if len({s.department for s in config.services}) == 1:
        return "department"
    return "government"


def about_and_az_pages(model: SiteModel, shape: str, comparable: bool) -> list[Page]:
    """"About this site" for each audience, and the services A to Z (no JavaScript needed)."""
    config = model.config
    about = Page("about/index.html", "about.html", "About this site", breadcrumbs=[{"text": "Home", "href": "../"}])
    about.context = {"shape": shape, "comparable": comparable, "service_count": len(config.services),
                     "department_count": len({s.department for s in config.services})}
    if shape == "service":
        return [about]
    az = Page("services/index.html", "az.html", "Services A to Z", breadcrumbs=[{"text": "Home", "href": "../"}])
    letters: dict[str, list[dict[str, str]]] = {}
    for service in sorted(config.services, key=lambda s: (s.name.lower(), s.slug)):
        first = service.name[:1].upper()
        letter = first if first.isalpha() else "0-9"
        department = model.department(service.department)
        agency = model.agency(service.agency) if service.agency else None
        letters.setdefault(letter, []).append({
            "name": service.name, "href": f"{service.slug}/", "department": department.name,
            # What the search box matches besides the name (search.js; no JavaScript: unused).
            "search_department": " ".join(n for n in (department.name, department.abbreviation, agency and agency.name, agency and agency.abbreviation) if n),
            "search_keywords": ", ".join([*service.keywords, *([service.category] if service.category else [])]),
        })
    az.context = {"letters": [{"letter": k, "id": f"letter-{k.lower()}", "services": v} for k, v in letters.items()],
                  "service_count": len(config.services), "show_department": shape == "government"}
    return [about, az]


def add_page_sections(pages: list[Page], model: SiteModel) -> None:
    """Sections from the render_page_sections hook, once every page exists. A page's kind is its
    template's name (``service`` for service.html)."""
    for page in pages:
        page.sections = plugins.page_sections(page.template.removesuffix(".html"), page, model)


def _aggregate_cell(model: SiteModel, department: str, kpi: str) -> Any:
    definition = model.definitions[kpi]
    method = model.config.site.satisfaction_method if kpi == "user_satisfaction" else ""
    row = model.headline("", department, kpi, method)
    if row is None:
        return value_cell(definition.unit, None, "not_provided")
    return value_cell(definition.unit, row["value"], row["status"])


def _quality_context(model: SiteModel, page: Page) -> dict[str, Any]:
    quality = model.results.quality
    counts = quality.groupby("code").size().to_dict() if not quality.empty else {}
    summary = [{"code": code, "label": QUALITY_LABELS[code], "description": description, "count": int(counts.get(code, 0))} for code, description in WARNING_CODES.items()]
    services = {s.slug: s for s in model.config.services}
    groups = []
    for department in model.config.departments:
        rows = quality[quality["department"] == department.slug]
        if rows.empty:
            continue
        items = []
        for row in rows.itertuples():
            service = services[row.service]
            period = period_words(row.period_start, row.period_end) if row.period_start is not None and not pd.isna(row.period_start) else ""
            items.append([_service_link(page, service), QUALITY_LABELS[row.code], period or "All periods", row.detail])
        noun = "problem" if len(items) == 1 else "problems"
        groups.append({"department": department, "count": len(items),
                       "table": {"caption": f"{department.name}: {len(items)} {noun}", "headers": ["Service", "Problem", "Period", "Detail"], "rows": items}})
    return {"summary": summary, "groups": groups, "total": len(quality),
            "freshness_as_of": freshness.as_of_words(model.results.as_of, model.results.as_of_given),
            "services_affected": quality["service"].nunique() if not quality.empty else 0}


def iter_rendered(env: Environment, pages: list[Page], site_context: dict[str, Any],
                  progress: Callable[[int], None] | None = None, reuse: PageReuse | None = None) -> Iterator[tuple[Page, str | bytes]]:
    """Each page with its HTML, one at a time (a large site's pages need not all be in memory).
    With ``reuse``, a page rendered from exactly the same inputs by the previous build is taken
    from it (its file's bytes) instead of being rendered again."""
    existing = {page.path for page in pages}
    for page in pages:
        context = {**site_context, **page.context, "page_title": page.title, "root": page.root,
                   "nav": _nav(page, existing), "breadcrumbs": page.breadcrumbs}
        key = reuse.key(page, context) if reuse is not None else None
        html: str | bytes | None = reuse.previous(page, key) if reuse is not None else None
        if html is None:
            if page.deferred is not None:
                context.update(page.deferred())
            template = env.get_template(page.template)
            try:
                context["sections"] = [Markup(env.get_template(section.template).render({**context, **section.context, "section": section}))
                                       for section in page.sections]
                html = template.render(context)
            except UndefinedError as error:
                raise RuntimeError(f"template {page.template} for {page.path}: {error}") from error
            if reuse is not None:
                reuse.rendered(page, key, html)
        if progress:
            progress(1)
        yield page, html


class _KeyPickler(pickle.Pickler):
    """Pickles a config object (pydantic) as its class and field values in their declared
    order: its own pickle holds the set of fields given, whose order changes from one Python
    process to the next, and so would every key."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, BaseModel):
            kind = type(obj)
            return tuple, ((kind.__module__, kind.__qualname__, tuple((name, getattr(obj, name)) for name in kind.model_fields)),)
        return NotImplemented


def key_bytes(value: Any) -> bytes | None:
    """``value`` pickled for a key: without back-references (so that which objects happen to be
    shared cannot change it), config objects as their field values; None if it cannot be."""
    buffer = io.BytesIO()
    pickler = _KeyPickler(buffer, protocol=5)
    pickler.fast = True  # no memo: the same values always give the same bytes
    try:
        pickler.dump(value)
    except (pickle.PicklingError, TypeError, ValueError, AttributeError, RecursionError):
        return None
    return buffer.getvalue()


class PageReuse:
    """Pages of the previous build taken as they are when everything they are rendered from is
    the same: a rebuild after one service's figures changed renders only the pages showing them.

    A page's key is the SHA-256 of its template's name, its whole context and its sections,
    pickled without back-references (so that which objects happen to be shared cannot change
    it), and of ``fingerprint``: perfgen's code and templates, the project's templates, the
    plugins and the libraries' versions. ``_build/pages.json`` (:meth:`json`) keeps each page's
    key and the SHA-256 of its HTML; the previous page is used only if its file still has that
    HTML. A context that cannot be pickled so (a loop of references) is always rendered."""

    FILE = "_build/pages.json"

    def __init__(self, previous_site: Path | None, fingerprint: str):
        """``previous_site`` None: every page is rendered (and its key kept all the same)."""
        self.site = previous_site
        self.fingerprint = fingerprint
        self.reused = 0
        self._pages: dict[str, dict[str, str]] = {}
        self._previous: dict[str, Any] = {}
        if previous_site is not None:
            try:
                self._previous = json.loads((previous_site / self.FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass

    def key(self, page: Page, context: dict[str, Any]) -> str | None:
        """What the page is rendered from, hashed; None if it cannot be pickled. A page whose
        context is partly deferred (``page.deferred``) is keyed by the digest of what that part
        is made from (``page.inputs``) instead."""
        if page.deferred is not None and page.inputs is None:
            return None
        data = key_bytes((self.fingerprint, page.template, context, [(s.template, s.context, s) for s in page.sections], page.inputs))
        return hashlib.sha256(data).hexdigest() if data is not None else None

    def previous(self, page: Page, key: str | None) -> bytes | None:
        """The previous build's HTML of the page (its file's bytes) if it was rendered from the
        same inputs (``key``)."""
        before = self._previous.get(page.path)
        if key is None or self.site is None or not isinstance(before, dict) or before.get("key") != key:
            return None
        try:
            data = (self.site / page.path).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != before.get("html"):
            return None  # the published file was changed since: render it again
        self._pages[page.path] = before
        self.reused += 1
        return data

    def rendered(self, page: Page, key: str | None, html: str) -> None:
        if key is not None:
            self._pages[page.path] = {"key": key, "html": hashlib.sha256(html.encode("utf-8")).hexdigest()}

    def json(self) -> str:
        return json.dumps(dict(sorted(self._pages.items())), indent=1, sort_keys=True) + "\n"
