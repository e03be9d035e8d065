"""KPI arithmetic on the example fixture, checked against sums worked out here from the raw CSV."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfgen.errors import Warnings
from perfgen.pipeline import Project, check

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
CARERS_PARTS = ("carers-allowance-claim", "carers-allowance-change")


@pytest.fixture(scope="module")
def results():
    warnings = Warnings()
    project = Project(config=EXAMPLE / "config/services.yml", data=EXAMPLE / "data", root=EXAMPLE)
    _config, loaded, results = check(project, warnings)
    yield results.values, warnings
    loaded.db.close()


def raw_rows() -> list[dict[str, str]]:
    rows = []
    for path in sorted((EXAMPLE / "data").glob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def row(values, **where):
    frame = values
    for key, wanted in where.items():
        frame = frame[frame[key] == wanted]
    assert len(frame) == 1, f"expected one row for {where}, got {len(frame)}"
    return frame.iloc[0]


def test_financial_year_cost_per_transaction_and_take_up(results):
    values, _ = results
    lost = {"service": "report-lost-passport", "period_start": date(2023, 4, 1), "period_end": date(2024, 3, 31), "basis": "period"}
    cpt = row(values, kpi="cost_per_transaction", **lost)
    assert cpt["value"] == pytest.approx(1_466_500 / 287_200)
    assert (cpt["numerator"], cpt["denominator"], cpt["status"]) == (1_466_500, 287_200, "value")
    take_up = row(values, kpi="digital_take_up", **lost)
    assert take_up["value"] == pytest.approx(203_912 / 287_200)


def test_stale_headline_keeps_its_period(results):
    values, _ = results
    headline = row(values, service="report-lost-passport", kpi="transactions", basis="headline")
    assert headline["status"] == "stale"
    assert headline["period"] == "April 2023 to March 2024"
    assert headline["value"] == 287_200


def test_not_applicable_declared_in_config(results):
    values, _ = results
    rows = values[(values["service"] == "report-lost-passport") & (values["kpi"] == "user_satisfaction")]
    assert set(rows["status"]) == {"not_applicable"}
    assert rows["value"].isna().all()


def test_service_without_data_is_not_provided_not_zero(results):
    values, _ = results
    rows = values[values["service"] == "apply-pension-credit"]
    assert set(rows["status"]) == {"not_provided"}
    assert rows["value"].isna().all()


def test_digital_above_total_is_never_published(results):
    values, warnings = results
    take_up = row(values, service="book-theory-test", kpi="digital_take_up", period_start=date(2023, 7, 1), period_end=date(2023, 9, 30), basis="period")
    assert take_up["status"] == "invalid"
    assert take_up["value"] != take_up["value"]  # NaN: no value
    assert (values[values["kpi"] == "digital_take_up"]["value"].dropna() <= 1).all()
    assert "digital-above-total" in warnings.by_code()
    # Rolling 12-month windows containing the bad quarter are not published either.
    window = row(values, service="book-theory-test", kpi="digital_take_up", period_start=date(2023, 1, 1), period_end=date(2023, 12, 31), basis="period")
    assert window["status"] == "invalid"


def test_completed_above_started_is_invalid(results):
    values, warnings = results
    march = row(values, service="apply-passport", kpi="completion_rate", period_start=date(2024, 3, 1), period_end=date(2024, 3, 31), basis="period")
    assert march["status"] == "invalid"
    assert (values[values["kpi"] == "completion_rate"]["value"].dropna() <= 1).all()
    assert "completed-above-started" in warnings.by_code()


def test_rolling_year_from_channels_matches_raw_sums(results):
    values, _ = results
    totals = defaultdict(float)
    for r in raw_rows():
        if r["service"] == "renew-driving-licence" and r["period"].startswith("2024-"):
            totals[(r["metric"], r["channel"])] += float(r["value"])
    volume = sum(v for (metric, _), v in totals.items() if metric == "transactions")
    cost = sum(v for (metric, _), v in totals.items() if metric == "cost")
    year = {"service": "renew-driving-licence", "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "basis": "period"}
    assert row(values, kpi="transactions", **year)["value"] == volume
    assert row(values, kpi="cost_per_transaction", **year)["value"] == pytest.approx(cost / volume)
    assert row(values, kpi="digital_take_up", **year)["value"] == pytest.approx(totals[("transactions", "online")] / volume)
    assert row(values, kpi="completion_rate", **year)["value"] == pytest.approx(totals[("completed", "online")] / totals[("started", "online")])
    ratings = [totals[(f"rating_{i}", "")] for i in range(1, 6)]
    mean = sum(i * count for i, count in enumerate(ratings, start=1)) / sum(ratings)
    mean_score = row(values, kpi="user_satisfaction", method="mean_score", **year)
    assert mean_score["value"] == pytest.approx((mean - 1) / 4)
    assert mean_score["denominator"] == sum(ratings)
    top_two = row(values, kpi="user_satisfaction", method="top_two_box", **year)
    assert top_two["value"] == pytest.approx((ratings[3] + ratings[4]) / sum(ratings))


def test_api_counts_as_digital_where_the_service_says_so(results):
    values, _ = results
    # Claim Carer's Allowance is reported by its two parts (tests below check the parts' sums).
    quarter = [r for r in raw_rows() if r["service"] in CARERS_PARTS and r["period"] == "2024-Q1" and r["metric"] == "transactions"]
    by_channel: dict[str, float] = defaultdict(float)
    for r in quarter:
        by_channel[r["channel"]] += float(r["value"])
    take_up = row(values, service="claim-carers-allowance", kpi="digital_take_up", period_start=date(2024, 1, 1), period_end=date(2024, 3, 31), basis="period")
    assert take_up["value"] == pytest.approx((by_channel["online"] + by_channel["api"]) / sum(by_channel.values()))


def test_supplied_cost_per_transaction_derives_total_cost(results):
    values, _ = results
    quarter = {r["metric"]: float(r["value"]) for r in raw_rows() if r["service"] == "book-theory-test" and r["period"] == "2024-Q1" and r["channel"] == ""}
    q1 = {"service": "book-theory-test", "period_start": date(2024, 1, 1), "period_end": date(2024, 3, 31), "basis": "period"}
    assert row(values, kpi="cost_per_transaction", **q1)["value"] == pytest.approx(quarter["cost_per_transaction"])
    total = row(values, kpi="total_cost", **q1)
    assert total["value"] == pytest.approx(quarter["cost_per_transaction"] * quarter["transactions"])
    assert bool(total["derived"]) is True


def test_department_rolls_up_sums_for_identical_periods_with_coverage(results):
    values, _ = results
    fy = {"department": "ho", "service": "", "period_start": date(2023, 4, 1), "period_end": date(2024, 3, 31), "basis": "period"}
    service_rows = values[(values["department"] == "ho") & (values["service"] != "") & (values["kpi"] == "transactions")
                          & (values["period_start"] == date(2023, 4, 1)) & (values["period_end"] == date(2024, 3, 31)) & (values["basis"] == "period")]
    transactions = row(values, kpi="transactions", **fy)
    assert transactions["value"] == service_rows["value"].sum()
    assert (transactions["services_contributing"], transactions["services_expected"]) == (2, 2)
    take_up = row(values, kpi="digital_take_up", **fy)
    parts = values[(values["department"] == "ho") & (values["service"] != "") & (values["kpi"] == "digital_take_up")
                   & (values["period_start"] == date(2023, 4, 1)) & (values["period_end"] == date(2024, 3, 31)) & (values["basis"] == "period") & (values["status"] == "value")]
    assert take_up["value"] == pytest.approx(parts["numerator"].sum() / parts["denominator"].sum())
    assert take_up["value"] != pytest.approx(parts["value"].mean())  # never an average of rates
    satisfaction = row(values, kpi="user_satisfaction", method="mean_score", **{**fy, "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31)})
    assert satisfaction["services_expected"] == 1  # the not-applicable service is left out of coverage


# --- property: aggregates are sums of numerators over sums of denominators ------------------

service_figures = st.lists(
    st.tuples(st.integers(min_value=1, max_value=10**7), st.floats(min_value=0, max_value=1)),
    min_size=1, max_size=6,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(figures=service_figures)
def test_government_take_up_is_summed_numerators_over_summed_denominators(tmp_path_factory, figures):
    root = tmp_path_factory.mktemp("prop")
    (root / "config").mkdir()
    (root / "data").mkdir()
    services = "\n".join(f"  - slug: s{i}\n    name: Service {i}\n    department: d{i % 2}" for i in range(len(figures)))
    (root / "config/services.yml").write_text(
        "departments:\n  - slug: d0\n    name: Zero\n  - slug: d1\n    name: One\nservices:\n" + services + "\n", encoding="utf-8")
    lines = ["service,period,channel,metric,value"]
    expected_digital = expected_total = 0
    for i, (total, share) in enumerate(figures):
        digital = int(total * share)
        lines += [f"s{i},2024-25,,transactions,{total}", f"s{i},2024-25,digital,transactions,{digital}"]
        expected_digital += digital
        expected_total += total
    (root / "data/figures.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _config, loaded, results = check(Project(config=root / "config/services.yml", data=root / "data", root=root), Warnings())
    loaded.db.close()
    government = row(results.values, service="", department="", kpi="digital_take_up", basis="headline")
    assert government["numerator"] == expected_digital
    assert government["denominator"] == expected_total
    assert government["value"] == pytest.approx(expected_digital / expected_total)
    assert (government["services_contributing"], government["services_expected"]) == (len(figures), len(figures))


def test_parquet_and_json_files_give_the_same_kpis(tmp_path, results):
    """The canonical fields in Parquet or JSON load exactly like the CSV."""
    import shutil

    import duckdb

    values, _ = results
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    db = duckdb.connect()
    passports = root / "data/hmpo-passports.csv"
    db.execute(f"COPY (SELECT * FROM read_csv('{passports}', all_varchar=true)) TO '{root / 'data/hmpo-passports.parquet'}' (FORMAT parquet)")
    theory = root / "data/dvsa-theory-test.csv"
    db.execute(f"COPY (SELECT * FROM read_csv('{theory}', all_varchar=true)) TO '{root / 'data/dvsa-theory-test.json'}' (FORMAT json, ARRAY true)")
    db.close()
    passports.unlink()
    theory.unlink()
    _config, loaded, converted = check(Project(config=root / "config/services.yml", data=root / "data", root=root), Warnings())
    loaded.db.close()
    key = ["service", "department", "kpi", "method", "basis", "period_start", "period_end"]
    left = values.sort_values(key).reset_index(drop=True)[key + ["value", "status"]]
    right = converted.values.sort_values(key).reset_index(drop=True)[key + ["value", "status"]]
    assert left.equals(right)


def test_config_knows_every_built_in_kpi():
    from importlib import resources

    import yaml

    from perfgen.config import KPI_IDS

    declared = yaml.safe_load(resources.files("perfgen.kpis").joinpath("kpis.yml").read_text(encoding="utf-8"))
    assert sorted(KPI_IDS) == sorted(entry["id"] for entry in declared)


# --- The parts of a service --------------------------------------------------------------------

YEAR_2024 = {"period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "basis": "period"}


def part_sums(part: str) -> dict[tuple[str, str], float]:
    """A part's 2024 figures by (metric, channel), summed from the raw CSV."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for r in raw_rows():
        if r["service"] == part and r["period"].startswith("2024-"):
            totals[(r["metric"], r["channel"])] += float(r["value"])
    return totals


