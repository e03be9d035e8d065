"""Comparisons between services: ranks, percentiles, rank changes and peer medians.

In: the headline and period rows of :class:`perfgen.kpis.KpiResults` (``values``), the KPI
definitions and the config. Out: :class:`Comparison`, one row per service and KPI saying whether
the service is ranked, why not if it is not, and where it stands among all services and among
its peers (services of the same ``category``); and one row per peer group of the config
(``peer_groups``), and per category of at least two services, ranked service and KPI, with its
standing within the group or the category. League pages, service pages and department pages
read it; nothing here formats HTML.

Fair comparison rules (see DOMAIN.md):

- Only KPIs that are ratios with a better direction are ranked (cost per transaction, completion
  rate, user satisfaction, digital take-up, digital cost per transaction). Totals (transactions,
  total cost) are listed and sorted, never ranked: a big service is not a better one.
- Only figures for the same period are ranked together: the KPI's *ranking period* is the period
  most services' current headline covers. A stale headline, or a current one for another period,
  is shown but not ranked, and says why.
- A service with fewer transactions than ``site.min_transactions_to_rank`` in that period is not
  ranked on rate KPIs; one whose transactions are unknown is not ranked either.
- User satisfaction is ranked with the site's headline method for every service (mean score and
  top-two-box results are not comparable); fewer responses than ``site.min_responses`` mark it
  low-confidence (still ranked, marked).
- Ties share a rank, competition style: 1, 2, 2, 4. Values are compared rounded to 10 decimal
  places so that floating-point noise never breaks a tie.
- Percentile: the share of the *other* ranked services a service does strictly better than.
- Rank change: against the ranking of the same KPI 12 months earlier (``year_earlier``), under
  the same rules, among the services ranked in both periods (so that a rise never comes from
  a shorter league); positive means the service moved up.
- Peer groups of the config, and categories, are ranked on the same period and under the same
  rules as the whole league: the group's (or category's) services ranked there are ranked again
  among themselves (rank, percentile, median, and the rank change among its services ranked a
  year earlier too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from perfgen import formatters
from perfgen.config import Config, PeerGroup
from perfgen.kpis import KpiDefinition
from perfgen.periods import period_words, year_earlier

#: KPIs whose denominator is itself a count of transactions: their volume when the service's
#: transactions figure for the period is missing.
VOLUME_IS_DENOMINATOR = frozenset({"cost_per_transaction", "digital_take_up"})
TIE_DECIMALS = 10

COLUMNS = [
    "service", "name", "department", "category", "kpi", "method", "status", "value", "period_start",
    "period_end", "period", "volume", "responses", "low_confidence", "ranked", "reason", "rank", "of",
    "percentile", "previous_rank", "previous_of", "rank_both", "rank_change", "peer_rank", "peer_of",
    "peer_percentile", "peer_median", "median",
]
#: One row per peer group of the config (or category), ranked service and KPI
#: (:meth:`Comparison.group_standing`, :meth:`Comparison.category_standing`).
GROUP_COLUMNS = ["group", "service", "kpi", "rank", "of", "percentile", "median", "previous_rank", "previous_of", "rank_both", "rank_change"]


def is_ranked_kpi(definition: KpiDefinition) -> bool:
    return definition.aggregate == "ratio" and definition.better in ("higher", "lower")


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 101st, 111th."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number:,}{suffix}"


@dataclass(frozen=True)
class Cohort:
    """The period a KPI is ranked for, and how many services are ranked."""

    kpi: str
    period_start: date | None
    period_end: date | None
    ranked: int
    previous_start: date | None
    previous_end: date | None
    previous_ranked: int

    @property
    def period(self) -> str:
        return period_words(self.period_start, self.period_end) if self.period_start and self.period_end else ""

    @property
    def previous_period(self) -> str:
        return period_words(self.previous_start, self.previous_end) if self.previous_start and self.previous_end else ""


def _year_on_year(ranked: pd.DataFrame, earlier: pd.DataFrame, better: str, by: list[str]) -> pd.DataFrame:
    """Rank changes, like with like, for the rows of ``ranked`` (service, value and the ``by``
    columns, each ``by`` group a league) whose service was ranked a year earlier too
    (``earlier``: service and value, the figures that qualified then): their ranks a year
    earlier among the services of their league ranked in both periods (``previous_rank``, of
    ``previous_of``), their ranks now among the same services (``rank_both``) and the change.
    One row per such row of ``ranked`` (``row``: its index), so that services joining or
    leaving a league move no one."""
    previous = ranked[[*by, "service"]].merge(earlier[["service", "value"]], on="service")
    if previous.empty:
        return pd.DataFrame(columns=["row", "previous_rank", "previous_of", "rank_both", "rank_change"])
    previous["earlier_rank"], previous["earlier_of"], _ = _competition_ranks(previous, better, by)
    both = ranked[[*by, "service", "value"]].reset_index(names="row").merge(previous[[*by, "service", "earlier_rank", "earlier_of"]], on=[*by, "service"])
    rank_both, _, _ = _competition_ranks(both, better, by)
    return pd.DataFrame({"row": both["row"].to_numpy(), "previous_rank": both["earlier_rank"].to_numpy(), "previous_of": both["earlier_of"].to_numpy(),
                         "rank_both": rank_both.to_numpy(), "rank_change": (both["earlier_rank"] - rank_both).to_numpy()})


def _set_year_on_year(frame: pd.DataFrame, changes: pd.DataFrame) -> None:
    """Fill ``frame``'s previous_rank, previous_of, rank_both and rank_change from
    :func:`_year_on_year` (its ``row`` column indexes ``frame``)."""
    for column in ("previous_rank", "previous_of", "rank_both", "rank_change"):
        frame.loc[changes["row"], column] = changes[column].to_numpy()


def _competition_ranks(frame: pd.DataFrame, better: str, by: list[str]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Competition rank, group size and percentile of each row of ``frame`` within ``by``."""
    key = frame["value"].round(TIE_DECIMALS)
    ascending = better == "lower"
    grouped = key.groupby([frame[c] for c in by], sort=False)
    rank = grouped.rank(method="min", ascending=ascending)
    last = grouped.rank(method="max", ascending=ascending)  # last place among the tied
    size = grouped.transform("size")
    worse = size - last
    percentile = (worse / (size - 1) * 100).where(size > 1)
    return rank.astype("Int64"), size.astype("Int64"), percentile


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, as ``to_dict("records")`` makes them (Python values; a missing whole
    number None, not ``pd.NA``) in a third of the time (a column at a time)."""
    lists = []
    for column in frame.columns:
        values = frame[column].tolist()
        if isinstance(frame[column].dtype, pd.Int64Dtype):
            values = [None if value is pd.NA else value for value in values]
        lists.append(values)
    return [dict(zip(frame.columns, row)) for row in zip(*lists)]


class Comparison:
    """Every service's standing on every KPI; built once per site, vectorised."""

    def __init__(self, values: pd.DataFrame, definitions: list[KpiDefinition], config: Config):
        self.config = config
        self.definitions = {d.id: d for d in definitions}
        self.min_transactions = config.site.min_transactions_to_rank
        self.min_responses = config.site.min_responses
        self.method = config.site.satisfaction_method
        self.table, self.cohorts = self._build(values)
        self._rows: dict[tuple[str, str], dict[str, Any]] = {
            (row["service"], row["kpi"]): row for row in _records(self.table)}
        self.group_table = self._ranks_within([(group.slug, set(group.services)) for group in config.peer_groups])
        self._group_rows: dict[tuple[str, str, str], dict[str, Any]] = {
            (row["group"], row["service"], row["kpi"]): row for row in _records(self.group_table)}
        #: Each category of at least two services: its services' slugs, in config order.
        members: dict[str, list[str]] = {}
        for service in config.services:
            if service.category:
                members.setdefault(service.category, []).append(service.slug)
        self.categories = {category: slugs for category, slugs in sorted(members.items()) if len(slugs) >= 2}
        self._within_of: dict[str, list[dict[str, Any]]] | None = None  # service -> its group and category rows (service_rows)
        self.category_table = self._ranks_within([(category, set(slugs)) for category, slugs in self.categories.items()])
        self._category_rows: dict[tuple[str, str, str], dict[str, Any]] = {
            (row["group"], row["service"], row["kpi"]): row for row in _records(self.category_table)}

    # --- building ---------------------------------------------------------------------------

    def _method(self, kpi: str) -> str:
        return self.method if kpi == "user_satisfaction" else ""

    def _volumes(self, values: pd.DataFrame) -> pd.DataFrame:
        rows = values[(values["basis"] == "period") & (values["service"] != "") & (values["kpi"] == "transactions") & (values["status"] == "value")]
        return rows[["service", "period_start", "period_end", "value"]].rename(columns={"value": "volume"}).drop_duplicates(["service", "period_start", "period_end"])

    def _with_volume(self, frame: pd.DataFrame, volumes: pd.DataFrame) -> pd.DataFrame:
        frame = frame.merge(volumes, on=["service", "period_start", "period_end"], how="left")
        fallback = frame["kpi"].isin(VOLUME_IS_DENOMINATOR) & frame["volume"].isna()
        frame["volume"] = pd.to_numeric(frame["volume"], errors="coerce").astype("float64").where(
            ~fallback, pd.to_numeric(frame["denominator"], errors="coerce").astype("float64"))
        return frame

    def _build(self, values: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Cohort]]:
        services = pd.DataFrame(
            [(s.slug, s.name, s.department, s.category or "") for s in self.config.services],
            columns=["service", "name", "department", "category"])
        kpis = pd.DataFrame([(d.id, self._method(d.id)) for d in self.definitions.values()], columns=["kpi", "method"])
        grid = services.merge(kpis, how="cross")
        headlines = values[(values["basis"] == "headline") & (values["service"] != "")]
        headlines = headlines[["service", "kpi", "method", "status", "value", "numerator", "denominator", "period_start", "period_end"]]
        frame = grid.merge(headlines, on=["service", "kpi", "method"], how="left")
        frame["status"] = frame["status"].fillna("not_provided")
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype("float64").where(frame["status"].isin(["value", "stale"]))
        frame["denominator"] = pd.to_numeric(frame["denominator"], errors="coerce").astype("float64")
        volumes = self._volumes(values)
        frame = self._with_volume(frame, volumes)
        frame["responses"] = frame["denominator"].where(frame["kpi"] == "user_satisfaction")
        frame["low_confidence"] = (frame["kpi"] == "user_satisfaction") & frame["value"].notna() & (frame["responses"] < self.min_responses)
        frame["period"] = [period_words(s, e) if isinstance(s, date) else "" for s, e in zip(frame["period_start"], frame["period_end"])]

        cohorts: dict[str, Cohort] = {}
        self._previous: dict[str, pd.DataFrame] = {}
        frame["ranked"] = False
        frame["reason"] = ""
        for column in ("rank", "of", "previous_rank", "previous_of", "rank_both", "rank_change", "peer_rank", "peer_of"):
            frame[column] = pd.array([pd.NA] * len(frame), dtype="Int64")
        for column in ("percentile", "peer_percentile", "peer_median", "median"):
            frame[column] = float("nan")

        missing = frame["value"].isna()
        frame.loc[missing, "reason"] = [
            "Not applicable" if status == "not_applicable" else "Not provided" for status in frame.loc[missing, "status"]]
        stale = frame["status"] == "stale"
        frame.loc[stale & ~missing, "reason"] = ["Out of date: data for " + p for p in frame.loc[stale & ~missing, "period"]]

        for kpi, definition in self.definitions.items():
            at = frame["kpi"] == kpi
            current = frame[at & (frame["status"] == "value") & frame["value"].notna()]
            if not is_ranked_kpi(definition) or current.empty:
                cohorts[kpi] = Cohort(kpi, None, None, 0, None, None, 0)
                continue
            periods = current.groupby(["period_start", "period_end"]).size().reset_index(name="n")
            best = periods.sort_values(["n", "period_end", "period_start"], ascending=False).iloc[0]
            start, end = best["period_start"], best["period_end"]
            in_period = at & (frame["status"] == "value") & frame["value"].notna() & (frame["period_start"] == start) & (frame["period_end"] == end)
            other_period = at & (frame["status"] == "value") & frame["value"].notna() & ~in_period
            frame.loc[other_period, "reason"] = [f"Not ranked: figures for {p}, not {period_words(start, end)}" for p in frame.loc[other_period, "period"]]
            no_volume = in_period & frame["volume"].isna()
            frame.loc[no_volume, "reason"] = "Not ranked: number of transactions not provided"
            small = in_period & (frame["volume"] < self.min_transactions)
            frame.loc[small, "reason"] = f"Not ranked: fewer than {formatters.count(self.min_transactions)} transactions"
            eligible = in_period & ~no_volume & ~small
            frame.loc[eligible, "ranked"] = True
            ranked = frame[eligible]
            rank, size, percentile = _competition_ranks(ranked, definition.better, ["kpi"])
            frame.loc[eligible, "rank"] = rank
            frame.loc[eligible, "of"] = size
            frame.loc[eligible, "percentile"] = percentile
            frame.loc[eligible, "median"] = ranked["value"].median()
            with_category = ranked[ranked["category"] != ""]
            if not with_category.empty:
                peer_rank, peer_size, peer_percentile = _competition_ranks(with_category, definition.better, ["category"])
                frame.loc[with_category.index, "peer_rank"] = peer_rank
                frame.loc[with_category.index, "peer_of"] = peer_size
                frame.loc[with_category.index, "peer_percentile"] = peer_percentile
                frame.loc[with_category.index, "peer_median"] = with_category.groupby("category")["value"].transform("median")
            previous_start, previous_end = year_earlier(start, end)
            self._previous[kpi] = self._previous_rows(values, volumes, kpi, previous_start, previous_end)
            changes = _year_on_year(ranked, self._previous[kpi], definition.better, ["kpi"])
            _set_year_on_year(frame, changes)
            cohorts[kpi] = Cohort(kpi, start, end, int(eligible.sum()), previous_start, previous_end, len(changes))
        frame = frame[COLUMNS].sort_values(["kpi", "service"], kind="stable").reset_index(drop=True)
        return frame, cohorts

    def _previous_rows(self, values: pd.DataFrame, volumes: pd.DataFrame, kpi: str, start: date, end: date) -> pd.DataFrame:
        """The figures for the same 12 months a year earlier that would have been ranked then
        under the same rules (the method, the minimum volume): found once per KPI, then ranked
        among whichever services a league compares."""
        rows = values[(values["basis"] == "period") & (values["service"] != "") & (values["kpi"] == kpi)
                      & (values["method"] == self._method(kpi)) & (values["status"] == "value")
                      & (values["period_start"] == start) & (values["period_end"] == end) & values["value"].notna()]
        rows = self._with_volume(rows[["service", "kpi", "value", "denominator", "period_start", "period_end"]], volumes)
        rows = rows[rows["volume"].notna() & (rows["volume"] >= self.min_transactions)].copy()
        rows["value"] = rows["value"].astype("float64")
        return rows

    def _ranks_within(self, sets: list[tuple[str, set[str]]]) -> pd.DataFrame:
        """Ranks within each named set of services (a peer group of the config, or a category):
        its services ranked in the whole league (same period, same minimum volume, same method)
        are ranked again among themselves; the rank change is against their ranking a year
        earlier among its services ranked in both periods, as for the whole league.

        A KPI's sets are ranked at once, grouped by set (a set and a KPI at a time, a site with
        nine categories spent most of a second in pandas' per-call costs). Rows come in the
        sets' order, then the KPIs', then the whole table's (by service)."""
        members = pd.DataFrame([(order, name, service) for order, (name, services) in enumerate(sets) for service in sorted(services)],
                               columns=["order", "group", "service"])
        parts = []
        for kpi, definition in self.definitions.items():
            if not is_ranked_kpi(definition):
                continue
            league = self.table[(self.table["kpi"] == kpi) & self.table["ranked"].astype(bool)]
            ranked = members.merge(league[["service", "value"]].reset_index(names="position"), on="service")
            if ranked.empty:
                continue
            ranked = ranked.sort_values(["order", "position"], kind="stable").reset_index(drop=True)
            rank, size, percentile = _competition_ranks(ranked, definition.better, ["order"])
            part = pd.DataFrame({"order": ranked["order"], "kpi_order": len(parts), "group": ranked["group"], "service": ranked["service"],
                                 "kpi": kpi, "rank": rank, "of": size, "percentile": percentile,
                                 "median": ranked.groupby("order")["value"].transform("median")})
            for column in ("previous_rank", "previous_of", "rank_both", "rank_change"):
                part[column] = pd.array([pd.NA] * len(part), dtype="Int64")
            # A year earlier: each set's services ranked now that qualified then, ranked among themselves.
            _set_year_on_year(part, _year_on_year(ranked, self._previous[kpi], definition.better, ["order"]))
            parts.append(part)
        if not parts:
            return pd.DataFrame(columns=GROUP_COLUMNS)
        every = pd.concat(parts, ignore_index=True)
        return every.sort_values(["order", "kpi_order"], kind="stable")[GROUP_COLUMNS].reset_index(drop=True)

    # --- reading ----------------------------------------------------------------------------

    def standing(self, service: str, kpi: str) -> dict[str, Any]:
        return self._rows[(service, kpi)]

    def service_rows(self, service: str) -> list[Any]:
        """Every row of this service in the tables (among all services, within each peer group
        and each category): what its page's comparisons are made from, for the page's key."""
        if self._within_of is None:
            self._within_of = {}
            for rows in (self._group_rows, self._category_rows):
                for (group, slug, kpi), row in rows.items():
                    self._within_of.setdefault(slug, []).append(row)
        return [[self._rows[(service, kpi)] for kpi in self.definitions], self._within_of.get(service, [])]

    def ranked_kpis(self) -> list[str]:
        return [k for k, d in self.definitions.items() if is_ranked_kpi(d)]

    def groups_of(self, service: str) -> list[PeerGroup]:
        """The peer groups of the config that ``service`` belongs to, in config order."""
        return [group for group in self.config.peer_groups if service in group.services]

    def group_standing(self, group: str, service: str, kpi: str) -> dict[str, Any]:
        """The service's standing with rank, group size, percentile, median and rank change
        within the peer group ``group`` in place of those among all services."""
        return self._standing_within(self._group_rows.get((group, service, kpi)), service, kpi)

    def category_standing(self, category: str, service: str, kpi: str) -> dict[str, Any]:
        """The same within the category ``category`` (one of :attr:`categories`)."""
        return self._standing_within(self._category_rows.get((category, service, kpi)), service, kpi)

    def _standing_within(self, within: dict[str, Any] | None, service: str, kpi: str) -> dict[str, Any]:
        row = dict(self._rows[(service, kpi)])
        for column in GROUP_COLUMNS[3:]:
            row[column] = within[column] if within else (float("nan") if column in ("percentile", "median") else pd.NA)
        return row


