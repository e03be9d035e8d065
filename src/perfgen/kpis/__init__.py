"""Stage 3, KPIs: the loaded observations in, every published KPI value out.

``kpis.yml`` beside this file declares each KPI (label, unit, which direction is better, how it
rolls up); ``<id>.sql`` computes it per service and period from the ``facts`` table that
``_facts.sql`` builds. This module runs them, applies the not-applicable declarations, rolls
services up to departments and government (always sum of numerators over sum of denominators,
for identical periods only, with coverage), and picks each headline figure.

A service that declares parts has no figures of its own: each part's KPIs are computed with the
same SQL as a service's, and the service's figures are the roll-up of its parts (sums of
numerators and denominators for identical periods, with ``parts_contributing`` of
``parts_expected``). Departments and government add up the service once, never its parts.
Part values are kept apart (``KpiResults.part_values``): they are not ranked or rolled up again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml

from perfgen import plugins
from perfgen.config import Config
from perfgen.errors import Problem, Warnings
from perfgen.freshness import LATEST_SQL, Freshness, check_freshness
from perfgen.kpis.facts_cache import FactsCache
from perfgen.load import (
    InputFile,
    LoadedData,
    bound_memory,
    create_enum,
    execute_bounded,
    insert_table,
    sql_text,
    unbound_memory,
)
from perfgen.periods import months_spanned, period_words
from perfgen.quality import CHECKS

SCHEMA_COLUMNS = (
    "service", "department", "period_start", "period_end", "period", "period_kind", "kpi", "method",
    "value", "numerator", "denominator", "status", "basis", "services_contributing",
    "services_expected", "derived", "note",
)


#: Period kinds of department and government rows, which may combine services' supplied
#: 12-month periods with their summed months or quarters (always for identical dates).
AGGREGATE_KINDS = {1: "month", 3: "quarter", 12: "12_months"}


@dataclass(frozen=True)
class KpiDefinition:
    id: str
    label: str
    unit: str  # money | percent | count
    better: str  # higher | lower | neutral
    aggregate: str  # ratio | sum
    mandatory: bool
    numerator: str
    denominator: str
    definition: str
    sql: str
    source: str = "perfgen.kpis"  # the plugin that registered it


def _package_text(name: str) -> str:
    return resources.files("perfgen.kpis").joinpath(name).read_text(encoding="utf-8")


def load_definitions() -> list[KpiDefinition]:
    """Every KPI: the built-in ones and those of installed plugins, through the same hook."""
    return plugins.kpi_definitions()


KPI_KEYS = {"id": str, "label": str, "unit": str, "better": str, "aggregate": str, "mandatory": bool,
            "numerator": str, "denominator": str, "definition": str}
KPI_CHOICES = {"unit": ("money", "percent", "count"), "better": ("higher", "lower", "neutral"), "aggregate": ("ratio", "sum")}


def definitions_from(folder: Any, metadata: str = "kpis.yml") -> list[KpiDefinition]:
    """KPI definitions from a folder (a path or ``importlib.resources.files(package)``) holding
    ``metadata`` (a YAML list, keys as in perfgen's own ``kpis.yml``) and one ``<id>.sql`` per
    entry. Used for the built-in KPIs and by plugins; every problem is reported at once."""
    root = Path(folder) if isinstance(folder, str) else folder
    where = f"{root.name}/{metadata}"
    entries = yaml.safe_load(root.joinpath(metadata).read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise plugins.PluginError([Problem(where, None, "", "must be a list of KPI definitions")])
    definitions, problems = [], []
    for index, entry in enumerate(entries):
        before = len(problems)
        place = f"[{index}]" + (f" ({entry.get('id')})" if isinstance(entry, dict) and entry.get("id") else "")
        if not isinstance(entry, dict):
            problems.append(Problem(where, None, place, "must be a mapping of keys"))
            continue
        for key, kind in KPI_KEYS.items():
            if key not in entry:
                problems.append(Problem(where, None, place, f"required key '{key}' is missing"))
            elif not isinstance(entry[key], kind):
                problems.append(Problem(where, None, f"{place}.{key}", f"expected {'true or false' if kind is bool else 'text'}"))
        for key in entry:
            if key not in KPI_KEYS:
                problems.append(Problem(where, None, place, f"unknown key '{key}'"))
        for key, choices in KPI_CHOICES.items():
            if isinstance(entry.get(key), str) and entry[key] not in choices:
                problems.append(Problem(where, None, f"{place}.{key}", f"'{entry[key]}' is not one of {', '.join(choices)}"))
        if isinstance(entry.get("id"), str) and not re.fullmatch(r"[a-z][a-z0-9_]*", entry["id"]):
            problems.append(Problem(where, None, f"{place}.id", f"'{entry['id']}' is not a valid KPI id: use lower-case letters, digits and underscores"))
        sql_file = root.joinpath(f"{entry.get('id')}.sql")
        if isinstance(entry.get("id"), str) and not sql_file.is_file():
            problems.append(Problem(where, None, place, f"no SQL file {entry['id']}.sql beside {metadata}"))
        if len(problems) == before:
            definitions.append(KpiDefinition(**entry, sql=sql_file.read_text(encoding="utf-8")))
    if problems:
        raise plugins.PluginError(problems)
    return definitions


@plugins.hookimpl
def kpis_definitions() -> list[KpiDefinition]:
    return definitions_from(resources.files("perfgen.kpis"))


@dataclass
class KpiResults:
    definitions: list[KpiDefinition]
    values: pd.DataFrame  # every published row, SCHEMA_COLUMNS
    quality: pd.DataFrame  # service, department, period_start, period_end, code, detail
    latest_end: date | None  # end of the latest period any service reports
    as_of: date | None = None  # freshness reference date: --today, else latest_end
    as_of_given: bool = False  # True when as_of came from --today / PERFGEN_TODAY
    freshness: list[Freshness] = field(default_factory=list)  # services declaring a frequency
    # Every value of every part of a service: the columns of ``values`` plus ``part`` (the part's
    # slug; ``service`` is the service it belongs to). Empty when no service declares parts.
    part_values: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Every transactions figure by channel (``channel_breakdown``) when asked for; the build
    # takes it for the pages and sets this to None (memory).
    channels: pd.DataFrame | None = None
    _freshness_index: dict[str, Freshness] | None = field(default=None, init=False, repr=False, compare=False)
    _value_hashes: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def value_hashes(self) -> np.ndarray:
        """Each row of ``values`` hashed from its published columns (``row_hashes`` of
        ``SCHEMA_COLUMNS``), computed once for the open data's blocks (in its forked process too,
        when computed before the fork) and the pages' inputs (which go on to hash the other columns)."""
        if self._value_hashes is None:
            self._value_hashes = row_hashes(self.values, SCHEMA_COLUMNS)
        return self._value_hashes

    def definition(self, kpi_id: str) -> KpiDefinition:
        return next(d for d in self.definitions if d.id == kpi_id)

    def freshness_of(self, service: str) -> Freshness | None:
        """The service's freshness (None if it declares no frequency), from an index built once:
        a page per service must not scan every service's."""
        if self._freshness_index is None:
            self._freshness_index = {}
            for item in self.freshness:
                self._freshness_index.setdefault(item.service, item)
        return self._freshness_index.get(service)