def volume(sums: dict[tuple[str, str], float]) -> float:
    return sum(v for (metric, _), v in sums.items() if metric == "transactions")


def digital(sums: dict[tuple[str, str], float]) -> float:
    return sums[("transactions", "online")] + sums[("transactions", "api")]  # the service's digital channels


@pytest.fixture(scope="module")
def with_parts():
    warnings = Warnings()
    project = Project(config=EXAMPLE / "config/services.yml", data=EXAMPLE / "data", root=EXAMPLE)
    _config, loaded, results = check(project, warnings)
    yield results
    loaded.db.close()


def test_a_part_has_every_kpi_from_its_own_rows(with_parts):
    change = part_sums("carers-allowance-change")
    parts = with_parts.part_values
    at = dict(service="claim-carers-allowance", part="carers-allowance-change", **YEAR_2024)
    assert row(parts, kpi="transactions", **at)["value"] == volume(change)
    assert row(parts, kpi="cost_per_transaction", **at)["value"] == pytest.approx(change[("cost", "")] / volume(change))
    take_up = row(parts, kpi="digital_take_up", **at)
    assert (take_up["numerator"], take_up["denominator"]) == (digital(change), volume(change))
    # No survey for this part: not provided, never 0.
    satisfaction = row(parts, kpi="user_satisfaction", method="top_two_box", **at)
    assert satisfaction["status"] == "not_provided" and satisfaction["value"] != satisfaction["value"]
    headline = row(parts, part="carers-allowance-change", kpi="transactions", basis="headline")
    assert (headline["period"], headline["value"]) == ("January to December 2024", volume(change))


