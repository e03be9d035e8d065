"""Import the GOV.UK Transactions Explorer spreadsheet into a perfgen project.

In: one CSV export of the spreadsheet behind GOV.UK's services performance pages (one row per
service; one column per period and measure; see
``data/uk-transactions-explorer-2018/README.md``).

Out, in the project directory:

- ``config/services.yml``: site settings, departments, agencies and services;
- ``data/transactions-explorer-annual.csv``: the 12-month ``YYYY-Qn`` column groups;
- ``data/transactions-explorer-quarterly.csv``: the calendar-quarter columns.

Both data files use perfgen's canonical long format
(``service,period,channel,metric,value,status,note``). The importer reads everything and
checks it before writing anything; output is deterministic (importing the same file twice gives
byte-identical files). Data-quality problems that are not the importer's to fix (digital volume
above total volume, a cost per transaction with zero volume) are written as they are and
counted in the report, so the pipeline can flag them.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any, Literal

import yaml

from perfgen.config import slugify

__all__ = [
    "ANNUAL_DATA_FILE",
    "DATA_HEADER",
    "QUARTERLY_DATA_FILE",
    "SERVICES_FILE",
    "ImportProblem",
    "ImportReport",
    "ImportedProject",
    "TransactionsExplorerError",
    "annual_period",
    "import_transactions_explorer",
    "parse_number",
    "read_transactions_explorer",
    "write_project",
]

SERVICES_FILE = "config/services.yml"
ANNUAL_DATA_FILE = "data/transactions-explorer-annual.csv"
QUARTERLY_DATA_FILE = "data/transactions-explorer-quarterly.csv"
DATA_HEADER = ("service", "period", "channel", "metric", "value", "status", "note")

SITE_LICENCE = "Contains public sector information licensed under the Open Government Licence v3.0."
SITE_SOURCE = "Transactions Explorer spreadsheet, GOV.UK (last export September 2018)"
SITE_DIGITAL_CHANNELS = ["online"]

Severity = Literal["warning", "error"]
Table = Literal["annual", "quarterly"]


class TransactionsExplorerError(Exception):
    """The spreadsheet cannot be imported at all (nothing is written).

    ``problems`` holds every fatal problem found, so that one run reports them all.
    """

    def __init__(self, message: str, problems: Iterable[ImportProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class ImportProblem:
    """Something the importer noticed, with its position in the spreadsheet.

    ``row`` is the spreadsheet row number (the header is row 1) and ``column`` the spreadsheet
    column letter; either may be ``None`` for problems about the whole file or a whole column.
    ``code`` is stable, for counting and filtering.
    """

    code: str
    message: str
    file: str
    row: int | None = None
    column: str | None = None
    header: str | None = None
    severity: Severity = "warning"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f":row {self.row}"
        if self.column is not None:
            where += "," if self.row is not None else ":"
            where += f" column {self.column}"
            if self.header is not None:
                where += f" {_quote(self.header)}"
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    """What an import found and wrote; the command line prints :meth:`summary_lines`."""

    source: Path
    encoding: str
    departments: int = 0
    agencies: int = 0
    services: int = 0
    #: rows written per data file (relative path -> rows, header excluded)
    data_rows: dict[str, int] = field(default_factory=dict)
    #: period cells (annual and quarterly) by state: value, not_provided (written),
    #: not_applicable, invalid, blank (blank and not written)
    cells: dict[str, int] = field(default_factory=dict)
    #: ``-`` cells (included in ``cells["not_provided"]``)
    dash_cells: int = 0
    annual_periods: list[str] = field(default_factory=list)
    quarterly_periods: list[str] = field(default_factory=list)
    #: "slug period" of each period where digital volume is greater than total volume
    digital_exceeds_total: list[str] = field(default_factory=list)
    #: "slug period metric/channel" of each cost per transaction given with zero volume
    cost_with_zero_volume: list[str] = field(default_factory=list)
    #: non-empty cells in KPI columns perfgen does not import, by KPI
    kpi_cells_not_imported: dict[str, int] = field(default_factory=dict)
    #: columns ignored because they are internal to the spreadsheet (never published)
    internal_columns_ignored: int = 0
    #: agency cells naming the department itself (no agency recorded)
    agency_is_department: int = 0
    #: descriptive cells reading "[not provided]" (omitted)
    placeholder_text_omitted: int = 0
    #: descriptive cells whose HTML line breaks became new lines
    html_breaks_converted: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    files_written: list[Path] = field(default_factory=list)

    @property
    def invalid_cells(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.code == "invalid-cell"]

    def summary_lines(self) -> list[str]:
        lines = [
            (
                f"Read {self.source.name} ({self.encoding}): {self.departments} departments, "
                f"{self.agencies} agencies, {self.services} services."
            ),
        ]
        for path, rows in self.data_rows.items():
            lines.append(f"  {path}: {rows} rows")
        cells = ", ".join(f"{state} {count}" for state, count in self.cells.items())
        lines.append(f"  period cells: {cells} (of which '-': {self.dash_cells})")
        lines.append(
            f"  digital volume above total volume: {len(self.digital_exceeds_total)}; "
            f"cost per transaction with zero volume: {len(self.cost_with_zero_volume)}"
        )
        if self.problems:
            lines.append(f"  {len(self.problems)} problems:")
            lines.extend(f"    {problem}" for problem in self.problems)
        return lines


@dataclass
class ImportedProject:
    """The files an import would write (relative path -> text) and its report."""

    files: dict[str, str]
    report: ImportReport


# --------------------------------------------------------------------------------------------
# Entry points


def import_transactions_explorer(source: Path, out_dir: Path) -> ImportReport:
    """Import the spreadsheet export ``source`` into the perfgen project ``out_dir``.

    Writes ``config/services.yml`` and the two ``data/transactions-explorer-*.csv`` files,
    replacing them if they exist and leaving every other file in ``out_dir`` untouched.
    Raises :class:`TransactionsExplorerError` (before writing anything) if the file cannot be
    imported; other problems are returned in the report.
    """
    project = read_transactions_explorer(Path(source))
    project.report.files_written = write_project(Path(out_dir), project.files)
    return project.report


def read_transactions_explorer(source: Path) -> ImportedProject:
    """Read and convert ``source`` without writing anything."""
    return _Converter(Path(source)).run()


def write_project(out_dir: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` (relative path -> text) into ``out_dir``, replacing only those files.

    Everything is first written into a temporary sibling directory of ``out_dir``; only when
    all files are written are they moved into place (each move is atomic on one file system),
    so a failure while writing leaves ``out_dir`` as it was. Text is written as UTF-8 with the
    line endings it already has. Returns the paths written, in the order given.
    """
    out_dir = Path(out_dir)
    relative_paths = [_safe_relative_path(name) for name in files]
    if out_dir.exists() and not out_dir.is_dir():
        raise TransactionsExplorerError(f"{out_dir}: exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    absolute = Path(os.path.abspath(out_dir))  # "." has no name and no real parent
    staging = Path(tempfile.mkdtemp(prefix=f".{absolute.name}.importing-", dir=absolute.parent))
    try:
        for relative, text in zip(relative_paths, files.values(), strict=True):
            staged = staging / relative
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(text.encode("utf-8"))
        written = []
        for relative in relative_paths:
            target = out_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / relative, target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _safe_relative_path(name: str) -> Path:
    path = Path(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"not a relative path inside the project: {name!r}")
    return path


# --------------------------------------------------------------------------------------------
# Periods and numbers


def annual_period(year: int, quarter: int) -> str:
    """The 12 months covered by the Transactions Explorer label ``YYYY-Qn``.

    ``YYYY-Qn`` means "requested in that quarter" and covers the 12 months ending with the
    last month of the previous quarter: ``2014-Q3`` is July 2013 to June 2014. The one
    exception is ``2012-Q4``, which covers the financial year April 2011 to March 2012.
    """
    if (year, quarter) == (2012, 4):
        return "2011-04-01/2012-03-31"
    end_year, end_month = (year - 1, 12) if quarter == 1 else (year, 3 * (quarter - 1))
    start_year, start_month = (end_year - 1, end_month + 1) if end_month < 12 else (end_year, 1)
    return (
        f"{start_year:04d}-{start_month:02d}-01/"
        f"{end_year:04d}-{end_month:02d}-{_days_in_month(end_year, end_month):02d}"
    )


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def parse_number(text: str) -> Decimal:
    """Parse a spreadsheet number: ``"40,000"``, ``"£2.57"``, ``"1.2E+03"``.

    Raises ``ValueError`` with a short reason ("is not a number", "is negative", ...).
    """
    compact = text.strip().replace("£", "")
    compact = "".join(ch for ch in compact if not ch.isspace())
    if "," in compact:
        if not _GROUPED_NUMBER.fullmatch(compact):
            raise ValueError("is not a number")
        compact = compact.replace(",", "")
    if not _PLAIN_NUMBER.fullmatch(compact):
        raise ValueError("is not a number")
    try:
        number = Decimal(compact)
    except InvalidOperation:  # pragma: no cover - the pattern above lets only numbers through
        raise ValueError("is not a number") from None
    if number < 0:
        raise ValueError("is negative")
    if number != 0 and number.adjusted() > 15:
        raise ValueError("is implausibly large")
    return number


def format_number(number: Decimal) -> str:
    """A plain, normalised decimal: ``2.57``, ``40000``, ``0.1``; never ``-0`` or exponents."""
    if number == 0:
        return "0"
    with localcontext() as context:
        context.prec = 60
        return format(number.normalize(), "f")


# --------------------------------------------------------------------------------------------
# Columns

_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}

