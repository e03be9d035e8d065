"""The bundled real project (config/, data/) is the Transactions Explorer export, imported by
perfgen, and its KPIs equal the spreadsheet's figures for every service and 12-month period."""

from __future__ import annotations

import csv
import math
import os
import re
from datetime import date
from pathlib import Path

import pytest

from perfgen.errors import Warnings
from perfgen.importers.transactions_explorer import (
    annual_period,
    parse_number,
    read_transactions_explorer,
)
from perfgen.periods import parse_period
from perfgen.pipeline import Project, check

REPO = Path(__file__).resolve().parents[1]
SPREADSHEET = REPO.parent / "shared" / "data" / "uk-transactions-explorer-2018" / "services.csv"
needs_spreadsheet = pytest.mark.skipif(
    not SPREADSHEET.exists() and not os.environ.get("CI"),
    reason=f"{SPREADSHEET} is not beside this checkout",
)
COLUMNS = {"Vol.": ("transactions", "transactions"), "Digital vol.": ("digital", "digital_transactions"),
           "CPT (£)": ("cpt", "cost_per_transaction")}


@pytest.fixture(scope="module")
def real_values():
    project = Project(config=REPO / "config/services.yml", data=REPO / "data", root=REPO)
    warnings = Warnings()
    config, loaded, results = check(project, warnings)
    loaded.db.close()
    return config, results.values, warnings


@needs_spreadsheet
def test_committed_project_is_the_import_of_the_spreadsheet():
    imported = read_transactions_explorer(SPREADSHEET)
    for relative, text in imported.files.items():
        assert (REPO / relative).read_text(encoding="utf-8") == text, f"{relative} is out of date: run make te-import"


def test_default_project_has_every_service(real_values):
    config, values, _ = real_values
    assert len(config.services) == 734
    assert len(config.departments) == 18
    assert set(values[values["service"] != ""]["service"]) == {s.slug for s in config.services}


@needs_spreadsheet
def test_kpis_equal_the_spreadsheet_for_every_service_and_12_month_period(real_values):
    _, values, _ = real_values
    rows = values[(values["basis"] == "period") & (values["service"] != "")
                  & values["kpi"].isin(["transactions", "digital_transactions", "cost_per_transaction"])]
    published = {(r.service, r.kpi, r.period_start, r.period_end): (r.value, r.status) for r in rows.itertuples()}
    with SPREADSHEET.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        groups = []
        for index, name in enumerate(header):
            match = re.fullmatch(r"(\d{4})-Q(\d) (Vol\.|Digital vol\.|CPT \(£\))", name.strip())
            if match:
                period = parse_period(annual_period(int(match[1]), int(match[2])))
                start, end = period.start, period.end
                groups.append((index, match[3], start, end))
        slug_column = header.index("Slug")
        checked = 0
        for record in reader:
            figures: dict[tuple[date, date], dict[str, str]] = {}
            for index, kind, start, end in groups:
                figures.setdefault((start, end), {})[COLUMNS[kind][0]] = record[index].strip()
            for (start, end), cells in figures.items():
                for kind, (short, kpi) in COLUMNS.items():
                    cell = cells.get(short, "")
                    value, status = published[(record[slug_column], kpi, start, end)]
                    if cell in ("", "-", "[not provided]"):
                        assert status == "not_provided" and math.isnan(value), (record[slug_column], kpi, start)
                        continue
                    number = float(parse_number(cell))
                    if kpi == "digital_transactions" and cells.get("transactions") not in ("", "-", "[not provided]", None) \
                            and number > float(parse_number(cells["transactions"])):
                        assert status == "invalid", (record[slug_column], start)  # digital above total: never published
                    elif kpi == "cost_per_transaction" and cells.get("transactions") not in ("", "-", "[not provided]", None) \
                            and float(parse_number(cells["transactions"])) == 0:
                        assert status in ("invalid", "not_provided"), (record[slug_column], start)
                    else:
                        assert status == "value" and value == pytest.approx(number), (record[slug_column], kpi, start, value, number)
                    checked += 1
    assert checked > 20_000


def test_take_up_is_never_published_above_100_percent(real_values):
    _, values, warnings = real_values
    take_up = values[values["kpi"] == "digital_take_up"]["value"].dropna()
    assert (take_up <= 1).all()
    assert warnings.by_code()["digital-above-total"] == 28
    assert warnings.by_code()["cost-with-zero-volume"] == 9


def test_self_assessment_headline_is_stale_with_its_period(real_values):
    _, values, _ = real_values
    headline = values[(values["service"] == "hmrc-self-assessment") & (values["kpi"] == "transactions") & (values["basis"] == "headline")].iloc[0]
    assert headline["status"] == "stale"
    assert headline["period"] == "April 2016 to March 2017"
    assert headline["value"] == 15_831_747