def test_a_service_with_parts_is_the_sum_of_its_parts(with_parts):
    claim, change = part_sums("carers-allowance-claim"), part_sums("carers-allowance-change")
    values = with_parts.values
    at = dict(service="claim-carers-allowance", **YEAR_2024)
    transactions = row(values, kpi="transactions", **at)
    assert transactions["value"] == volume(claim) + volume(change)
    assert (transactions["parts_contributing"], transactions["parts_expected"]) == (2, 2)
    cost = row(values, kpi="cost_per_transaction", **at)
    assert cost["value"] == pytest.approx((claim[("cost", "")] + change[("cost", "")]) / (volume(claim) + volume(change)))
    take_up = row(values, kpi="digital_take_up", **at)
    assert take_up["value"] == pytest.approx((digital(claim) + digital(change)) / (volume(claim) + volume(change)))
    part_rates = [digital(claim) / volume(claim), digital(change) / volume(change)]
    assert take_up["value"] != pytest.approx(sum(part_rates) / 2)  # never an average of the parts' rates
    # Only the claim part has a survey: the service's figure is that part's, with its coverage said.
    ratings = [claim[(f"rating_{i}", "")] for i in range(1, 6)]
    satisfaction = row(values, kpi="user_satisfaction", method="top_two_box", **at)
    assert satisfaction["value"] == pytest.approx((ratings[3] + ratings[4]) / sum(ratings))
    assert (satisfaction["parts_contributing"], satisfaction["parts_expected"], satisfaction["note"]) == (1, 2, "sum of 1 of its 2 parts")
    # The parts' rows never appear among the services' values.
    assert not values["service"].isin(["carers-allowance-claim", "carers-allowance-change"]).any()


