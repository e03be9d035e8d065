"""Spreadsheet input: an Excel workbook (.xlsx) loader and the template service managers fill in.

A built-in plugin (``load_formats`` hook). The workbook's sheet ``Data`` (or its only sheet)
holds the canonical columns with a header row: ``service, period, channel, metric, value`` and
optionally ``status`` and ``note``, in any order. Every problem names the sheet, the row and
the column, for example::

    data/passports.xlsx: sheet 'Data', row 12, column E ('value'): 'abc' is not a number

Formulas are read through the result Excel saved with them. Excel turns a period such as
``2024-05`` typed into a cell into a date; the template's period column is formatted as text
so that cannot happen, and a date found there is reported with the fix.

``python -m perfgen.xlsx OUT.xlsx`` writes the template (:func:`template_bytes`).
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from perfgen.config import DEFAULT_CHANNELS, DIGITAL
from perfgen.errors import Problem
from perfgen.plugins import Loader, Records, hookimpl, records_loader

DATA_SHEET = "Data"
SUFFIXES = (".xlsx", ".xlsm")
FIXED_TIME = datetime(2000, 1, 1)  # the template's recorded times, so it is byte-for-byte reproducible


@dataclass(frozen=True)
class SheetProblem(Problem):
    """A problem in a worksheet, located by sheet, row (``line``) and column."""

    sheet: str = ""
    column: str = ""  # "E ('value')"; empty for a problem with the whole row

    def __str__(self) -> str:
        place = f"sheet '{self.sheet}', row {self.line}" + (f", column {self.column}" if self.column else "")
        text = f"{self.file}: {place}: {self.message}"
        if self.code:
            text = f"{text} [{self.code}]"
        if self.hint:
            text = f"{text}\n  Hint: {self.hint}"
        return text


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


class _Sheet:
    """Where each header sits, to turn a problem's line and column name into a cell."""

    def __init__(self, display: str, name: str, header: list[str]):
        self.display = display
        self.name = name
        self.letters = {column: _column_letter(index) for index, column in enumerate(header, start=1) if column}

    def problem(self, row: int, column: str, message: str, hint: str = "") -> SheetProblem:
        return SheetProblem(self.display, row, f"column '{column}'" if column else "", message, hint=hint, sheet=self.name, column=self._column(column))

    def _column(self, column: str) -> str:
        return f"{self.letters[column]} ('{column}')" if column in self.letters else ""

    def locate(self, problem: Problem) -> Problem:
        if problem.line is None or isinstance(problem, SheetProblem):
            return problem
        match = re.fullmatch(r"column '([^']*)'", problem.where)
        if problem.where == "header":  # "unknown column 'metrc'": point at that column
            match = re.match(r"(?:unknown )?column '([^']*)'", problem.message)
        column = self._column(match.group(1)) if match else ""
        message = problem.message if problem.where in ("", "header") or match else f"{problem.where}: {problem.message}"
        # "first given at data/x.xlsx:2" (a duplicate row) -> "first given at row 2"
        message = re.sub(re.escape(self.display) + r":(\d+)", r"row \1", message)
        return SheetProblem(problem.file, problem.line, problem.where, message, problem.code, problem.hint, sheet=self.name, column=column)


def _open(path: Path, display: str, problems: list[Problem], data_only: bool) -> Any:
    from openpyxl import load_workbook

    try:
        return load_workbook(path, read_only=True, data_only=data_only)
    except Exception as error:  # noqa: BLE001 - openpyxl raises zip, XML and key errors for damaged files
        problems.append(Problem(display, None, "", f"cannot be read as an Excel workbook ({type(error).__name__}: {error})",
                                hint="save it from Excel as 'Excel Workbook (.xlsx)'; older .xls files must be saved as .xlsx"))
        return None


def _choose_sheet(workbook: Any, display: str, problems: list[Problem]) -> Any:
    names = workbook.sheetnames
    for name in names:
        if name.strip().lower() == DATA_SHEET.lower():
            return workbook[name]
    if len(names) == 1:
        return workbook[names[0]]
    problems.append(Problem(display, None, "", f"no sheet named '{DATA_SHEET}' (the workbook has {', '.join(repr(n) for n in names)})",
                            hint=f"put the figures on a sheet named '{DATA_SHEET}', as in the perfgen template"))
    return None