#: A sum that does not depend on the order its terms are added in: the terms as decimals to 10
#: places (a pound to a ten-billionth of a penny; a count exactly), added exactly and read back
#: as the nearest float. A float sum's last bits depend on that order, which DuckDB does not keep:
#: it differs with the threads, with memory spilled to disk and with the other groups sharing a
#: hash table (a service's rolling 12 months, summed with half of the other services beside it,
#: differed in its last bits from the same sum among all of them). A group with a term of 10^18
#: or more (far beyond any service's figures; the decimals' sum could overflow) is added as
#: floats, as before.
EXACT_SUM_MACRO = """CREATE OR REPLACE MACRO _exact_sum(x) AS
    CASE WHEN max(abs(x)) < 1e18 THEN sum(CASE WHEN abs(x) < 1e18 THEN x::DECIMAL(38, 10) END)::DOUBLE ELSE sum(x) END"""


def _register_config(db: Any, config: Config) -> None:
    db.execute(EXACT_SUM_MACRO)
    insert_table(db, "services", {"service": "VARCHAR", "department": "VARCHAR", "agency": "VARCHAR", "satisfaction_method": "VARCHAR"},
           [(s.slug, s.department, s.agency, config.satisfaction_method_for(s)) for s in config.services])
    # A part counts the same channels as digital, and has the same not-applicable KPIs, as its service.
    # Typed as the loaded rows' service and channel (load.py's ENUMs), which every row is joined
    # with: text columns made DuckDB cast both columns of every row to text (0.13 s of the 0.56 s
    # that summed the rows by metric at 1,000 services).
    insert_table(db, "service_digital_channels", {"service": "_service_slug", "channel": "_channel_name"},
           [(slug, c) for s in config.services for slug in _units(s) for c in config.digital_channels_for(s)])
    insert_table(db, "service_not_applicable", {"service": "VARCHAR", "kpi": "VARCHAR"},
           [(slug, k) for s in config.services for slug in _units(s) for k in s.not_applicable])
    insert_table(db, "service_parts", {"part": "VARCHAR", "service": "VARCHAR", "parts_expected": "BIGINT"},
           [(part.slug, s.slug, len(s.parts)) for s in config.services for part in s.parts])


def _statements(script: str) -> list[str]:
    """A script's statements (each ends a line with ``;``), to run one at a time."""
    return [statement for statement in re.split(r";[ \t]*(?:--[^\n]*)?\n", script) if statement.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in statement.splitlines())]


def _units(service: Any) -> list[str]:
    """The slugs a service's figures are given under: its own, or its parts'."""
    return [part.slug for part in service.parts] or [service.slug]


def _make_facts(db: Any, files: list[InputFile], cache: FactsCache | None) -> None:
    """``facts`` (``_facts.sql``), in (service, period_start, period_end) order: the segments
    the cache keeps read (``FactsCache``), the others' worked out from their rows.

    Its sums are exact (_exact_sum): the same facts whatever the threads, whether DuckDB spills
    to disk and whichever services are worked out together, so on every core (the rest of the
    stage runs on one) and within the load's memory bound (a statement that needs more runs
    again without it)."""
    segments = cache.segments(db, files) if cache is not None else {}
    kept = cache.kept(segments) if cache is not None else []
    with _every_core(db):
        bound_memory(db)
        try:
            _facts_of(db, [unit for key in kept for unit in segments[key]])
            if kept:
                try:
                    cache.read(db, kept, "facts")  # type: ignore[union-attr]
                except duckdb.Error:  # a segment that cannot be read: every one worked out, and kept again
                    db.execute("DROP TABLE facts")
                    _facts_of(db, [])
                    cache.forget(kept)  # type: ignore[union-attr]
                    kept = []
            db.execute("ALTER TABLE facts RENAME TO _facts_unsorted")
            execute_bounded(db, "CREATE TABLE facts AS SELECT * FROM _facts_unsorted ORDER BY service, period_start, period_end")
            db.execute("DROP TABLE _facts_unsorted")
        finally:
            unbound_memory(db)
        if cache is not None:
            cache.write(db, {key: units for key, units in segments.items() if key not in kept}, "facts")
            cache.keep_only(segments)


def _facts_of(db: Any, kept_units: list[str]) -> None:
    """``_facts.sql`` on the loaded rows of the units not in ``kept_units``."""
    if kept_units:
        # Typed as the rows' service (load.py's ENUM): no cast of every row to text.
        insert_table(db, "_kept_units", {"unit": "_service_slug"}, [(unit,) for unit in kept_units])
        db.execute("CREATE OR REPLACE TEMP VIEW facts_input AS SELECT * FROM clean_observations WHERE service NOT IN (SELECT unit FROM _kept_units)")
    else:
        db.execute("CREATE OR REPLACE TEMP VIEW facts_input AS SELECT * FROM clean_observations")
    for statement in _statements(_package_text("_facts.sql")):
        if WINDOW_BATCH not in statement:
            execute_bounded(db, statement)
            continue
        # Services in batches of about WINDOW_ROWS rows of facts (each window's sums are exact:
        # the same whatever services are summed together).
        batches = max(1, -(-db.execute("SELECT count(*) FROM facts").fetchone()[0] // WINDOW_ROWS))
        for batch in range(batches):
            execute_bounded(db, statement.replace(WINDOW_BATCH, f"hash(service) % {batches} = {batch}" if batches > 1 else "true"))
    db.execute("DROP VIEW facts_input; DROP TABLE IF EXISTS _kept_units")


#: Where ``_facts.sql``'s rolling windows take their batch of services, and the rows of facts in
#: a batch (10,000 services, 1.2 million rows in one batch: DuckDB spilled its aggregates within
#: the memory bound, 11 s instead of 3.4).
WINDOW_BATCH = "/* batch */ true"
WINDOW_ROWS = 250_000


def _run_kpis(db: Any, definitions: list[KpiDefinition], files: list[InputFile] | None = None,
              cache: FactsCache | None = None) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], set[str]]:
    """The KPI rows of every service (``service_rows``, then ``part_rows``), and what else is
    read from the loaded rows and the facts: each service's latest period, the coded checks'
    rows (each with its code first) and the services with a figure."""
    _make_facts(db, files or [], cache)
    # Each row's KPI as an ENUM of the KPIs' ids, in text order: a byte a row, not the id's text
    # (up to 28 characters) on each of millions of rows.
    create_enum(db, "_kpi_id", (d.id for d in definitions))
    selects = [f"SELECT {sql_text(d.id)}::_kpi_id AS kpi, * FROM ({d.sql.strip().rstrip(';')})" for d in definitions]
    db.execute("CREATE TABLE service_rows AS " + " UNION ALL ".join(selects))
    # Nothing reads the loaded rows or the facts after the KPIs' own SQL (a plugin's reads them
    # too): all else that needs them is read now and they are dropped before the parts are
    # rolled up and the totals made. Held beside those, they were the KPI SQL's peak (a third
    # of DuckDB's memory).
    latest = db.execute(LATEST_SQL).fetchall()
    checked = [(check.code, *row) for check in CHECKS for row in db.execute(check.sql).fetchall()]
    with_data = {row[0] for row in db.execute("SELECT DISTINCT service FROM clean_observations WHERE status = 'value'").fetchall()}
    db.execute("DROP TABLE clean_observations; DROP TABLE facts")
    db.execute(
        """UPDATE service_rows SET status = 'not_applicable', value = NULL, numerator = NULL, denominator = NULL
           WHERE (service, kpi) IN (SELECT service, kpi FROM service_not_applicable)"""
    )
    _roll_up_parts(db, definitions)
    return latest, checked, with_data