def test_department_counts_a_service_with_parts_once(with_parts):
    claim, change = part_sums("carers-allowance-claim"), part_sums("carers-allowance-change")
    values = with_parts.values
    dwp = dict(service="", department="dwp", **YEAR_2024)
    transactions = row(values, kpi="transactions", **dwp)
    assert transactions["value"] == volume(claim) + volume(change)
    # Two services expected (Pension Credit has no figures), one contributing: never its two parts.
    assert (transactions["services_contributing"], transactions["services_expected"]) == (1, 2)
    take_up = row(values, kpi="digital_take_up", **dwp)
    assert take_up["value"] == pytest.approx((digital(claim) + digital(change)) / (volume(claim) + volume(change)))
    government = row(values, kpi="transactions", service="", department="", **YEAR_2024)
    assert government["services_contributing"] == values[(values["department"] != "") & (values["service"] == "")
                                                         & (values["kpi"] == "transactions") & (values["basis"] == "period")
                                                         & (values["period_start"] == date(2024, 1, 1)) & (values["period_end"] == date(2024, 12, 31))]["services_contributing"].astype("Int64").sum()


def test_data_quality_checks_apply_to_parts_and_name_them(example_project):
    path = example_project / "data/dwp-carers-allowance.csv"
    path.write_text(path.read_text(encoding="utf-8") + "carers-allowance-change,2025-Q1,,transactions,100\n"
                    "carers-allowance-change,2025-Q1,digital,transactions,120\n", encoding="utf-8")
    warnings = Warnings()
    _config, loaded, results = check(Project(config=example_project / "config/services.yml", data=example_project / "data", root=example_project), warnings)
    loaded.db.close()
    finding = results.quality[results.quality["code"] == "digital-above-total"]
    finding = finding[finding["part"] != ""]
    assert finding[["service", "part", "department"]].values.tolist() == [["claim-carers-allowance", "carers-allowance-change", "dwp"]]
    assert finding["detail"].tolist() == ["Report a change (carers-allowance-change): digital transactions 120 exceed all transactions 100"]
    assert "service 'claim-carers-allowance': January to March 2025: Report a change (carers-allowance-change): digital transactions 120 exceed all transactions 100 [digital-above-total]" in [
        str(w) for w in warnings.items]