def _date_words(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def read_workbook(path: Path, display: str, problems: list[Problem]) -> Records | None:
    from perfgen.load import _check_columns

    workbook = _open(path, display, problems, data_only=False)
    if workbook is None:
        return None
    cached = None  # the same workbook with the results of formulas, opened when first needed
    try:
        sheet = _choose_sheet(workbook, display, problems)
        if sheet is None:
            return None
        rows = sheet.iter_rows()
        first = next(rows, None)
        header = ["" if cell.value is None else str(cell.value).strip() for cell in first or ()]
        while header and not header[-1]:
            header.pop()
        layout = _Sheet(display, sheet.title, header)
        if not header:
            problems.append(SheetProblem(display, 1, "header", "the header row is empty", hint="the first row must name the columns: service, period, channel, metric, value (optionally status, note)", sheet=sheet.title))
            return None
        if "" in header:
            problems.append(SheetProblem(display, 1, "header", f"column {_column_letter(header.index('') + 1)} has no name in the header row", hint="name every column or delete the empty one", sheet=sheet.title))
            return None
        before = len(problems)
        if not _check_columns(header, display, problems):
            problems[before:] = [layout.locate(p) for p in problems[before:]]
            return None
        records = []
        for cells in rows:
            values: dict[str, Any] = {}
            row_number = None
            reported = len(problems)
            for column, cell in zip(header, cells):
                value = cell.value
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                row_number = cell.row
                if cell.data_type == "f":
                    if cached is None:
                        cached = _open(path, display, problems, data_only=True)
                        if cached is None:
                            return None
                    value = cached[sheet.title][cell.coordinate].value
                    if value is None:
                        problems.append(layout.problem(cell.row, column, f"the formula {cell.value} has no saved result",
                                                       hint="open the workbook in Excel and save it, or paste the figures as values"))
                        continue
                if isinstance(value, bool):
                    problems.append(layout.problem(cell.row, column, f"{str(value).upper()} is not a figure", hint="write a number or leave the cell empty"))
                    continue
                if isinstance(value, (datetime, date, time)):
                    shown = _date_words(value) if isinstance(value, date) else value.isoformat()
                    hint = ("format the period column as Text and type the period again: Excel turns 2024-05 into a date"
                            if column == "period" else "write a plain number")
                    problems.append(layout.problem(cell.row, column, f"is a date or time ({shown}), not a {'period' if column == 'period' else 'number'}", hint=hint))
                    continue
                values[column] = value
            if row_number is None:
                continue  # an empty row
            if len(problems) == reported:  # a row with a cell problem is not checked again as data
                records.append({"line": row_number, **values})
        return Records(records, layout.locate)
    finally:
        workbook.close()
        if cached is not None:
            cached.close()


@hookimpl
def load_formats() -> list[Loader]:
    return [records_loader("Excel workbook", SUFFIXES, read_workbook)]


# --- the template -----------------------------------------------------------------------------

COLUMNS = (
    ("service", 26, "The service's slug, exactly as in config/services.yml, for example renew-passport."),
    ("period", 14, "2024-05 (a month), 2024-Q2 (a calendar quarter), 2024-25 (a financial year, April to March) or 2024-04-01/2025-03-31."),
    ("channel", 18, "online, api, assisted_digital, phone, paper, face_to_face, email, other, or digital (all digital channels). Leave empty for a figure covering all channels."),
    ("metric", 22, "transactions, cost (total, in pounds), cost_per_transaction, started, completed, or rating_1 to rating_5 (survey answers, 1 = very dissatisfied)."),
    ("value", 14, "A plain number, 0 or more, without commas, currency signs or units. Leave empty if you do not have the figure."),
    ("status", 16, "Only when value is empty: not_provided, not_applicable or invalid."),
    ("note", 40, "Optional: why a figure is missing or unusual."),
)
METRIC_NAMES = ("transactions", "cost", "cost_per_transaction", "started", "completed", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5")
EXAMPLE_ROWS = (
    ("renew-passport", "2024-05", "online", "transactions", 41230, None, None),
    ("renew-passport", "2024-05", "paper", "transactions", 5120, None, None),
    ("renew-passport", "2024-05", None, "cost", 512000, None, None),
    ("renew-passport", "2024-05", "online", "started", 47100, None, None),
    ("renew-passport", "2024-05", "online", "completed", 41230, None, None),
    ("renew-passport", "2024-05", None, "rating_5", 812, None, None),
    ("renew-passport", "2024-05", None, "rating_1", None, "not_provided", "survey not run this month"),
)


def _build_template() -> Any:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    data = workbook.active
    data.title = DATA_SHEET
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDDDDD")
    for index, (name, width, _) in enumerate(COLUMNS, start=1):
        cell = data.cell(row=1, column=index, value=name)
        cell.font, cell.fill = bold, fill
        data.column_dimensions[_column_letter(index)].width = width
    data.column_dimensions["B"].number_format = "@"  # periods stay text: Excel would turn 2024-05 into a date
    data.freeze_panes = "A2"
    rows = "2:1048576"
    lists = {
        "C": ",".join([*DEFAULT_CHANNELS, DIGITAL]),
        "D": ",".join(METRIC_NAMES),
        "F": "not_provided,not_applicable,invalid",
    }
    for column, choices in lists.items():
        validation = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True, errorStyle="warning",
                                    error="This is not one of perfgen's usual values: check the guidance sheet.", errorTitle="Check this value")
        validation.add(f"{column}{rows.replace(':', f':{column}')}")
        data.add_data_validation(validation)
    number = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                            error="Write a plain number, 0 or more, without commas or currency signs.", errorTitle="Not a figure")
    number.add(f"E{rows.replace(':', ':E')}")
    data.add_data_validation(number)

    guidance = workbook.create_sheet("Guidance")
    guidance.column_dimensions["A"].width = 24
    guidance.column_dimensions["B"].width = 110
    lines = [
        ("How to fill in this workbook", None),
        ("1.", "Put one figure per row on the sheet 'Data', under the header row. Do not rename the sheet or the columns."),
        ("2.", "Save the workbook as .xlsx and put it in the data/ folder of the perfgen project, beside the CSV files."),
        ("3.", "Run 'perfgen validate': every problem names the sheet, the row and the column to fix."),
        (None, None),
        ("Column", "What to write"),
        *[(name, text) for name, _, text in COLUMNS],
        (None, None),
        ("Example", "The rows below show one month of a service. Copy the pattern, not the figures."),
    ]
    for row in lines:
        guidance.append(row)
        if row[0] in ("How to fill in this workbook", "Column", "Example"):
            for cell in guidance[guidance.max_row]:
                cell.font = bold
    guidance.append([name for name, _, _ in COLUMNS])
    for cell in guidance[guidance.max_row]:
        cell.font, cell.fill = bold, fill
    for example in EXAMPLE_ROWS:
        guidance.append(list(example))
    for row in guidance.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    workbook.properties.creator = "perfgen"
    workbook.properties.title = "perfgen data template"
    workbook.properties.created = FIXED_TIME
    return workbook


def template_bytes() -> bytes:
    """The template workbook, identical on every call (fixed times inside and in the zip)."""
    buffer = io.BytesIO()
    _build_template().save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    result = io.BytesIO()
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(result, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + stamp.encode() + rb"\g<2>", content)
            info = zipfile.ZipInfo(item.filename, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, content)
    return result.getvalue()


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1 or not arguments[0].endswith(".xlsx"):
        print("usage: python -m perfgen.xlsx OUT.xlsx   (writes the perfgen data template)", file=sys.stderr)
        return 2
    Path(arguments[0]).write_bytes(template_bytes())
    print(f"Wrote the perfgen data template to {arguments[0]}: fill in the sheet 'Data' and put it in data/")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