# --- words ------------------------------------------------------------------------------------

def rank_words(row: dict[str, Any]) -> str:
    """"3rd of 40" or "Joint 3rd of 40"."""
    if not row["ranked"]:
        return row["reason"]
    return f"{ordinal(int(row['rank']))} of {formatters.count(row['of'])}"


def percentile_words(percentile: float | None) -> str:
    if percentile is None or pd.isna(percentile):
        return "Only service ranked"
    return f"Better than {formatters.percent(percentile / 100)} of the others"


def rank_change_words(row: dict[str, Any]) -> str:
    """"Up 3 places (12th a year earlier, 9th now, among the 280 services ranked both years)",
    "No change (...)", or why not. The change compares ranks among the same services in both
    years, so services joining or leaving the league do not move anyone."""
    if not row["ranked"]:
        return ""
    if pd.isna(row["previous_rank"]):
        return "Not ranked a year earlier"
    change = int(row["rank_change"])
    among = ("the only service ranked both years" if int(row["previous_of"]) == 1
             else f"among the {formatters.count(row['previous_of'])} services ranked both years")
    before = f"{ordinal(int(row['previous_rank']))} a year earlier, {ordinal(int(row['rank_both']))} now, {among}"
    if change == 0:
        return f"No change ({before})"
    places = "place" if abs(change) == 1 else "places"
    return f"{'Up' if change > 0 else 'Down'} {abs(change)} {places} ({before})"