def test_fetch_frame_gives_the_rows_df_gives_with_shared_strings_and_dates():
    import duckdb

    from perfgen.kpis import fetch_frame

    db = duckdb.connect()
    db.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        ('b', DATE '2020-01-31', NULL, 1.5, NULL::VARCHAR),
        ('a', DATE '2021-03-31', 'x', NULL, NULL),
        (NULL, NULL, 'y', 2.0, NULL),
        ('b', DATE '2020-01-31', 'x', 3.0, NULL)) v(name, day, note, value, empty)""")
    expected = db.execute("SELECT * FROM t").df()
    expected["day"] = pd.to_datetime(expected["day"]).dt.date

    frame = fetch_frame(db, "SELECT * FROM t")

    pd.testing.assert_frame_equal(frame, expected)
    assert frame["name"].tolist()[0] is frame["name"].tolist()[3]  # one string per distinct value
    assert frame["day"].tolist()[0] is frame["day"].tolist()[3]
    assert frame["day"].tolist()[1] == date(2021, 3, 31)
    assert pd.isna(frame["day"].tolist()[2])
    # Nothing is left behind for the next query: no table, no types.
    assert db.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_fetched'").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM duckdb_types() WHERE type_name LIKE '_fetched%'").fetchone() == (0,)


def test_fetch_frame_reads_the_rows_back_a_column_at_a_time_in_their_order():
    """The whole result read back at once, beside the fetched table and the frame, was the KPI
    stage's peak at 10,000 services: each column is read on its own, and on every core the
    columns still line up row for row (a scan of one table keeps its order)."""
    import duckdb

    from perfgen.kpis import fetch_frame

    db = duckdb.connect()
    db.execute("""CREATE TABLE t AS SELECT i AS n, 'k' || (i * 7919 % 1000) AS key, DATE '2020-01-01' + (i % 400)::INTEGER AS day
                  FROM range(300000) r(i)""")  # several of DuckDB's row groups: read in parallel
    reads = []

    class Spy:
        def execute(self, sql, *args):
            if sql.startswith("SELECT") and sql.endswith("FROM _fetched") and not sql.startswith("SELECT count("):
                reads.append(sql)
            return db.execute(sql, *args)

    frame = fetch_frame(Spy(), "SELECT * FROM t ORDER BY n DESC", any_threads=True)
    numbers = list(range(299999, -1, -1))
    assert frame["n"].tolist() == numbers
    assert frame["key"].tolist() == [f"k{n * 7919 % 1000}" for n in numbers]
    assert [day.toordinal() - date(2020, 1, 1).toordinal() for day in frame["day"]] == [n % 400 for n in numbers]
    assert len(reads) == 3 and all(read.count(" AS ") <= 1 and "," not in read for read in reads)


def test_row_hashes_follow_the_values_not_how_they_are_stored():
    """Digests compared from one build to the next (page keys, published figures, open data
    blocks) hash each row from its values: a column of objects and the same values as a
    categorical hash alike; a changed cell changes its row's hash only."""
    from perfgen.kpis import row_hashes

    frame = pd.DataFrame({"slug": ["a", "b", "c"], "count": [1, None, 3]}, dtype=object)
    assert (row_hashes(frame) == row_hashes(frame.astype({"slug": "category"}))).all()
    changed = frame.copy()
    changed.loc[1, "count"] = 2
    assert list(row_hashes(changed) == row_hashes(frame)) == [True, False, True]
    assert (row_hashes(frame, ["slug"]) != row_hashes(frame)).all()