def _roll_up_parts(db: Any, definitions: list[KpiDefinition]) -> None:
    """Move the parts' rows to ``part_rows`` and put in their place, for each service with
    parts, the sum of its parts for each identical period, with how many parts contributed."""
    ratio = ", ".join(f"'{d.id}'" for d in definitions if d.aggregate == "ratio") or "''"
    db.execute("ALTER TABLE service_rows ADD COLUMN parts_contributing BIGINT")
    db.execute("ALTER TABLE service_rows ADD COLUMN parts_expected BIGINT")
    db.execute("CREATE TABLE part_rows AS SELECT r.*, p.service AS parent FROM service_rows r JOIN service_parts p ON p.part = r.service")
    db.execute("DELETE FROM service_rows WHERE service IN (SELECT part FROM service_parts)")
    db.execute(
        f"""INSERT INTO service_rows BY NAME
        WITH flagged AS (
            SELECT *, status = 'value' AND numerator IS NOT NULL AND (kpi NOT IN ({ratio}) OR denominator IS NOT NULL) AS contributes
            FROM part_rows
        ),
        marked AS (
            SELECT *, count(*) FILTER (WHERE contributes) OVER (PARTITION BY parent, kpi, method, period_start, period_end) AS parts_contributing_
            FROM flagged
        ),
        rolled AS (
            SELECT parent AS service, kpi, method, period_start, period_end,
                   CASE WHEN count(DISTINCT period_kind) = 1 THEN min(period_kind) ELSE 'range' END AS period_kind,
                   _exact_sum(CASE WHEN contributes THEN numerator END) AS numerator,
                   CASE WHEN kpi IN ({ratio}) THEN _exact_sum(CASE WHEN contributes THEN denominator END) END AS denominator,
                   count(*) FILTER (WHERE contributes) AS parts_contributing,
                   any_value(p.parts_expected) AS parts_expected,
                   coalesce(bool_or(derived) FILTER (WHERE contributes), false) AS derived,
                   bool_or(status = 'invalid') AS any_invalid,
                   bool_and(status = 'not_applicable') AS all_not_applicable,
                   count(DISTINCT note) FILTER (WHERE contributes = (parts_contributing_ > 0)) AS notes,
                   min(note) FILTER (WHERE contributes = (parts_contributing_ > 0)) AS one_note
            FROM marked JOIN service_parts p ON p.part = marked.service
            GROUP BY parent, kpi, method, period_start, period_end
        )
        SELECT service, kpi, method, period_start, period_end, period_kind,
               CASE WHEN parts_contributing = 0 THEN NULL
                    WHEN kpi NOT IN ({ratio}) THEN numerator
                    WHEN denominator > 0 THEN numerator / denominator END AS value,
               CASE WHEN parts_contributing > 0 THEN numerator END AS numerator,
               CASE WHEN parts_contributing > 0 THEN denominator END AS denominator,
               CASE WHEN parts_contributing > 0 AND (kpi NOT IN ({ratio}) OR denominator > 0) THEN 'value'
                    WHEN any_invalid THEN 'invalid'
                    WHEN all_not_applicable THEN 'not_applicable'
                    ELSE 'not_provided' END AS status,
               derived,
               -- The parts' own note when they agree (a plugin KPI's, "no transactions"), else coverage.
               CASE WHEN parts_contributing > 0 AND parts_contributing < parts_expected THEN printf('sum of %d of its %d parts', parts_contributing, parts_expected)
                    WHEN notes = 1 THEN one_note END AS note,
               parts_contributing, parts_expected
        FROM rolled"""
    )


def _aggregates(db: Any, definitions: list[KpiDefinition]) -> None:
    """Department and government rows: per identical period, sums with coverage."""
    ratio = ", ".join(f"'{d.id}'" for d in definitions if d.aggregate == "ratio")
    db.execute(
        f"""CREATE TABLE aggregate_rows AS
        WITH expected AS (
            SELECT s.department, k.kpi, count(*) AS services_expected
            FROM services s CROSS JOIN (SELECT DISTINCT kpi FROM service_rows) k
            WHERE (s.service, k.kpi) NOT IN (SELECT service, kpi FROM service_not_applicable)
            GROUP BY GROUPING SETS ((s.department, k.kpi), (k.kpi))
        ),
        contributing AS (
            SELECT r.*, s.department FROM service_rows r JOIN services s USING (service)
            WHERE r.status = 'value' AND r.numerator IS NOT NULL
              AND (r.kpi NOT IN ({ratio}) OR r.denominator IS NOT NULL)
        ),
        rolled AS (
            SELECT department, kpi, method, period_start, period_end,
                   _exact_sum(numerator) AS numerator,
                   CASE WHEN kpi IN ({ratio}) THEN _exact_sum(denominator) END AS denominator,
                   count(*) AS services_contributing,
                   bool_or(derived) AS derived
            FROM contributing
            GROUP BY GROUPING SETS ((department, kpi, method, period_start, period_end), (kpi, method, period_start, period_end))
        )
        SELECT r.department, r.kpi, r.method, r.period_start, r.period_end,
               CASE WHEN r.denominator IS NULL THEN r.numerator WHEN r.denominator > 0 THEN r.numerator / r.denominator END AS value,
               r.numerator, r.denominator,
               CASE WHEN r.denominator IS NULL OR r.denominator > 0 THEN 'value' ELSE 'not_provided' END AS status,
               r.services_contributing, e.services_expected, r.derived
        FROM rolled r
        JOIN expected e ON e.kpi = r.kpi AND e.department IS NOT DISTINCT FROM r.department"""
    )


