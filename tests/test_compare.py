"""perfgen.compare: ranks, ties, fairness rules, rank changes, peers and the improvement summary,
on small hand-made values frames whose answers are worked out by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from perfgen.compare import (
    Comparison,
    gap_words,
    improvement_summary,
    ordinal,
    percentile_words,
    rank_change_words,
)
from perfgen.config import Config
from perfgen.kpis import load_definitions

NOW = (date(2024, 1, 1), date(2024, 12, 31))
BEFORE = (date(2023, 1, 1), date(2023, 12, 31))
OLD = (date(2022, 4, 1), date(2023, 3, 31))


def make_config(services: list[tuple[str, str | None]], min_transactions: int = 1000, min_responses: int = 100,
                peer_groups: list[dict] | None = None) -> Config:
    return Config.model_validate({
        "site": {"min_transactions_to_rank": min_transactions, "min_responses": min_responses},
        "departments": [{"slug": "d", "name": "Department"}],
        "services": [{"slug": slug, "name": slug.replace("-", " ").capitalize(), "department": "d", **({"category": category} if category else {})}
                     for slug, category in services],
        "peer_groups": peer_groups or [],
    })


def row(service: str, kpi: str, value: float | None, period: tuple[date, date] = NOW, basis: str = "headline",
        status: str = "value", method: str = "", denominator: float | None = None) -> dict:
    return {"service": service, "department": "d", "kpi": kpi, "method": method, "basis": basis, "status": status,
            "value": value, "numerator": None, "denominator": denominator, "period_start": period[0], "period_end": period[1]}


def volume(service: str, transactions: float, period: tuple[date, date] = NOW) -> dict:
    return row(service, "transactions", transactions, period, basis="period")


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def compare(rows: list[dict], services: list[tuple[str, str | None]], **settings) -> Comparison:
    return Comparison(frame(rows), load_definitions(), make_config(services, **settings))


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 1001)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th", "1,001st"]


def test_competition_ranking_with_ties_and_direction():
    services = [(s, None) for s in "abcde"]
    take_up = {"a": 0.9, "b": 0.8, "c": 0.8, "d": 0.5, "e": 0.8 + 1e-13}  # e ties b and c despite float noise
    rows = [row(s, "digital_take_up", v) for s, v in take_up.items()] + [volume(s, 5000) for s in "abcde"]
    cost = {"a": 3.0, "b": 1.0, "c": 2.0, "d": 2.0, "e": 9.0}
    rows += [row(s, "cost_per_transaction", v) for s, v in cost.items()]
    result = compare(rows, services)
    ranks = {s: result.standing(s, "digital_take_up")["rank"] for s in "abcde"}
    assert ranks == {"a": 1, "b": 2, "c": 2, "e": 2, "d": 5}
    assert {s: result.standing(s, "cost_per_transaction")["rank"] for s in "abcde"} == {"b": 1, "c": 2, "d": 2, "a": 4, "e": 5}
    # Percentile: the share of the 4 others a service is strictly better than.
    assert result.standing("a", "digital_take_up")["percentile"] == 100
    assert result.standing("b", "digital_take_up")["percentile"] == 25  # only better than d
    assert result.standing("d", "digital_take_up")["percentile"] == 0
    assert result.standing("a", "digital_take_up")["of"] == 5


def test_stale_other_period_small_and_unknown_volume_are_not_ranked_and_say_why():
    services = [(s, None) for s in ("current", "stale", "quarter", "small", "unknown", "missing", "na")]
    quarter = (date(2024, 10, 1), date(2024, 12, 31))
    rows = [
        row("current", "completion_rate", 0.9), volume("current", 5000),
        row("stale", "completion_rate", 0.99, OLD, status="stale"), volume("stale", 5000, OLD),
        row("quarter", "completion_rate", 0.95, quarter), volume("quarter", 5000, quarter),
        row("small", "completion_rate", 0.97), volume("small", 999),
        row("unknown", "completion_rate", 0.96),
        row("missing", "completion_rate", None, status="not_provided"),
        row("na", "completion_rate", None, status="not_applicable"),
    ]
    result = compare(rows, services)
    reasons = {s: result.standing(s, "completion_rate")["reason"] for s, _ in services}
    assert reasons == {
        "current": "",
        "stale": "Out of date: data for April 2022 to March 2023",
        "quarter": "Not ranked: figures for October to December 2024, not January to December 2024",
        "small": "Not ranked: fewer than 1,000 transactions",
        "unknown": "Not ranked: number of transactions not provided",
        "missing": "Not provided",
        "na": "Not applicable",
    }
    assert [s for s, _ in services if result.standing(s, "completion_rate")["ranked"]] == ["current"]
    assert result.cohorts["completion_rate"].ranked == 1
    assert result.cohorts["completion_rate"].period == "January to December 2024"


def test_standings_hold_python_values_as_to_dict_makes_them():
    """A standing is its table row with Python values: a missing rank is None (pandas' NA
    would raise when a page tests it), as ``DataFrame.to_dict("records")`` gives."""
    services = [("a", "x"), ("b", "x"), ("c", None)]
    rows = [row("a", "completion_rate", 0.9), volume("a", 5000), row("b", "completion_rate", 0.8), volume("b", 5000),
            row("c", "completion_rate", None, status="not_provided")]
    result = compare(rows, services, peer_groups=[{"slug": "g", "name": "G", "services": ["a", "c"]}])
    for table, found in ((result.table, lambda r: result.standing(r["service"], r["kpi"])),
                         (result.group_table, lambda r: result._group_rows[(r["group"], r["service"], r["kpi"])]),
                         (result.category_table, lambda r: result._category_rows[(r["group"], r["service"], r["kpi"])])):
        expected = table.to_dict("records")
        assert expected
        for want in expected:
            got = found(want)
            assert list(got) == list(want)
            assert [type(value) for value in got.values()] == [type(value) for value in want.values()]
            assert all(g == w or (pd.isna(g) and pd.isna(w)) for g, w in zip(got.values(), want.values()))
    assert result.standing("c", "completion_rate")["rank"] is None and result.standing("a", "completion_rate")["rank"] == 1


def test_minimum_volume_is_a_setting_and_cost_uses_its_denominator_when_transactions_are_missing():
    rows = [row("a", "cost_per_transaction", 2.0, denominator=500), row("b", "cost_per_transaction", 3.0, denominator=50)]
    strict = compare(rows, [("a", None), ("b", None)], min_transactions=100)
    assert strict.standing("a", "cost_per_transaction")["rank"] == 1
    assert not strict.standing("b", "cost_per_transaction")["ranked"]
    relaxed = compare(rows, [("a", None), ("b", None)], min_transactions=0)
    assert relaxed.standing("b", "cost_per_transaction")["rank"] == 2


def test_totals_are_never_ranked():
    rows = [row("a", "transactions", 10.0), row("b", "transactions", 20.0), volume("a", 10), volume("b", 20)]
    result = compare(rows, [("a", None), ("b", None)])
    assert not result.standing("b", "transactions")["ranked"]
    assert "transactions" not in result.ranked_kpis()


def test_satisfaction_uses_the_site_method_and_marks_few_responses():
    rows = [
        row("a", "user_satisfaction", 0.8, method="mean_score", denominator=50),
        row("a", "user_satisfaction", 0.1, method="top_two_box", denominator=50),  # ignored: not the site method
        row("b", "user_satisfaction", 0.7, method="mean_score", denominator=500),
        volume("a", 5000), volume("b", 5000),
    ]
    result = compare(rows, [("a", None), ("b", None)])
    a = result.standing("a", "user_satisfaction")
    assert a["rank"] == 1 and a["low_confidence"] and a["responses"] == 50
    assert not result.standing("b", "user_satisfaction")["low_confidence"]


def test_rank_change_against_the_same_period_a_year_earlier():
    rows = []
    for service, now, before in (("a", 0.9, 0.5), ("b", 0.8, 0.9), ("c", 0.7, 0.8), ("d", 0.6, None)):
        rows += [row(service, "digital_take_up", now), volume(service, 5000)]
        if before is not None:
            rows += [row(service, "digital_take_up", before, BEFORE, basis="period"), volume(service, 5000, BEFORE)]
    rows.append(row("e", "digital_take_up", 0.99, BEFORE, basis="period"))  # a year earlier only; its volume unknown
    result = compare(rows, [(s, None) for s in "abcde"])
    a, b, d = (result.standing(s, "digital_take_up") for s in "abd")
    assert (a["rank"], a["previous_rank"], a["rank_change"], a["previous_of"]) == (1, 3, 2, 3)
    assert (b["rank"], b["previous_rank"], b["rank_change"]) == (2, 1, -1)
    assert pd.isna(d["previous_rank"])
    assert rank_change_words(a) == "Up 2 places (3rd a year earlier, 1st now, among the 3 services ranked both years)"
    assert rank_change_words(b) == "Down 1 place (1st a year earlier, 2nd now, among the 3 services ranked both years)"
    assert rank_change_words(d) == "Not ranked a year earlier"
    assert result.cohorts["digital_take_up"].previous_period == "January to December 2023"


def test_no_change_in_rank_words():
    rows = [row("a", "digital_take_up", 0.9), volume("a", 5000),
            row("a", "digital_take_up", 0.5, BEFORE, basis="period"), volume("a", 5000, BEFORE)]
    result = compare(rows, [("a", None)])
    assert rank_change_words(result.standing("a", "digital_take_up")) == "No change (1st a year earlier, 1st now, the only service ranked both years)"
    assert percentile_words(result.standing("a", "digital_take_up")["percentile"]) == "Only service ranked"


def test_peers_are_services_of_the_same_category():
    services = [("a", "Licence"), ("b", "Licence"), ("c", "Licence"), ("d", "Benefit"), ("e", None)]
    values = {"a": 0.6, "b": 0.8, "c": 0.9, "d": 0.95, "e": 0.99}
    rows = [row(s, "digital_take_up", v) for s, v in values.items()] + [volume(s, 5000) for s in values]
    result = compare(rows, services)
    b = result.standing("b", "digital_take_up")
    assert (b["rank"], b["of"], b["peer_rank"], b["peer_of"], b["peer_median"]) == (4, 5, 2, 3, 0.8)
    assert b["peer_percentile"] == 50
    assert pd.isna(result.standing("e", "digital_take_up")["peer_rank"])  # no category, no peers
    assert result.standing("d", "digital_take_up")["peer_of"] == 1


def test_gap_words():
    assert gap_words("percent", 0.75, 0.8, "higher") == ("5.0 percentage points", pytest.approx(-0.0625))
    assert gap_words("money", 6.0, 4.8, "lower")[0] == "£1.20 (25.0%)"
    assert gap_words("money", 6.0, 4.8, "lower")[1] == pytest.approx(-0.25)
    assert gap_words("percent", 0.5, 0.0, "higher")[1] == float("inf")


# --- the "what to improve first" summary: one test per branch ----------------------------

def _peer_rows(mine: dict[str, float], others: dict[str, float]) -> list[dict]:
    """Service 'me' and two peers 'p1', 'p2' (all Licence) with the given values per KPI."""
    rows = []
    for kpi, value in mine.items():
        rows.append(row("me", kpi, value))
        rows += [row(peer, kpi, others[kpi]) for peer in ("p1", "p2")]
    rows += [volume(s, 5000) for s in ("me", "p1", "p2")]
    return rows


PEERS = [("me", "Licence"), ("p1", "Licence"), ("p2", "Licence")]


def test_summary_behind_and_ahead():
    rows = _peer_rows({"digital_take_up": 0.5, "cost_per_transaction": 2.0}, {"digital_take_up": 0.8, "cost_per_transaction": 4.0})
    assert improvement_summary(compare(rows, PEERS), "me") == (
        "Improve digital take-up first: it is 30.0 percentage points below the median of the 3 ranked Licence services (80.0%). "
        "It leads on cost per transaction: it is £2.00 (50.0%) below the median of the 3 ranked Licence services (£4.00).")


def test_summary_picks_the_kpi_furthest_behind_relative_to_its_median():
    # Take-up 10 points behind 80% (12.5%); cost £2 above £4 (50%): cost comes first.
    rows = _peer_rows({"digital_take_up": 0.7, "cost_per_transaction": 6.0}, {"digital_take_up": 0.8, "cost_per_transaction": 4.0})
    summary = improvement_summary(compare(rows, PEERS), "me")
    assert summary.startswith("Improve cost per transaction first: it is £2.00 (50.0%) above the median")
    assert summary.endswith("It is not ahead of the median on any KPI compared.")


def test_summary_ahead_everywhere():
    rows = _peer_rows({"digital_take_up": 0.9, "completion_rate": 0.99}, {"digital_take_up": 0.8, "completion_rate": 0.9})
    assert improvement_summary(compare(rows, PEERS), "me") == (
        "It is not behind the median on any KPI compared. "
        "It leads on digital take-up: it is 10.0 percentage points above the median of the 3 ranked Licence services (80.0%).")


def test_summary_at_the_median():
    rows = _peer_rows({"digital_take_up": 0.8}, {"digital_take_up": 0.8})
    assert improvement_summary(compare(rows, PEERS), "me") == "Every KPI compared is at the median, so nothing stands out to improve first."


def test_summary_without_peers_compares_with_all_services():
    rows = [row("me", "digital_take_up", 0.5), row("x", "digital_take_up", 0.7), row("y", "digital_take_up", 0.9)]
    rows += [volume(s, 5000) for s in ("me", "x", "y")]
    summary = improvement_summary(compare(rows, [("me", "Licence"), ("x", "Benefit"), ("y", None)]), "me")
    assert summary.startswith("Improve digital take-up first: it is 20.0 percentage points below the median of all 3 ranked services (70.0%).")


def test_summary_when_not_ranked_says_why():
    rows = [row("me", "digital_take_up", 0.5, OLD, status="stale"), row("x", "digital_take_up", 0.7), volume("x", 5000)]
    summary = improvement_summary(compare(rows, [("me", None), ("x", None)]), "me")
    assert summary == ("There is nothing to compare this service with yet: it is not ranked on any KPI alongside other services "
                       "(not provided; out of date: data for April 2022 to March 2023).")


def test_summary_single_service():
    rows = [row("me", "digital_take_up", 0.5), volume("me", 5000)]
    assert improvement_summary(compare(rows, [("me", None)]), "me").startswith("There is nothing to compare this service with yet")


def test_a_large_site_is_ranked_whole():
    # Speed is measured by benchmarks/run.py, never here; this checks the counts at scale.
    count = 3000
    services = [(f"s{i}", f"C{i % 7}") for i in range(count)]
    rows = []
    for i in range(count):
        rows += [row(f"s{i}", "digital_take_up", (i % 97) / 100), row(f"s{i}", "cost_per_transaction", 1 + i % 13),
                 volume(f"s{i}", 500 + i), row(f"s{i}", "digital_take_up", (i % 89) / 100, BEFORE, basis="period"),
                 volume(f"s{i}", 500 + i, BEFORE)]
    result = compare(rows, services)
    assert result.cohorts["digital_take_up"].ranked == count - 500
    assert result.cohorts["cost_per_transaction"].ranked == count - 500


def test_a_shorter_league_is_not_a_rise_in_rank():
    # A year earlier c was 3rd of 3; now a and b have no current figures, so c is 1st of 1.
    # Among the services ranked in both years (only c) its rank did not change.
    rows = [row("c", "digital_take_up", 0.5), volume("c", 5000)]
    for service, before in (("a", 0.9), ("b", 0.8), ("c", 0.5)):
        rows += [row(service, "digital_take_up", before, BEFORE, basis="period"), volume(service, 5000, BEFORE)]
    c = compare(rows, [(s, None) for s in "abc"]).standing("c", "digital_take_up")
    assert (c["rank"], c["previous_rank"], c["previous_of"], c["rank_change"]) == (1, 1, 1, 0)


def test_a_newcomer_above_a_service_is_not_a_fall_in_rank():
    # A year earlier a was 1st of {a, b}. Now n (new, no figure a year earlier) is 1st and a 2nd
    # overall, but among the services ranked both years a is still 1st: no change, not down 1.
    rows = [row("n", "digital_take_up", 0.95), volume("n", 5000)]
    for service, now, before in (("a", 0.9, 0.8), ("b", 0.5, 0.6)):
        rows += [row(service, "digital_take_up", now), volume(service, 5000),
                 row(service, "digital_take_up", before, BEFORE, basis="period"), volume(service, 5000, BEFORE)]
    result = compare(rows, [(s, None) for s in "nab"])
    a = result.standing("a", "digital_take_up")
    assert (a["rank"], a["rank_both"], a["previous_rank"], a["previous_of"], a["rank_change"]) == (2, 1, 1, 2, 0)
    assert rank_change_words(a) == "No change (1st a year earlier, 1st now, among the 2 services ranked both years)"
    assert rank_change_words(result.standing("n", "digital_take_up")) == "Not ranked a year earlier"


# --- peer groups of the config -----------------------------------------------------------

GROUPS = [{"slug": "big", "name": "Big services", "services": ["b", "c", "d", "f"]},
          {"slug": "pair", "name": "The pair", "services": ["a", "e"]}]


def _group_rows() -> list[dict]:
    """Digital take-up now and a year earlier; f is too small to rank, e has no current figure."""
    rows = []
    for service, now, before in (("a", 0.95, 0.9), ("b", 0.9, 0.6), ("c", 0.7, 0.8), ("d", 0.8, 0.7), ("f", 0.99, None)):
        rows += [row(service, "digital_take_up", now), volume(service, 500 if service == "f" else 5000)]
        if before is not None:
            rows += [row(service, "digital_take_up", before, BEFORE, basis="period"), volume(service, 5000, BEFORE)]
    rows.append(row("e", "digital_take_up", 0.5, OLD, status="stale"))
    return rows


def test_peer_group_ranks_within_the_group_under_the_same_rules():
    result = Comparison(frame(_group_rows()), load_definitions(), make_config([(s, None) for s in "abcdef"], peer_groups=GROUPS))
    # All services: a 95%, b 90%, d 80%, c 70% ranked (f too small, e stale). Within "big": b, d, c.
    b, c, d = (result.group_standing("big", s, "digital_take_up") for s in "bcd")
    assert (b["rank"], b["of"], b["percentile"], b["median"]) == (1, 3, 100, 0.8)
    assert (d["rank"], d["of"], d["percentile"]) == (2, 3, 50)
    assert (c["rank"], c["of"], c["percentile"]) == (3, 3, 0)
    assert result.standing("b", "digital_take_up")["rank"] == 2  # among all services, unchanged
    # A year earlier within the group: c 80%, d 70%, b 60%.
    assert (b["previous_rank"], b["previous_of"], b["rank_change"]) == (3, 3, 2)
    assert (c["previous_rank"], c["rank_change"]) == (1, -2)
    assert rank_change_words(d) == "No change (2nd a year earlier, 2nd now, among the 3 services ranked both years)"
    f = result.group_standing("big", "f", "digital_take_up")
    assert not f["ranked"] and pd.isna(f["rank"]) and f["reason"] == "Not ranked: fewer than 1,000 transactions"
    a = result.group_standing("pair", "a", "digital_take_up")
    assert (a["rank"], a["of"]) == (1, 1) and pd.isna(a["percentile"])
    assert [g.slug for g in result.groups_of("b")] == ["big"] and result.groups_of("x") == []


def test_summary_compares_with_the_peer_group_first():
    services = [("b", "Licence"), ("c", "Licence"), ("d", None), ("a", "Licence"), ("e", None), ("f", None)]
    summary = improvement_summary(Comparison(frame(_group_rows()), load_definitions(), make_config(services, peer_groups=GROUPS)), "c")
    assert summary == ("Improve digital take-up first: it is 10.0 percentage points below the median of the 3 ranked services in Big services (80.0%). "
                       "It is not ahead of the median on any KPI compared.")
    # a's only group has no other ranked service: its category peers (a, b, c) come next.
    summary = improvement_summary(Comparison(frame(_group_rows()), load_definitions(), make_config(services, peer_groups=GROUPS)), "a")
    assert summary.endswith("It leads on digital take-up: it is 5.0 percentage points above the median of the 3 ranked Licence services (90.0%).")


def test_category_ranks_like_a_peer_group_of_its_services():
    # The category "Big" holds the services of the group "big": the same ranks, percentiles,
    # medians and rank changes among services ranked both years; the one-service category
    # "Alone" gets none (no league), and services without a category belong to none.
    services = [("a", "Alone"), ("b", "Big"), ("c", "Big"), ("d", "Big"), ("e", None), ("f", "Big")]
    result = Comparison(frame(_group_rows()), load_definitions(), make_config(services, peer_groups=GROUPS))
    assert result.categories == {"Big": ["b", "c", "d", "f"]}
    for service in "bcdf":
        in_category = result.category_standing("Big", service, "digital_take_up")
        in_group = result.group_standing("big", service, "digital_take_up")
        assert {k: str(v) for k, v in in_category.items()} == {k: str(v) for k, v in in_group.items()}, service
        whole = result.standing(service, "digital_take_up")
        if whole["ranked"]:  # the service page's "Among Big services" agrees with the category league
            assert (in_category["rank"], in_category["of"], in_category["percentile"]) == (whole["peer_rank"], whole["peer_of"], whole["peer_percentile"])
    c = result.category_standing("Big", "c", "digital_take_up")
    assert rank_change_words(c) == "Down 2 places (1st a year earlier, 3rd now, among the 3 services ranked both years)"
    assert pd.isna(result.category_standing("Alone", "a", "digital_take_up")["rank"])