def test_frames_joined_as_categories_equal_text_joined_then_made_categorical():
    """``compute_kpis`` keeps the fetched text columns categorical and joins the frames with
    ``_concat_categories``: the values, the categories and their order must be those that joining
    them as text and ``_compact`` gave (categories in text order; "" added to a missing note)."""
    import duckdb

    from perfgen.kpis import _CATEGORIES, _compact, _concat_categories, fetch_frame

    db = duckdb.connect()
    db.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        ('zeta', 'b', NULL, 'period'), ('alpha', 'a', 'sum of 1 of its 2 parts', 'period'),
        ('', 'c', NULL, 'period'), ('alpha', 'b', 'no transactions', 'period')) v(service, kpi, note, basis)""")
    fetched = fetch_frame(db, "SELECT * FROM t", categories=True)
    assert fetched["service"].cat.categories.tolist() == ["", "alpha", "zeta"]  # text order, not the ENUM's
    typed = pd.DataFrame({"service": ["mid", None], "kpi": ["d", None], "note": ["no figures supplied", None], "basis": ["headline", "headline"]})
    columns = {column: "" for column in _CATEGORIES}
    frames = [frame.assign(**{c: v for c, v in columns.items() if c not in frame}) for frame in (fetched, typed)]

    joined = _concat_categories(frames)
    joined["note"] = joined["note"].fillna("")
    expected = pd.concat([fetch_frame(db, "SELECT * FROM t").assign(**{c: v for c, v in columns.items() if c not in fetched}), frames[1]],
                         ignore_index=True)
    expected["note"] = expected["note"].fillna("")

    compact, expected = _compact(joined), _compact(expected)
    pd.testing.assert_frame_equal(compact, expected)
    for column in ("service", "kpi", "note", "basis"):
        assert compact[column].cat.categories.tolist() == expected[column].cat.categories.tolist(), column
    assert compact["basis"].cat.categories.tolist() == ["headline", "period", ""]  # "" appended by _compact, as before
    assert compact["kpi"].cat.categories.tolist() == ["a", "b", "c", "d", ""]  # a missing kpi stays missing
    assert pd.isna(compact["service"].iloc[5])


def test_per_period_calls_the_function_once_per_distinct_period():
    from perfgen.kpis import _per_period

    calls = []

    def words(start, end):
        calls.append((start, end))
        return "none" if start is None or pd.isna(start) else f"{start:%b %Y} to {end:%b %Y}"

    january, march = date(2024, 1, 1), date(2024, 3, 31)
    starts = pd.Series([january, january, None, january, january], dtype=object)
    ends = pd.Series([march, january, None, march, january], dtype=object)
    expected = ["Jan 2024 to Mar 2024", "Jan 2024 to Jan 2024", "none", "Jan 2024 to Mar 2024", "Jan 2024 to Jan 2024"]
    assert list(_per_period(words, starts, ends)) == expected
    assert len(calls) == 3
    assert list(_per_period(words, starts.astype("category"), ends.astype("category"))) == expected
    assert _per_period(words, starts.iloc[0:0], ends.iloc[0:0]) == []
    # As a categorical: the same values, the distinct ones as categories in order.
    categorical = _per_period(words, starts, ends, categorical=True)
    assert isinstance(categorical, pd.Categorical) and list(categorical) == expected
    assert list(categorical.categories) == sorted(set(expected))
    # Typed as pandas types a list of the results: whole numbers, with a gap made NaN.
    assert _per_period(lambda start, end: 3, starts, ends).dtype == "int64"
    months = _per_period(lambda start, end: None if start is None or pd.isna(start) else 3, starts, ends)
    assert months.dtype == "float64" and pd.isna(months[2]) and months[0] == 3
    # More distinct ends than starts: each (start, end) pair keeps its own words.
    days = [date(2024, month, 1) for month in range(1, 7)]
    starts, ends = pd.Series([days[0]] * 5 + [days[1]], dtype=object), pd.Series(days[1:6] + [days[1]], dtype=object)
    assert list(_per_period(words, starts, ends)) == [words(start, end) for start, end in zip(starts, ends)]


def test_categories_joined_are_those_present_and_a_missing_note_adds_the_empty_text():
    """``_concat_categories`` counts each frame's categories in use (an unused one is dropped)
    and notices a missing cell of a categorical column ("" then added to ``note``)."""
    from perfgen.kpis import _concat_categories

    first = pd.DataFrame({"kpi": pd.Categorical(["b", "a"], categories=["a", "b", "unused"]),
                          "note": pd.Categorical(["x", None], categories=["x", "y"])})
    second = pd.DataFrame({"kpi": pd.Categorical(["c", None], categories=["c", "never"]),
                           "note": pd.Categorical(["z", "z"], categories=["z"])})
    joined = _concat_categories([first, second])
    assert joined["kpi"].cat.categories.tolist() == ["a", "b", "c"]
    assert joined["note"].cat.categories.tolist() == ["", "x", "z"]
    assert joined["kpi"].tolist()[:3] == ["b", "a", "c"] and pd.isna(joined["kpi"].iloc[3])
    assert joined["note"].tolist()[0] == "x" and pd.isna(joined["note"].iloc[1])


def test_counts_joined_as_categories_of_whole_numbers():
    """Counts of services and parts: categories of the whole numbers present (a code of a byte or
    two per row), missing where a frame has none or no such column."""
    from perfgen.kpis import _concat_categories

    services = pd.DataFrame({"kpi": ["a", "b"], "parts_contributing": pd.array([None, 2], dtype="Int64"), "months": [12.0, None]})
    totals = pd.DataFrame({"kpi": ["a"], "services_contributing": [300], "months": [3]})
    joined = _concat_categories([services, totals])
    assert joined["months"].cat.categories.tolist() == [3, 12] and joined["months"].iloc[0] == 12 and pd.isna(joined["months"].iloc[1])
    for column in ("parts_contributing", "services_contributing", "months"):
        assert isinstance(joined[column].dtype, pd.CategoricalDtype) and joined[column].cat.codes.dtype.itemsize <= 2
    assert joined["parts_contributing"].cat.categories.tolist() == [2]
    assert pd.isna(joined["parts_contributing"].iloc[0]) and joined["parts_contributing"].iloc[1] == 2 and pd.isna(joined["parts_contributing"].iloc[2])
    assert joined["services_contributing"].isna().tolist() == [True, True, False] and joined["services_contributing"].iloc[2] == 300


def test_row_hashes_go_on_from_the_hashes_of_other_columns():
    """``row_hashes(frame, later, start=row_hashes(frame, first))`` is the hash of ``first`` then
    ``later``: the pages' inputs go on from the published columns' hashes the open data made."""
    import numpy as np

    from perfgen.kpis import row_hashes

    frame = pd.DataFrame({"a": ["x", "y", None], "b": [1.0, None, 3.0], "c": pd.Categorical(["p", "q", "p"]), "d": [1, None, 2]})
    first = row_hashes(frame, ["a", "b"])
    assert np.array_equal(row_hashes(frame, ["c", "d"], start=first), row_hashes(frame, ["a", "b", "c", "d"]))
    assert np.array_equal(first, row_hashes(frame, ["a", "b"]))  # the start is not changed
    assert not np.array_equal(row_hashes(frame, ["c", "d"], start=first), row_hashes(frame, ["c", "d"]))


def test_fetched_text_keeps_quotes_and_missing_values_and_an_empty_column():
    """``fetch_frame`` turns text columns into ENUMs of their distinct values: quotes, the empty
    text and missing cells come back as they were; a column with no text at all stays missing."""
    import duckdb

    from perfgen.kpis import fetch_frame

    db = duckdb.connect()
    db.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        ('it''s', '', NULL::VARCHAR), ('say "no"', NULL, NULL), ('it''s', 'x', NULL)) v(a, b, c)""")
    for categories in (False, True):
        frame = fetch_frame(db, "SELECT * FROM t", categories=categories)
        assert frame["a"].tolist() == ["it's", 'say "no"', "it's"]
        assert frame["b"].tolist()[0] == "" and pd.isna(frame["b"].iloc[1]) and frame["b"].iloc[2] == "x"
        assert frame["c"].isna().all()
    assert db.execute("SELECT count(*) FROM duckdb_types() WHERE type_name LIKE '_fetched%'").fetchone()[0] == 0  # dropped