# Descriptive columns, keyed by the header with everything but letters and digits removed.
_DESCRIPTIVE_COLUMNS = {
    "abbr": "department_abbreviation",
    "departmentabbr": "department_abbreviation",
    "department": "department_name",
    "agencybody": "agency_name",
    "agency": "agency_name",
    "agencyabbr": "agency_abbreviation",
    "nameofservice": "name",
    "slug": "slug",
    "category": "category",
    "url": "start_url",
    "descriptionofservice": "description",
    "notesoncosts": "cost_notes",
    "othernotes": "notes",
    "customertype": "customer_type",
    "businessmodel": "business_model",
    "keywords": "keywords",
    "typeoftransaction": "transaction_type",
}

# Measures of the 12-month groups, keyed by the header after "YYYY-Qn", letters only.
_ANNUAL_MEASURES: dict[str, tuple[str, str]] = {
    "vol": ("transactions", ""),
    "volume": ("transactions", ""),
    "digitalvol": ("transactions", "digital"),
    "digitalvolume": ("transactions", "digital"),
    "cpt": ("cost_per_transaction", ""),
    "costpertransaction": ("cost_per_transaction", ""),
    "digitalcpt": ("cost_per_transaction", "digital"),
    "digitalcostpertransaction": ("cost_per_transaction", "digital"),
}
_UNIMPORTED_KPIS = {
    "completionrate": "completion_rate",
    "usersatisfaction": "user_satisfaction",
}
_UNIMPORTED_KPI_REASONS = {
    "completion_rate": "perfgen computes completion rate from started/completed counts",
    "user_satisfaction": "perfgen computes user satisfaction from survey response counts",
}

