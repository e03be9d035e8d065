"""The parts and channels sections of a service page, case by case (parts.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from perfgen import parts
from perfgen.config import Config, Part, Service
from perfgen.kpis import load_definitions

CONFIG = Config.model_validate({"departments": [{"slug": "dft", "name": "Department for Transport"}]})
SERVICE = Service(slug="vehicle-tax", name="Tax your vehicle", department="dft", digital_channels=["online"],
                  parts=[Part(slug="tax", name="Tax a vehicle"), Part(slug="sorn", name="Make a SORN"), Part(slug="refund", name="Get a refund")])


class Model:
    """What the sections ask of the render stage's SiteModel: headlines, definitions, config."""

    def __init__(self, headlines: dict[str, dict[str, Any]]):
        self.config = CONFIG
        self.definitions = {d.id: d for d in load_definitions()}
        self.headlines = headlines

    def method_for(self, service: Service) -> str:
        return "mean_score"

    def headline(self, service: str, department: str, kpi: str, method: str = "") -> dict[str, Any] | None:
        return self.headlines.get(kpi)


YEAR = (date(2024, 1, 1), date(2024, 12, 31))


def headline(kpi: str, value: float, contributing: int = 3) -> dict[str, Any]:
    return {"kpi": kpi, "value": value, "status": "value", "period_start": YEAR[0], "period_end": YEAR[1], "period": "January to December 2024",
            "parts_contributing": contributing, "parts_expected": 3}


def part_row(part: str, kpi: str, value: float | None, status: str = "value", basis: str = "period") -> dict[str, Any]:
    return {"part": part, "kpi": kpi, "method": "mean_score" if kpi == "user_satisfaction" else "", "value": value, "status": status,
            "basis": basis, "period_start": YEAR[0], "period_end": YEAR[1], "period": "January to December 2024"}


def test_the_part_that_drags_the_service_down_is_named_and_ties_are_shared():
    model = Model({"digital_take_up": headline("digital_take_up", 0.783), "completion_rate": headline("completion_rate", 0.9),
                   "cost_per_transaction": headline("cost_per_transaction", 2.1, contributing=2)})
    rows = [part_row("tax", "digital_take_up", 0.9), part_row("sorn", "digital_take_up", 0.41), part_row("refund", "digital_take_up", 0.8),
            part_row("tax", "completion_rate", 0.88), part_row("sorn", "completion_rate", 0.88), part_row("refund", "completion_rate", 0.95),
            part_row("tax", "cost_per_transaction", 1.5), part_row("sorn", "cost_per_transaction", 4.5),
            part_row("refund", "cost_per_transaction", None, status="not_provided")]
    section = parts.parts_section(model, parts.PartsIndex(pd.DataFrame(rows)), SERVICE)
    assert section["sentences"] == [
        "Make a SORN has the highest cost per transaction: £4.50, against £2.10 for the service.",
        "Tax a vehicle and Make a SORN share the lowest completion rate: 88.0% each, against 90.0% for the service.",
        "Make a SORN has the lowest digital take-up: 41.0%, against 78.3% for the service.",
    ]
    table = section["table"]
    assert table["caption"] == "Tax your vehicle: each part, January to December 2024"  # the period of the first KPI with one
    refund = table["rows"][2]
    assert refund[0] == "Get a refund"
    assert "Not provided" in str(refund[2]["html"])  # never £0
    total = table["rows"][3]
    assert str(total[2]["html"]) == '£2.10<br><span class="govuk-body-s">2 of 3 parts</span>'


def test_no_sentence_when_the_parts_are_alike_or_only_one_has_a_figure():
    model = Model({"digital_take_up": headline("digital_take_up", 0.5), "user_satisfaction": headline("user_satisfaction", 0.7, contributing=1)})
    rows = [part_row(p, "digital_take_up", 0.5) for p in ("tax", "sorn", "refund")] + [part_row("tax", "user_satisfaction", 0.7)]
    assert parts.parts_section(model, parts.PartsIndex(pd.DataFrame(rows)), SERVICE)["sentences"] == []