def gap_words(unit: str, value: float, median: float, better: str) -> tuple[str, float]:
    """How far ``value`` is from ``median`` in words ("4.2 percentage points", "£1.20 (25%)"),
    and the signed relative gap used to choose between KPIs (positive: ahead of the median)."""
    difference = value - median
    ahead = difference if better == "higher" else -difference
    if median != 0:
        relative = ahead / abs(median)
    else:
        relative = math.copysign(math.inf, ahead) if ahead else 0.0
    if unit == "percent":
        points = formatters.percent(abs(difference))[:-1]
        return f"{points} percentage {'point' if points == '1' else 'points'}", relative
    amount = formatters.money(abs(difference)) if unit == "money" else formatters.count(abs(difference))
    if median > 0:
        return f"{amount} ({formatters.percent(abs(difference) / median)})", relative
    return amount, relative


def improvement_summary(comparison: Comparison, service: str) -> str:
    """One or two sentences: the KPI to improve first (furthest behind its comparison group's
    median, relative to that median) and the one where the service leads most.

    Each KPI is compared with the first peer group of the config (``peer_groups``, in config
    order) that holds the service and in which at least one other service is ranked on it; else
    with its peers of the same category when at least one other is ranked; otherwise with all
    ranked services. Each clause names the group it compares with."""
    gaps = []
    groups = comparison.groups_of(service)
    for kpi in comparison.ranked_kpis():
        row = comparison.standing(service, kpi)
        if not row["ranked"]:
            continue
        definition = comparison.definitions[kpi]
        in_group = None
        for peer_group in groups:
            within = comparison.group_standing(peer_group.slug, service, kpi)
            if not pd.isna(within["of"]) and within["of"] >= 2:
                in_group = (within["median"], f"the {formatters.count(within['of'])} ranked services in {peer_group.name}")
                break
        if in_group is not None:
            median, group = in_group
        elif not pd.isna(row["peer_of"]) and row["peer_of"] >= 2:
            median, group = row["peer_median"], f"the {formatters.count(row['peer_of'])} ranked {row['category']} services"
        elif row["of"] >= 2:
            median, group = row["median"], f"all {formatters.count(row['of'])} ranked services"
        else:
            continue
        words, relative = gap_words(definition.unit, row["value"], median, definition.better)
        gaps.append((relative, definition.label, words, group, definition, median))
    if not gaps:
        reasons = sorted({comparison.standing(service, k)["reason"] for k in comparison.ranked_kpis()} - {"", "Not applicable"})
        why = f" ({'; '.join(r[0].lower() + r[1:] for r in reasons)})" if reasons else ""
        return f"There is nothing to compare this service with yet: it is not ranked on any KPI alongside other services{why}."

    def position(gap: tuple) -> str:
        relative, _, words, group, definition, median = gap
        if relative == 0:
            return f"is at the median of {group} ({_format(definition.unit, median)})"
        higher = (relative > 0) == (definition.better == "higher")
        return f"is {words} {'above' if higher else 'below'} the median of {group} ({_format(definition.unit, median)})"

    gaps.sort(key=lambda g: (g[0], g[1]))
    behind = [g for g in gaps if g[0] < 0]
    ahead = [g for g in gaps if g[0] > 0]
    sentences = []
    if not behind and not ahead:
        return "Every KPI compared is at the median, so nothing stands out to improve first."
    if behind:
        sentences.append(f"Improve {behind[0][1].lower()} first: it {position(behind[0])}.")
    else:
        sentences.append("It is not behind the median on any KPI compared.")
    if ahead:
        leader = max(ahead, key=lambda g: (g[0], g[1]))
        sentences.append(f"It leads on {leader[1].lower()}: it {position(leader)}.")
    else:
        sentences.append("It is not ahead of the median on any KPI compared.")
    return " ".join(sentences)


_format = formatters.for_unit