_ANNUAL_HEADER = re.compile(r"(\d{4})\s*-?\s*q([1-4])\b(.*)")
_QUARTERLY_HEADER = re.compile(
    r"(total|digital) transactions ([a-z]{3})[a-z]*\.? ?- ?([a-z]{3})[a-z]*\.? (\d{4})"
)

# Columns internal to the spreadsheet: checks, helpers, internal notes, machinery of
# government. They are never copied anywhere.
_INTERNAL_HEADERS = [
    re.compile(pattern)
    for pattern in (
        r"",
        r"unnamed: ?\d+",
        r"notes \[for gds.*",
        r"hi-? ?vol\.?",
        r"latest .*",
        r"totals? check.*",
        r".*\[12 months\].*",
        r"total(?! transactions).*",
        r"digital exceeds .*",
        r"previous dep(t|artment).*",
        r"dept providing data.*",
        r"department providing data.*",
        r"previous agency.*",
        r"foi url",
        r"also check pp dashboard.*",
        r"type notes",
        r"service link text",
    )
]


@dataclass(frozen=True)
class _PeriodColumn:
    index: int
    header: str
    table: Table
    label: str  # 2014-Q3
    period: str  # 2013-07-01/2014-06-30 (annual) or 2014-Q3 (quarterly)
    metric: str
    channel: str


@dataclass(frozen=True)
class _UnimportedKpiColumn:
    index: int
    header: str
    kpi: str


def _normalise_header(header: str) -> str:
    text = header.replace("\ufeff", "").replace("\xa0", " ")
    return " ".join(text.split()).lower()


def _display_header(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split())


