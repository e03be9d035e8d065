"""Open data and the static API, as published by building the example project.

Every JSON file validates against the JSON Schema published beside it; datapackage.json validates
with the Frictionless validator and describes every CSV file; the formats agree with each
other; addresses depend only on slugs; CSV cells cannot run as spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import duckdb
import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfgen import opendata, plugins
from perfgen.kpis import SCHEMA_COLUMNS, KpiDefinition
from site_checks import build_site

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
SERVICES = ["renew-driving-licence", "book-theory-test", "apply-passport", "report-lost-passport", "claim-carers-allowance", "apply-pension-credit"]
DEPARTMENTS = ["dft", "ho", "dwp"]


@pytest.fixture(scope="module")
def site(published_example) -> Path:
    assert published_example.exit_code == 0, published_example.stderr
    return published_example.site


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def validator(site: Path, schema_path: str) -> jsonschema.Draft202012Validator:
    schema = load_json(site / schema_path)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_every_json_output_validates_against_its_published_schema(site):
    index = load_json(site / "api/index.json")
    validator(site, index["schemas"]["index"]).validate(index)
    values = validator(site, index["schemas"]["values"])
    documents = [site / "data/kpis.json", *sorted((site / "data/services").glob("*.json")), *sorted((site / "data/departments").glob("*.json"))]
    assert len(documents) == 1 + len(SERVICES) + len(DEPARTMENTS)
    for path in documents:
        document = load_json(path)
        assert document["schema"] == index["schemas"]["values"], path
        values.validate(document)


def test_the_values_schema_rejects_what_it_should(site):
    values = validator(site, "api/schemas/values.schema.json")
    document = load_json(site / "data/services/apply-passport.json")
    row = document["rows"][0]
    assert not list(values.iter_errors(document))
    for column, bad in (("status", "fine"), ("value", -1), ("period_start", "2024-13-01"), ("derived", "yes")):
        broken = json.loads(json.dumps(document))
        broken["rows"][0][SCHEMA_COLUMNS.index(column)] = bad
        assert list(values.iter_errors(broken)), (column, bad)
    broken = json.loads(json.dumps(document))
    broken["rows"][0] = row[:-1]
    assert list(values.iter_errors(broken)), "a short row"


def test_datapackage_validates_with_frictionless_and_describes_every_csv_file(site):
    from frictionless import validate

    package = load_json(site / "data/datapackage.json")
    described = {resource["path"] for resource in package["resources"]}
    published = {str(p.relative_to(site / "data")) for p in (site / "data").rglob("*.csv")}
    assert described == published
    assert package["licenses"] and package["licenses"][0]["title"]
    report = validate(str(site / "data/datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])[:5]
    units = {row["id"]: row["unit"] for row in read_csv(site / "data/kpi-definitions.csv")}
    assert units["cost_per_transaction"] == "money" and units["digital_take_up"] == "percent"


def test_frictionless_finds_a_broken_csv_file(site, tmp_path):
    """The validation above can fail: a value the Table Schema forbids is reported."""
    from frictionless import validate

    data = tmp_path / "data"
    shutil.copytree(site / "data", data)
    path = data / "services/apply-passport.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace(",value,", ",maybe,").replace(",stale,", ",maybe,")
    path.write_text("".join(lines), encoding="utf-8")
    report = validate(str(data / "datapackage.json"))
    assert not report.valid
    assert "constraint-error" in {error.type for task in report.tasks for error in task.errors}


def test_index_lists_every_service_and_department_at_stable_addresses(site):
    index = load_json(site / "api/index.json")
    assert [s["slug"] for s in index["services"]] == SERVICES
    assert [d["slug"] for d in index["departments"]] == DEPARTMENTS
    for service in index["services"]:
        slug = service["slug"]
        assert (service["page"], service["csv"], service["json"]) == (f"services/{slug}/", f"data/services/{slug}.csv", f"data/services/{slug}.json")
    for entry in index["services"] + index["departments"]:
        assert (site / entry["page"] / "index.html").is_file()
        assert (site / entry["csv"]).is_file() and (site / entry["json"]).is_file()
    for path in list(index["downloads"].values()) + list(index["schemas"].values()):
        assert (site / path).is_file(), path
    assert {k["id"] for k in index["kpis"]} >= {"cost_per_transaction", "completion_rate", "user_satisfaction", "digital_take_up"}
    assert index["latest_period_end"] == "2024-12-31"


def test_csv_json_and_parquet_hold_the_same_values(site):
    rows = read_csv(site / "data/kpis.csv")
    document = load_json(site / "data/kpis.json")
    assert document["columns"] == list(SCHEMA_COLUMNS)
    assert len(document["rows"]) == len(rows)
    for row, json_row in zip(rows, document["rows"]):
        for column, value in zip(SCHEMA_COLUMNS, json_row):
            text = row[column]
            if value is None:
                assert text == "", (column, row)
            elif isinstance(value, bool):
                assert text == str(value).lower()
            elif isinstance(value, (int, float)):
                assert float(text) == value, (column, text, value)
            else:
                assert text == value
    db = duckdb.connect()
    parquet = str(site / "data/kpis.parquet")
    count, total, dates = db.execute(f"SELECT count(*), sum(value), count(period_start) FROM read_parquet('{parquet}')").fetchone()
    assert count == len(rows)
    assert total == pytest.approx(sum(float(r["value"]) for r in rows if r["value"]))
    assert dates == sum(1 for r in rows if r["period_start"])
    kinds = dict(db.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{parquet}'))").fetchall())
    assert (kinds["period_start"], kinds["value"], kinds["services_expected"], kinds["derived"]) == ("DATE", "DOUBLE", "BIGINT", "BOOLEAN")


def test_service_and_department_files_are_subsets_of_kpis_csv(site):
    header = (site / "data/kpis.csv").read_text(encoding="utf-8").splitlines()[0]
    rows = read_csv(site / "data/kpis.csv")
    for slug in SERVICES:
        path = site / f"data/services/{slug}.csv"
        assert path.read_text(encoding="utf-8").splitlines()[0] == header
        assert read_csv(path) == [r for r in rows if r["service"] == slug]
    for slug in DEPARTMENTS:
        mine = read_csv(site / f"data/departments/{slug}.csv")
        assert mine == [r for r in rows if r["department"] == slug and (r["service"] == "" or r["basis"] == "headline")]
        assert any(r["service"] == "" and r["basis"] == "period" for r in mine), "the department's totals over time"
        assert all(r["services_expected"] for r in mine if r["service"] == "" and r["status"] == "value")
    lost = read_csv(site / "data/services/report-lost-passport.csv")
    headline = [r for r in lost if r["kpi"] == "cost_per_transaction" and r["basis"] == "headline"]
    assert [(r["status"], r["numerator"], r["denominator"]) for r in headline] == [("stale", "1466500", "287200")]


def test_a_service_measured_in_parts_lists_each_part_with_its_values(site):
    index = load_json(site / "api/index.json")
    entries = {entry["slug"]: entry for entry in index["services"]}
    assert entries["claim-carers-allowance"]["parts"] == [
        {"slug": "carers-allowance-claim", "name": "Make a claim"}, {"slug": "carers-allowance-change", "name": "Report a change"}]
    assert entries["apply-passport"]["parts"] == []
    document = load_json(site / "data/services/claim-carers-allowance.json")
    assert [part["slug"] for part in document["parts"]] == ["carers-allowance-claim", "carers-allowance-change"]
    columns = document["columns"]

    def figure(rows, kpi, basis="headline", method=None):
        found = [dict(zip(columns, r)) for r in rows if r[columns.index("kpi")] == kpi and r[columns.index("basis")] == basis
                 and r[columns.index("method")] == method]
        assert len(found) == 1, (kpi, len(found))
        return found[0]

    claim, change = (figure(part["rows"], "transactions") for part in document["parts"])
    service = figure(document["rows"], "transactions")
    assert claim["service"] == change["service"] == "claim-carers-allowance"
    assert claim["period_start"] == change["period_start"] == service["period_start"]
    assert claim["value"] + change["value"] == service["value"]
    satisfaction = [figure(part["rows"], "user_satisfaction", method="top_two_box") for part in document["parts"]]
    assert [s["status"] for s in satisfaction] == ["value", "not_provided"]
    # The service's CSV file and kpis.csv keep their columns and hold no part rows.
    assert {r["service"] for r in read_csv(site / "data/kpis.csv")} == {"", *SERVICES}
    assert not any("parts" in load_json(site / f"data/services/{slug}.json") for slug in SERVICES if slug != "claim-carers-allowance")


def test_pages_link_to_their_downloads(site):
    service = (site / "services/apply-passport/index.html").read_text(encoding="utf-8")
    assert 'href="../../data/services/apply-passport.csv" download' in service
    assert 'href="../../data/services/apply-passport.json" download' in service
    department = (site / "departments/ho/index.html").read_text(encoding="utf-8")
    assert 'href="../../data/departments/ho.csv" download' in department
    home = (site / "index.html").read_text(encoding="utf-8")
    for target in ("data/kpis.csv", "data/kpis.json", "data/kpis.parquet"):
        assert f'href="{target}" download' in home
    data_page = (site / "data/index.html").read_text(encoding="utf-8")
    for target in ("api/index.json", "datapackage.json", "values.schema.json", "kpi-definitions.csv"):
        assert target in data_page


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://example.org\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)", "\tcalc", "\rcalc"])
def test_text_that_would_run_as_a_formula_is_escaped(text):
    assert opendata.safe_text(text) == "'" + text
    assert opendata.safe_text("renew-passport") == "renew-passport"
    out = opendata.csv_text(["note", "value"], [[text, -5.0], ["plain", 12.5]], numbers=["value"])
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[1] == ["'" + text, "-5"]
    assert rows[2] == ["plain", "12.5"]


class FormulaKpi:
    """A plugin whose KPI notes and label start like spreadsheet formulas."""

    @plugins.hookimpl
    def kpis_definitions(self):
        sql = """SELECT service, period_start, period_end, period_kind, '' AS method, transactions AS value,
                        transactions AS numerator, NULL::DOUBLE AS denominator, 'value' AS status, false AS derived,
                        '=HYPERLINK("http://evil.example","click")' AS note
                 FROM facts WHERE transactions IS NOT NULL"""
        return [KpiDefinition("formula_test", "=1+1 label", "count", "neutral", "sum", False, "@numerator", "", "-definition", sql)]


def test_published_csv_files_are_safe_to_open_in_a_spreadsheet(tmp_path):
    manager = plugins.plugin_manager()
    manager.register(FormulaKpi(), name="formula-test")
    try:
        site = build_site(EXAMPLE, tmp_path / "site")
    finally:
        manager.unregister(name="formula-test")
    for path in [site / "data/kpis.csv", site / "data/kpi-definitions.csv", *sorted((site / "data").glob("*/*.csv"))]:
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
            for cell in row:
                assert not cell.startswith(opendata.FORMULA_STARTS), (path.name, cell)
    notes = {r["note"] for r in read_csv(site / "data/kpis.csv") if r["kpi"] == "formula_test" and r["service"] and r["status"] == "value"}
    assert notes == {"'=HYPERLINK(\"http://evil.example\",\"click\")"}
    definition = next(r for r in read_csv(site / "data/kpi-definitions.csv") if r["id"] == "formula_test")
    assert (definition["label"], definition["numerator"], definition["definition"]) == ("'=1+1 label", "'@numerator", "'-definition")
    # JSON keeps the text as it is: it is not a spreadsheet format.
    document = load_json(site / "data/kpis.json")
    assert {r[-1] for r in document["rows"] if r[6] == "formula_test" and r[0] and r[11] == "value"} == {'=HYPERLINK("http://evil.example","click")'}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**14, 10**14)), min_size=1, max_size=40, unique=True))
def test_each_distinct_number_is_encoded_as_its_cells_would_be(numbers):
    """EncodedValues converts each distinct number once (_encode_numbers, with shortcuts): the
    same value, CSV text and JSON text as converting each cell (number, _csv_cell, json)."""
    import numpy as np

    for distinct in (np.array(numbers, dtype=object), np.array([float(n) for n in numbers], dtype=float)):
        objects, json_texts, csv_texts = opendata._encode_numbers(distinct)
        for value, obj, json_text, csv_text in zip(distinct.tolist(), objects, json_texts, csv_texts):
            expected = opendata.number(value)
            assert obj == expected and type(obj) is type(expected)
            assert csv_text == opendata._csv_cell(value, "number")
            assert json_text == json.dumps(expected)


def test_the_parquet_file_holds_the_published_values(tmp_path):
    """kpis.parquet is written from typed columns (nullable floats and flags): every value, and
    every missing one, is what the JSON file publishes."""
    import pandas as pd

    values = pd.DataFrame([{column: None for column in SCHEMA_COLUMNS} for _ in range(3)])
    values["service"], values["department"], values["kpi"] = ["a", "b", "c"], ["d", "d", "d"], ["transactions"] * 3
    values["value"] = [1.0, 0.123456789012345, None]
    values["services_contributing"] = [3, None, 5]
    values["derived"] = [True, False, None]
    values["period_start"] = [pd.Timestamp("2024-01-01").date(), None, pd.Timestamp("2024-02-01").date()]
    path = tmp_path / "kpis.parquet"
    path.write_bytes(opendata.values_parquet(values))
    rows = duckdb.connect().execute(f"SELECT value, services_contributing, derived, CAST(period_start AS VARCHAR) FROM '{path}'").fetchall()
    assert rows == [(1.0, 3, True, "2024-01-01"), (0.123456789012, None, False, None), (None, 5, None, "2024-02-01")]


def test_parquet_written_in_slices_is_the_same_file(tmp_path):
    """The values typed a slice of rows at a time (a typed frame of every row was the open
    data's peak memory), then copied into one file: the same bytes as all rows at once."""
    from perfgen.config import load_config
    from perfgen.errors import Warnings
    from perfgen.kpis import compute_kpis
    from perfgen.load import load_data

    root = Path(__file__).resolve().parents[1]  # the UK data: rows enough for several row groups
    config = load_config(root / "config/services.yml", "config/services.yml")
    loaded = load_data(root / "data", config, root)
    values = compute_kpis(loaded, config, Warnings()).values
    loaded.db.close()
    encoded = opendata.EncodedValues(values)
    rows = opendata.PARQUET_ROW_GROUP
    assert len(values) > 2 * rows
    whole = opendata.values_parquet(values, encoded, slice_rows=rows * (len(values) // rows + 1))
    sliced = opendata.values_parquet(values, encoded, slice_rows=rows)
    assert sliced == whole
    with pytest.raises(ValueError):
        opendata.values_parquet(values, encoded, slice_rows=rows - 1)
    path = tmp_path / "kpis.parquet"
    path.write_bytes(sliced)
    db = duckdb.connect()
    assert db.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0] == len(values)
    # Text columns go to DuckDB as ENUMs and are written as they are: read back as text, the
    # same texts as the CSV's, row for row.
    kinds = dict(db.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{path}')").fetchall())
    assert all(kinds[column] == "VARCHAR" for column in ("service", "department", "period", "kpi", "status", "note"))
    texts = db.execute(f"SELECT service, period, kpi, status FROM '{path}'").fetchall()
    csv_rows = list(csv.DictReader(io.StringIO(str(encoded.csv()))))
    assert texts == [(row["service"] or None, row["period"] or None, row["kpi"] or None, row["status"] or None) for row in csv_rows]
    # A text column with no text at all (no categories) is still text, and slices still agree.
    blank = values.assign(note="")
    blank_encoded = opendata.EncodedValues(blank)
    whole = opendata.values_parquet(blank, blank_encoded, slice_rows=rows * (len(values) // rows + 1))
    assert opendata.values_parquet(blank, blank_encoded, slice_rows=rows) == whole
    path.write_bytes(whole)
    assert db.execute(f"SELECT count(note), any_value(typeof(note)) FROM '{path}'").fetchone() == (0, "VARCHAR")


def test_encoded_rows_kept_in_the_cache_give_the_same_files(tmp_path, monkeypatch):
    """Each department's and service's encoded rows are kept by the digest of their values: a
    rebuild encodes only the block whose values changed, the files are the same as encoding
    everything, a stale or damaged block is encoded again, and the folder keeps the blocks of
    the latest build only."""
    from perfgen.errors import Warnings
    from perfgen.pipeline import Project, check

    project = Project(config=EXAMPLE / "config/services.yml", data=EXAMPLE / "data", root=EXAMPLE)
    values = check(project, Warnings())[2].values
    cache = tmp_path / "opendata"

    def same(encoded, fresh) -> None:
        assert str(encoded.csv()) == str(fresh.csv()) and encoded.json_rows().text == fresh.json_rows().text
        service = np.flatnonzero((values["service"] == "renew-driving-licence").to_numpy())
        # Every row; one service's (one block); rows here and there, and a run of rows that
        # crosses from one block into the next.
        scattered = np.unique(np.r_[np.arange(0, len(values), 97), service[-1] + np.arange(-2, 3)])
        for rows in (np.arange(len(values)), service, scattered):
            assert encoded.csv(rows) == fresh.csv(rows) and encoded.json_rows(rows).text == fresh.json_rows(rows).text
        assert encoded.csv(np.arange(len(values))).decode("utf-8") == str(fresh.csv())
        # Parquet's numbers come from the blocks too (kept in the cache beside their text).
        assert opendata.values_parquet(values, encoded) == opendata.values_parquet(values, fresh)

    encoded_blocks: list[int] = []
    encode = opendata._encode_rows
    monkeypatch.setattr(opendata, "_encode_rows", lambda *args: encoded_blocks.append(len(args[2][0])) or encode(*args))
    same(opendata.EncodedValues(values, cache), opendata.EncodedValues(values))
    blocks = len(opendata.BlockCache(cache, values).blocks)
    assert len(list(cache.glob("*/*.block"))) == blocks > 5
    assert encoded_blocks == [stop - start for start, stop in opendata.service_runs(values)] * 2  # service by service, cached or not
    encoded_blocks.clear()
    same(opendata.EncodedValues(values, cache), opendata.EncodedValues(values))
    assert len(encoded_blocks) == blocks  # only the uncached encoding: every block came from the cache

    changed = values.copy()
    row = int(np.flatnonzero(((changed["service"] == "renew-driving-licence") & changed["value"].notna()).to_numpy())[0])
    changed.loc[row, "value"] = changed.loc[row, "value"] + 1
    encoded_blocks.clear()
    same(opendata.EncodedValues(changed, cache), opendata.EncodedValues(changed))
    assert encoded_blocks[0] == int((changed["service"] == "renew-driving-licence").sum()) and len(encoded_blocks) == 1 + blocks
    assert len(list(cache.glob("*/*.block"))) == blocks  # the block's earlier text is gone

    # Another build's file being written stays; a file of an earlier format goes.
    (cache / "00").mkdir(exist_ok=True)
    (cache / "00" / "other.123.tmp").write_bytes(b"being written")
    (cache / "00" / "earlier.npz").write_bytes(b"an earlier format")
    opendata.EncodedValues(changed, cache)
    assert (cache / "00" / "other.123.tmp").exists() and not (cache / "00" / "earlier.npz").exists()
    for path in cache.glob("*/*.block"):
        path.write_bytes(path.read_bytes()[:100])  # damaged: read as missing, encoded again
    encoded_blocks.clear()
    same(opendata.EncodedValues(changed, cache), opendata.EncodedValues(changed))
    assert len(encoded_blocks) == 2 * blocks



@pytest.mark.parametrize("cached", [True, False])
def test_encoded_rows_wait_in_a_temporary_file_not_in_memory(tmp_path, cached):
    """EncodedValues keeps the encoded text in a temporary file (read back as each file is
    written), with or without a cache: what it holds is a small part of the text's size, and
    what it needs while encoding too (a block at a time: without a cache, every row encoded as
    one block took 11 GB at 10,000 services)."""
    import gc
    import tracemalloc

    from perfgen.errors import Warnings
    from perfgen.pipeline import Project, check

    project = Project(config=EXAMPLE / "config/services.yml", data=EXAMPLE / "data", root=EXAMPLE)
    values = check(project, Warnings())[2].values
    gc.collect()
    tracemalloc.start()
    try:
        encoded = opendata.EncodedValues(values, tmp_path / "opendata" if cached else None)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text = encoded.csv().size() + len(encoded.json_rows().text.encode("utf-8"))
    assert text > 500_000 and held < text / 2  # the text held was more than the text
    assert peak < text
    assert str(encoded.csv()) == str(opendata.EncodedValues(values).csv())
    # A cache folder that cannot be made (a file in its place): the system's temporary folder.
    (tmp_path / "blocked").write_bytes(b"")
    assert str(opendata.EncodedValues(values, tmp_path / "blocked" / "opendata").csv()) == str(encoded.csv())


def test_text_columns_reach_parquet_as_categories_with_the_same_values():
    """Parquet's text columns go to DuckDB as categories (a code per row): the same values as
    the published objects, missing ones included; objects kept if two codes publish one text."""
    codes = np.array([0, 1, -1, 2, 0, 1], dtype=np.int32)
    objects = np.array(["a", None, "b", None], dtype=object)  # distinct values' texts, then code -1's
    column = opendata._categorical(codes, objects)
    assert isinstance(column, pd.Categorical) and list(column.categories) == ["a", "b"]
    assert [None if pd.isna(value) else value for value in column] == list(objects[codes])
    clashing = np.array(["a", "a", None], dtype=object)
    assert list(opendata._categorical(np.array([0, 1, -1]), clashing)) == ["a", "a", None]
