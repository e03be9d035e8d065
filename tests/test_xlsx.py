"""Spreadsheet input: the .xlsx loader and the template service managers fill in.

A filled-in template gives exactly the KPI values the same rows give as CSV; every problem names
the sheet, the row and the column, word for word.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from perfgen import plugins
from perfgen.errors import Warnings
from perfgen.load import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from perfgen.pipeline import Project, check
from perfgen.xlsx import DATA_SHEET, template_bytes

ROWS = [
    ("apply-passport", "2025-01", "online", "transactions", 41230),
    ("apply-passport", "2025-01", "paper", "transactions", 5120),
    ("apply-passport", "2025-01", None, "cost", 512000.0),
    ("apply-passport", "2025-01", "online", "started", 47100),
    ("apply-passport", "2025-01", "online", "completed", 41230),
    ("apply-passport", "2025-01", None, "rating_5", 812),
]


def filled_template(rows, path: Path) -> Path:
    workbook = load_workbook(io.BytesIO(template_bytes()))
    sheet = workbook[DATA_SHEET]
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def test_the_template_is_reproducible_and_ready_to_fill_in():
    content = template_bytes()
    assert content == template_bytes()
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        assert b"2000-01-01T00:00:00Z" in archive.read("docProps/core.xml")
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Data", "Guidance"]
    data = workbook["Data"]
    assert [c.value for c in data[1]] == list(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    assert data.max_row == 1, "no example rows on the sheet that is loaded"
    assert data.column_dimensions["B"].number_format == "@"
    validated = {str(v.sqref).split(":")[0][0]: v for v in data.data_validations.dataValidation}
    assert "digital" in validated["C"].formula1 and "rating_5" in validated["D"].formula1
    assert validated["E"].type == "decimal"
    guidance = "\n".join(str(c.value) for row in workbook["Guidance"].iter_rows() for c in row if c.value)
    assert "perfgen validate" in guidance and "renew-passport" in guidance


def test_python_m_perfgen_xlsx_writes_the_template(tmp_path, capsys):
    from perfgen.xlsx import main

    assert main([str(tmp_path / "template.xlsx")]) == 0
    assert (tmp_path / "template.xlsx").read_bytes() == template_bytes()
    assert "fill in the sheet 'Data'" in capsys.readouterr().out


def test_xlsx_loader_is_a_built_in_plugin():
    loaders = plugins.loaders()
    assert loaders[".xlsx"].plugin == "perfgen.xlsx" and loaders[".xlsm"].plugin == "perfgen.xlsx"


def values_of(project: Path) -> pd.DataFrame:
    _, loaded, results = check(Project(config=project / "config/services.yml", data=project / "data", root=project), Warnings())
    loaded.db.close()
    return results.values


def test_a_filled_in_template_gives_the_same_figures_as_csv(example_project):
    csv_lines = ["service,period,channel,metric,value"] + [",".join("" if v is None else str(v) for v in row) for row in ROWS]
    (example_project / "data/extra.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    from_csv = values_of(example_project)
    (example_project / "data/extra.csv").unlink()
    filled_template(ROWS + [(None, None, None, None, None)], example_project / "data/extra.xlsx")
    from_xlsx = values_of(example_project)
    pd.testing.assert_frame_equal(from_csv, from_xlsx)
    january = from_xlsx[(from_xlsx["service"] == "apply-passport") & (from_xlsx["kpi"] == "cost_per_transaction")
                        & (from_xlsx["period"] == "January 2025")]
    assert january["value"].tolist() == [pytest.approx(512000 / (41230 + 5120))]


def test_formula_results_saved_by_excel_are_read(example_project):
    path = filled_template([("apply-passport", "2025-01", "online", "transactions", "=40000+1230")], example_project / "data/extra.xlsx")
    # openpyxl writes formulas without a result; Excel saves one beside each. Add it as Excel would.
    source = zipfile.ZipFile(path)
    parts = {name: source.read(name) for name in source.namelist()}
    source.close()
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb"<f>40000\+1230</f>(<v>\s*</v>|<v/>)?", b"<f>40000+1230</f><v>41230</v>", parts[sheet])
    assert b"<v>41230</v>" in parts[sheet]
    with zipfile.ZipFile(path, "w") as target:
        for name, content in parts.items():
            target.writestr(name, content)
    values = values_of(example_project)
    january = values[(values["service"] == "apply-passport") & (values["kpi"] == "transactions") & (values["period"] == "January 2025")]
    assert january["value"].tolist() == [41230]


SHEET_CASES = [
    pytest.param(
        [("apply-passport", "2025-01", "online", "transactions", "abc")],
        "error: data/extra.xlsx: sheet 'Data', row 2, column E ('value'): 'abc' is not a number",
        id="not-a-number",
    ),
    pytest.param(
        [("apply-passport", "2025-01", "online", "transactions", -5)],
        "error: data/extra.xlsx: sheet 'Data', row 2, column E ('value'): '-5' is negative; counts and costs cannot be below zero",
        id="negative",
    ),
    pytest.param(
        [None, ("apply-pasport", "2025-01", "online", "transactions", 5)],
        "error: data/extra.xlsx: sheet 'Data', row 3, column A ('service'): unknown service 'apply-pasport' (did you mean 'apply-passport'?)\n"
        "  Hint: add the service to config/services.yml or correct the slug",
        id="unknown-service-after-an-empty-row",
    ),
    pytest.param(
        [("apply-passport", datetime(2025, 3, 1), "online", "transactions", 5)],
        "error: data/extra.xlsx: sheet 'Data', row 2, column B ('period'): is a date or time (1 March 2025), not a period\n"
        "  Hint: format the period column as Text and type the period again: Excel turns 2024-05 into a date",
        id="period-turned-into-a-date",
    ),
    pytest.param(
        [("apply-passport", "2025-01", "online", "transactions", True)],
        "error: data/extra.xlsx: sheet 'Data', row 2, column E ('value'): TRUE is not a figure\n"
        "  Hint: write a number or leave the cell empty",
        id="boolean",
    ),
    pytest.param(
        [("apply-passport", "2025-01", "online", "transactions", "=2+3")],
        "error: data/extra.xlsx: sheet 'Data', row 2, column E ('value'): the formula =2+3 has no saved result\n"
        "  Hint: open the workbook in Excel and save it, or paste the figures as values",
        id="formula-without-result",
    ),
    pytest.param(
        [("apply-passport", "2025-01", "fax", "transactions", 5)],
        "error: data/extra.xlsx: sheet 'Data', row 2, column C ('channel'): unknown channel 'fax'\n"
        "  Hint: leave it empty for an all-channel figure, or add the channel to site.channels in config/services.yml",
        id="unknown-channel",
    ),
    pytest.param(
        [("apply-passport", "2025-01", "online", "transactions", 5), ("apply-passport", "2025-01", "online", "transactions", 6)],
        "error: data/extra.xlsx: sheet 'Data', row 3: duplicate row for service 'apply-passport', period '2025-01', channel 'online', metric 'transactions' (first given at row 2)\n"
        "  Hint: each figure must be given once; remove one of the rows",
        id="duplicate-row",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), SHEET_CASES)
def test_problems_name_the_sheet_row_and_column(example_project, failing_build, rows, expected):
    filled_template([row or (None,) * 5 for row in rows], example_project / "data/extra.xlsx")
    assert failing_build() == expected


def test_a_renamed_column_is_reported_in_the_header_row(example_project, failing_build):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    sheet.append(["service", "period", "channel", "metrc", "value"])
    workbook.save(example_project / "data/extra.xlsx")
    assert failing_build() == (
        "error: data/extra.xlsx: sheet 'Data', row 1: missing column 'metric'\n"
        "  Hint: the header must be: service,period,channel,metric,value (optionally status,note)\n"
        "error: data/extra.xlsx: sheet 'Data', row 1, column D ('metrc'): unknown column 'metrc' (did you mean 'metric'?)\n"
        "  Hint: the header must be: service,period,channel,metric,value (optionally status,note)"
    )


def test_a_workbook_without_a_data_sheet(example_project, failing_build):
    workbook = Workbook()
    workbook.active.title = "Figures"
    workbook.create_sheet("Notes")
    workbook.save(example_project / "data/extra.xlsx")
    assert failing_build() == (
        "error: data/extra.xlsx: no sheet named 'Data' (the workbook has 'Figures', 'Notes')\n"
        "  Hint: put the figures on a sheet named 'Data', as in the perfgen template"
    )


def test_a_file_that_is_not_a_workbook(example_project, failing_build):
    (example_project / "data/extra.xlsx").write_text("service,period\n", encoding="utf-8")
    problem = failing_build()
    assert problem.startswith("error: data/extra.xlsx: cannot be read as an Excel workbook (")
    assert problem.endswith("  Hint: save it from Excel as 'Excel Workbook (.xlsx)'; older .xls files must be saved as .xlsx")


def test_a_single_sheet_with_another_name_is_read(example_project):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    sheet.append(["value", "metric", "service", "period", "channel"])  # any order
    sheet.append([7, "transactions", "apply-passport", "2025-01", "online"])
    workbook.save(example_project / "data/extra.xlsx")
    values = values_of(example_project)
    row = values[(values["service"] == "apply-passport") & (values["kpi"] == "transactions") & (values["period"] == "January 2025")]
    assert row["value"].tolist() == [7]


def test_a_workbook_is_never_kept_in_the_row_cache_so_its_problems_keep_their_cells(example_project, tmp_path):
    """The row cache keeps files whose problems are placed by line only: a workbook's are
    placed by its loader (sheet, row, column), so it is read from the workbook every time."""
    from perfgen.config import load_config
    from perfgen.errors import DataError
    from perfgen.load import RowCache, load_data

    filled_template(ROWS, example_project / "data/extra.xlsx")
    cache = RowCache(tmp_path / "rows", "code")

    def load():
        config = load_config(example_project / "config/services.yml", "config/services.yml")
        loaded = load_data(example_project / "data", config, example_project, cache)
        loaded.db.close()
        return loaded.from_cache

    assert load() == 0
    assert load() == 4  # the four CSV files
    assert len(list(cache.folder.glob("*.parquet"))) == 4
    services = example_project / "config/services.yml"
    services.write_text(services.read_text(encoding="utf-8").replace("apply-passport", "apply-for-a-passport"), encoding="utf-8")
    with pytest.raises(DataError) as raised:
        load()
    texts = [str(problem) for problem in raised.value.problems]
    assert any(text.startswith("data/extra.xlsx: sheet 'Data', row 2, column A ('service'): unknown service 'apply-passport'") for text in texts)
    assert any(text.startswith("data/hmpo-passports.csv:2: column 'service': unknown service 'apply-passport'") for text in texts)