def column_letter(index: int) -> str:
    """Spreadsheet column letter of a 0-based column index: 0 -> A, 27 -> AB."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


# --------------------------------------------------------------------------------------------
# Text

_HTML_BREAK = re.compile(r"<\s*/?\s*br\s*/?\s*>", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\[?\s*not provided\s*\]?", re.IGNORECASE)
def _name_key(name: str) -> str:
    """Names compared loosely: case, punctuation and "&"/"and" ignored."""
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("&", "and"))


def _quote(text: str) -> str:
    return "'" + text.replace("\r", "\\r").replace("\n", "\\n") + "'"


# --------------------------------------------------------------------------------------------
# The conversion


@dataclass
class _Service:
    row: int
    slug: str
    fields: dict[str, Any]
    department: str
    agency: str | None
    not_applicable: list[str] = field(default_factory=list)


@dataclass
class _Department:
    slug: str
    name: str
    abbreviation: str


@dataclass
class _Agency:
    key: str
    name: str
    abbreviation: str
    department: str
    slug: str = ""


@dataclass(frozen=True)
class _DataRow:
    service_order: int
    service: str
    period: str
    channel: str
    metric: str
    value: str
    status: str
    note: str

    def sort_key(self) -> tuple[int, str, str, str]:
        return (self.service_order, self.period, self.metric, self.channel)

    def cells(self) -> tuple[str, ...]:
        return (
            self.service,
            self.period,
            self.channel,
            self.metric,
            self.value,
            self.status,
            self.note,
        )


class _Converter:
    """One import: read the file, classify its columns, convert its rows."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.file = source.name
        self.problems: list[ImportProblem] = []
        self.fatal: list[ImportProblem] = []
        self.report = ImportReport(source=source, encoding="")
        self.cell_states: Counter[str] = Counter()

    # -- reading --------------------------------------------------------------------------

    def run(self) -> ImportedProject:
        text = self._decode()
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            records = list(reader)
        except csv.Error as error:
            raise TransactionsExplorerError(
                f"{self.source}:line {reader.line_num}: not readable as CSV: {error}"
            ) from None
        if not records or not any(cell.strip() for cell in records[0]):
            raise TransactionsExplorerError(f"{self.source}: the file is empty (no header row)")
        header, body = records[0], records[1:]
        self._classify_columns(header)

        services: list[_Service] = []
        departments: dict[str, _Department] = {}
        agencies: dict[str, _Agency] = {}
        agency_rows: list[tuple[_Service, str]] = []
        annual: list[_DataRow] = []
        quarterly: list[_DataRow] = []
        seen_slugs: dict[str, int] = {}
        unimported_kpi_cells: Counter[str] = Counter()

        for offset, record in enumerate(body):
            row_number = offset + 2
            if not any(cell.strip() for cell in record):
                continue
            record = self._fit_width(record, len(header), row_number)
            service = self._read_service(record, row_number, departments, seen_slugs)
            if service is None:
                continue
            agency_key = self._read_agency(record, row_number, service, departments, agencies)
            if agency_key is not None:
                agency_rows.append((service, agency_key))
            order = len(services)
            services.append(service)
            for column in self.unimported_kpi_columns:
                cell = record[column.index].strip()
                if _is_not_applicable_marker(cell):
                    if column.kpi not in service.not_applicable:
                        service.not_applicable.append(column.kpi)
                elif cell:
                    unimported_kpi_cells[column.kpi] += 1
            annual.extend(self._data_rows(record, row_number, order, service.slug, "annual"))
            quarterly.extend(self._data_rows(record, row_number, order, service.slug, "quarterly"))

        if self.fatal:
            listing = "\n".join(f"  {problem}" for problem in self.fatal)
            raise TransactionsExplorerError(
                f"{self.source}: cannot import, {len(self.fatal)} "
                f"{'error' if len(self.fatal) == 1 else 'errors'}:\n{listing}",
                self.fatal,
            )

        self._assign_agency_slugs(agencies)
        for service, agency_key in agency_rows:
            service.agency = agencies[agency_key].slug

        for kpi, count in unimported_kpi_cells.items():
            self.report.kpi_cells_not_imported[kpi] = count
            self._problem(
                "kpi-not-imported",
                f"not imported: {_UNIMPORTED_KPI_REASONS[kpi]} "
                f"({count} non-empty {kpi.replace('_', ' ')} "
                f"{'cell' if count == 1 else 'cells'})",
            )

        annual.sort(key=_DataRow.sort_key)
        quarterly.sort(key=_DataRow.sort_key)
        self._check_quality(annual, quarterly)

        files = {
            SERVICES_FILE: self._services_yaml(services, departments, agencies, annual, quarterly),
            ANNUAL_DATA_FILE: _data_csv(annual),
            QUARTERLY_DATA_FILE: _data_csv(quarterly),
        }
        report = self.report
        report.departments = len(departments)
        report.agencies = len(agencies)
        report.services = len(services)
        report.data_rows = {ANNUAL_DATA_FILE: len(annual), QUARTERLY_DATA_FILE: len(quarterly)}
        report.cells = {
            state: self.cell_states[state]
            for state in ("value", "not_provided", "not_applicable", "invalid", "blank")
        }
        report.problems = self.problems
        return ImportedProject(files=files, report=report)

    def _decode(self) -> str:
        try:
            data = self.source.read_bytes()
        except OSError as error:
            raise TransactionsExplorerError(
                f"{self.source}: cannot read: {error.strerror}"
            ) from error
        if data.startswith(codecs.BOM_UTF8):
            try:
                self.report.encoding = "utf-8 (with BOM)"
                return data[len(codecs.BOM_UTF8) :].decode("utf-8")
            except UnicodeDecodeError:
                data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
            self.report.encoding = "utf-8"
            return text
        except UnicodeDecodeError as utf8_error:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as cp1252_error:
                raise TransactionsExplorerError(
                    f"{self.source}: cannot decode: not UTF-8 (byte {utf8_error.start}) "
                    f"nor Windows-1252 (byte {cp1252_error.start}). "
                    "Hint: export the spreadsheet as 'CSV UTF-8'."
                ) from None
            self.report.encoding = "windows-1252"
            self._problem(
                "encoding-fallback",
                f"not valid UTF-8 (byte {utf8_error.start}): read as Windows-1252",
            )
            return text

    def _classify_columns(self, header: list[str]) -> None:
        self.descriptive: dict[str, int] = {}
        self.period_columns: list[_PeriodColumn] = []
        self.unimported_kpi_columns: list[_UnimportedKpiColumn] = []
        seen_periods: dict[tuple[str, str, str, str], int] = {}
        for index, raw in enumerate(header):
            normalised = _normalise_header(raw)
            shown = _display_header(raw)
            letter = column_letter(index)
            descriptive = _DESCRIPTIVE_COLUMNS.get(re.sub(r"[^a-z0-9]", "", normalised))
            if descriptive is not None and normalised:
                if descriptive in self.descriptive:
                    first = self.descriptive[descriptive]
                    self._problem(
                        "duplicate-column",
                        f"column ignored: same as column {column_letter(first)}",
                        column=letter,
                        header=shown,
                    )
                else:
                    self.descriptive[descriptive] = index
                continue
            period_column = _period_column(index, shown, normalised)
            if isinstance(period_column, _PeriodColumn):
                key = (
                    period_column.table,
                    period_column.label,
                    period_column.metric,
                    period_column.channel,
                )
                if key in seen_periods:
                    self._fatal(
                        "duplicate-column",
                        f"holds the same figures as column {column_letter(seen_periods[key])}",
                        column=letter,
                        header=shown,
                    )
                seen_periods[key] = index
                self.period_columns.append(period_column)
                continue
            if isinstance(period_column, _UnimportedKpiColumn):
                self.unimported_kpi_columns.append(period_column)
                continue
            if any(pattern.fullmatch(normalised) for pattern in _INTERNAL_HEADERS):
                self.report.internal_columns_ignored += 1
                continue
            self._problem(
                "unknown-column",
                "column ignored: not a known Transactions Explorer column",
                column=letter,
                header=shown,
            )

        missing = []
        if not {"department_abbreviation", "department_name"} & self.descriptive.keys():
            missing.append("'Abbr' or 'Department'")
        for name, label in (("name", "'Name of service'"), ("slug", "'Slug'")):
            if name not in self.descriptive:
                missing.append(label)
        if missing:
            raise TransactionsExplorerError(
                f"{self.source}: not a Transactions Explorer export: missing required "
                f"{'column' if len(missing) == 1 else 'columns'} {', '.join(missing)} "
                "in the header (row 1)",
                [
                    ImportProblem("missing-column", f"missing column {label}", self.file, row=1)
                    for label in missing
                ],
            )
        if self.fatal:
            listing = "\n".join(f"  {problem}" for problem in self.fatal)
            raise TransactionsExplorerError(f"{self.source}: cannot import:\n{listing}", self.fatal)
        self.report.annual_periods = _unique(
            c.label for c in self.period_columns if c.table == "annual"
        )
        self.report.quarterly_periods = _unique(
            c.label for c in self.period_columns if c.table == "quarterly"
        )

    def _fit_width(self, record: list[str], width: int, row_number: int) -> list[str]:
        if len(record) > width:
            extra = [cell for cell in record[width:] if cell.strip()]
            if extra:
                self._problem(
                    "extra-cells",
                    f"{len(record) - width} cells beyond the last header column ignored",
                    row=row_number,
                    column=column_letter(width),
                )
            return record[:width]
        return record + [""] * (width - len(record))

    # -- services, departments, agencies -------------------------------------------------

    def _text(self, record: list[str], name: str) -> str:
        index = self.descriptive.get(name)
        if index is None:
            return ""
        raw = record[index]
        text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
        converted = _HTML_BREAK.sub("\n", text)
        if converted != text:
            self.report.html_breaks_converted += 1
        lines = [line.strip() for line in converted.split("\n")]
        # Keep paragraph breaks, drop runs of empty lines.
        kept: list[str] = []
        for line in lines:
            if line or (kept and kept[-1]):
                kept.append(line)
        cleaned = "\n".join(kept).strip()
        if _PLACEHOLDER.fullmatch(cleaned):
            self.report.placeholder_text_omitted += 1
            return ""
        return cleaned

    def _read_service(
        self,
        record: list[str],
        row_number: int,
        departments: dict[str, _Department],
        seen_slugs: dict[str, int],
    ) -> _Service | None:
        raw_slug = self._text(record, "slug")
        slug_column = column_letter(self.descriptive["slug"])
        slug = slugify(raw_slug)
        if not slug:
            self._fatal(
                "missing-slug", "no slug", row=row_number, column=slug_column, header="Slug"
            )
            return None
        if slug != raw_slug:
            self._problem(
                "slug-normalised",
                f"slug {_quote(raw_slug)} normalised to {_quote(slug)}",
                row=row_number,
                column=slug_column,
                header="Slug",
            )
        if slug in seen_slugs:
            self._fatal(
                "duplicate-slug",
                f"slug {_quote(slug)} is already used by row {seen_slugs[slug]}",
                row=row_number,
                column=slug_column,
                header="Slug",
            )
            return None
        seen_slugs[slug] = row_number

        name = self._text(record, "name")
        if not name:
            self._fatal(
                "missing-name",
                "no name of service",
                row=row_number,
                column=column_letter(self.descriptive["name"]),
                header="Name of service",
            )

        department_abbreviation = self._text(record, "department_abbreviation")
        department_name = self._text(record, "department_name")
        department_slug = slugify(department_abbreviation or department_name)
        if not department_slug:
            self._fatal("missing-department", "no department", row=row_number)
            return None
        department = departments.get(department_slug)
        if department is None:
            departments[department_slug] = _Department(
                slug=department_slug,
                name=department_name or department_abbreviation,
                abbreviation=department_abbreviation,
            )
        elif department_name and _name_key(department_name) != _name_key(department.name):
            self._problem(
                "department-name-conflict",
                f"department {_quote(department_slug)} is named {_quote(department_name)} "
                f"here but {_quote(department.name)} earlier; the first name is used",
                row=row_number,
            )

        fields: dict[str, Any] = {"name": name}
        for key in (
            "description",
            "start_url",
            "category",
            "customer_type",
            "business_model",
            "transaction_type",
            "cost_notes",
            "notes",
        ):
            fields[key] = self._text(record, key)
        url = fields["start_url"]
        if url and not re.match(r"https?://", url, re.IGNORECASE):
            self._problem(
                "url-omitted",
                f"URL {_quote(url)} omitted: it does not start with https:// or http://",
                row=row_number,
                column=column_letter(self.descriptive["start_url"]),
                header="URL",
            )
            fields["start_url"] = ""
        keywords = [word.strip() for word in self._text(record, "keywords").split(",")]
        fields["keywords"] = [word for word in keywords if word]
        return _Service(
            row=row_number, slug=slug, fields=fields, department=department_slug, agency=None
        )

    def _read_agency(
        self,
        record: list[str],
        row_number: int,
        service: _Service,
        departments: dict[str, _Department],
        agencies: dict[str, _Agency],
    ) -> str | None:
        name = self._text(record, "agency_name")
        abbreviation = self._text(record, "agency_abbreviation")
        if not name and not abbreviation:
            return None
        department = departments[service.department]
        same_abbreviation = bool(abbreviation) and (
            abbreviation.casefold() == department.abbreviation.casefold()
        )
        if (name and _name_key(name) == _name_key(department.name)) or (
            not name and same_abbreviation
        ):
            # The spreadsheet often names the department itself as the "agency".
            self.report.agency_is_department += 1
            return None
        if same_abbreviation:
            self._problem(
                "agency-abbreviation",
                f"agency {_quote(name)} has its department's abbreviation "
                f"{_quote(abbreviation)}; abbreviation not used",
                row=row_number,
                column=column_letter(self.descriptive["agency_abbreviation"]),
            )
            abbreviation = ""
        name = name or abbreviation
        key = _name_key(name)
        agency = agencies.get(key)
        if agency is None:
            agencies[key] = _Agency(
                key=key, name=name, abbreviation=abbreviation, department=service.department
            )
            return key
        if abbreviation and not agency.abbreviation:
            agency.abbreviation = abbreviation
        elif abbreviation and abbreviation != agency.abbreviation:
            self._problem(
                "agency-abbreviation-conflict",
                f"agency {_quote(agency.name)} is abbreviated {_quote(abbreviation)} here but "
                f"{_quote(agency.abbreviation)} earlier; the first is used",
                row=row_number,
            )
        if agency.department != service.department:
            self._problem(
                "agency-department-conflict",
                f"agency {_quote(agency.name)} is under department "
                f"{_quote(service.department)} here but {_quote(agency.department)} earlier; "
                "the agency is listed under the first",
                row=row_number,
            )
        return key

    def _assign_agency_slugs(self, agencies: dict[str, _Agency]) -> None:
        taken: set[str] = set()
        for agency in agencies.values():  # first appearance in the file first
            base = slugify(agency.abbreviation) or slugify(agency.name)
            slug = base
            if slug in taken:
                slug = f"{agency.department}-{base}"
                suffix = 2
                while slug in taken:
                    slug = f"{agency.department}-{base}-{suffix}"
                    suffix += 1
                self._problem(
                    "agency-slug-clash",
                    f"agency {_quote(agency.name)} would have slug {_quote(base)}, already "
                    f"used by another agency; using {_quote(slug)}",
                )
            taken.add(slug)
            agency.slug = slug

    # -- figures ---------------------------------------------------------------------------

    def _data_rows(
        self, record: list[str], row_number: int, order: int, slug: str, table: Table
    ) -> list[_DataRow]:
        rows: list[_DataRow] = []
        blanks: list[_PeriodColumn] = []
        series_with_numbers: set[tuple[str, str]] = set()
        for column in self.period_columns:
            if column.table != table:
                continue
            raw = record[column.index]
            cell = raw.strip()
            where = f"cell {column_letter(column.index)}{row_number} ({column.header})"
            if not cell:
                self.cell_states["blank"] += 1
                blanks.append(column)
            elif cell in ("-", "\u2013", "\u2014"):
                self.cell_states["not_provided"] += 1
                self.report.dash_cells += 1
                note = f"{where}: {_quote(cell)}"
                rows.append(_data_row(order, slug, column, "", "not_provided", note))
            elif _is_not_applicable_marker(cell):
                self.cell_states["not_applicable"] += 1
                rows.append(_data_row(order, slug, column, "", "not_applicable", ""))
            else:
                try:
                    number = parse_number(cell)
                    if column.metric == "transactions" and number != number.to_integral_value():
                        raise ValueError("is not a whole number of transactions")
                except ValueError as reason:
                    self.cell_states["invalid"] += 1
                    self._problem(
                        "invalid-cell",
                        f"{_quote(raw)} {reason}",
                        row=row_number,
                        column=column_letter(column.index),
                        header=column.header,
                    )
                    note = f"{where}: {_quote(raw)} {reason}"
                    rows.append(_data_row(order, slug, column, "", "invalid", note))
                else:
                    self.cell_states["value"] += 1
                    series_with_numbers.add((column.metric, column.channel))
                    rows.append(_data_row(order, slug, column, format_number(number), "", ""))
        for column in blanks:
            # The spreadsheet asked every service for every 12-month period, so a blank there is
            # "expected but absent". A blank quarterly cell is only where the service reports
            # that figure for some other quarter; otherwise nothing is written (smaller files).
            if table == "annual" or (column.metric, column.channel) in series_with_numbers:
                self.cell_states["blank"] -= 1
                self.cell_states["not_provided"] += 1
                rows.append(_data_row(order, slug, column, "", "not_provided", ""))
        return rows

    def _check_quality(self, annual: list[_DataRow], quarterly: list[_DataRow]) -> None:
        labels = {c.period: c.label for c in self.period_columns}
        for table, rows in (("annual", annual), ("quarterly", quarterly)):
            values = {
                (row.service, row.period, row.metric, row.channel): Decimal(row.value)
                for row in rows
                if row.status == ""
            }
            for (service, period, metric, channel), value in values.items():
                where = f"{service} {table} {labels.get(period, period)}"
                if metric == "transactions" and channel == "digital":
                    total = values.get((service, period, "transactions", ""))
                    if total is not None and value > total:
                        self.report.digital_exceeds_total.append(where)
                if metric == "cost_per_transaction":
                    volume = values.get((service, period, "transactions", channel))
                    if volume == 0:
                        self.report.cost_with_zero_volume.append(
                            f"{where} {metric}" + (f" ({channel})" if channel else "")
                        )

    # -- output ----------------------------------------------------------------------------

    def _services_yaml(
        self,
        services: list[_Service],
        departments: dict[str, _Department],
        agencies: dict[str, _Agency],
        annual: list[_DataRow],
        quarterly: list[_DataRow],
    ) -> str:
        labels = {c.period: c.label for c in self.period_columns}
        years = sorted(
            {labels[row.period][:4] for row in annual + quarterly if row.status == ""}
            or {c.label[:4] for c in self.period_columns}
        )
        title = "UK government transactional services"
        if years:
            title += f" {years[0]}" if years[0] == years[-1] else f" {years[0]} to {years[-1]}"
        document: dict[str, Any] = {
            "site": {
                "title": title,
                "licence": SITE_LICENCE,
                "source": SITE_SOURCE,
                "digital_channels": list(SITE_DIGITAL_CHANNELS),
            },
            "departments": [
                _without_blanks({"slug": d.slug, "name": d.name, "abbreviation": d.abbreviation})
                for d in sorted(departments.values(), key=lambda d: d.slug)
            ],
            "agencies": [
                _without_blanks(
                    {
                        "slug": a.slug,
                        "name": a.name,
                        "abbreviation": a.abbreviation,
                        "department": a.department,
                    }
                )
                for a in sorted(agencies.values(), key=lambda a: a.slug)
            ],
            "services": [
                _without_blanks(
                    {
                        "slug": s.slug,
                        "name": s.fields["name"],
                        "department": s.department,
                        "agency": s.agency,
                        "description": s.fields["description"],
                        "start_url": s.fields["start_url"],
                        "category": s.fields["category"],
                        "customer_type": s.fields["customer_type"],
                        "business_model": s.fields["business_model"],
                        "transaction_type": s.fields["transaction_type"],
                        "cost_notes": s.fields["cost_notes"],
                        "notes": s.fields["notes"],
                        "keywords": s.fields["keywords"],
                        "not_applicable": s.not_applicable,
                    }
                )
                for s in services
            ],
        }
        body = yaml.dump(
            document,
            Dumper=_ProjectDumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
            default_flow_style=False,
        )
        return f"# Generated by perfgen import transactions-explorer from {self.file}\n{body}"

    # -- problems --------------------------------------------------------------------------

    def _problem(
        self,
        code: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        header: str | None = None,
    ) -> None:
        self.problems.append(ImportProblem(code, message, self.file, row, column, header))

    def _fatal(
        self,
        code: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        header: str | None = None,
    ) -> None:
        self.fatal.append(ImportProblem(code, message, self.file, row, column, header, "error"))