@contextmanager
def _every_core(db: Any) -> Iterator[None]:
    """DuckDB on every core (its default) for statements whose result is the same whatever the
    threads do (the KPI stage otherwise runs on one, so that float sums add in one order)."""
    threads = int(db.execute("SELECT current_setting('threads')").fetchone()[0])
    db.execute("RESET threads")
    try:
        yield
    finally:
        db.execute(f"SET threads = {threads}")


def fetch_frame(db: Any, sql: str, *, categories: bool = False, any_threads: bool = False, drop: str | None = None) -> pd.DataFrame:
    """A query's rows as a frame, as ``.df()`` gives them except that dates are ``date`` objects.

    A million rows fetched with ``.df()`` made a string object per text cell and a date object
    per date cell: most of a build's peak memory. Here each text column comes out of DuckDB as
    an ENUM (a code per row) and becomes text again with one string per distinct value, and each
    distinct date is made once: the same values, a pointer per cell. With ``categories`` the text
    and date columns stay categorical (categories in order, only those present) instead: for
    frames that are made categorical again anyway (``_compact``).

    The query runs with the connection's threads (one in the KPI stage: its rows come in one
    order), or on every core with ``any_threads``: for a query whose rows come in the same order
    whatever the threads do (an ORDER BY that places every row; a scan of one table, as DuckDB
    keeps its order, unlike a join's). Reading the rows back runs on every core: a scan of one
    table, and the ENUMs' order is not kept (sorted, or made text).

    ``drop``: a table the query reads that nothing needs after it, dropped before the rows are
    read back (memory)."""
    with _every_core(db) if any_threads else nullcontext():
        db.execute(f"CREATE OR REPLACE TEMP TABLE _fetched AS {sql}")
    if drop is not None:
        db.execute(f"DROP TABLE {drop}")
    return fetch_table(db, "_fetched", categories=categories)


def fetch_table(db: Any, table: str, columns: list[str] | None = None, *, categories: bool = False) -> pd.DataFrame:
    """A table's ``columns`` (all by default), in that order, as :func:`fetch_frame` gives a
    query's; the table is dropped once read. Read where it is: a query's result is a copy of
    its rows (beside the table it reads, the KPI stage's peak for the service rows)."""
    # Read back a column at a time (a scan of one table: the same order each time), each made
    # what it becomes before the next: the whole result materialized at once, beside the
    # fetched table and the frame, was the KPI stage's peak on a large site.
    read: dict[str, pd.Series] = {}  # column -> its values
    try:
        kinds = {column: kind for column, kind, *_ in db.execute(f"DESCRIBE {table}").fetchall()}
        with _every_core(db):
            for index, column in enumerate(list(columns if columns is not None else kinds)):
                quoted = '"' + column.replace('"', '""') + '"'
                # An ENUM column (the loaded rows' service, channel, metric) as its text: the
                # values present, as a text column's, not every value its type allows.
                is_enum = kinds[column].startswith("ENUM")
                text = f"{quoted}::VARCHAR" if is_enum else quoted
                select = f"{text} AS {quoted}"
                enum = None
                if (is_enum or kinds[column] == "VARCHAR") and db.execute(f"SELECT count({quoted}) FROM {table}").fetchone()[0]:
                    enum = f"_fetched_{index}"
                    db.execute(f"CREATE TYPE {enum} AS ENUM (SELECT DISTINCT {text} FROM {table} WHERE {quoted} IS NOT NULL)")
                    select = f"{text}::{enum} AS {quoted}"
                try:
                    read[column] = _fetched_column(db.execute(f"SELECT {select} FROM {table}").df()[column], categories)
                finally:
                    if enum is not None:
                        db.execute(f"DROP TYPE IF EXISTS {enum}")
                if len(kinds) > 1:  # each column let go once read (a table keeps one at least)
                    db.execute(f"ALTER TABLE {table} DROP COLUMN {quoted}")
                    del kinds[column]
    finally:
        db.execute(f"DROP TABLE IF EXISTS {table}")
    frame = pd.DataFrame(index=pd.RangeIndex(len(next(iter(read.values()))) if read else 0))
    for column, values in read.items():
        frame[column] = values  # a block per column: assembled without copying them together
    return frame


def _fetched_column(column: pd.Series, categories: bool) -> pd.Series:
    """One column as ``fetch_frame`` gives it: text from an ENUM, dates as ``date`` objects."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        if categories:
            return column.cat.set_categories(sorted(column.cat.categories))
        return column.astype("str")  # each cell refers to its category's string
    if str(column.dtype).startswith("datetime64"):
        return _date_categories(column) if categories else _shared_dates(column)
    return column


def _date_categories(column: pd.Series) -> pd.Series:
    """Timestamps as a categorical of ``date`` objects, the dates present in order (as
    ``_compact`` makes a column of dates): grouping, sorting and naming periods then work on
    codes instead of hashing a ``date`` object per row."""
    codes, distinct = pd.factorize(column, sort=True)
    days = pd.Index([stamp.date() for stamp in distinct], dtype=object)
    return pd.Series(pd.Categorical.from_codes(codes, categories=days), index=column.index, name=column.name)


def _shared_dates(column: pd.Series) -> pd.Series:
    """Timestamps as ``date`` objects, one object per distinct date (missing: ``NaT``, as
    ``.dt.date`` gives)."""
    codes, distinct = pd.factorize(column)
    days = np.array([stamp.date() for stamp in distinct] + [pd.NaT], dtype=object)
    return pd.Series(days[codes], index=column.index, name=column.name)  # code -1 (missing) takes the last


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, like ``to_dict("records")`` but several times faster on large frames."""
    columns = list(frame.columns)
    lists = [frame[column].tolist() for column in columns]
    return [dict(zip(columns, row)) for row in zip(*lists)]


def row_hashes(frame: pd.DataFrame, columns: Iterable[str] | None = None, start: np.ndarray | None = None) -> np.ndarray:
    """A 64-bit hash of each row from the values of ``columns`` (all by default), for digests
    compared from one build to the next: pandas' hash of each column (``hash_pandas_object``),
    mixed column by column. Nothing is copied but one column's hashes at a time, and a column of
    Python objects (counts with gaps, dates) is hashed as a categorical, each distinct value
    once: pandas would otherwise make a string of every cell (gigabytes at 10,000 services).
    ``start``: the rows' hashes of other columns to go on from (as if those came first)."""
    combined = np.zeros(len(frame), dtype=np.uint64) if start is None else start.copy()
    with np.errstate(over="ignore"):
        for name in columns if columns is not None else frame.columns:
            column = frame[name]
            column = pd.Series(pd.Categorical(column)) if column.dtype == object else column
            hashes = pd.util.hash_pandas_object(column, index=False).to_numpy()
            combined = (combined ^ hashes) * np.uint64(0x100000001B3)  # FNV-1a's step, per column
    return combined


