"""Atom feeds of new figures and corrections, and ``sitemap.xml``.

In: the config, KPI results, the paths of the pages, the changelog and the site's public address
(``site.base_url`` or ``perfgen build --base-url``). Out: ``feed.xml`` (the whole site),
``services/<slug>/feed.xml`` (one service) and ``sitemap.xml``.

Feeds and sitemaps need absolute addresses, so they are written only when the address is known.
Pages link to everything relatively and work under any path (a GitHub Pages project site is
served under ``/<repository>/``); the address only fills in these files.

An entry announces the figures a service supplied for one period (a month, a quarter, a year),
dated by the end of that period, or the corrections published on one day, dated that day. Dates
come from the data and the changelog, never the clock, so the files are reproducible.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date
from typing import Any

import pandas as pd

from perfgen.changelog import Changelog, figure_words, value_words
from perfgen.config import Config
from perfgen.diff import SUMMED_KIND
from perfgen.periods import period_words

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
SITE_FEED = "feed.xml"
SERVICE_ENTRIES = 24  # newest entries in a service's feed
SITE_ENTRIES = 60  # newest entries in the site's feed
#: KPIs summarised in an entry, in this order (others a plugin adds follow).
ENTRY_KPIS = ("transactions", "cost_per_transaction", "digital_take_up", "completion_rate", "user_satisfaction")


def service_feed_path(slug: str) -> str:
    return f"services/{slug}/feed.xml"


def _timestamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def page_address(base_url: str, path: str) -> str:
    """The public address of a page written at ``path`` ("services/x/index.html" -> ".../services/x/")."""
    if path == "index.html":
        return base_url
    return base_url + (path[: -len("index.html")] if path.endswith("/index.html") else path)


def sitemap_xml(base_url: str, page_paths: list[str]) -> str:
    urlset = ET.Element("urlset", xmlns=SITEMAP)
    for address in sorted(page_address(base_url, p) for p in page_paths if p.endswith(".html")):  # the home page first
        ET.SubElement(ET.SubElement(urlset, "url"), "loc").text = address
    return _xml(urlset)


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


class _Entry:
    def __init__(self, service: str, updated: date, entry_id: str, title: str, link: str, summary: str):
        self.service, self.updated, self.id, self.title, self.link, self.summary = service, updated, entry_id, title, link, summary

    def sort_key(self) -> tuple:
        return (self.updated, self.id)


def _figure_entries(config: Config, results: Any, base_url: str) -> list[_Entry]:
    """One entry per service and period it supplied figures for, with the values in words."""
    from perfgen.render import format_value

    values = results.values
    rows = values[(values["service"] != "") & (values["basis"] == "period") & (values["status"] == "value")
                  & (values["period_kind"] != SUMMED_KIND)]
    definitions = {d.id: d for d in results.definitions}
    order = [k for k in ENTRY_KPIS if k in definitions] + sorted(k for k in definitions if k not in ENTRY_KPIS)
    methods = {s.slug: config.satisfaction_method_for(s) for s in config.services}
    names = {s.slug: s.name for s in config.services}
    grouped: dict[tuple[str, date, date], dict[str, float]] = defaultdict(dict)
    for row in rows[["service", "period_start", "period_end", "kpi", "method", "value"]].itertuples(index=False):
        if row.method and row.method != methods.get(row.service):
            continue
        grouped[(row.service, row.period_start, row.period_end)][row.kpi] = row.value
    entries = []
    for (service, start, end), found in grouped.items():
        words = period_words(start, end)
        parts = [f"{definitions[k].label}: {format_value(definitions[k].unit, found[k])}" for k in order if k in found and not pd.isna(found[k])]
        link = f"{base_url}services/{service}/"
        entries.append(_Entry(service, end, f"{link}#figures-{start.isoformat()}-{end.isoformat()}",
                              f"{names[service]}: figures for {words}", link,
                              f"New figures for {words}. " + "; ".join(parts) + "."))
    return entries


def _correction_entries(config: Config, history: Changelog, definitions: dict[str, Any], base_url: str) -> list[_Entry]:
    """One entry per service and day of corrections."""
    names = {s.slug: s.name for s in config.services}
    grouped: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for entry in history.entries:
        if entry["service"] in names:
            grouped[(entry["service"], entry["date"])].append(entry)
    entries = []
    for (service, day), items in grouped.items():
        parts = [f"{figure_words(e, definitions)}, {period_words(date.fromisoformat(e['period_start']), date.fromisoformat(e['period_end']))}: "
                 f"{value_words(e, 'old', definitions)} corrected to {value_words(e, 'new', definitions)}" for e in items]
        count = f"{len(items)} {'figure' if len(items) == 1 else 'figures'}"
        entries.append(_Entry(service, date.fromisoformat(day), f"{base_url}changelog/#corrections-{day}-{service}",
                              f"{names[service]}: {count} corrected", f"{base_url}changelog/#corrections-{day}",
                              "; ".join(parts) + "."))
    return entries


def _feed(title: str, feed_url: str, page_url: str, author: str, entries: list[_Entry], licence: str) -> str:
    feed = ET.Element("feed", xmlns=ATOM)
    ET.SubElement(feed, "title").text = title
    ET.SubElement(feed, "id").text = feed_url
    ET.SubElement(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href=page_url)
    newest = max((e.updated for e in entries), default=date(2000, 1, 1))
    ET.SubElement(feed, "updated").text = _timestamp(newest)
    ET.SubElement(ET.SubElement(feed, "author"), "name").text = author
    if licence:
        ET.SubElement(feed, "rights").text = licence
    ET.SubElement(feed, "generator").text = "perfgen"
    for entry in entries:
        element = ET.SubElement(feed, "entry")
        ET.SubElement(element, "title").text = entry.title
        ET.SubElement(element, "id").text = entry.id
        ET.SubElement(element, "link", rel="alternate", type="text/html", href=entry.link)
        ET.SubElement(element, "updated").text = _timestamp(entry.updated)
        ET.SubElement(element, "summary", type="text").text = entry.summary
    return _xml(feed)


def files(config: Config, results: Any, page_paths: list[str], history: Changelog, base_url: str | None) -> list[tuple[str, str]]:
    """``sitemap.xml`` and the feeds; nothing when the site's address is unknown."""
    if base_url is None:
        return []
    definitions = {d.id: d for d in results.definitions}
    entries = _figure_entries(config, results, base_url) + _correction_entries(config, history, definitions, base_url)
    entries.sort(key=_Entry.sort_key, reverse=True)
    by_service: dict[str, list[_Entry]] = defaultdict(list)
    for entry in entries:
        by_service[entry.service].append(entry)
    title, licence = config.site.title, config.site.licence
    written = [("sitemap.xml", sitemap_xml(base_url, page_paths)),
               (SITE_FEED, _feed(f"{title}: new figures and corrections", base_url + SITE_FEED, base_url, title, entries[:SITE_ENTRIES], licence))]
    for service in config.services:
        page = f"{base_url}services/{service.slug}/"
        written.append((service_feed_path(service.slug), _feed(f"{service.name}: new figures and corrections", page + "feed.xml", page, title,
                                                               by_service.get(service.slug, [])[:SERVICE_ENTRIES], licence)))
    return written
