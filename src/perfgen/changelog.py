"""Corrections to published figures: the site's public changelog.

A correction is a figure the previously published site showed for a service and period that this
build changes (a revised month, a corrected cost) or no longer publishes. Corrections are never
silent: each build compares its figures with the previously published ones (``diff.py`` is the
engine), adds what changed to the history it carries forward, and publishes the whole history as
``changelog/index.html``, ``changelog/corrections.csv``, on each service's page and in the feeds.

What a build keeps to compare with next time is in the site itself: ``data/kpis.csv`` (every
published value), ``changelog/corrections.csv`` (the history) and ``_build/figures.json`` (each
service's figures hashed, so that the next build reads and compares only the services whose
figures changed, from their ``data/services/<slug>.csv``). The previously published site
is, by default, the output folder of the build (``site/``); ``--previous`` names another folder or
the public address of the live site (the nightly workflow uses the live site, so history survives
fresh CI machines). Nothing published there yet (no folder, or HTTP 404) starts a new history;
any other failure to read it stops the build, so history is never lost silently.

Dates: a correction is dated with the build date, ``--today`` (or ``PERFGEN_TODAY``), which the
workflows pass explicitly. Without one, the clock's date is used **and the build says so**. The
date only matters when there are new corrections; a build with none is byte-identical whatever
the day, and earlier entries keep their dates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from perfgen import opendata
from perfgen.config import Config
from perfgen.diff import (
    KEY,
    KPIS_FILE,
    STATUS_WORDS,
    format_unit,
    period_text,
    read_kpis,
    read_site_file,
    site_address,
    site_file,
    value_changes,
)
from perfgen.errors import PerfgenError, Problem
from perfgen.kpis import row_hashes

CORRECTIONS_FILE = "changelog/corrections.csv"
COLUMNS = ["date", "service", "service_name", "department", "kpi", "method", "period_start", "period_end",
           "old_value", "new_value", "old_status", "new_status"]


class PreviousSiteError(PerfgenError):
    kind = "previously published site"


@dataclass
class Published:
    """What the previously published site said: its figures and its corrections so far.

    ``kpis`` holds every service's figures, or, when the site recorded what its figures were
    (``FIGURES_FILE``), those of the services whose figures this build changes (``compared``)."""

    source: str
    kpis: pd.DataFrame
    corrections: list[dict[str, str]] = field(default_factory=list)
    compared: set[str] | None = None  # the services in kpis; None: every service published


#: Each service's figures, hashed (``figure_digests``), with how they were hashed
#: (``figures_scheme``): the next build reads the published figures of only the services whose
#: digest differs from its own.
FIGURES_FILE = "_build/figures.json"
_COMPARED_COLUMNS = KEY + ["value", "status", "period_kind"]


def figures_scheme() -> str:
    """How ``figure_digests`` hashes a service's figures: the columns, the row hash
    (``kpis.row_hashes``, pandas' hash of each column) and the libraries that compute it. Two
    builds with the same scheme and the same digest for a service hold the same figures for it,
    whatever else their code does: a perfgen upgrade compares only the services whose figures it
    changes, as any build does. Published with another scheme (or none: a site from before it
    was recorded), every figure is compared. The number goes up whenever ``figure_digests`` or
    ``row_hashes`` hash differently."""
    return f"figure digests 1: row hashes of {', '.join(_COMPARED_COLUMNS)}|pandas {pd.__version__}|numpy {np.__version__}"


def figure_digests(values: pd.DataFrame, config: Config) -> dict[str, str]:
    """Per service of the config, the SHA-256 of its period rows as ``value_changes`` compares
    them (each row hashed from its values: ``kpis.row_hashes``), or of nothing when it has none."""
    compared = ((values["service"] != "") & (values["basis"] == "period")).to_numpy()
    hashes = row_hashes(values, _COMPARED_COLUMNS)[compared]
    services = values["service"][compared]
    by_service = services.groupby(services, sort=False, observed=True).indices if len(services) else {}
    none = np.array([], dtype=np.int64)
    return {s.slug: hashlib.sha256(hashes[by_service.get(s.slug, none)].tobytes()).hexdigest() for s in config.services}


def figures_json(digests: dict[str, str]) -> str:
    return json.dumps({"scheme": figures_scheme(), "services": dict(sorted(digests.items()))}, indent=1) + "\n"


_READ_HINT = "check the address and the network; the build stops rather than lose the history of corrections"


def _read(location: str | Path, relative: str) -> str | None:
    return read_site_file(location, relative, PreviousSiteError, hint=_READ_HINT)


def read_published(location: str | Path | None, digests: dict[str, str] | None = None) -> Published | None:
    """The previously published site at a folder or web address; None when nothing is there.

    With this build's ``digests`` (:func:`figure_digests`): if the site recorded its own,
    hashed the same way (:func:`figures_scheme`), only the figures of services whose digest
    differs are read (their ``data/services/<slug>.csv``), not the whole ``data/kpis.csv``
    (3.3 GB in memory at 10,000 services); a service whose figures are the very same has
    nothing to correct."""
    if location is None:
        return None
    published = _changed_services(location, digests) if digests is not None else None
    if published is None:
        with site_file(location, KPIS_FILE, PreviousSiteError, hint=_READ_HINT) as kpis:
            if kpis is None:
                return None
            # Only the columns the comparison reads (value_changes), all but the values as
            # categories: a tenth of the memory that text in every cell took.
            published = Published(str(location), read_kpis(kpis, site_address(location, KPIS_FILE), _COMPARED_COLUMNS,
                                                            categories=[column for column in _COMPARED_COLUMNS if column != "value"]))
    history = _read(location, CORRECTIONS_FILE)
    if history:
        rows = list(csv.DictReader(io.StringIO(history)))
        if rows and set(COLUMNS) - set(rows[0]):
            raise PreviousSiteError([Problem(f"{location}/{CORRECTIONS_FILE}", 1, "", "not a perfgen corrections file: columns differ")])
        published.corrections = [{c: row[c] for c in COLUMNS} for row in rows]
    return published


def _changed_services(location: str | Path, digests: dict[str, str]) -> Published | None:
    """The published figures of the services whose digest changed, or None when the site did
    not record its digests hashed as this build hashes them (or a service's file is missing):
    then every figure is compared."""
    text = _read(location, FIGURES_FILE)
    try:
        recorded = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(recorded, dict) or recorded.get("scheme") != figures_scheme() or not isinstance(recorded.get("services"), dict):
        return None
    before = recorded["services"]
    changed = sorted(slug for slug, digest in before.items() if slug in digests and digests[slug] != digest)
    frames = []
    for slug in changed:
        relative = opendata.service_paths(slug)["csv"]
        rows = _read(location, relative)
        if rows is None:
            return None
        frames.append(read_kpis(rows, site_address(location, relative), _COMPARED_COLUMNS))
    kpis = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({column: pd.Series(dtype=str) for column in _COMPARED_COLUMNS})
    return Published(str(location), kpis, compared=set(changed))


@dataclass
class Changelog:
    """Every correction so far (newest first), and what this build added."""

    entries: list[dict[str, str]]
    new: int = 0
    dated: date | None = None
    dated_by_clock: bool = False
    compared_with: str | None = None


def _number_text(value: Any) -> str:
    """A value as ``kpis.csv`` writes it."""
    number = opendata.number(value)
    return "" if number is None else (str(number) if isinstance(number, int) else format(number, ".12g"))


def published_rows(values: pd.DataFrame) -> pd.DataFrame:
    """This build's service figures for periods, as text the way ``kpis.csv`` has them (without
    writing the whole file a second time: it is large for a large site)."""
    rows = values[(values["service"] != "") & (values["basis"] == "period")]
    # Categories of text, as the published figures are read (a code per row, not a string).
    frame = pd.DataFrame({column: _categories(rows[column]) for column in ("service", "department", "kpi", "method", "basis", "period_kind", "status")})
    frame["period_start"] = _texts(rows["period_start"], _date_text, categories=True)
    frame["period_end"] = _texts(rows["period_end"], _date_text, categories=True)
    frame["value"] = _texts(rows["value"], _number_text)
    return frame


def _categories(column: pd.Series) -> pd.Categorical:
    """Text as categories, missing cells as "" (as ``kpis.csv`` has them)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Categorical(column.astype(object).fillna("").astype(str))
    if column.isna().any() and "" not in column.cat.categories:
        column = column.cat.add_categories([""])
    return column.fillna("").array


def _date_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else ""


def _texts(column: pd.Series, text: Any, categories: bool = False) -> list[str] | pd.Categorical:
    """``[text(v) for v in column]``, converting each distinct value once (a large site has a
    million figures but only a few hundred distinct periods); missing values are "". With
    ``categories``, as categories of those texts."""
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    texts = np.array([text(value) for value in distinct] + [""], dtype=object)
    if categories:
        text_codes, unique = pd.factorize(texts)  # two values may have the same text
        return pd.Categorical.from_codes(text_codes[codes], categories=unique)
    return texts[codes].tolist()


def record(published: Published | None, values: pd.DataFrame, config: Config, today: date | None) -> Changelog:
    """Compare this build's figures with the published ones; return the updated history."""
    if published is None:
        return Changelog([])
    names = {s.slug: s.name for s in config.services}
    if published.compared is None:
        current = published_rows(values)
        kept = set(published.kpis.loc[published.kpis["service"] != "", "service"]) & set(names)
    else:  # only the services whose figures changed: the others have nothing to correct
        kept = published.compared & set(names)
        current = published_rows(values[values["service"].isin(kept)])
    corrections, _ = value_changes(published.kpis, current, kept)
    history = Changelog(list(published.corrections), compared_with=published.source)
    if corrections:
        history.dated = today or date.today()
        history.dated_by_clock = today is None
        history.new = len(corrections)
        for change in corrections:
            history.entries.append({
                "date": history.dated.isoformat(), "service": change.service, "service_name": names[change.service],
                "department": change.department, "kpi": change.kpi, "method": change.method,
                "period_start": change.period_start, "period_end": change.period_end,
                "old_value": change.old_value, "new_value": change.new_value,
                "old_status": change.old_status, "new_status": change.new_status,
            })
    history.entries.sort(key=lambda e: (e["service"], e["kpi"], e["method"], e["period_start"], e["period_end"]))
    history.entries.sort(key=lambda e: e["date"], reverse=True)  # stable: newest first, then by service
    return history


def corrections_csv(history: Changelog) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history.entries)
    return buffer.getvalue()