def _period_column(
    index: int, shown: str, normalised: str
) -> _PeriodColumn | _UnimportedKpiColumn | None:
    annual = _ANNUAL_HEADER.fullmatch(normalised)
    if annual:
        year, quarter = int(annual.group(1)), int(annual.group(2))
        measure = re.sub(r"[^a-z]", "", annual.group(3))
        if measure in _ANNUAL_MEASURES:
            metric, channel = _ANNUAL_MEASURES[measure]
            return _PeriodColumn(
                index=index,
                header=shown,
                table="annual",
                label=f"{year}-Q{quarter}",
                period=annual_period(year, quarter),
                metric=metric,
                channel=channel,
            )
        if measure in _UNIMPORTED_KPIS:
            return _UnimportedKpiColumn(index=index, header=shown, kpi=_UNIMPORTED_KPIS[measure])
        return None
    quarterly = _QUARTERLY_HEADER.fullmatch(normalised)
    if quarterly:
        first, last = _MONTHS.get(quarterly.group(2)), _MONTHS.get(quarterly.group(3))
        if first is None or last is None or first % 3 != 1 or last != first + 2:
            return None  # not a calendar quarter: reported as an unknown column
        label = f"{quarterly.group(4)}-Q{(first + 2) // 3}"
        return _PeriodColumn(
            index=index,
            header=shown,
            table="quarterly",
            label=label,
            period=label,
            metric="transactions",
            channel="" if quarterly.group(1) == "total" else "digital",
        )
    return None


def _data_row(
    order: int, slug: str, column: _PeriodColumn, value: str, status: str, note: str
) -> _DataRow:
    return _DataRow(order, slug, column.period, column.channel, column.metric, value, status, note)


def _is_not_applicable_marker(cell: str) -> bool:
    return len(cell) >= 3 and set(cell) == {"*"}


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _without_blanks(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value not in ("", None, [])}


def _data_csv(rows: list[_DataRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DATA_HEADER)
    writer.writerows(row.cells() for row in rows)
    return buffer.getvalue()


class _ProjectDumper(yaml.SafeDumper):
    """Safe YAML, with list items indented under their key and multi-line text as blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_ProjectDumper.add_representer(str, _represent_text)