def _service_headlines(values: pd.DataFrame, config: Config, latest_end: date | None,
                       units: list[tuple[str, str, list[str]]] | None = None) -> pd.DataFrame:
    """One headline row per service, KPI and method: the latest 12 months where possible.

    A KPI whose latest value ends before the site's latest period is ``stale`` (the older value,
    with its period). A KPI with no value keeps the status of the service's latest period."""
    rows: list[dict[str, Any]] = []
    named = (values["service"] != "").to_numpy()
    frame = values if named.all() else values[named]  # a service's rows only: no copy when that is all of them
    groups: dict[tuple[str, str, str], bool] = {}
    if not frame.empty:
        # Each (service, KPI, method) group's row, found with numpy sorts instead of a dict per row:
        # rank 2 for a 12-month value, 1 for another value, 0 otherwise; the best-ranked row with the
        # latest (end, start), the first of equals.
        # Each row's group, service, KPI, method and dates as codes (a byte or two per row; the
        # categories' codes where they are categorical): arrays of a Python object or a 64-bit
        # number per row were 0.9 GB of this stage's peak at 10,000 services.
        service_codes, service_names = _codes(frame["service"])
        kpi_codes, kpi_names = _codes(frame["kpi"])
        method_codes, method_names = _codes(frame["method"])
        keys = _combined(_combined(service_codes, kpi_codes, len(kpi_names)), method_codes, len(method_names))
        has_value = (frame["status"] == "value").to_numpy()
        yearly = (frame["months"] == 12).to_numpy()
        rank = has_value.astype(np.int8)
        rank += has_value & yearly
        start_codes, start_days = _codes(frame["period_start"])
        end_codes, end_days = _codes(frame["period_end"])
        start_order, end_order = _date_order(frame["period_start"]), _date_order(frame["period_end"])
        first_of_equals = -np.arange(len(frame), dtype=np.int32 if len(frame) < 2**31 else np.int64)
        best = _last_of_runs(keys, np.lexsort((first_of_equals, start_order, end_order, rank, keys)))  # per group, in key order
        del first_of_equals
        # Each service's reference period: its latest 12 months with any value (or latest period).
        # The last (best) row of each service once its rows with a value are sorted, found
        # with numpy (a Python step per row with a value cost seconds at 10,000 services).
        valued = np.flatnonzero(has_value)
        ranked = np.lexsort((start_order[valued], end_order[valued], yearly[valued], service_codes[valued]))
        reference = {service_names[service_codes[i]]: (start_days[start_codes[i]], end_days[end_codes[i]])
                     for i in valued[_last_of_runs(service_codes[valued], ranked)].tolist()}
        group_key = [(service_names[service_codes[i]], kpi_names[kpi_codes[i]], method_names[method_codes[i]]) for i in best.tolist()]
        # A group without a value: its last row at the service's reference period, if any.
        at_reference = {}
        without = {int(keys[i]) for i in best.tolist() if rank[i] == 0}
        if without:
            for i in np.flatnonzero(np.isin(keys, list(without))).tolist():
                if reference.get(service_names[service_codes[i]]) == (start_days[start_codes[i]], end_days[end_codes[i]]):
                    at_reference[int(keys[i])] = i
        chosen = [at_reference.get(int(keys[i]), i) if rank[i] == 0 else i for i in best.tolist()]
        picked = records(frame.iloc[chosen])
        for group in sorted(range(len(group_key)), key=group_key.__getitem__):
            row = picked[group]
            groups[group_key[group]] = True
            if rank[chosen[group]] > 0 and latest_end is not None and row["period_end"] < latest_end:
                row["status"] = "stale"
            row["basis"] = "headline"
            rows.append(row)
    covered = {key[0] for key in groups}
    definitions = load_definitions()
    # (slug, department, not-applicable KPIs) of each service, or of each part for part rows
    units = units if units is not None else [(s.slug, s.department, list(s.not_applicable)) for s in config.services]
    for slug, department, not_applicable in units:
        if slug in covered:
            continue
        for definition in definitions:
            methods = ["mean_score", "top_two_box"] if definition.id == "user_satisfaction" else [""]
            for method in methods:
                status = "not_applicable" if definition.id in not_applicable else "not_provided"
                rows.append({
                    "service": slug, "department": department, "period_start": None,
                    "period_end": None, "period_kind": "", "kpi": definition.id, "method": method,
                    "value": None, "numerator": None, "denominator": None, "status": status,
                    "basis": "headline", "derived": False, "note": "no figures supplied", "months": None,
                })
    return pd.DataFrame(rows, columns=list(values.columns))


def _last_of_runs(codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The positions of ``order`` (a sort whose first key is ``codes``) that end each run of
    equal codes: each group's last row in that order, groups in code order."""
    if not len(order):
        return order
    ordered = codes[order]
    return order[np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])]


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code (-1 where missing) and the distinct values (Python objects) the codes
    number: a categorical's own codes and categories, or those ``pd.factorize`` finds."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), np.asarray(column.cat.categories.tolist() + [None], dtype=object)[:-1]
    codes, distinct = pd.factorize(column)
    return codes, np.asarray(list(distinct) + [None], dtype=object)[:-1]


def _combined(codes: np.ndarray, more: np.ndarray, more_count: int) -> np.ndarray:
    """One code per row for the pair (``codes``, ``more``), ordered as the pairs are (missing, -1,
    first): as few bytes a row as the pairs need."""
    size = (int(codes.max(initial=0)) + 2) * (more_count + 1)
    kind = np.int32 if size < 2**31 else np.int64
    return (codes.astype(kind) + 1) * (more_count + 1) + (more.astype(kind) + 1)


def _date_order(dates: pd.Series) -> np.ndarray:
    """Numbers in the order of each row's date: the codes of a categorical of dates in order
    with none missing, else their ordinals."""
    if isinstance(dates.dtype, pd.CategoricalDtype) and dates.cat.categories.is_monotonic_increasing:
        codes = dates.cat.codes.to_numpy()
        if not (codes < 0).any():
            return codes
    return _ordinals(dates)


def _ordinals(dates: pd.Series) -> np.ndarray:
    """Each row's date (a ``date`` in every row) as its proleptic ordinal, converted once per
    distinct date."""
    codes, distinct = pd.factorize(dates)
    return np.array([day.toordinal() for day in distinct], dtype=np.int64)[codes]


