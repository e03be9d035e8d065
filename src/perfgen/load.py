"""Stage 2, load: every file in ``data/`` in, one checked ``observations`` table in DuckDB out.

The canonical format is a long table with the columns ``service, period, channel, metric,
value`` and optionally ``status`` and ``note`` (CSV, Parquet or JSON). CSV is read with DuckDB's
own reader with explicit types and no sniffing; rows it cannot read come back from its reject
tables with their line. Every problem of every file is collected before anything fails.

A service measured in parts has its figures under its parts' slugs; a row under the service's
own slug is then an error (it would be counted twice).

Output tables: ``observations`` (one row per input row, with file and line), ``periods`` (each
distinct period label with its dates), ``input_files`` (path, hash, rows).

With a :class:`RowCache`, each file's rows as loaded are kept by the file's content, and a
rebuild reads the files that did not change from there instead of parsing them again (the
checks still run on every row: they depend on the config too).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from perfgen import plugins
from perfgen.config import ALL_CHANNELS, DIGITAL, Config
from perfgen.errors import DataError, Problem, did_you_mean
from perfgen.files import abandoned, prune
from perfgen.periods import PeriodError, months_spanned, parse_period
from perfgen.plugins import Loader, hookimpl

METRICS = (
    "transactions",
    "cost",
    "cost_per_transaction",
    "started",
    "completed",
    "rating_1",
    "rating_2",
    "rating_3",
    "rating_4",
    "rating_5",
)
STATUSES = ("not_provided", "not_applicable", "invalid")
REQUIRED_COLUMNS = ("service", "period", "channel", "metric", "value")
OPTIONAL_COLUMNS = ("status", "note")
HEADER_HINT = "the header must be: service,period,channel,metric,value (optionally status,note)"
#: Only this many problems of one kind are listed per file; the rest are counted.
MAX_LISTED = 20


@dataclass(frozen=True)
class InputFile:
    path: str  # as shown to users, relative to the project
    sha256: str
    rows: int


@dataclass
class LoadedData:
    db: duckdb.DuckDBPyConnection
    files: list[InputFile]
    from_cache: int = 0  # how many files' rows were read from the row cache


#: The columns of ``observations`` but ``file``, as a file's rows are kept in the row cache.
CACHED_COLUMNS = {"line": "BIGINT", "service": "VARCHAR", "period": "VARCHAR", "channel": "VARCHAR", "metric": "VARCHAR",
                  "value": "VARCHAR", "number": "DOUBLE", "status": "VARCHAR", "note": "VARCHAR"}
#: Changed whenever what a cached file holds changes (its columns, or what they mean).
ROWS_FORMAT = 1


@dataclass(frozen=True)
class RowCache:
    """Each data file's rows as the load makes them (trimmed, values read as numbers; the
    columns of ``observations`` but ``file``), kept in ``folder`` as a Parquet file named by
    what made them: the file's SHA-256, its suffix and loader, and ``code`` (perfgen's code, the
    plugins and the libraries' versions). A rebuild reads a file that did not change from there:
    25 CSV files of 1,000 services (932,783 rows) took 1.0-1.3 s to parse; read back where they
    are sorted into ``observations``, that statement takes 0.3 s as it did with them parsed.
    Only a load without problems is kept (a file with one is parsed again to name it), and only
    files whose loader has no ``locate`` (a spreadsheet's problems are placed by it). A cached
    file that cannot be read is parsed again (every file, if the damage shows only once its
    rows are read: ``reading`` off). After a load the folder keeps only that load's files, as
    the chart cache keeps one site's charts."""

    folder: Path
    code: str
    reading: bool = True  # False: parse every file (a cached file could not be read), keep them all

    def entry(self, path: Path, sha256: str, loader: Loader) -> Path:
        key = f"{ROWS_FORMAT}|{self.code}|{loader.plugin}|{loader.name}|{path.suffix.lower()}|{sha256}"
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()}.parquet"

    def rows(self, db: duckdb.DuckDBPyConnection, entry: Path) -> int | None:
        """How many rows ``entry`` holds, read from its footer; None if it cannot be read or
        does not hold this cache's columns (it is then parsed again and replaced)."""
        if not self.reading or not entry.is_file():
            return None
        try:
            db.execute(f"DESCRIBE {self._select(entry)}")  # the footer's columns, cast as they will be
            return int(db.execute(f"SELECT num_rows FROM parquet_file_metadata({sql_text(str(entry))})").fetchone()[0])
        except duckdb.Error:
            return None

    def read(self, db: duckdb.DuckDBPyConnection, entries: dict[str, Path], view: str) -> None:
        """View ``view``: the rows kept in ``entries`` (display name -> entry), ``file`` first
        (``_data_file``). Read where ``observations`` is made, in the same statement: read
        into a table first, they took 0.26-0.38 s more at 1,000 services and, at 10,000, their
        gigabyte in memory beside the sort (the load's peak 2,031 MiB instead of 1,858). A
        damaged page raises ``duckdb.Error`` there."""
        db.execute(f"CREATE TEMP VIEW {view} AS " + " UNION ALL ".join(
            f"SELECT {sql_text(display)}::_data_file AS file, * FROM ({self._select(entry)})" for display, entry in entries.items()))

    @staticmethod
    def _select(entry: Path) -> str:
        columns = ", ".join(f"CAST({column} AS {kind}) AS {column}" for column, kind in CACHED_COLUMNS.items())
        return f"SELECT {columns} FROM read_parquet({sql_text(str(entry))})"

    def write(self, db: duckdb.DuckDBPyConnection, entry: Path, display: str) -> None:
        """Keep the rows of ``observations`` from the file shown as ``display``: written under
        a temporary name and renamed, so that a reader never sees half a file."""
        temporary = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            db.execute(f"COPY (SELECT * EXCLUDE (file) FROM observations WHERE file = {sql_text(display)}::_data_file) "
                       f"TO {sql_text(str(temporary))} (FORMAT parquet)")
            os.replace(temporary, entry)
        except duckdb.IOException as error:
            raise OSError(f"{temporary}: cannot be written ({str(error).splitlines()[0]})") from error
        finally:
            temporary.unlink(missing_ok=True)

    def write_all(self, db: duckdb.DuckDBPyConnection, entries: dict[str, Path]) -> None:
        """:meth:`write` each file's rows (display name -> entry), two at a time: each is
        encoded on one thread (a file's rows are one Parquet row group), and nothing else runs
        meanwhile (25 files of 1,000 services: 0.6-0.7 s one at a time)."""
        items = list(entries.items())
        shares = [share for share in (items[0::2], items[1::2]) if share]
        cursors = [db.cursor() for _ in shares]  # connections to the same database, one per thread
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                jobs = [pool.submit(lambda cursor, share: [self.write(cursor, entry, display) for display, entry in share], cursor, share)
                        for cursor, share in zip(cursors, shares)]
                for job in jobs:
                    job.result()  # the first error, if any
        finally:
            for cursor in cursors:
                cursor.close()

    def keep_only(self, entries: Iterable[Path]) -> None:
        """Remove the cached files this load did not use, and any temporary file an hour old
        (left by a build that was stopped while writing)."""
        keep = set(entries)
        prune(self.folder, lambda path: (path.suffix == ".parquet" and path not in keep) or (path.suffix == ".tmp" and abandoned(path)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sql_text(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _check_text(path: Path, display: str, problems: list[Problem]) -> str | None:
    """Text of a CSV file, after checking it is non-empty UTF-8; None if unusable."""
    raw = path.read_bytes()
    if not raw.strip():
        problems.append(Problem(display, None, "", "the file is empty", hint=HEADER_HINT))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        try:
            raw.decode("cp1252")
            guess = " (it looks like Windows-1252)"
        except UnicodeDecodeError:
            guess = ""
        problems.append(Problem(display, line, "", f"the file is not UTF-8 text{guess}", hint="save it as UTF-8 (in Excel: Save As, 'CSV UTF-8')"))
        return None
    return text


#: Text up to the first line boundary ``str.splitlines`` knows.
_FIRST_LINE = re.compile("[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]*")


def _record_starts(text: str) -> Sequence[int | None] | None:
    """The line each CSV record starts on (None for a blank line), header first: a ``range``
    when each record is the line of its own number.

    DuckDB numbers records, not lines: a quoted value with line breaks or a blank line would
    put every later message on the wrong line. None if Python's reader cannot read the file.
    """
    if not any(mark in text for mark in ('"', "\r", "\0")):
        # No quotes, carriage returns or NULs (the usual export): each line is one record, as
        # the csv module would read it, without reading it (a third of a large load's time).
        if not text.startswith("\n") and "\n\n" not in text:  # nor a blank line: record n is line n
            return range(1, text.count("\n") + (0 if text.endswith("\n") or not text else 1) + 1)
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()  # the newline ending the last line
        return [number if line else None for number, line in enumerate(lines, start=1)]
    reader = csv.reader(io.StringIO(text, newline=""))
    starts: list[int | None] = []
    end = 0
    try:
        for record in reader:
            starts.append(end + 1 if record else None)
            end = reader.line_num
    except csv.Error:
        return None
    return starts


def _check_columns(columns: list[str], display: str, problems: list[Problem]) -> bool:
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    ok = True
    for column in columns:
        if column not in known:
            problems.append(Problem(display, 1, "header", f"unknown column '{column}'{did_you_mean(column, known)}", hint=HEADER_HINT))
            ok = False
        elif columns.count(column) > 1:
            problems.append(Problem(display, 1, "header", f"column '{column}' appears more than once"))
            ok = False
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        problems.append(Problem(display, 1, "header", "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(f"'{c}'" for c in missing), hint=HEADER_HINT))
        ok = False
    return ok and len(set(columns)) == len(columns)


def _select_canonical(columns: list[str], source: str) -> str:
    """SELECT turning a file's columns into the canonical text columns."""
    parts = ["rowid AS rid"] + [f"CAST({c} AS VARCHAR) AS {c}" for c in REQUIRED_COLUMNS]
    parts += [f"CAST({c} AS VARCHAR) AS {c}" if c in columns else f"NULL::VARCHAR AS {c}" for c in OPTIONAL_COLUMNS]
    return f"SELECT {', '.join(parts)} FROM {source}"


def _load_csv(db: duckdb.DuckDBPyConnection, path: Path, display: str, table: str, problems: list[Problem]) -> bool:
    content = _check_text(path, display, problems)
    if content is None:
        return False
    first_line = _FIRST_LINE.match(content).group()  # content.splitlines()[0], without splitting every line
    columns = next(csv.reader(io.StringIO(first_line)), [])
    columns = [c.strip() for c in columns]
    if not _check_columns(columns, display, problems):
        return False
    types = "{" + ", ".join(f"{sql_text(c)}: 'VARCHAR'" for c in columns) + "}"
    db.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
    reader = (
        f"read_csv({sql_text(str(path))}, columns={types}, header=true, delim=',', quote='\"', "
        "escape='\"', auto_detect=false, strict_mode=true, store_rejects=true, encoding='utf-8')"
    )
    db.execute(f"CREATE TEMP TABLE {table}_raw AS SELECT * FROM {reader}")
    rejects = db.execute(
        "SELECT line, column_name, error_type, error_message FROM reject_errors ORDER BY line"
    ).fetchall()
    starts = _record_starts(content)

    def physical(record: int) -> int:
        """Line of DuckDB's record number ``record`` (1 is the header; blank lines count)."""
        return (starts[record - 1] or record) if starts and 0 < record <= len(starts) else record

    for line, column, error_type, message in rejects[:MAX_LISTED]:
        if error_type == "TOO MANY COLUMNS":
            text = f"too many fields (expected {len(columns)})"
        elif error_type == "MISSING COLUMNS":
            text = f"too few fields (expected {len(columns)})"
        elif error_type == "UNQUOTED VALUE":
            text = "a quote is not closed"
        else:
            text = message
        problems.append(Problem(display, physical(int(line)), "", text, hint="every row needs one value per header column; quote text containing commas"))
    if len(rejects) > MAX_LISTED:
        problems.append(Problem(display, None, "", f"{len(rejects) - MAX_LISTED} more unreadable rows not listed"))
    # Map each kept row to the line it starts on: DuckDB skips blank and rejected records.
    rejected = {int(line) for line, *_ in rejects}
    kept_rows = int(db.execute(f"SELECT count(*) FROM {table}_raw").fetchall()[0][0])
    if isinstance(starts, range) and not rejected and len(starts) == kept_rows + 1:
        lines: Sequence[int] = range(2, kept_rows + 2)  # every record kept, each on the line of its number
    else:
        lines = [start for number, start in enumerate(starts or [], start=1) if number > 1 and start is not None and number not in rejected]
        if len(lines) != kept_rows:  # the two readers disagree: fall back to record numbers
            lines = [number for number in range(2, kept_rows + len(rejected) + 2) if number not in rejected]
    if not isinstance(lines, range) and lines != list(range(2, kept_rows + 2)):
        db.execute(f"CREATE TEMP TABLE {table}_lines AS SELECT unnest(range(?)) AS row_index, unnest(?::BIGINT[]) AS line", [len(lines), lines])
        line_expr, join = "n.line", f"JOIN {table}_lines n ON n.row_index = r.rowid"
    else:
        line_expr, join = "r.rowid + 2", ""
    # A view: the rows are copied once, into ``observations`` (in file and line order).
    db.execute(
        f"""CREATE TEMP VIEW {table} AS
        SELECT {sql_text(display)} AS file, {line_expr.replace('r.rowid', 'c.rid')} AS line, c.* EXCLUDE (rid)
        FROM ({_select_canonical(columns, table + '_raw')}) c {join.replace('r.rowid', 'c.rid')}"""
    )
    return True


def _load_table_file(db: duckdb.DuckDBPyConnection, path: Path, display: str, table: str, problems: list[Problem]) -> bool:
    reader = "read_parquet" if path.suffix == ".parquet" else "read_json_auto"
    try:
        db.execute(f"CREATE TEMP TABLE {table}_raw AS SELECT * FROM {reader}({sql_text(str(path))})")
    except duckdb.Error as error:
        first = str(error).splitlines()[0]
        problems.append(Problem(display, None, "", f"cannot be read: {first}"))
        return False
    columns = [row[0] for row in db.execute(f"DESCRIBE {table}_raw").fetchall()]
    if not _check_columns(columns, display, problems):
        return False
    db.execute(
        f"""CREATE TEMP VIEW {table} AS
        SELECT {sql_text(display)} AS file, c.rid + 1 AS line, c.* EXCLUDE (rid)
        FROM ({_select_canonical(columns, table + '_raw')}) c"""
    )
    return True


# The built-in formats and metrics go through the same plugin hooks as installed plugins'.
@hookimpl
def load_formats() -> list[Loader]:
    return [Loader("CSV", (".csv",), _load_csv), Loader("Parquet or JSON", (".parquet", ".json", ".jsonl"), _load_table_file)]


@hookimpl
def load_metrics() -> list[str]:
    return list(METRICS)


def data_files(data_dir: Path) -> list[Path]:
    """Files that will be loaded: everything in ``data_dir`` (recursively) but hidden files and READMEs."""
    return sorted(
        p for p in data_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data_dir).parts)
        and not p.name.lower().startswith("readme")
    )


def _listed(problems: list[Problem], rows: list[tuple], make) -> None:
    """Add a problem per row, at most MAX_LISTED per file, then a count of the rest."""
    per_file: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        per_file[row[0]] = per_file.get(row[0], 0) + 1
        first_line.setdefault(row[0], row[1])
        if per_file[row[0]] <= MAX_LISTED:
            problems.append(make(*row))
    for file, total in per_file.items():
        if total > MAX_LISTED:
            # Name a listed example: a file can have several kinds of problem cut short.
            problems.append(Problem(file, None, "", f"{total - MAX_LISTED} more rows with the same kind of problem as line {first_line[file]} not listed"))


def _check_rows(db: duckdb.DuckDBPyConnection, config: Config, problems: list[Problem]) -> None:
    """Row-level checks on the combined ``observations`` table."""
    # A part's figures carry the part's slug; a service with parts is the sum of its parts.
    services = [s.slug for s in config.services] + [part.slug for s in config.services for part in s.parts]
    channels = config.known_channels() + [DIGITAL]
    metrics = plugins.metrics()

    def rows(sql: str) -> list[tuple]:
        return db.execute(sql).fetchall()

    _listed(problems, rows("SELECT file, line, value FROM observations WHERE value IS NOT NULL AND (number IS NULL OR NOT isfinite(number)) ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'value'", f"'{v}' is not a number", hint="write plain numbers such as 1234.5, without thousands separators, currency signs or units" if any(ch in v for ch in ",£$%") else ""))
    _listed(problems, rows("SELECT file, line, value FROM observations WHERE number < 0 ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'value'", f"'{v}' is negative; counts and costs cannot be below zero"))
    _listed(problems, rows("SELECT file, line, service FROM observations WHERE service IS NULL ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'service'", "is empty"))
    # The known slugs as a table: an IN list of thousands of literals is compared one by one for
    # every row (quadratic on a large site); a subquery is one hash join.
    insert_table(db, "known_services", {"slug": "VARCHAR"}, [(slug,) for slug in services])
    _listed(problems, rows("SELECT file, line, service FROM observations WHERE service IS NOT NULL AND service NOT IN (SELECT slug FROM known_services) ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'service'", f"unknown service '{v}'{did_you_mean(v, services)}", hint="add the service to config/services.yml or correct the slug"))
    for service in config.services:
        if not service.parts:
            continue
        part_slugs = ", ".join(f"'{part.slug}'" for part in service.parts)
        # Figures under the service's own slug would be counted twice: once on their own and once
        # in the sum of its parts. Each belongs to one part.
        _listed(problems, rows(f"SELECT file, line, service FROM observations WHERE service = {sql_text(service.slug)} ORDER BY file, line"),
                lambda f, l, v, part_slugs=part_slugs: Problem(f, l, "column 'service'", f"service '{v}' is reported by its parts {part_slugs}: give these figures under a part's slug",
                                                               hint="a service with parts is the sum of its parts' figures; declare another part in config/services.yml for figures that belong to none"))
    known = ", ".join(sql_text(m) for m in metrics)
    _listed(problems, rows(f"SELECT file, line, coalesce(metric, '') FROM observations WHERE metric IS NULL OR metric NOT IN ({known}) ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'metric'", f"unknown metric '{v}'{did_you_mean(v, metrics)}", hint="metrics are " + ", ".join(metrics)))
    known = ", ".join(sql_text(c) for c in channels)
    _listed(problems, rows(f"SELECT file, line, channel FROM observations WHERE channel IS NOT NULL AND channel NOT IN ({known}) ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'channel'", f"unknown channel '{v}'{did_you_mean(v, channels)}", hint="leave it empty for an all-channel figure, or add the channel to site.channels in config/services.yml"))
    known = ", ".join(sql_text(s) for s in STATUSES)
    _listed(problems, rows(f"SELECT file, line, status FROM observations WHERE status IS NOT NULL AND status NOT IN ({known}) ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'status'", f"unknown status '{v}'{did_you_mean(v, STATUSES)}", hint="leave it empty for a value, or use " + ", ".join(STATUSES)))
    _listed(problems, rows("SELECT file, line, status FROM observations WHERE status IS NOT NULL AND (value IS NOT NULL OR number IS NOT NULL) ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'status'", f"status '{v}' given with a value", hint="a row has either a value or a status saying why there is none"))
    _listed(problems, rows("SELECT file, line, period FROM observations WHERE period IS NULL ORDER BY file, line"),
            lambda f, l, v: Problem(f, l, "column 'period'", "is empty"))


def create_enum(db: duckdb.DuckDBPyConnection, name: str, values: Iterable[str]) -> None:
    """An ENUM type of the distinct ``values``, in text order."""
    db.execute(f"CREATE TYPE {name} AS ENUM ({', '.join(sql_text(value) for value in sorted(set(values)))})")


def insert_table(db: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], rows: list[tuple[Any, ...]]) -> None:
    """Create table ``name`` (column -> SQL type) holding ``rows``, inserted at once from a frame
    (``executemany`` costs about a millisecond a row: most of a second for a thousand services)."""
    db.execute(f"CREATE TABLE {name} ({', '.join(f'{column} {kind}' for column, kind in columns.items())})")
    if rows:
        db.register("perfgen_rows", pd.DataFrame(rows, columns=list(columns), dtype=object))
        casts = ", ".join(f"CAST({column} AS {kind})" for column, kind in columns.items())
        db.execute(f"INSERT INTO {name} SELECT {casts} FROM perfgen_rows")
        db.unregister("perfgen_rows")


#: Working memory DuckDB may use beyond twice the files' text tables while it sorts, checks and
#: cleans every row (see ``bound_memory``).
SPILL_HEADROOM = 128 << 20


#: A cached row (``RowCache``) as the bound counts it: the memory of the text row it was parsed
#: from (79 MB for the 932,783 rows of the benchmark's 25 CSV files, 85 bytes a row), as if the
#: file had been parsed: the bound, and so the load's peak, is then the same either way.
CACHED_ROW_BYTES = 85


def bound_memory(db: duckdb.DuckDBPyConnection, unread: int = 0) -> None:
    """Ask DuckDB to stay within twice the memory the files' text tables take (those of the
    files read from the row cache counted as ``unread`` bytes; plus ``SPILL_HEADROOM``) while
    it makes ``observations`` and ``clean_observations`` (and twice what it holds while the KPI
    stage makes the facts: ``kpis._run_kpis``): beyond it,
    its sorts and aggregates spill to a temporary folder (removed when the connection is
    closed). Unbounded, the sort's runs stayed in memory beside the text tables and the sorted
    rows: the 10,000-service load peaked at 2.64 GB; about 1.8 GB within the bound, in the
    same time. Lifted when the load ends (``unbound_memory``); a statement that needs more runs
    again without it (``execute_bounded``)."""
    in_use = db.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchone()[0]
    # One spill folder per connection (DuckDB keeps the first it used).
    if not Path(db.execute("SELECT current_setting('temp_directory')").fetchone()[0] or ".").name.startswith(SPILL_PREFIX):
        folder = tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-")
        _remove_stale_spills(Path(folder).parent)
        weakref.finalize(db, shutil.rmtree, folder, ignore_errors=True)  # DuckDB removes the files it spilled, on closing
        db.execute(f"SET temp_directory = {sql_text(folder)}")
    db.execute(f"SET memory_limit = '{2 * (int(in_use) + unread) + SPILL_HEADROOM}B'")


#: A load's spill folder: this, its process's id, a dash and tempfile's random part.
SPILL_PREFIX = "perfgen-duckdb-"


def _remove_stale_spills(parent: Path) -> None:
    """Remove the spill folders of loads whose process is gone (a build killed before its
    connection was closed leaves its folder, and what DuckDB spilled into it, behind)."""
    for folder in parent.glob(f"{SPILL_PREFIX}*-*"):
        pid = folder.name[len(SPILL_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or not folder.is_dir():
            continue
        try:
            os.kill(int(pid), 0)  # signal 0: only whether the process exists
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (PermissionError, OverflowError):  # another user's process (alive), or not a pid
            pass


def unbound_memory(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("RESET memory_limit")


def execute_bounded(db: duckdb.DuckDBPyConnection, sql: str) -> None:
    """``sql`` within the memory bound, or, if it needs more, again without it (the bound is
    then lifted for the rest of the load)."""
    try:
        db.execute(sql)
    except duckdb.OutOfMemoryException:
        unbound_memory(db)
        db.execute(sql)


def _check_duplicates(db: duckdb.DuckDBPyConnection, problems: list[Problem]) -> None:
    """The same figure twice: same service, dates, channel and metric, in any files."""
    keyed = """SELECT o.file, o.line, o.service, o.period, coalesce(o.channel, '') AS channel, o.metric, p.period_start, p.period_end
               FROM observations o JOIN periods p ON p.label = o.period
               WHERE o.service IS NOT NULL AND o.metric IS NOT NULL"""
    # The keys given more than once, by a hash aggregate (parallel): usually none, and then no
    # row is sorted. Only the rows of those keys are ordered to name each one's first line.
    execute_bounded(db, f"""CREATE TEMP TABLE _duplicate_keys AS SELECT service, period_start, period_end, channel, metric
                             FROM ({keyed}) GROUP BY ALL HAVING count(*) > 1""")
    try:
        if not db.execute("SELECT count(*) FROM _duplicate_keys").fetchone()[0]:
            return
        duplicates = db.execute(
            f"""SELECT file, line, service, period, channel, metric, first_file, first_line FROM (
                 SELECT k.*, first_value(file) OVER w AS first_file, first_value(line) OVER w AS first_line,
                        row_number() OVER w AS occurrence
                 FROM ({keyed}) k SEMI JOIN _duplicate_keys d USING (service, period_start, period_end, channel, metric)
                 WINDOW w AS (PARTITION BY service, period_start, period_end, channel, metric ORDER BY file, line))
               WHERE occurrence > 1 ORDER BY file, line"""
        ).fetchall()
    finally:
        db.execute("DROP TABLE _duplicate_keys")
    _listed(problems, duplicates, lambda f, l, s, p, c, m, ff, fl: Problem(
        f, l, "", f"duplicate row for service '{s}', period '{p}', channel '{c or '(all)'}', metric '{m}' (first given at {ff}:{fl})",
        hint="each figure must be given once; remove one of the rows"))


def _load_periods(db: duckdb.DuckDBPyConnection, problems: list[Problem]) -> list[tuple[Any, ...]]:
    """The ``periods`` table of every valid label, made here and returned: (label, start, end,
    kind, months) in label order."""
    labels = db.execute(
        "SELECT period, min(file || ':' || line) FROM observations WHERE period IS NOT NULL GROUP BY period ORDER BY period"
    ).fetchall()
    rows = []
    for label, _ in labels:
        try:
            period = parse_period(label)
        except PeriodError as error:
            bad = db.execute("SELECT file, line FROM observations WHERE period = ? ORDER BY file, line", [label]).fetchall()
            _listed(problems, bad, lambda f, l, reason=str(error): Problem(f, l, "column 'period'", reason))
            continue
        rows.append((label, period.start, period.end, period.kind, period.months))
    db.execute("CREATE TABLE periods (label VARCHAR, period_start DATE, period_end DATE, kind VARCHAR, months INTEGER)")
    if rows:
        db.executemany("INSERT INTO periods VALUES (?, ?, ?, ?, ?)", rows)
    return rows


def load_data(data_dir: Path, config: Config, display_root: Path | None = None, cache: RowCache | None = None) -> LoadedData:
    """Load and check every data file; raise :class:`DataError` with all problems found.
    ``cache``: where each file's rows are kept from one load to the next (:class:`RowCache`)."""
    problems: list[Problem] = []
    if not data_dir.is_dir():
        raise DataError([Problem(str(data_dir), None, "", "data folder not found", hint="create it or point perfgen at your data with --data")])
    # No progress bar: DuckDB draws one on standard output for any query over two seconds (a
    # large site's load on a busy machine), mixed into the build's own output.
    db = duckdb.connect()
    db.execute("SET enable_progress_bar = false")
    db.execute("SET preserve_insertion_order = true")
    files: list[InputFile] = []
    loaded_tables: dict[str, str] = {}  # table -> the file's display name
    cached: dict[str, Path] = {}  # display name of a file whose rows are read from the cache -> its entry
    to_cache: dict[str, Path] = {}  # display name of a file parsed -> where its rows are to be kept
    available = plugins.loaders()
    locators = {}  # file -> how a loader places later problems in it (sheet, row, column)
    for index, path in enumerate(data_files(data_dir)):
        try:
            display = str(path.relative_to(display_root)) if display_root else str(path)
        except ValueError:
            display = str(path)
        loader = plugins.loader_for(path, available)
        if loader is None:
            suffixes = ", ".join(sorted(available))
            problems.append(Problem(display, None, "", f"unsupported file type '{path.suffix}'", hint=f"data files must be one of {suffixes}; move other files out of the data folder"))
            continue
        table = f"input_{index}"
        sha256 = _sha256(path)
        entry = cache.entry(path, sha256, loader) if cache is not None else None
        kept_rows = cache.rows(db, entry) if entry is not None else None
        if kept_rows is not None:
            cached[display] = entry
            files.append(InputFile(display, sha256, kept_rows))
            continue
        before = len(problems)
        loaded = loader.load(db, path, display, table, problems)
        if loaded:
            if getattr(loaded, "locate", None):
                locators[display] = loaded.locate
            elif entry is not None and len(problems) == before:
                to_cache[display] = entry
            loaded_tables[table] = display
            rows = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            files.append(InputFile(display, sha256, rows))
        else:
            files.append(InputFile(display, sha256, 0))
    # Each row's file is an ENUM of the files' names (sorted, so that rows sort by name): one or
    # two bytes a row, not the name again on every row (a third of the rows' memory). A value's
    # text is kept only where the problems below quote it (not a number, or negative).
    file_type = "VARCHAR"
    if loaded_tables or cached:
        create_enum(db, "_data_file", [*loaded_tables.values(), *cached])
        file_type = "_data_file"
    if cached:
        cache.read(db, cached, "_cached_rows")
    parsed = " UNION ALL ".join(f"SELECT * REPLACE ({sql_text(display)}::_data_file AS file) FROM {t}" for t, display in loaded_tables.items())
    if not parsed:
        parsed = f"SELECT NULL::{file_type} AS file, NULL::BIGINT AS line, " + ", ".join(f"NULL::VARCHAR AS {c}" for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS) + " WHERE false"
    # Rows read from the cache were made by the same SELECT when their file was parsed.
    kept = " UNION ALL SELECT * FROM _cached_rows" if cached else ""
    bound_memory(db, CACHED_ROW_BYTES * sum(file.rows for file in files if file.path in cached))
    observations = (
        f"""CREATE TABLE observations AS
        SELECT * FROM (
        SELECT file, line, service, period, channel, metric, CASE WHEN number IS NULL OR NOT isfinite(number) OR number < 0 THEN value END AS value,
               number, status, note
        FROM (SELECT file, line::BIGINT AS line, nullif(trim(service), '') AS service, nullif(trim(period), '') AS period,
                     nullif(trim(channel), '') AS channel, nullif(trim(metric), '') AS metric,
                     nullif(trim(value), '') AS value, TRY_CAST(nullif(trim(value), '') AS DOUBLE) AS number,
                     nullif(trim(status), '') AS status, nullif(trim(note), '') AS note
              FROM ({parsed})){kept})
        ORDER BY file, line"""
    )
    try:
        execute_bounded(db, observations)
    except duckdb.Error:
        if not cached:
            raise
        db.close()  # a cached file damaged past its footer: every file parsed again
        return load_data(data_dir, config, display_root, dataclasses.replace(cache, reading=False))
    views = {name for (name,) in db.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    for table in loaded_tables:  # a loader's table or view (the built-in ones: a view of the file's rows)
        db.execute(f"DROP {'VIEW' if table in views else 'TABLE'} {table}; DROP TABLE IF EXISTS {table}_raw; DROP TABLE IF EXISTS {table}_lines")
    if cached:
        db.execute("DROP VIEW _cached_rows")
    _check_rows(db, config, problems)
    periods = _load_periods(db, problems)
    _check_duplicates(db, problems)
    if problems:
        db.close()
        raise DataError([locators[p.file](p) if p.file in locators else p for p in problems])
    if cache is not None:
        cache.write_all(db, to_cache)
        cache.keep_only([*cached.values(), *to_cache.values()])
    # Each row's period is looked up by its label's code in constant lists of every period's
    # fields: one scan of observations, which keeps their order (file, line). Joined with
    # periods, every row had to be sorted again (a subquery for the lists would be joined too).
    if periods:
        db.execute("CREATE TYPE _period_label AS ENUM (SELECT label FROM periods ORDER BY label)")  # as periods are listed

        def looked_up(items: Iterable[str]) -> str:
            return f"[{', '.join(items)}][enum_code(o.period::_period_label) + 1]"

        start = looked_up(f"DATE '{first.isoformat()}'" for _, first, _, _, _ in periods)
        end = looked_up(f"DATE '{last.isoformat()}'" for _, _, last, _, _ in periods)
        kind = looked_up(sql_text(name) for _, _, _, name, _ in periods)
        months = looked_up("NULL::INTEGER" if count is None else f"{int(count)}::INTEGER" for *_, count in periods)  # a range: none
    else:  # no rows
        start, end, kind, months = "NULL::DATE", "NULL::DATE", "NULL::VARCHAR", "NULL::INTEGER"
    # The service, channel and metric (checked: each one of a known list) as ENUMs of every value
    # they may hold, in text order (so that they sort, group and compare as their text does): a
    # byte or two a row instead of 16 and more (0.4 GB at 10,000 services), in the KPI stage's
    # SQL too (the facts and KPI rows keep the service's type). Not the status and period
    # kind: SQL mixing a column with text of its own (CASE ... THEN period_kind ELSE 'other')
    # would make that text an ENUM value, an error if it is not one.
    create_enum(db, "_service_slug", [s.slug for s in config.services] + [part.slug for s in config.services for part in s.parts])
    create_enum(db, "_channel_name", [ALL_CHANNELS, DIGITAL, *config.known_channels()])
    create_enum(db, "_metric_name", plugins.metrics())
    execute_bounded(
        db,
        f"""CREATE TABLE clean_observations AS
        SELECT o.file, o.line, o.service::_service_slug AS service, {start} AS period_start, {end} AS period_end,
               {kind} AS period_kind, {months} AS months,
               coalesce(o.channel, '')::_channel_name AS channel, o.metric::_metric_name AS metric, o.number AS value,
               coalesce(o.status, CASE WHEN o.number IS NULL THEN 'not_provided' ELSE 'value' END) AS status, o.note
        FROM observations o"""
    )
    db.execute("DROP TABLE observations; DROP TYPE IF EXISTS _period_label")  # checked and cleaned: the raw text is not read again (memory)
    unbound_memory(db)
    db.execute("CREATE TABLE input_files (path VARCHAR, sha256 VARCHAR, rows BIGINT)")
    if files:
        db.executemany("INSERT INTO input_files VALUES (?, ?, ?)", [(f.path, f.sha256, f.rows) for f in files])
    return LoadedData(db, files, from_cache=len(cached))


__all__ = ["ALL_CHANNELS", "DIGITAL", "METRICS", "LoadedData", "RowCache", "bound_memory", "execute_bounded", "load_data", "months_spanned",
           "unbound_memory"]