# --- pages ----------------------------------------------------------------------------------

def date_words(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%B %Y}"


def figure_words(entry: dict[str, str], definitions: dict[str, Any]) -> str:
    definition = definitions.get(entry["kpi"])
    label = definition.label if definition else entry["kpi"].replace("_", " ").capitalize()
    method = {"mean_score": "mean score", "top_two_box": "top-two-box"}.get(entry["method"], entry["method"])
    return f"{label} ({method})" if method else label


def value_words(entry: dict[str, str], which: str, definitions: dict[str, Any]) -> str:
    status, text = entry[f"{which}_status"], entry[f"{which}_value"]
    if status != "value" or text == "":
        return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())
    definition = definitions.get(entry["kpi"])
    return format_unit(definition.unit if definition else "count", float(text))


def _rows(entries: list[dict[str, str]], definitions: dict[str, Any], service_cell: Any = None) -> list[list[Any]]:
    rows = []
    for entry in entries:
        cells: list[Any] = [service_cell(entry)] if service_cell else [date_words(entry["date"])]
        cells += [figure_words(entry, definitions), period_text(entry["period_start"], entry["period_end"]),
                  value_words(entry, "old", definitions), value_words(entry, "new", definitions)]
        rows.append(cells)
    return rows


def add_pages(pages: list[Any], history: Changelog, config: Config, definitions: list[Any]) -> None:
    """Give every service page its corrections and add the changelog page itself."""
    from perfgen.render import Page, href

    by_id = {d.id: d for d in definitions}
    by_service: dict[str, list[dict[str, str]]] = {}  # one pass: a page per service must not scan them all
    for entry in history.entries:
        by_service.setdefault(entry["service"], []).append(entry)
    for page in pages:
        service = page.context.get("service") if page.template == "service.html" else None
        if service is None:
            continue
        mine = by_service.get(service.slug, [])
        page.context["corrections"] = {
            "caption": f"Corrections to published figures for {service.name}",
            "headers": ["Date", "Figure", "Period", "Published before", "Corrected to"],
            "rows": _rows(mine, by_id),
        } if mine else None
    services = {s.slug for s in config.services}
    page = Page("changelog/index.html", "changelog.html", "Corrections to published figures",
                breadcrumbs=[{"text": "Home", "href": "../"}])

    def service_cell(entry: dict[str, str]) -> Any:
        if entry["service"] in services:
            return {"html": Markup('<a class="govuk-link" href="{}">{}</a>').format(href(page.path, f"services/{entry['service']}/"), entry["service_name"])}
        return f"{entry['service_name']} (no longer listed)"

    groups: dict[str, list[dict[str, str]]] = {}
    for entry in history.entries:
        groups.setdefault(entry["date"], []).append(entry)
    page.context = {
        "groups": [{"date": date_words(day), "id": f"corrections-{day}", "table": {
            "caption": f"Corrected on {date_words(day)}: {len(entries)} {'figure' if len(entries) == 1 else 'figures'}",
            "headers": ["Service", "Figure", "Period", "Published before", "Corrected to"],
            "rows": _rows(entries, by_id, service_cell)}} for day, entries in groups.items()],
        "total": len(history.entries),
        "csv_href": "corrections.csv",
    }
    pages.append(page)


def files(history: Changelog) -> list[tuple[str, str]]:
    return [(CORRECTIONS_FILE, corrections_csv(history))]