def test_the_kpi_stage_drops_the_loaded_rows_and_reads_the_channels_first():
    """compute_kpis reads all it needs of the loaded rows (latest periods, coded checks, the
    transactions by channel when asked) before fetching the KPI rows, and drops them and its
    own tables (memory): the channels are those the loaded rows give, the findings the same."""
    from perfgen.config import load_config
    from perfgen.kpis import _register_config, channel_breakdown, compute_kpis
    from perfgen.load import load_data

    config = load_config(EXAMPLE / "config/services.yml")
    loaded = load_data(EXAMPLE / "data", config)
    _register_config(loaded.db, config)
    expected = channel_breakdown(loaded.db)  # from the loaded rows, without the KPI stage
    loaded.db.close()
    loaded = load_data(EXAMPLE / "data", config)
    warnings = Warnings()
    results = compute_kpis(loaded, config, warnings, channels=True)
    tables = {name for (name,) in loaded.db.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    loaded.db.close()
    assert not tables & {"observations", "clean_observations", "facts", "metric_totals", "metric_resolved",
                         "service_rows", "part_rows", "aggregate_rows", "_fetched"}
    pd.testing.assert_frame_equal(results.channels, expected)
    assert len(results.channels) > 100
    # Without channels asked for: none, and the same values and findings.
    loaded = load_data(EXAMPLE / "data", config)
    again = compute_kpis(loaded, config, Warnings())
    loaded.db.close()
    assert again.channels is None
    pd.testing.assert_frame_equal(again.values, results.values)
    pd.testing.assert_frame_equal(again.quality, results.quality)
    assert {"digital-above-total", "completed-above-started"} <= set(results.quality["code"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 120)), max_size=30))
def test_channel_months_are_what_a_list_of_ints_and_nones_made_them(months):
    """kpis._months_column gives the months column as assigning each row's int (or None) did:
    int64 when every period is whole months, else floats with NaN; the same when empty."""
    import duckdb

    from perfgen.kpis import _months_column

    fetched = duckdb.connect().execute("SELECT unnest(?::BIGINT[]) AS months", [months]).df()["months"]
    expected = pd.DataFrame({"months": fetched})
    expected["months"] = [None if pd.isna(m) else int(m) for m in fetched]
    pd.testing.assert_series_equal(_months_column(fetched), expected["months"])


