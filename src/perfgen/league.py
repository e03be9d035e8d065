"""League tables, and the comparison parts of service and department pages.

In: the :class:`perfgen.render.SiteModel` and a :class:`perfgen.compare.Comparison`. Out:
:class:`perfgen.render.Page` objects (the overview league, one league per KPI, each in every
sort order, per-department filtered leagues, a league per peer group of the config and per
category of services in every sort order, with the page listing the groups and categories) and
context for the service and department pages.

Sorting works without JavaScript: every sort order is a page of its own, linked from the column
headers (``aria-sort`` on the sorted one). Services with no figure (or one that is not ranked)
always come last, in both directions. There are many such pages (KPIs x columns x 2 directions,
each with every service), so each table row is rendered to HTML once per KPI here and the
pages only put those rows in order: rendering a page is a join, not thousands of macro calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from perfgen import formatters, targets
from perfgen.cells import STATUS_WORDS, DeferredMarkup
from perfgen.cells import missing as _missing
from perfgen.cells import value_html as _value_html
from perfgen.compare import (
    Comparison,
    improvement_summary,
    is_ranked_kpi,
    ordinal,
    percentile_words,
    rank_change_words,
)
from perfgen.config import PeerGroup, Service, slugify
from perfgen.render import LEAGUE_KPIS, Page, SiteModel, href, key_bytes

DIRECTIONS = ("ascending", "descending")
OVERVIEW_DEFAULT = ("service", "ascending")
READINESS_KPIS = ("cost_per_transaction", "completion_rate", "user_satisfaction", "digital_take_up")


GROUPS_PATH = "league/groups/"  # the peer groups and the categories with leagues of their own
CATEGORIES_PATH = GROUPS_PATH + "#categories"


def group_league_path(group: str, kpi: str) -> str:
    """Site folder of a peer group's league for ``kpi``, best first: ``league/<kpi>/groups/<group>/``."""
    return f"{league_path(kpi)}groups/{group}/"


def category_league_path(category: str, kpi: str) -> str:
    """Site folder of a category's league for ``kpi``, best first, from the category's slug
    (:func:`category_slugs`): ``league/<kpi>/categories/<category>/``. A folder of its own, so
    that no category can take a peer group's address."""
    return f"{league_path(kpi)}categories/{category}/"


def category_slugs(categories: Iterable[str]) -> dict[str, str]:
    """A slug for each category name, the same whatever order the names come in.

    A name gets its :func:`slugify` form ("category" when nothing is left of it). Names that
    slugify to the same text ("Licence" and "licence") are taken in sorted order: the first
    keeps the slug and each other one gets the first free ``-2``, ``-3`` ... that is not another
    name's own slug."""
    bases: dict[str, list[str]] = {}
    for name in sorted(set(categories)):
        bases.setdefault(slugify(name) or "category", []).append(name)
    slugs: dict[str, str] = {}
    taken = set(bases)
    for base in sorted(bases):
        first, *others = bases[base]
        slugs[first] = base
        number = 2
        for name in others:
            while f"{base}-{number}" in taken:
                number += 1
            slugs[name] = f"{base}-{number}"
            taken.add(slugs[name])
    return slugs


def kpi_slug(kpi: str) -> str:
    return kpi.replace("_", "-")


def league_path(kpi: str | None, key: str | None = None, direction: str | None = None) -> str:
    """Site folder of a league page: ``league/`` (overview), ``league/sorted/<key>/<direction>/``,
    ``league/<kpi>/`` (best first) or ``league/<kpi>/<key>/<direction>/``."""
    if kpi is None:
        return "league/" if key is None or (key, direction) == OVERVIEW_DEFAULT else f"league/sorted/{kpi_slug(key)}/{direction}/"
    base = f"league/{kpi_slug(kpi)}/"
    return base if key is None else f"{base}{key}/{direction}/"


@dataclass
class Column:
    """A column of a league table: its header, and the sort key it links to (or none)."""

    label: str
    key: str | None  # the sort key its header links to
    numeric: bool = False
    cell: str = ""  # which of a row's cells it shows (default: ``key``)
    inverse: bool = False  # sorted the other way from ``key`` (percentile against the value)

    @property
    def cell_key(self) -> str:
        return self.cell or self.key or self.label


@dataclass(frozen=True)
class PeerSet:
    """Services with leagues of their own: a peer group of the config or a category."""

    kind: str  # "group" or "category"
    key: str  # how the comparison knows it: the group's slug, or the category's name
    slug: str  # its folder
    name: str
    description: str | None
    services: frozenset[str]

    def league_path(self, kpi: str) -> str:
        return group_league_path(self.slug, kpi) if self.kind == "group" else category_league_path(self.slug, kpi)

    @property
    def anchor(self) -> str:
        """Its section's id on the groups page."""
        return f"{self.kind}-{self.slug}"

    @property
    def within(self) -> str:
        """"Applications and renewals", "the category Benefit": after "within"."""
        return self.name if self.kind == "group" else f"the category {self.name}"