def _aggregate_headlines(aggregates: pd.DataFrame) -> pd.DataFrame:
    """Per department and government: the latest 12-month window at least half as well covered
    as the best-covered one (measured on transactions), applied to every KPI.

    With numpy over the 12-month rows (a pandas step per department took 0.15 s of a
    1,000-service build): departments in order, each one's rows in their own order."""
    yearly = aggregates[(aggregates["months"] == 12).to_numpy()]
    if yearly.empty:
        return aggregates.iloc[0:0].copy()
    group, departments = pd.factorize(yearly["department"], sort=True, use_na_sentinel=False)
    volume = (yearly["kpi"] == "transactions").to_numpy()
    has_volume = np.bincount(group[volume], minlength=len(departments)) > 0
    basis = volume | ~has_volume[group]  # transactions' rows, or every row where it has none
    covered = yearly["services_contributing"].to_numpy(dtype="float64", na_value=np.nan)
    best = np.full(len(departments), np.nan)
    np.fmax.at(best, group[basis], covered[basis])
    with np.errstate(invalid="ignore"):
        eligible = basis & (covered * 2 >= best[group])
    # Each department's latest eligible window: the greatest (end, start) among its rows.
    ends, starts = _ordinals(yearly["period_end"]), _ordinals(yearly["period_start"])
    latest = np.lexsort((starts[eligible], ends[eligible], group[eligible]))
    last = _last_of_runs(group[eligible], latest)
    window_end = np.full(len(departments), -1, dtype=np.int64)
    window_start = np.full(len(departments), -1, dtype=np.int64)
    window_end[group[eligible][last]] = ends[eligible][last]
    window_start[group[eligible][last]] = starts[eligible][last]
    chosen = np.flatnonzero((ends == window_end[group]) & (starts == window_start[group]))
    rows = yearly.iloc[chosen[np.argsort(group[chosen], kind="stable")]].copy()
    rows["basis"] = "headline"
    return rows


def compute_kpis(loaded: LoadedData, config: Config, warnings: Warnings, today: date | None = None,
                 channels: bool = False, facts_cache: FactsCache | None = None) -> KpiResults:
    """Every KPI value, headline and finding. Consumes the loaded rows: their tables are dropped
    once read (memory); ``channels`` reads the transactions by channel first
    (``KpiResults.channels``, for the render stage); ``facts_cache`` keeps each group of
    services' facts from one build to the next."""
    db = loaded.db
    # One thread (its sums are exact whatever the order, `_exact_sum`): the rows of each table come
    # in one order, as they are read back. The facts run on every core (`_make_facts`).
    db.execute("SET threads = 1")
    definitions = load_definitions()
    _register_config(db, config)
    # The channel breakdown is read first, while the loaded rows are all DuckDB holds: its sort
    # beside the KPI tables was the stage's peak (3.0 GB at 10,000 services).
    breakdown = channel_breakdown(db) if channels else None
    latest_rows, checked, with_data = _run_kpis(db, definitions, loaded.files, facts_cache)
    latest = {service: (start, end) for service, start, end in latest_rows}
    _aggregates(db, definitions)

    # One table's rows (their departments added here, not joined), read where they are. The
    # columns every frame of values has that are the same on every service row (basis "period",
    # no services counted) are made here as fetch_table would give them, not read from DuckDB
    # (a text column is counted, typed and read: 0.1 s at 1,000 services).
    service_values = fetch_table(db, "service_rows", ["service", "period_start", "period_end", "period_kind", "kpi", "method",
                                                      "value", "numerator", "denominator", "status", "derived", "note",
                                                      "parts_contributing", "parts_expected"],
                                 categories=True)
    rows, after = len(service_values), service_values.columns.get_loc("status") + 1  # SCHEMA_COLUMNS' order
    service_values.insert(after, "basis", pd.Categorical.from_codes(np.zeros(rows, dtype=np.int8), categories=pd.Index(["period"], dtype="str")))
    for offset, column in enumerate(("services_contributing", "services_expected"), start=1):  # every one missing
        service_values.insert(after + offset, column, pd.arrays.IntegerArray(np.zeros(rows, dtype=np.int64), np.ones(rows, dtype=bool)))
    service_values.insert(1, "department", _departments(service_values["service"], config))
    part_values = fetch_frame(db,
        """SELECT r.service, s.department, r.period_start, r.period_end, r.period_kind, r.kpi, r.method,
                  r.value, r.numerator, r.denominator, r.status, 'period' AS basis,
                  NULL::BIGINT AS services_contributing, NULL::BIGINT AS services_expected, r.derived, r.note
           FROM part_rows r JOIN services s ON s.service = r.parent""", drop="part_rows")
    aggregate_values = fetch_frame(db,
        """SELECT '' AS service, coalesce(department, '') AS department, period_start, period_end,
                  'aggregate' AS period_kind, kpi, method, value, numerator, denominator, status,
                  'period' AS basis, services_contributing, services_expected, derived, NULL AS note
           FROM aggregate_rows""", categories=True, drop="aggregate_rows")
    frames = []
    for frame in (service_values, aggregate_values, part_values):
        frame["months"] = _per_period(_months, frame["period_start"], frame["period_end"])
        frames.append(frame)
    aggregate_values["period_kind"] = [AGGREGATE_KINDS.get(m, "range") for m in aggregate_values["months"]]
    service_values, aggregate_values, part_values = frames
    del frames  # each frame let go as soon as it is joined below, not held to the end (0.4 GB at 10,000 services)

    # The latest end of a service's 12 months with a value (of any period without one): from
    # masks of the rows, not a copy of them (a copy of most rows, held to the end of this stage).
    latest_end = None
    with_value = (service_values["status"] == "value").to_numpy()
    if with_value.any():
        yearly = with_value & (service_values["months"] == 12).to_numpy()
        ends = service_values["period_end"]
        latest_end = ends.cat.categories[ends.cat.codes.to_numpy()[yearly if yearly.any() else with_value].max()]  # categories in date order

    headlines = _service_headlines(service_values, config, latest_end)
    aggregate_headlines = _aggregate_headlines(aggregate_values)
    values = _concat_categories([service_values, headlines, aggregate_values, aggregate_headlines])
    del service_values, headlines, aggregate_values, aggregate_headlines  # in values now (memory)
    values["period"] = _per_period(_period_words, values["period_start"], values["period_end"], categorical=True)
    values["note"] = values["note"].fillna("")
    unsorted = [_compact(values)]  # before sorting: categories sort as their text does, and faster
    del values  # the list's is the only reference: sorting lets each column go as it is reordered
    values = _sorted_rows(unsorted, ["department", "service", "kpi", "method", "basis", "period_start", "period_end"])

    part_values = _part_values(part_values, config, latest_end)

    as_of = today or latest_end
    for service in config.services:  # a service with parts is as recent as its latest part
        reported = [latest[part.slug] for part in service.parts if part.slug in latest]
        if reported:
            latest[service.slug] = max(reported, key=lambda dates: (dates[1], dates[0]))
    freshness = check_freshness(config, latest, as_of) if as_of else []
    quality = _quality(checked, with_data, config, values, latest_end, warnings, [f for f in freshness if f.overdue], part_values)
    return KpiResults(definitions, values, quality, latest_end, as_of=as_of, as_of_given=today is not None, freshness=freshness,
                      part_values=part_values, channels=breakdown)