def test_a_departments_headline_is_its_latest_year_at_least_half_as_well_covered_as_its_best():
    """The department and government headline: the latest 12 months whose transactions were
    given by at least half as many services as the best-covered 12 months (every KPI's rows for
    those dates); a department without transactions measured on all its rows. Departments in
    order, each one's rows in their own order."""
    from perfgen.kpis import _aggregate_headlines

    def window(end_year, end_month, department, kpi, services):
        end = date(end_year, end_month, 28)
        return {"department": department, "kpi": kpi, "period_start": date(end_year - 1, end_month, 1), "period_end": end,
                "months": 12, "services_contributing": services, "basis": "period", "value": float(services)}

    rows = [
        window(2023, 3, "b", "transactions", 10),   # b's best-covered year
        window(2024, 3, "b", "transactions", 4),    # later, but fewer than half of 10 services: passed over
        window(2023, 9, "b", "transactions", 5),    # half of 10: b's headline
        window(2023, 9, "b", "completion_rate", 1),  # every KPI of those dates, however covered
        window(2024, 3, "a", "completion_rate", 4),  # a gives no transactions: all its rows count
        window(2024, 6, "a", "completion_rate", 1),  # fewer than half of 4: passed over
        window(2024, 3, "a", "total_cost", 3),
        {**window(2024, 6, "", "transactions", 9), "months": 3},  # not 12 months: never a headline
        window(2024, 3, "", "transactions", 9),
    ]
    frame = pd.DataFrame(rows)
    frame["department"] = frame["department"].astype(pd.CategoricalDtype(["", "a", "b"]))
    chosen = _aggregate_headlines(frame)
    assert [(r.department, r.kpi, r.period_end) for r in chosen.itertuples()] == [
        ("", "transactions", date(2024, 3, 28)),
        ("a", "completion_rate", date(2024, 3, 28)), ("a", "total_cost", date(2024, 3, 28)),
        ("b", "transactions", date(2023, 9, 28)), ("b", "completion_rate", date(2023, 9, 28))]
    assert set(chosen["basis"]) == {"headline"} and list(chosen.index) == [8, 4, 6, 2, 3]
    assert _aggregate_headlines(frame[frame["months"] == 3]).empty


def test_sums_are_exact_whatever_order_the_rows_come_in(tmp_path):
    """Costs of £0.10, £0.20 and £0.30 add up to £0.60 exactly, by channel, over 12 months and
    over a department's services, however the rows are ordered: added as floats in the order
    read, 0.1 + 0.2 + 0.3 is 0.6000000000000001 and 0.3 + 0.2 + 0.1 is 0.6, so a service's
    figures would hang on the order DuckDB happens to add them in (threads, memory spilled to
    disk, the other services beside it)."""
    pence = (0.1, 0.2, 0.3)
    found = []
    for order in (pence, pence[::-1]):
        root = tmp_path / f"order-{order[0]}"
        (root / "config").mkdir(parents=True)
        (root / "data").mkdir()
        services = "".join(f"  - slug: s{i}\n    name: Service {i}\n    department: d\n" for i in range(4))
        (root / "config/services.yml").write_text("departments:\n  - slug: d\n    name: D\nservices:\n" + services, encoding="utf-8")
        lines = ["service,period,channel,metric,value"]
        for month in range(1, 13):
            lines += [f"s0,2024-{month:02d},{channel},cost,{cost}" for channel, cost in zip(("online", "phone", "paper"), order)]
            lines += [f"s0,2024-{month:02d},,transactions,3"]
            for i, cost in enumerate(order, start=1):  # s1 to s3 in the department, after s0 or before it
                lines += [f"s{i},2024-{month:02d},,cost,{cost}", f"s{i},2024-{month:02d},,transactions,1"]
        (root / "data/figures.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _config, loaded, results = check(Project(config=root / "config/services.yml", data=root / "data", root=root), Warnings())
        loaded.db.close()
        values = results.values
        month = row(values, service="s0", kpi="total_cost", period_start=date(2024, 3, 1), period_end=date(2024, 3, 31))
        year = row(values, service="s0", kpi="total_cost", period_start=date(2024, 1, 1), period_end=date(2024, 12, 31), basis="period")
        department = row(values, service="", department="d", kpi="total_cost", period_start=date(2024, 3, 1), period_end=date(2024, 3, 31))
        found.append((month["value"], year["value"], department["numerator"]))
    # s0's three channels; its 12 months of 0.6; s1 to s3 in the department with s0's 0.6
    assert found == [(0.6, 7.2, 1.2)] * 2


def test_the_facts_made_within_a_memory_bound_are_the_same_and_the_bound_is_lifted(monkeypatch):
    """The facts' SQL runs within a memory bound (its exact sums do not change when DuckDB
    spills to disk); a statement over it runs again without it; the rest of the stage is not
    bounded."""
    import perfgen.kpis as kpis_module

    def tiny(db, unread=0):
        real_bound(db, unread)
        db.execute("SET memory_limit = '2MB'")  # too little for some statements: run again unbounded

    real_bound = kpis_module.bound_memory
    project = Project(config=EXAMPLE / "config/services.yml", data=EXAMPLE / "data", root=EXAMPLE)
    _config, loaded, free = check(project, Warnings())
    loaded.db.close()
    monkeypatch.setattr(kpis_module, "bound_memory", tiny)
    _config, loaded, bounded = check(project, Warnings())
    limit = loaded.db.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    loaded.db.close()
    assert limit != "2.0 MiB"
    pd.testing.assert_frame_equal(free.values, bounded.values)