@dataclass
class Row:
    service: Service
    cells: dict[str, str]  # column key -> cell HTML (the <th>/<td> included), links start with ROOT
    sort: dict[str, tuple]  # sort key -> (group, value); group 0 sorts first in both directions
    html: str = ""  # the whole <tr>, once the columns are known
    digest: bytes = b""  # of html: a page's key holds its rows' digests, not its joined body


#: Stands for the relative path to the site root in rows rendered once for pages at any depth.
ROOT = "\x00root\x00"


def _cell(content: Any, numeric: bool = False, header: bool = False) -> str:
    """One cell's HTML; ``content`` is Markup or text to escape. Plain string building: a real
    site renders hundreds of thousands of these."""
    tag = "th" if header else "td"
    base = "govuk-table__header" if header else "govuk-table__cell"
    classes = f"{base} {base}--numeric" if numeric else base
    scope = ' scope="row"' if header else ""
    return f'<{tag}{scope} class="{classes}">{escape(content)}</{tag}>'


def _service_cell(service: Service) -> str:
    return _cell(Markup(f'<a class="govuk-link" href="{ROOT}services/{escape(service.slug)}/">{escape(service.name)}</a>'), header=True)


def _note(text: str) -> Markup:
    return Markup(f'<br><span class="govuk-body-s app-status--missing">{escape(text)}</span>')


def _sorted_rows(rows: list[Row], key: str, direction: str) -> list[Row]:
    """Rows in order: group first (missing values last whatever the direction), then the value
    in the asked direction, then the service name."""
    reverse = direction == "descending"
    by_name = sorted(rows, key=lambda r: r.service.name.lower())
    groups: dict[int, list[Row]] = {}
    for row in by_name:
        groups.setdefault(row.sort[key][0], []).append(row)
    result = []
    for group in sorted(groups):
        members = groups[group]
        if group < 2:
            members = sorted(members, key=lambda r: r.sort[key][1], reverse=reverse)  # stable: names stay in order
        result += members
    return result


def _table_html(page_path: str, columns: list[Column], rows: list[Row], current: tuple[str, str] | None,
                link: Callable[[str, str], str] | None, defaults: dict[str, str]) -> dict[str, Any]:
    """Header cells (sort links, aria-sort) and body rows of one page."""
    headers = []
    for column in columns:
        classes = "govuk-table__header" + (" govuk-table__header--numeric" if column.numeric else "")
        if link is None or column.key is None:
            headers.append(Markup('<th scope="col" class="{}">{}</th>').format(classes, column.label))
            continue
        sorted_here = current is not None and current[0] == column.key
        if sorted_here and current:
            direction = "descending" if current[1] == "ascending" else "ascending"
        else:
            direction = defaults.get(column.key, "ascending")
        target = href(page_path, link(column.key, direction))
        own = direction if not column.inverse else "descending" if direction == "ascending" else "ascending"
        words = "smallest first" if own == "ascending" else "largest first"
        if column.key in ("service", "department"):
            words = "A to Z" if direction == "ascending" else "Z to A"
        shown = current[1] if current and not column.inverse else "descending" if current and current[1] == "ascending" else "ascending"
        aria = Markup(' aria-sort="{}"').format(shown) if sorted_here else Markup("")
        headers.append(Markup('<th scope="col" class="{}"{}><a class="govuk-link app-sort" href="{}">{}<span class="govuk-visually-hidden"> (sort {})</span></a></th>').format(
            classes, aria, target, column.label, words))
    root = "../" * page_path.count("/")
    for row in rows:
        if not row.html:
            row.html = '<tr class="govuk-table__row">' + "".join(row.cells[c.cell_key] for c in columns) + "</tr>"
            row.digest = hashlib.blake2b(row.html.encode("utf-8"), digest_size=16).digest()
            row.cells = {}  # in its html now (a league's rows are kept for all its pages: memory)
    # The body is joined only when the page is rendered: held for every league page from laying
    # out to rendering, the bodies were most of that stage's memory (0.9 GB at 10,000 services).
    # The page's key holds its rows' digests in order and its depth instead: a row is hashed once
    # for all the pages that show it (made and hashed per page, a rebuild of the 879 league pages
    # of the UK example spent over half a second keying 91 MB of bodies it did not render).
    body = DeferredMarkup(partial(_body, [row.html for row in rows], root), key=b"".join(row.digest for row in rows) + root.encode("utf-8"))
    return {"headers": headers, "rows": [body]}


def _body(rows: list[str], root: str) -> str:
    return "\n".join(rows).replace(ROOT, root)