def test_a_part_with_only_an_older_figure_shows_it_with_its_period():
    model = Model({"transactions": headline("transactions", 1000)})
    rows = [part_row("tax", "transactions", 600), part_row("sorn", "transactions", 400),
            {**part_row("refund", "transactions", 35, status="stale", basis="headline"), "period": "April 2022 to March 2023"}]
    table = parts.parts_section(model, parts.PartsIndex(pd.DataFrame(rows)), SERVICE)["table"]
    assert table["caption"] == "Tax your vehicle: each part, January to December 2024"
    assert str(table["rows"][2][1]["html"]) == '35<br><span class="govuk-body-s app-status--missing">out of date: April 2022 to March 2023</span>'


def observation(unit: str, channel: str, month: int, year: int, value: float | None, status: str = "value") -> dict[str, Any]:
    start = date(year, month, 1)
    end = (date(year + (month == 12), month % 12 + 1, 1) - pd.Timedelta(days=1))
    return {"service": "vehicle-tax", "unit": unit, "channel": channel, "period_start": start, "period_end": end,
            "months": 1, "value": value, "status": status}


def channel_rows(table: dict[str, Any]) -> dict[str, list[str]]:
    def words(cell: Any) -> str:
        return str(cell["html"]).split(">")[1].split("<")[0] if isinstance(cell, dict) and "html" in cell else (cell["text"] if isinstance(cell, dict) else cell)
    return {row[0]: [words(cell) for cell in row[1:]] for row in table["rows"]}


def test_channels_new_missing_and_not_provided_are_said_in_words():
    rows = []
    for year in (2023, 2024):
        for month in range(1, 13):
            rows.append(observation("tax", "online", month, year, 800))
            rows.append(observation("tax", "phone", month, year, 200 if (year, month) != (2024, 12) else None, "value" if (year, month) != (2024, 12) else "not_provided"))
            if year == 2024:
                rows.append(observation("tax", "api", month, year, 50))  # a channel new in 2024
            else:
                rows.append(observation("tax", "paper", month, year, 10))  # a channel dropped after 2023
            rows.append(observation("tax", "", month, year, 1050 if year == 2024 else 1010))
    model = Model({"transactions": {**headline("transactions", 12600), "parts_contributing": None}})
    service = Service(slug="vehicle-tax", name="Tax your vehicle", department="dft", digital_channels=["online"])
    year_table, month_table = parts.channel_tables(model, rows, service)
    assert year_table["caption"] == "Transactions by channel, January to December 2024, compared with January to December 2023"
    by_channel = channel_rows(year_table)
    assert by_channel["API"] == ["600", "4.8%", "New", "New"]
    assert by_channel["Paper"] == ["Not provided", "Not provided", "Not provided", "Not provided"]  # never a fake 0
    assert by_channel["Phone"] == ["Not provided", "Not provided", "Not provided", "Not provided"]  # December is blank
    assert by_channel["Online (digital)"] == ["9,600", "76.2%", "No change", "−3.0 percentage points"]
    assert by_channel["All channels"] == ["12,600", "100%", "+4.0%", "No change"]
    assert month_table["caption"] == "Transactions by channel, December 2024, compared with November 2024 and December 2023"
    december = channel_rows(month_table)
    assert december["API"] == ["50", "4.8%", "No change", "No change", "New", "New"]
    assert december["Phone"][0] == "Not provided"


def test_a_channel_above_the_total_is_never_published():
    rows = [observation("tax", "", m, 2024, 100) for m in range(1, 13)] + [observation("tax", "digital", m, 2024, 120 if m == 3 else 90) for m in range(1, 13)]
    model = Model({"transactions": headline("transactions", 1200)})
    year_table, _ = parts.channel_tables(model, rows, Service(slug="x", name="X", department="dft"))
    assert channel_rows(year_table)["All digital channels"][:2] == ["Not provided", "Not provided"]
    assert channel_rows(year_table)["All channels"][2:] == ["No figures to compare with"] * 2  # no 2023 figures