#: Text columns with few distinct values among a million rows: stored as categories (a code
#: per row instead of a string object), a tenth of the memory and faster to compare.
_CATEGORIES = ("service", "department", "period_kind", "kpi", "method", "status", "basis", "note", "period",
               "period_start", "period_end")


#: Counts of the services or parts a figure adds up: few distinct whole numbers, nearly all rows
#: without one. Categories of whole numbers (a row's count reads as the number, a missing one as
#: NaN): a code of a byte or two per row, not a pointer (8 bytes) to an object; 0.3 GB of a
#: 10,000-service build's values, held from the KPIs to the end.
_COUNTS = ("services_contributing", "services_expected", "parts_contributing", "parts_expected")


def _departments(services: pd.Series, config: Config) -> pd.Categorical | pd.Series:
    """Each row's department from its service (categorical, as ``fetch_frame(...,
    categories=True)`` gives a text column: the departments present, in text order)."""
    if not isinstance(services.dtype, pd.CategoricalDtype):  # no rows: text, as fetched
        return services.astype(object)
    department_of = {service.slug: service.department for service in config.services}
    of_category = np.array([department_of[slug] for slug in services.cat.categories], dtype=object)
    codes = services.cat.codes.to_numpy()
    present = np.zeros(len(of_category), dtype=bool)
    present[codes] = True
    # Recoded per category, not made from a string per row (a tenth of a second at 1,000 services).
    departments = sorted(set(of_category[present]))
    position = {department: number for number, department in enumerate(departments)}
    recoded = np.array([position.get(department, -1) for department in of_category], dtype=np.int32)
    return pd.Categorical.from_codes(recoded[codes], categories=pd.Index(departments, dtype="str"), ordered=True)


def _concat_categories(frames: list[pd.DataFrame], filled: tuple[str, ...] = ("note",)) -> pd.DataFrame:
    """The frames one after the other, each column of ``_CATEGORIES`` that is categorical in any
    of them categorical in the result, with the categories ``_compact`` would give it: the values
    present, in text order (and "" in a ``filled`` column with a missing cell, which is then filled
    with ""). ``pd.concat`` makes text of frames whose categories differ: a string per cell, made
    categorical again by ``_compact`` (a second of a 1,000-service build). The ``_COUNTS``
    columns and ``months`` become categories of the whole numbers present, in order (missing
    where a frame has no such column): a byte a row, not eight."""
    frames = [frame.copy(deep=False) for frame in frames]
    for column in _CATEGORIES:
        if not all(column in frame for frame in frames) or \
                not any(isinstance(frame[column].dtype, pd.CategoricalDtype) for frame in frames):
            continue
        present: set[str] = set()
        missing = False
        for frame in frames:
            cells = frame[column]
            if isinstance(cells.dtype, pd.CategoricalDtype):
                # Counted in one pass (code -1, a missing cell, first): ``remove_unused_categories``
                # sorts the codes, seconds for ten million rows.
                counts = np.bincount(cells.cat.codes.to_numpy().astype(np.int64) + 1, minlength=len(cells.cat.categories) + 1)
                present.update(cells.cat.categories[counts[1:] > 0])
                missing = missing or bool(counts[0])
            else:
                known = cells.dropna()
                present.update(known.unique())
                missing = missing or len(known) < len(cells)
        if missing and column in filled:
            present.add("")
        dtype = pd.CategoricalDtype(sorted(present))
        for frame in frames:
            frame[column] = frame[column].astype(dtype)
    for column in (*_COUNTS, "months"):
        if not any(column in frame for frame in frames):
            continue
        numbers: set[int] = set()
        for frame in frames:
            if column in frame:
                cells = frame[column]
                known = cells.cat.categories if isinstance(cells.dtype, pd.CategoricalDtype) else cells.dropna().unique()
                numbers.update(int(number) for number in known)
        dtype = pd.CategoricalDtype(pd.Index(sorted(numbers), dtype=np.int64))
        for frame in frames:  # a frame without the column: every count missing
            frame[column] = frame[column].astype(dtype) if column in frame else pd.Categorical.from_codes(np.full(len(frame), -1, dtype=np.int8), dtype=dtype)
    return pd.concat(frames, ignore_index=True)