def _defer_table(page: Page, inputs: str | None, rows: Callable[[], list[Row]], columns: list[Column], current: tuple[str, str] | None,
                 link: Callable[[str, str], str] | None, defaults: dict[str, str], department: str | None = None,
                 order: tuple[str, str] | None = None) -> None:
    """The page's table made only if it is rendered: its rows (``rows``: its league's, made once
    for all its pages, or one ``department``'s of them) in the page's ``order`` (default: the
    column it is sorted by). Keyed by the league's ``inputs`` and what picks and orders them."""
    def table() -> dict[str, Any]:
        key, direction = order or current or ("value", "ascending")
        return {"table": _table_html(page.path, columns, _sorted_rows(rows(), key, direction), current, link, defaults)}

    page.deferred = table
    page.inputs = (inputs, department, order or current) if inputs is not None else None


class Leagues:
    """Builds every league page from rows rendered once."""

    def __init__(self, model: SiteModel, comparison: Comparison):
        self.model = model
        self.comparison = comparison
        self.config = model.config
        self.services = list(self.config.services)
        # Each department's services, in config order: asked for per department page (a scan
        # of every service per department grew with departments times services).
        self._services_of: dict[str, list[Service]] = {}
        for service in self.services:
            self._services_of.setdefault(service.department, []).append(service)
        self.kpis = [d.id for d in model.results.definitions]
        slugs = category_slugs(s.category for s in self.services if s.category)
        # A category holding every service of the site would only repeat the whole league.
        self._categories = [PeerSet("category", name, slugs[name], name, None, frozenset(members))
                            for name, members in comparison.categories.items() if len(members) < len(self.services)]
        on_site = {s.slug for s in self.services}
        self._peer_groups = [g for g in self.config.peer_groups if len(set(g.services) & on_site) >= 2]
        # A KPI's league tables (the whole league, each department's, each peer group's and
        # category's) are made only when a page showing them is rendered, once for all their
        # sort orders (``_rows``); each page's key holds what they are made from instead
        # (``_inputs``): a rebuild renders only the leagues a change reaches.
        self._made: dict[Any, Any] = {}  # a league's rows, or a KPI league's rows by department
        self._shared = key_bytes((self.config, model.results.definitions))

    def _rows(self, name: Any, make: Callable[[], Any]) -> Any:
        """A league's rows, made by ``make`` the first time a page of it is rendered."""
        if name not in self._made:
            self._made[name] = make()
        return self._made[name]

    def _department_rows(self, kpi: str, department: str) -> list[Row]:
        """One department's rows of a KPI's league, in the league's order (the league's rows
        grouped once: each department's page picking its own from every row grew with
        departments times services)."""
        def grouped() -> dict[str, list[Row]]:
            by_department: dict[str, list[Row]] = {}
            for row in self._rows(kpi, partial(self._kpi_rows, kpi)):
                by_department.setdefault(row.service.department, []).append(row)
            return by_department

        return self._rows(("departments", kpi), grouped).get(department, [])

    def _inputs(self, standings: list[dict[str, Any]]) -> str | None:
        """What a league's rows are made from, hashed: its services' standings (as
        ``_kpi_rows`` reads them) with the config and the KPI definitions."""
        standing_bytes = key_bytes(standings)
        if self._shared is None or standing_bytes is None:
            return None
        return hashlib.sha256(self._shared + standing_bytes).hexdigest()

    # --- one KPI --------------------------------------------------------------------------

    def _kpi_columns(self, kpi: str) -> list[Column]:
        definition = self.model.definitions[kpi]
        ranked = is_ranked_kpi(definition)
        # Rank runs with the value when lower is better, against it when higher is better.
        columns = [Column("Rank", "value", True, cell="rank", inverse=definition.better == "higher")] if ranked else []
        columns += [Column("Service", "service"), Column("Department", "department"), Column(definition.label, "value", True)]
        if kpi != "transactions":
            columns.append(Column("Transactions", "transactions", True))
        if ranked:
            columns += [Column("Percentile", "value", True, cell="percentile", inverse=definition.better == "lower"), Column("Change in rank", "change", True)]
        return columns

    def _kpi_rows(self, kpi: str, services: list[Service] | None = None, lookup: Callable[[str, str], dict[str, Any]] | None = None) -> list[Row]:
        """One row per service (default: all); ``lookup`` gives a standing (default: among all
        services; a peer group's league passes its standings within the group)."""
        definition = self.model.definitions[kpi]
        ranked_kpi = is_ranked_kpi(definition)
        rows = []
        for service in self.services if services is None else services:
            standing = (lookup or self.comparison.standing)(service.slug, kpi)
            department = self.model.department(service.department)
            has_value = not pd.isna(standing["value"])
            if has_value:
                value = _value_html(definition.unit, standing["value"])
                if standing["reason"]:
                    value += _note(standing["reason"])
                if standing["low_confidence"]:
                    value += _note(f"Low confidence: {formatters.count(standing['responses'])} responses")
            else:
                value = _missing(standing["reason"] or STATUS_WORDS.get(standing["status"], "Not provided"))
            volume = standing["volume"]
            cells = {
                "service": _service_cell(service),
                "department": _cell(department.abbreviation or department.name),
                "value": _cell(value, numeric=True),
                "transactions": _cell(formatters.count(volume) if not pd.isna(volume) else _missing("Not provided"), numeric=True),
            }
            if ranked_kpi:
                cells["rank"] = _cell(ordinal(int(standing["rank"])) if standing["ranked"] else _missing("Not ranked"), numeric=True)
                cells["percentile"] = _cell(
                    (formatters.percent(standing["percentile"] / 100) if not pd.isna(standing["percentile"]) else _missing("Only one ranked"))
                    if standing["ranked"] else _missing("Not ranked"), numeric=True)
                change = standing["rank_change"]
                if standing["ranked"] and not pd.isna(change):
                    css = "app-change--good" if change > 0 else "app-change--bad" if change < 0 else "app-change--neutral"
                    words = "No change" if change == 0 else f"{'Up' if change > 0 else 'Down'} {abs(int(change))}"
                    cells["change"] = _cell(Markup('<span class="{}">{}</span>').format(css, words), numeric=True)
                else:
                    cells["change"] = _cell(_missing("Not ranked a year earlier" if standing["ranked"] else "Not ranked"), numeric=True)
            # Groups: 0 ranked (or, for totals, a current value), 1 a value not ranked or out of date, 2 none.
            if ranked_kpi:
                group = 0 if standing["ranked"] else 1 if has_value else 2
            else:
                group = 0 if has_value and standing["status"] == "value" else 1 if has_value else 2
            value_key = standing["value"] if has_value else 0.0
            rows.append(Row(service, cells, {
                "value": (group, value_key),
                "service": (0, service.name.lower()),
                "department": (0, ((department.abbreviation or department.name).lower(), group, value_key if definition.better != "higher" else -value_key)),
                "transactions": (0 if not pd.isna(volume) else 2, volume if not pd.isna(volume) else 0),
                "change": (0 if standing["ranked"] and not pd.isna(standing["rank_change"]) else 2,
                           int(standing["rank_change"]) if standing["ranked"] and not pd.isna(standing["rank_change"]) else 0),
            }))
        return rows

    def _best_direction(self, kpi: str) -> str:
        """Best first for a ranked KPI; largest first for a total."""
        definition = self.model.definitions[kpi]
        return "ascending" if is_ranked_kpi(definition) and definition.better == "lower" else "descending"

    def _sorting(self, kpi: str) -> tuple[list[Any], str, dict[str, str], list[str]]:
        """A KPI league's columns, best direction, first direction of each sort column, and the
        columns it can be sorted by."""
        columns = self._kpi_columns(kpi)
        best = self._best_direction(kpi)
        defaults = {"value": best, "service": "ascending", "department": "ascending", "transactions": "descending", "change": "descending"}
        return columns, best, defaults, [k for k in dict.fromkeys(c.key for c in columns) if k]

    def kpi_pages(self, kpi: str) -> list[Page]:
        definition = self.model.definitions[kpi]
        cohort = self.comparison.cohorts[kpi]
        columns, best, defaults, keys = self._sorting(kpi)
        pages = []
        all_rows = partial(self._rows, kpi, partial(self._kpi_rows, kpi))  # made once, ordered per page
        inputs = self._inputs([self.comparison.standing(s.slug, kpi) for s in self.services])
        filterable = self._filterable()
        by_name = sorted(self.config.departments, key=lambda d: d.name)
        for key in keys:
            for direction in DIRECTIONS:
                is_default = key == "value" and direction == best
                path = league_path(kpi) if is_default else league_path(kpi, key, direction)
                page_path = path + "index.html"
                heading = f"{definition.label} league table"
                title = heading if is_default else f"{heading}, by {self._key_words(key, definition.label)}, {self._direction_words(key, direction)}"
                page = Page(page_path, "league_kpi.html", title, section="league",
                            breadcrumbs=[{"text": "Home", "href": href(page_path, "") or "./"}, {"text": "League table", "href": href(page_path, "league/")}])

                def link(column_key: str, column_direction: str, kpi: str = kpi, best: str = best) -> str:
                    if column_key == "value" and column_direction == best:
                        return league_path(kpi)
                    return league_path(kpi, column_key, column_direction)

                page.context = {
                    **self._kpi_context(kpi, page_path),
                    "heading": heading,
                    "sorted_by": None if is_default else f"Sorted by {self._key_words(key, definition.label)}, {self._direction_words(key, direction)}.",
                    "best_first_href": None if is_default else href(page_path, league_path(kpi)),
                    "caption": f"{definition.label}: all {len(self.services)} services" + (f", ranked for {cohort.period}" if cohort.ranked else ""),
                    "numeric": [c.numeric for c in columns],
                    "filters": [{"text": d.name, "href": href(page_path, f"{league_path(kpi)}departments/{d.slug}/")} for d in by_name] if filterable else [],
                    "department": None,
                    "group_filters": [{"text": g.name, "href": href(page_path, group_league_path(g.slug, kpi))} for g in self.peer_groups()],
                    "groups_href": href(page_path, GROUPS_PATH) if self.peer_groups() else None,
                    "category_filters": [{"text": c.name, "href": href(page_path, c.league_path(kpi))} for c in self.categories()],
                    "categories_href": href(page_path, CATEGORIES_PATH) if self.categories() else None,
                    "group": None,
                }
                _defer_table(page, inputs, all_rows, columns, (key, direction), link, defaults)
                pages.append(page)
        for department in self.config.departments if filterable else []:
            page_path = f"{league_path(kpi)}departments/{department.slug}/index.html"
            mine = self._services_of.get(department.slug, [])
            heading = f"{definition.label} league table: {department.name}"
            page = Page(page_path, "league_kpi.html", heading, section="league",
                        breadcrumbs=[{"text": "Home", "href": href(page_path, "")}, {"text": "League table", "href": href(page_path, "league/")},
                                     {"text": definition.label, "href": href(page_path, league_path(kpi))}])
            page.context = {
                **self._kpi_context(kpi, page_path),
                "heading": heading,
                "sorted_by": None,
                "best_first_href": None,
                "caption": f"{definition.label}: the {len(mine)} services of {department.name}, best first; ranks are among all services",
                "numeric": [c.numeric for c in columns],
                "filters": [],
                "department": {"name": department.name, "all_href": href(page_path, league_path(kpi)), "page_href": href(page_path, f"departments/{department.slug}/")},
                "group_filters": [],
                "groups_href": None,
                "category_filters": [],
                "categories_href": None,
                "group": None,
            }
            _defer_table(page, inputs, partial(self._department_rows, kpi, department.slug), columns, None, None, defaults,
                         department=department.slug, order=("value", best))
            pages.append(page)
        return pages

    # --- peer groups of the config and categories ----------------------------------------------

    def peer_groups(self) -> list[PeerGroup]:
        """The config's peer groups with at least two services on this site (found once: every
        service page asks, and finding them reads every service)."""
        return self._peer_groups

    def categories(self) -> list[PeerSet]:
        """The categories with leagues of their own, by name: those of at least two services,
        unless one category holds every service of the site."""
        return self._categories

    def group_pages(self, group: PeerGroup) -> list[Page]:
        """A peer group's league for every KPI in every sort order."""
        return self.peer_pages(PeerSet("group", group.slug, group.slug, group.name, group.description, frozenset(group.services)))

    def peer_pages(self, peers: PeerSet) -> list[Page]:
        """A peer group's or a category's league for every KPI in every sort order: only its
        services, ranked among themselves (same period and rules as the whole league), missing
        values last."""
        members = [s for s in self.services if s.slug in peers.services]
        standing = self.comparison.group_standing if peers.kind == "group" else self.comparison.category_standing
        kind = "peer group" if peers.kind == "group" else "category"
        within = "the group" if peers.kind == "group" else "the category"
        pages = []
        for kpi in self.kpis:
            definition = self.model.definitions[kpi]
            cohort = self.comparison.cohorts[kpi]
            columns, best, defaults, keys = self._sorting(kpi)
            rows = partial(self._rows, (peers.kind, peers.key, kpi), partial(self._kpi_rows, kpi, members, partial(standing, peers.key)))
            inputs = self._inputs([standing(peers.key, s.slug, kpi) for s in members])
            ranked = sum(bool(self.comparison.standing(s.slug, kpi)["ranked"]) for s in members) if is_ranked_kpi(definition) else 0
            base = peers.league_path(kpi)
            heading = f"{definition.label} league table within {peers.within}"
            for key in keys:
                for direction in DIRECTIONS:
                    is_default = key == "value" and direction == best
                    page_path = (base if is_default else f"{base}{key}/{direction}/") + "index.html"
                    title = heading if is_default else f"{heading}, by {self._key_words(key, definition.label)}, {self._direction_words(key, direction)}"
                    page = Page(page_path, "league_kpi.html", title, section="league",
                                breadcrumbs=[{"text": "Home", "href": href(page_path, "")}, {"text": "League table", "href": href(page_path, "league/")},
                                             {"text": self.groups_title(), "href": href(page_path, GROUPS_PATH)}])

                    def link(column_key: str, column_direction: str, base: str = base, best: str = best) -> str:
                        return base if column_key == "value" and column_direction == best else f"{base}{column_key}/{column_direction}/"

                    page.context = {
                        **self._kpi_context(kpi, page_path),
                        "ranked_count": ranked,
                        "heading": heading,
                        "sorted_by": None if is_default else f"Sorted by {self._key_words(key, definition.label)}, {self._direction_words(key, direction)}.",
                        "best_first_href": None if is_default else href(page_path, base),
                        "caption": f"{definition.label}: the {len(members)} services of {peers.within}" + (f", ranked within {within} for {cohort.period}" if ranked else ""),
                        "numeric": [c.numeric for c in columns],
                        "filters": [],
                        "department": None,
                        "group_filters": [],
                        "groups_href": None,
                        "category_filters": [],
                        "categories_href": None,
                        "group": {"name": peers.name, "description": peers.description, "all_href": href(page_path, league_path(kpi)),
                                  "groups_href": href(page_path, GROUPS_PATH if peers.kind == "group" else CATEGORIES_PATH), "size": len(members),
                                  "kind": kind, "within": within, "index_words": "all peer groups" if peers.kind == "group" else "all categories"},
                    }
                    _defer_table(page, inputs, rows, columns, (key, direction), link, defaults)
                    pages.append(page)
        return pages

    def groups_title(self) -> str:
        if self.peer_groups() and self.categories():
            return "Peer groups and categories"
        return "Peer groups" if self.peer_groups() else "Categories of service"

    def groups_page(self) -> Page:
        """The peer groups (what each is, its services, and its league for each KPI) and the
        categories with leagues of their own (their size and leagues)."""
        page_path = GROUPS_PATH + "index.html"
        page = Page(page_path, "groups.html", self.groups_title(), section="league",
                    breadcrumbs=[{"text": "Home", "href": href(page_path, "")}, {"text": "League table", "href": href(page_path, "league/")}])
        page.context = {
            "groups": [{
                "name": group.name,
                "id": f"group-{group.slug}",
                "description": group.description,
                "services": [{"name": s.name, "href": href(page_path, f"services/{s.slug}/")} for s in sorted(self.services, key=lambda s: s.name.lower()) if s.slug in group.services],
                "leagues": [{"text": self.model.definitions[k].label, "href": href(page_path, group_league_path(group.slug, k))} for k in self.kpis],
            } for group in self.peer_groups()],
            "categories": [{
                "name": category.name,
                "id": category.anchor,
                "size": formatters.count(len(category.services)),
                "leagues": [{"text": self.model.definitions[k].label, "href": href(page_path, category.league_path(k))} for k in self.kpis],
            } for category in self.categories()],
            "min_transactions": formatters.count(self.config.site.min_transactions_to_rank),
            "overview_href": href(page_path, "league/"),
        }
        return page

    def _filterable(self) -> bool:
        """A filter by department only when the services come from more than one."""
        return len({s.department for s in self.services}) > 1

    def _kpi_context(self, kpi: str, page_path: str) -> dict[str, Any]:
        definition = self.model.definitions[kpi]
        cohort = self.comparison.cohorts[kpi]
        ranked = is_ranked_kpi(definition)
        return {
            "kpi": definition,
            "ranked_kpi": ranked,
            "cohort_period": cohort.period,
            "ranked_count": cohort.ranked,
            "previous_period": cohort.previous_period,
            "min_transactions": formatters.count(self.config.site.min_transactions_to_rank),
            "min_responses": formatters.count(self.config.site.min_responses),
            "better_words": "lower is better" if definition.better == "lower" else "higher is better" if definition.better == "higher" else "neither higher nor lower is better",
            "satisfaction_method": self.config.site.satisfaction_method,
            "overview_href": href(page_path, "league/"),
            "definitions_href": href(page_path, "definitions/"),
        }

    @staticmethod
    def _key_words(key: str, label: str) -> str:
        return {"value": label.lower(), "service": "service name", "department": "department",
                "transactions": "transactions", "change": "change in rank"}.get(key, key)

    @staticmethod
    def _direction_words(key: str, direction: str) -> str:
        if key in ("service", "department"):
            return "A to Z" if direction == "ascending" else "Z to A"
        if key == "change":
            return "biggest fall first" if direction == "ascending" else "biggest rise first"
        return "smallest first" if direction == "ascending" else "largest first"

    # --- the overview ---------------------------------------------------------------------

    def overview_pages(self) -> list[Page]:
        columns = [Column("Service", "service"), Column("Department", "department")]
        columns += [Column(self.model.definitions[k].label, k, True) for k in LEAGUE_KPIS]
        defaults = {"service": "ascending", "department": "ascending", **{k: self._best_direction(k) for k in LEAGUE_KPIS}}
        defaults["transactions"] = "descending"
        pages = []
        all_rows = self._overview_rows()
        for column in columns:
            assert column.key
            for direction in DIRECTIONS:
                path = league_path(None, column.key, direction)
                page_path = path + "index.html"
                ordered = _sorted_rows(all_rows, column.key, direction)
                is_default = (column.key, direction) == OVERVIEW_DEFAULT
                label = column.label if column.key in LEAGUE_KPIS else self._key_words(column.key, column.label)
                title = "League table" if is_default else f"League table, by {label.lower() if column.key in LEAGUE_KPIS else label}, {self._direction_words(column.key, direction)}"
                page = Page(page_path, "league.html", title, section="league", breadcrumbs=[{"text": "Home", "href": href(page_path, "") or "./"}]
                            + ([] if is_default else [{"text": "League table", "href": href(page_path, "league/")}]))
                page.context = {
                    "heading": "League table",
                    "sorted_by": None if is_default else title.removeprefix("League table, ").capitalize() + ".",
                    "table": _table_html(page_path, columns, ordered, (column.key, direction), lambda k, d: league_path(None, k, d), defaults),
                    "caption": f"All {len(self.services)} services, latest figures",
                    "kpi_leagues": [{"text": self.model.definitions[k].label, "href": href(page_path, league_path(k))} for k in self.kpis],
                    "groups_href": href(page_path, GROUPS_PATH) if self.peer_groups() else None,
                    "categories_href": href(page_path, CATEGORIES_PATH) if self.categories() else None,
                    "min_transactions": formatters.count(self.config.site.min_transactions_to_rank),
                }
                pages.append(page)
        return pages

    def _overview_rows(self) -> list[Row]:
        rows = []
        for service in self.services:
            department = self.model.department(service.department)
            cells = {
                "service": _service_cell(service),
                "department": _cell(department.abbreviation or department.name),
            }
            sort: dict[str, tuple] = {"service": (0, service.name.lower()), "department": (0, ((department.abbreviation or department.name).lower(), service.name.lower()))}
            for kpi in LEAGUE_KPIS:
                definition = self.model.definitions[kpi]
                standing = self.comparison.standing(service.slug, kpi)
                has_value = not pd.isna(standing["value"])
                if has_value:
                    content = _value_html(definition.unit, standing["value"])
                    if standing["ranked"]:
                        content += _note(f"{ordinal(int(standing['rank']))} of {formatters.count(standing['of'])}")
                    elif standing["reason"]:
                        content += _note(standing["reason"])
                    if standing["low_confidence"]:
                        content += _note("Low confidence")
                else:
                    content = _missing(standing["reason"] or "Not provided")
                cells[kpi] = _cell(content, numeric=True)
                current = has_value and (standing["ranked"] or (not is_ranked_kpi(definition) and standing["status"] == "value"))
                sort[kpi] = (0 if current else 1 if has_value else 2, standing["value"] if has_value else 0.0)
            rows.append(Row(service, cells, sort))
        return rows

    # --- service and department pages ---------------------------------------------------

    def service_context(self, service: Service, page_path: str) -> dict[str, Any]:
        """"How this service compares": rank and percentile among all services, among its
        peers and within each peer group of the config it belongs to, for each ranked KPI, the
        rank change, and what to improve first."""
        groups = [g for g in self.peer_groups() if service.slug in g.services]
        category = next((c for c in self.categories() if c.key == service.category), None)
        rows = []
        for kpi in self.comparison.ranked_kpis():
            definition = self.model.definitions[kpi]
            standing = self.comparison.standing(service.slug, kpi)
            link = Markup(f'<a class="govuk-link" href="{escape(href(page_path, league_path(kpi)))}">{escape(definition.label)}</a>')
            if pd.isna(standing["value"]):
                value: Any = {"html": _missing(standing["reason"])}
            else:
                value = {"html": _value_html(definition.unit, standing["value"]) + (_note(f"Low confidence: {formatters.count(standing['responses'])} responses") if standing["low_confidence"] else "")}
            # Satisfaction is ranked with the site's method: a target for the service's own
            # method is shown on its tile, not against a figure worked out another way.
            same_method = kpi != "user_satisfaction" or self.model.method_for(service) == self.comparison.method
            verdict = self._target(service, kpi) if same_method else None
            if verdict is not None:
                value["html"] += _note(verdict.short)
            if standing["ranked"]:
                overall: Any = {"html": Markup("{}{}").format(f"{ordinal(int(standing['rank']))} of {formatters.count(standing['of'])}", _note(percentile_words(standing["percentile"])))}
                if service.category and not pd.isna(standing["peer_of"]) and standing["peer_of"] >= 2:
                    words = f"{ordinal(int(standing['peer_rank']))} of {formatters.count(standing['peer_of'])}"
                    among: Any = Markup('<a class="govuk-link" href="{}">{}</a>').format(href(page_path, category.league_path(kpi)), words) if category else words
                    peer: Any = {"html": Markup("{}{}").format(among, _note(percentile_words(standing["peer_percentile"])))}
                else:
                    peer = {"html": _missing(f"No other {service.category} service ranked" if service.category else "No category set")}
                change = {"text": rank_change_words(standing)}
            else:
                overall = {"html": _missing(standing["reason"] if not pd.isna(standing["value"]) else "Not ranked")}
                peer = {"html": _missing("Not ranked")}
                change = {"html": _missing("Not ranked")}
            within = []
            for group in groups:
                in_group = self.comparison.group_standing(group.slug, service.slug, kpi)
                if not standing["ranked"]:
                    within.append({"html": _missing("Not ranked")})
                elif in_group["of"] >= 2:
                    within.append({"html": Markup('<a class="govuk-link" href="{}">{}</a>{}').format(
                        href(page_path, group_league_path(group.slug, kpi)), f"{ordinal(int(in_group['rank']))} of {formatters.count(in_group['of'])}",
                        _note(percentile_words(in_group["percentile"])))})
                else:
                    within.append({"html": _missing("No other service in the group ranked")})
            rows.append([{"html": link}, value, overall, peer, *within, change])
        peers = f"Among {service.category} services" if service.category else "Among its peers"
        return {
            "summary": improvement_summary(self.comparison, service.slug),
            "table": {"caption": f"How {service.name} compares", "headers": ["KPI", "Latest figure", "Among all services", peers, *[f"Within {g.name}" for g in groups], "Change in rank"],
                      "rows": rows, "numeric_columns": [1]},
            "groups": [{"name": g.name, "href": href(page_path, f"{GROUPS_PATH}#group-{g.slug}")} for g in groups],
            "category_league": category is not None,
            "min_transactions": formatters.count(self.config.site.min_transactions_to_rank),
        }

    def _target(self, service: Service, kpi: str) -> targets.Verdict | None:
        method = self.model.method_for(service) if kpi == "user_satisfaction" else ""
        return self.model.target_verdict(service, kpi, self.model.headline(service.slug, "", kpi, method))

    def _targets_met(self, service: Service) -> Any:
        met = targets.targets_met(v for v in (self._target(service, kpi) for kpi in service.targets) if v is not None)
        return met if met is not None else {"html": _missing("No targets set" if not service.targets else "No target to meet")}

    def department_context(self, department: str, page_path: str) -> dict[str, Any]:
        """The service-standard readiness table (with the targets met, when any service of the
        department sets targets) and the best and worst movers."""
        services = sorted(self._services_of.get(department, []), key=lambda s: s.name.lower())
        with_targets = any(s.targets for s in services)
        readiness_rows, ready = [], 0
        for service in services:
            link = {"html": Markup('<a class="govuk-link" href="{}">{}</a>').format(href(page_path, f"services/{service.slug}/"), service.name)}
            cells: list[Any] = []
            publishes_all, current = True, True
            for kpi in READINESS_KPIS:
                standing = self.comparison.standing(service.slug, kpi)
                if standing["status"] == "not_applicable":
                    cells.append({"html": _missing("Not applicable")})
                elif pd.isna(standing["value"]):
                    cells.append({"html": _missing("No")})
                    publishes_all = False
                elif standing["status"] == "stale":
                    cells.append({"html": Markup("Yes{}").format(_note(f"out of date: {standing['period']}"))})
                    current = False
                else:
                    cells.append("Yes")
            meets = publishes_all and current
            ready += meets
            verdict = "Yes" if meets else ("No: out of date" if publishes_all else "No: KPIs missing" if current else "No: KPIs missing, out of date")
            readiness_rows.append([link, *cells, verdict] + ([self._targets_met(service)] if with_targets else []))
        movers = []
        for service in services:
            for kpi in self.comparison.ranked_kpis():
                standing = self.comparison.standing(service.slug, kpi)
                if standing["ranked"] and not pd.isna(standing["rank_change"]) and standing["rank_change"] != 0:
                    movers.append((int(standing["rank_change"]), service, kpi, standing))

        def mover_rows(chosen: list[tuple]) -> list[list[Any]]:
            return [[{"html": Markup('<a class="govuk-link" href="{}">{}</a>').format(href(page_path, f"services/{s.slug}/"), s.name)},
                     self.model.definitions[k].label, rank_change_words(st), f"{ordinal(int(st['rank']))} of {formatters.count(st['of'])}"] for _, s, k, st in chosen]

        risers = sorted((m for m in movers if m[0] > 0), key=lambda m: (-m[0], m[1].name.lower(), m[2]))[:5]
        fallers = sorted((m for m in movers if m[0] < 0), key=lambda m: (m[0], m[1].name.lower(), m[2]))[:5]
        headers = ["Service", "KPI", "Change in rank", "Rank now"]
        return {
            "readiness": {"caption": "Service standard readiness: the four mandatory KPIs", "headers": ["Service", *[self.model.definitions[k].label for k in READINESS_KPIS], "Publishes all four, up to date"] + (["Targets met"] if with_targets else []),
                          "rows": readiness_rows},
            "ready_count": ready,
            "service_count": len(services),
            "risers": {"caption": "Biggest rises in rank since a year earlier", "headers": headers, "rows": mover_rows(risers)} if risers else None,
            "fallers": {"caption": "Biggest falls in rank since a year earlier", "headers": headers, "rows": mover_rows(fallers)} if fallers else None,
        }


def league_pages(leagues: Leagues) -> list[Page]:
    pages = leagues.overview_pages()
    for kpi in leagues.kpis:
        pages += leagues.kpi_pages(kpi)
    if leagues.peer_groups() or leagues.categories():
        pages.append(leagues.groups_page())
    for group in leagues.peer_groups():
        pages += leagues.group_pages(group)
    for category in leagues.categories():
        pages += leagues.peer_pages(category)
    return pages