def _sorted_rows(holder: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """The frame taken out of ``holder``, its rows sorted by its categorical ``keys`` as
    ``sort_values(keys, kind="stable")`` sorts them (by category order, missing last), index
    0 to n. Reordered a column at a time, each original let go once its copy is made:
    ``sort_values`` copied the whole frame beside itself, the KPI stage's peak (0.7 GB at
    10,000 services)."""
    frame = holder.pop()
    codes = []
    for key in reversed(keys):  # np.lexsort sorts by the last key first
        column = frame[key].cat.codes.to_numpy()
        codes.append(np.where(column < 0, len(frame[key].cat.categories), column))  # missing last
    order = np.lexsort(codes) if len(frame) else np.arange(0)  # stable
    del codes
    columns = {name: frame[name] for name in frame.columns}
    del frame
    for name in list(columns):
        column = columns.pop(name)
        columns[name] = pd.Series(column.array.take(order), name=name)
        del column
    return pd.DataFrame(columns, copy=False)


def _compact(values: pd.DataFrame) -> pd.DataFrame:
    for column in _CATEGORIES:
        compact = values[column].astype("category")
        if column not in ("period_start", "period_end") and "" not in compact.cat.categories:
            compact = compact.cat.add_categories("")  # so that fillna("") keeps working
        values[column] = compact
    return values


def _part_values(part_values: pd.DataFrame, config: Config, latest_end: date | None) -> pd.DataFrame:
    """Every part's values and headlines (picked as a service's are), ``service`` naming the
    service and ``part`` the part."""
    units = [(part.slug, s.department, list(s.not_applicable)) for s in config.services for part in s.parts]
    headlines = _service_headlines(part_values, config, latest_end, units) if units else part_values.iloc[0:0]
    frame = pd.concat([part_values, headlines], ignore_index=True)
    parent = {part.slug: s.slug for s in config.services for part in s.parts}
    frame["part"] = frame["service"]
    frame["service"] = frame["part"].map(parent)
    frame["period"] = _per_period(_period_words, frame["period_start"], frame["period_end"])
    frame["note"] = frame["note"].fillna("")
    return frame.sort_values(["department", "service", "part", "kpi", "method", "basis", "period_start", "period_end"], kind="stable").reset_index(drop=True)


def _months(start: date, end: date) -> int | None:
    return months_spanned(start, end)


def _period_words(start: Any, end: Any) -> str:
    return period_words(start, end) if start is not None and not pd.isna(start) else ""


def _per_period(function: Any, starts: pd.Series, ends: pd.Series, categorical: bool = False) -> Any:
    """``function(start, end)`` for each row, computed once per distinct period (a site has a
    few hundred periods and millions of rows): each row's (start, end) numbered from the dates'
    codes, the function called once per number present. An array of the type pandas gives a
    list of the results (each row's taken from the distinct ones': no Python object per row),
    or with ``categorical`` a categorical of them (categories in order)."""
    start_codes, start_values = _codes(starts)
    end_codes, end_values = _codes(ends)
    if not len(start_codes):  # no rows: typed as pandas types an empty list
        return []
    missing = np.nan if isinstance(starts.dtype, pd.CategoricalDtype) else None  # as a row of the column reads
    pairs = _combined(start_codes, end_codes, len(end_values))
    width = len(end_values) + 1
    present = np.flatnonzero(np.bincount(pairs))
    results = [function(start_values[pair // width - 1] if pair // width else missing, end_values[pair % width - 1] if pair % width else missing)
               for pair in present.tolist()]
    if categorical:
        result_codes, distinct = pd.factorize(pd.Series(results, dtype=object), sort=True, use_na_sentinel=True)
        table = np.full(present[-1] + 1, -1, dtype=np.int32)
        table[present] = result_codes
        return pd.Categorical.from_codes(table.astype(np.int16 if len(distinct) < 2**15 else np.int32)[pairs], categories=distinct)
    table = np.zeros(present[-1] + 1, dtype=np.int32)
    table[present] = np.arange(len(present), dtype=np.int32)
    return pd.Series(results).array.take(table[pairs])


def _quality(checked: list[tuple[Any, ...]], services_with_data: set[str], config: Config, values: pd.DataFrame, latest_end: date | None,
             warnings: Warnings, overdue: list[Freshness] | None = None, part_values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Findings per service: ``checked``, the rows of the coded checks' SQL (each with its code
    first), the services and parts with a figure, and the stale and overdue ones; a part's
    findings are its service's, named after the part (``part`` column, and the part's name at
    the start of the detail)."""
    rows: list[tuple] = []
    parts = {part.slug: (s.slug, part) for s in config.services for part in s.parts}

    def add(slug: str, start: Any, end: Any, code: str, detail: str) -> None:
        if slug in parts:
            service, part = parts[slug]
            rows.append((service, start, end, code, f"{part.name} ({part.slug}): {detail}", part.slug))
        else:
            rows.append((slug, start, end, code, detail, ""))

    for code, service, start, end, detail in checked:
        add(service, start, end, code, detail)
    departments = {s.slug: s.department for s in config.services}
    headline = values[(values["basis"] == "headline") & (values["service"] != "")]
    part_headline = part_values[part_values["basis"] == "headline"] if part_values is not None and not part_values.empty else None
    def add_stale(slug: str, start: Any, end: Any) -> None:
        add(slug, start, end, "stale-data", f"no figures after {end:%B %Y}; the site's latest figures run to {latest_end:%B %Y}")

    stale_services = _latest_stale(headline, "service")
    stale_parts = _latest_stale(part_headline, "part") if part_headline is not None else {}
    for service in config.services:
        if service.parts and any(part.slug in services_with_data for part in service.parts):
            for part in service.parts:
                if part.slug not in services_with_data:
                    add(part.slug, None, None, "no-data", "no figures in any data file")
                    continue
                if part.slug in stale_parts:
                    add_stale(part.slug, *stale_parts[part.slug])
        elif service.slug not in services_with_data:
            rows.append((service.slug, None, None, "no-data", "no figures in any data file", ""))
            continue
        if service.slug in stale_services:
            add_stale(service.slug, *stale_services[service.slug])
    for late in overdue or []:  # the period whose figures are late
        rows.append((late.service, late.next_start, late.next_end, "overdue", late.detail(), ""))
    frame = pd.DataFrame(rows, columns=["service", "period_start", "period_end", "code", "detail", "part"])
    frame["department"] = frame["service"].map(departments)
    frame = frame.sort_values(["department", "service", "code", "period_start", "detail"], kind="stable", na_position="first").reset_index(drop=True)
    for row in frame.itertuples():
        period = f" {period_words(row.period_start, row.period_end)}" if row.period_start is not None and not pd.isna(row.period_start) else ""
        warnings.add(Problem(f"service '{row.service}'", None, "", f"{period.strip()}: {row.detail}" if period else row.detail, code=row.code))
    return frame


def _latest_stale(headlines: pd.DataFrame, key: str) -> dict[str, tuple[Any, Any]]:
    """For each service (or part: ``key``) whose headline figures are all out of date (some
    ``stale``, none ``value``), the period of its latest stale figure: the latest end, the last
    row of equal ends. One pass over the rows: a frame per service cost a millisecond each."""
    latest: dict[str, tuple[Any, Any]] = {}
    valued: set[str] = set()
    columns = [headlines[column].tolist() for column in (key, "status", "period_start", "period_end")]
    for slug, status, start, end in zip(*columns):
        if status == "value":
            valued.add(slug)
        elif status == "stale" and (slug not in latest or end >= latest[slug][1]):
            latest[slug] = (start, end)
    return {slug: period for slug, period in latest.items() if slug not in valued}


def channel_breakdown(db: Any) -> pd.DataFrame:
    """Every transactions figure by channel, with the service it counts towards (``service``)
    and the slug it was given under (``unit``: the service itself, or one of its parts), for the
    channel tables of the render stage (``parts.channel_tables``)."""
    frame = fetch_frame(db,
        """SELECT coalesce(p.service, o.service) AS service, o.service AS unit, o.channel, o.period_start, o.period_end,
                  o.months, o.value, o.status
           FROM clean_observations o LEFT JOIN service_parts p ON p.part = o.service
           WHERE o.metric = 'transactions' AND o.status <> 'not_applicable'
           ORDER BY 1, 2, o.period_start, o.period_end, o.channel""", categories=True, any_threads=True)  # a unit's figure is given once per channel and dates
    frame["months"] = _months_column(frame["months"])
    return frame


def _months_column(months: pd.Series) -> pd.Series:
    """Months as whole numbers, or as floats with NaN where a period is not whole months (as a
    list of ints and Nones assigned to the column made them), without a Python step per row (a
    third of a second for 1,000 services); all None if none is whole months."""
    missing = months.isna().to_numpy()
    if len(months) and missing.all():
        return pd.Series([None] * len(months), index=months.index, name=months.name, dtype=object)
    return months.astype("float64") if missing.any() or not len(months) else months.astype("int64")
