"""What changed between two built sites: ``perfgen diff OLD NEW``.

In: two site folders, each with ``data/kpis.csv`` (every published value) and, from builds with
them, ``_build/manifest.json`` (inputs, warnings by code), ``_build/services.csv`` (names) and
``_build/warnings.csv`` (every warning). Out: a :class:`SiteDiff` and a readable report, as
plain text for a terminal or Markdown for a pull request's job summary.

The same comparison is the engine of the public changelog (``changelog.py``): a *correction* is a
figure a service published for a period that now has another value, or is no longer published.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import tempfile
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from perfgen import formatters
from perfgen.errors import PerfgenError, Problem, Warnings
from perfgen.periods import period_words

KEY = ["service", "department", "kpi", "method", "basis", "period_start", "period_end"]
#: A service's figure is the same figure when the service moves department.
SERVICE_KEY = ["service", "kpi", "method", "basis", "period_start", "period_end"]
#: Periods summed by perfgen from a service's months or quarters. They change with every
#: corrected month, so corrections list the supplied periods and count these.
SUMMED_KIND = "rolling_12_months"
SERVICES_FILE = "_build/services.csv"
WARNINGS_FILE = "_build/warnings.csv"
MANIFEST_FILE = "_build/manifest.json"
KPIS_FILE = "data/kpis.csv"
STATUS_WORDS = {"not_provided": "Not provided", "not_applicable": "Not applicable", "invalid": "Not provided (invalid)",
                "stale": "Out of date", "removed": "No longer published", "": "Not provided"}
METHOD_WORDS = {"mean_score": "mean score", "top_two_box": "top-two-box"}


class DiffError(PerfgenError):
    kind = "sites compared"


# --- what a build keeps for later comparison ------------------------------------------------

def services_csv(config: Any) -> str:
    """Names of the services and departments of a build, so a report can say them in words."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["kind", "slug", "name", "department"])
    for department in config.departments:
        writer.writerow(["department", department.slug, department.name, ""])
    for service in config.services:
        writer.writerow(["service", service.slug, service.name, service.department])
    return buffer.getvalue()


def warnings_csv(warnings: Warnings) -> str:
    """Every warning of a build, one per line, so a later build can say which are new."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", "file", "line", "where", "message"])
    for problem in warnings.sorted():
        writer.writerow([problem.code, problem.file, "" if problem.line is None else problem.line, problem.where, problem.message])
    return buffer.getvalue()


# --- reading a built site -------------------------------------------------------------------

@dataclass
class Snapshot:
    """The parts of a built site a comparison needs."""

    label: str
    kpis: pd.DataFrame  # data/kpis.csv, every cell as text
    manifest: dict[str, Any] | None = None
    names: dict[tuple[str, str], str] = field(default_factory=dict)  # ("service", slug) -> name
    service_departments: dict[str, str] = field(default_factory=dict)
    warnings: pd.DataFrame | None = None  # _build/warnings.csv

    def services(self) -> set[str]:
        listed = {slug for kind, slug in self.names if kind == "service"}
        return listed | set(self.kpis.loc[self.kpis["service"] != "", "service"])

    def departments(self) -> set[str]:
        listed = {slug for kind, slug in self.names if kind == "department"}
        return listed | set(self.kpis.loc[self.kpis["department"] != "", "department"])

    def warning_counts(self) -> dict[str, int] | None:
        if self.warnings is not None:
            return {str(k): int(v) for k, v in self.warnings.groupby("code").size().items()}
        if self.manifest and isinstance(self.manifest.get("warnings"), dict):
            return {str(k): int(v) for k, v in self.manifest["warnings"].items()}
        return None


def read_kpis(source: str | Path, label: str, columns: list[str] | None = None, categories: Iterable[str] = ()) -> pd.DataFrame:
    """``kpis.csv`` (its text, or its file) as text columns; only ``columns`` (those present)
    when given. A large site's is read from its file: as text in ``io.StringIO`` (four bytes a
    character) it took six times the file's size, on top of the frame. ``categories``: columns
    of few distinct values kept as categories of their text (a code per row, not a string)."""
    wanted = set(columns) if columns is not None else None
    types: defaultdict[str, Any] = defaultdict(lambda: str, {column: "category" for column in categories})
    frame = pd.read_csv(source if isinstance(source, Path) else io.StringIO(source), dtype=types, keep_default_na=False, encoding="utf-8",
                        usecols=(lambda c: c in wanted) if wanted is not None else None)
    missing = [c for c in KEY + ["value", "status", "period_kind"] if c not in frame.columns]
    if missing:
        raise DiffError([Problem(label, 1, "", f"not a perfgen kpis.csv: no column {', '.join(repr(c) for c in missing)}")])
    return frame


def read_services(text: str) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    names, departments = {}, {}
    for row in csv.DictReader(io.StringIO(text)):
        names[(row["kind"], row["slug"])] = row["name"]
        if row["kind"] == "service":
            departments[row["slug"]] = row["department"]
    return names, departments


FETCH_TIMEOUT = 30  # seconds per file when a site is read from its web address


def is_url(location: str | Path) -> bool:
    return str(location).startswith(("http://", "https://"))


def site_address(location: str | Path, relative: str) -> str:
    """A file of a built site as a path or web address: ``location`` and ``relative`` joined by one '/'."""
    return (str(location) if str(location).endswith("/") else str(location) + "/") + relative


def read_site_file(location: str | Path, relative: str, error: type[PerfgenError] = DiffError, hint: str = "") -> str | None:
    """A file of a built site, from a folder or a web address; None when it is not there
    (missing file, HTTP 404). Any other failure raises ``error``."""
    if not is_url(location):
        path = Path(location) / relative
        return path.read_text(encoding="utf-8") if path.is_file() else None
    received = io.BytesIO()
    return received.getvalue().decode("utf-8") if _download(site_address(location, relative), received, error, hint) else None


@contextmanager
def site_file(location: str | Path, relative: str, error: type[PerfgenError] = DiffError, hint: str = "") -> Iterator[Path | None]:
    """A file of a built site as a file on this machine: the file itself in a folder, a
    temporary copy of a web address's (written as it arrives, removed afterwards); None when it
    is not there. For files too large to hold as text (``data/kpis.csv``)."""
    if not is_url(location):
        path = Path(location) / relative
        yield path if path.is_file() else None
        return
    with tempfile.TemporaryDirectory(prefix="perfgen-site-") as folder:
        copy = Path(folder) / Path(relative).name
        with copy.open("wb") as received:
            found = _download(site_address(location, relative), received, error, hint)
        yield copy if found else None


def _download(url: str, into: BinaryIO, error: type[PerfgenError], hint: str) -> bool:
    """Write what ``url`` serves into ``into``; False for HTTP 404, ``error`` for any other failure."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "perfgen"}), timeout=FETCH_TIMEOUT) as response:
            shutil.copyfileobj(response, into)
            return True
    except urllib.error.HTTPError as failure:
        if failure.code == 404:
            return False
        reason = f"HTTP {failure.code} {failure.reason}"
    except (urllib.error.URLError, TimeoutError, OSError) as failure:
        reason = str(getattr(failure, "reason", failure))
    raise error([Problem(url, None, "", f"cannot read it: {reason}", hint=hint)])


def load_site(location: str | Path) -> Snapshot:
    """A built site (folder or web address); raises :class:`DiffError` when it is not one."""
    label = str(location)
    if not is_url(location) and not Path(location).is_dir():
        raise DiffError([Problem(label, None, "", "no such folder", hint="give two folders (or addresses) of sites built by perfgen")])
    with site_file(location, KPIS_FILE) as kpis:
        if kpis is None:
            raise DiffError([Problem(label, None, "", f"not a site built by perfgen: {KPIS_FILE} is missing", hint="give two folders (or addresses) of sites built by perfgen")])
        snapshot = Snapshot(label, read_kpis(kpis, f"{label.rstrip('/')}/{KPIS_FILE}"))
    manifest = read_site_file(location, MANIFEST_FILE)
    if manifest:
        snapshot.manifest = json.loads(manifest)
    services = read_site_file(location, SERVICES_FILE)
    if services:
        snapshot.names, snapshot.service_departments = read_services(services)
    warnings = read_site_file(location, WARNINGS_FILE)
    if warnings:
        snapshot.warnings = pd.read_csv(io.StringIO(warnings), dtype=str, keep_default_na=False)
    if not snapshot.service_departments:
        rows = snapshot.kpis[snapshot.kpis["service"] != ""]
        snapshot.service_departments = dict(zip(rows["service"], rows["department"]))
    return snapshot


# --- comparing ------------------------------------------------------------------------------

def _number(text: str) -> float | None:
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def same_number(old: str, new: str) -> bool:
    a, b = _number(old), _number(new)
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@dataclass(frozen=True)
class ValueChange:
    """One published value, before and after. ``new_status`` is ``removed`` when it is gone."""

    service: str
    department: str
    kpi: str
    method: str
    basis: str
    period_kind: str
    period_start: str
    period_end: str
    old_value: str
    new_value: str
    old_status: str
    new_status: str
    old_period: tuple[str, str] | None = None  # headline changes: the period shown before

    @property
    def period(self) -> str:
        return period_text(self.period_start, self.period_end)

    def sort_key(self) -> tuple:
        return (self.department, self.service, self.kpi, self.method, self.period_start, self.period_end)


@dataclass(frozen=True)
class NewPeriod:
    service: str
    department: str
    period_start: str
    period_end: str


@dataclass
class SiteDiff:
    old: Snapshot
    new: Snapshot
    services_added: list[str] = field(default_factory=list)
    services_removed: list[str] = field(default_factory=list)
    departments_added: list[str] = field(default_factory=list)
    departments_removed: list[str] = field(default_factory=list)
    corrections: list[ValueChange] = field(default_factory=list)  # supplied periods of services
    summed_changes: int = 0  # rolling 12-month figures that changed with the corrections
    headlines: list[ValueChange] = field(default_factory=list)  # what pages show first
    new_periods: list[NewPeriod] = field(default_factory=list)
    aggregate_changes: dict[str, int] = field(default_factory=dict)  # department ("" = government) -> values changed
    warnings_before: dict[str, int] | None = None
    warnings_after: dict[str, int] | None = None
    new_warnings: list[dict[str, str]] = field(default_factory=list)
    resolved_warnings: list[dict[str, str]] = field(default_factory=list)
    inputs: list[tuple[str, str, int | None, int | None]] = field(default_factory=list)  # path, added|removed|changed, rows before, after

    @property
    def changed(self) -> bool:
        return bool(self.services_added or self.services_removed or self.departments_added or self.departments_removed
                     or self.corrections or self.headlines or self.new_periods or self.aggregate_changes or self.summed_changes
                     or self.new_warnings or self.resolved_warnings or self.inputs
                     or (self.warnings_before is not None and self.warnings_after is not None and self.warnings_before != self.warnings_after))


def period_text(start: str, end: str) -> str:
    if not start or not end:
        return "no period"
    from datetime import date

    return period_words(date.fromisoformat(start), date.fromisoformat(end))


def _indexed(frame: pd.DataFrame, key: list[str] = KEY) -> dict[tuple, dict[str, str]]:
    return {tuple(row[c] for c in key): row for row in frame.to_dict("records")}


def _changed_rows(old: pd.DataFrame, new: pd.DataFrame, key: list[str]) -> tuple[dict[tuple, dict[str, str]], dict[tuple, dict[str, str]]]:
    """``_indexed`` of both frames, without the rows whose status and value text are the same
    in both (they cannot differ). One vectorised merge instead of a dict per row: a large
    site has a million figures and a rebuild usually changes a handful."""
    if len(old) == len(new) and all(np.array_equal(old[c].to_numpy(dtype=object), new[c].to_numpy(dtype=object)) for c in key):
        # The usual rebuild: the same figures in the same order. Compare row by row, no join.
        differs = (old["status"].to_numpy(dtype=object) != new["status"].to_numpy(dtype=object)) | \
                  (old["value"].to_numpy(dtype=object) != new["value"].to_numpy(dtype=object))
        flagged = old.iloc[np.flatnonzero(differs)]
        keys = set(zip(*(flagged[c].tolist() for c in key)))

        def rows_of(frame: pd.DataFrame) -> dict[tuple, dict[str, str]]:
            # Every row of a flagged key (of a duplicated key, the last wins, as below).
            near = frame[frame[key[0]].isin(flagged[key[0]].unique())]
            return {k: row for k, row in _indexed(near, key).items() if k in keys}

        return rows_of(old), rows_of(new)
    old, new = old.drop_duplicates(key, keep="last"), new.drop_duplicates(key, keep="last")  # as _indexed: the last row of a key wins
    merged = old[key + ["status", "value"]].merge(new[key + ["status", "value"]], on=key, how="outer", suffixes=("_old", "_new"), indicator=True)
    # Compared as text: either side's columns may be categories, each frame with its own.
    same = (merged["_merge"] == "both").to_numpy() & \
        (merged["status_old"].to_numpy(dtype=object) == merged["status_new"].to_numpy(dtype=object)) & \
        (merged["value_old"].to_numpy(dtype=object) == merged["value_new"].to_numpy(dtype=object))
    differing = merged.loc[~same, key]

    def rows(frame: pd.DataFrame) -> dict[tuple, dict[str, str]]:
        return _indexed(frame.merge(differing, on=key, how="inner"), key)

    return rows(old), rows(new)


def _differs(old: dict[str, str], new: dict[str, str]) -> bool:
    return old["status"] != new["status"] or not same_number(old["value"], new["value"])


def value_changes(old: pd.DataFrame, new: pd.DataFrame, services_kept: set[str]) -> tuple[list[ValueChange], int]:
    """Corrections: figures of services present in both builds, for a period they reported as a
    value before, whose value or status changed (or which are gone). Returns the corrections of
    supplied periods and the number of summed 12-month figures that changed with them."""
    def candidates(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[(frame["service"] != "") & (frame["basis"] == "period") & frame["service"].isin(services_kept)]

    old_rows, new_rows = _changed_rows(candidates(old), candidates(new), SERVICE_KEY)
    corrections: list[ValueChange] = []
    summed = 0
    for key, before in old_rows.items():
        if before["status"] != "value":
            continue
        after = new_rows.get(key)
        if after is not None and not _differs(before, after):
            continue
        if before["period_kind"] == SUMMED_KIND:
            summed += 1
            continue
        corrections.append(ValueChange(
            before["service"], after["department"] if after else before["department"], before["kpi"], before["method"], before["basis"], before["period_kind"],
            before["period_start"], before["period_end"], before["value"], after["value"] if after else "",
            before["status"], after["status"] if after else "removed"))
    corrections.sort(key=ValueChange.sort_key)
    return corrections, summed


def _headline_changes(old: pd.DataFrame, new: pd.DataFrame, services_kept: set[str], departments_kept: set[str]) -> list[ValueChange]:
    def headlines(frame: pd.DataFrame) -> dict[tuple, dict[str, str]]:
        rows = frame[(frame["basis"] == "headline") & ((frame["service"] == "") | frame["service"].isin(services_kept))]
        rows = rows[(rows["service"] != "") | (rows["department"] == "") | rows["department"].isin(departments_kept)]
        # A service's headline keeps its identity if it moves department; a total is its department's.
        return {(row["service"], row["department"] if row["service"] == "" else "", row["kpi"], row["method"]): row for row in rows.to_dict("records")}

    before_rows, after_rows = headlines(old), headlines(new)
    changes = []
    for k, before in before_rows.items():
        after = after_rows.get(k)
        if after is None:
            continue
        moved = (before["period_start"], before["period_end"]) != (after["period_start"], after["period_end"])
        if not moved and not _differs(before, after):
            continue
        changes.append(ValueChange(
            after["service"], after["department"], after["kpi"], after["method"], "headline", after["period_kind"],
            after["period_start"], after["period_end"], before["value"], after["value"], before["status"], after["status"],
            old_period=(before["period_start"], before["period_end"]) if moved else None))
    changes.sort(key=lambda c: (c.service == "" and c.department == "", c.service == "", c.department, c.service, c.kpi, c.method))
    return changes


def _new_periods(old: pd.DataFrame, new: pd.DataFrame, services_kept: set[str]) -> list[NewPeriod]:
    def periods(frame: pd.DataFrame) -> set[tuple[str, str, str, str]]:
        rows = frame[(frame["service"] != "") & (frame["basis"] == "period") & (frame["status"] == "value") & (frame["period_kind"] != SUMMED_KIND)]
        return set(zip(rows["service"], rows["department"], rows["period_start"], rows["period_end"]))

    added = periods(new) - periods(old)
    return [NewPeriod(*p) for p in sorted(added, key=lambda p: (p[1], p[0], p[2], p[3])) if p[0] in services_kept]


def _aggregate_changes(old: pd.DataFrame, new: pd.DataFrame) -> dict[str, int]:
    def rows(frame: pd.DataFrame) -> dict[tuple, dict[str, str]]:
        return _indexed(frame[(frame["service"] == "") & (frame["basis"] == "period")])

    before_rows, after_rows = rows(old), rows(new)
    counts: dict[str, int] = defaultdict(int)
    for key in set(before_rows) | set(after_rows):
        before, after = before_rows.get(key), after_rows.get(key)
        if before is None or after is None or _differs(before, after):
            counts[key[1]] += 1
    return dict(sorted(counts.items(), key=lambda item: (item[0] == "", item[0])))


def _warning_changes(old: Snapshot, new: Snapshot) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    if old.warnings is None or new.warnings is None:
        return [], []
    columns = ["code", "file", "line", "where", "message"]

    def keyed(frame: pd.DataFrame) -> dict[tuple, dict[str, str]]:
        return {tuple(row[c] for c in columns): row for row in frame.to_dict("records")}

    before, after = keyed(old.warnings), keyed(new.warnings)
    return [after[k] for k in sorted(set(after) - set(before))], [before[k] for k in sorted(set(before) - set(after))]


def _input_changes(old: Snapshot, new: Snapshot) -> list[tuple[str, str, int | None, int | None]]:
    if not old.manifest or not new.manifest:
        return []
    before = {i["path"]: i for i in old.manifest.get("inputs", [])}
    after = {i["path"]: i for i in new.manifest.get("inputs", [])}
    changes: list[tuple[str, str, int | None, int | None]] = []
    for path in sorted(set(before) | set(after)):
        if path not in before:
            changes.append((path, "added", None, after[path].get("rows")))
        elif path not in after:
            changes.append((path, "removed", before[path].get("rows"), None))
        elif before[path].get("sha256") != after[path].get("sha256"):
            changes.append((path, "changed", before[path].get("rows"), after[path].get("rows")))
    return changes


def compare(old: Snapshot, new: Snapshot) -> SiteDiff:
    diff = SiteDiff(old, new)
    old_services, new_services = old.services(), new.services()
    old_departments, new_departments = old.departments(), new.departments()
    kept = old_services & new_services
    diff.services_added = sorted(new_services - old_services, key=lambda s: (new.service_departments.get(s, ""), s))
    diff.services_removed = sorted(old_services - new_services, key=lambda s: (old.service_departments.get(s, ""), s))
    diff.departments_added = sorted(new_departments - old_departments)
    diff.departments_removed = sorted(old_departments - new_departments)
    diff.corrections, diff.summed_changes = value_changes(old.kpis, new.kpis, kept)
    diff.headlines = _headline_changes(old.kpis, new.kpis, kept, old_departments & new_departments)
    diff.new_periods = _new_periods(old.kpis, new.kpis, kept)
    diff.aggregate_changes = _aggregate_changes(old.kpis, new.kpis)
    diff.warnings_before, diff.warnings_after = old.warning_counts(), new.warning_counts()
    diff.new_warnings, diff.resolved_warnings = _warning_changes(old, new)
    diff.inputs = _input_changes(old, new)
    return diff


def compare_folders(old: str | Path, new: str | Path) -> SiteDiff:
    return compare(load_site(old), load_site(new))


# --- words ----------------------------------------------------------------------------------

class Words:
    """Names, KPI labels and formatted values for a report."""

    def __init__(self, diff: SiteDiff):
        from perfgen.kpis import load_definitions

        self.diff = diff
        self.definitions = {d.id: d for d in load_definitions()}

    def name(self, kind: str, slug: str) -> str:
        for snapshot in (self.diff.new, self.diff.old):
            if (kind, slug) in snapshot.names:
                return snapshot.names[(kind, slug)]
        return slug

    def service(self, slug: str) -> str:
        name = self.name("service", slug)
        return f"{name} ({slug})" if name != slug else slug

    def department(self, slug: str) -> str:
        return "All of government" if slug == "" else self.name("department", slug)

    def owner(self, change: ValueChange) -> str:
        if change.service:
            return self.service(change.service)
        return f"{self.department(change.department)} (total)" if change.department else "All of government (total)"

    def kpi(self, kpi: str, method: str = "") -> str:
        definition = self.definitions.get(kpi)
        label = definition.label if definition else kpi.replace("_", " ").capitalize()
        return f"{label} ({METHOD_WORDS.get(method, method)})" if method else label

    def value(self, kpi: str, text: str, status: str) -> str:
        number = _number(text)
        if status not in ("value", "stale") or number is None:
            return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())
        unit = self.definitions[kpi].unit if kpi in self.definitions else "count"
        return format_unit(unit, number)

    def change(self, change: ValueChange) -> str:
        old = self.value(change.kpi, change.old_value, change.old_status)
        new = self.value(change.kpi, change.new_value, change.new_status)
        if old == new and change.old_status == change.new_status and change.old_period is None:
            # The same when rounded for a page: show enough digits to see the difference.
            unit = self.definitions[change.kpi].unit if change.kpi in self.definitions else "count"
            old, new = precise(unit, change.old_value), precise(unit, change.new_value)
        return f"{old} → {new}"


def precise(unit: str, text: str) -> str:
    """A value with up to 8 significant figures, for changes too small to see when rounded."""
    number = _number(text)
    if number is None:
        return text
    if unit == "money":
        return f"£{number:,.8g}" if abs(number) < 1e8 else formatters.money_exact(number)
    if unit == "percent":
        return f"{number * 100:.8g}%"
    return f"{number:,.8g}"


format_unit = formatters.for_unit


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _limited(items: list[Any], limit: int | None) -> tuple[list[Any], int]:
    if limit is None or len(items) <= limit:
        return items, 0
    return items[:limit], len(items) - limit


def summary_line(diff: SiteDiff) -> str:
    if not diff.changed:
        return "No changes: the two builds publish the same figures."
    parts = []
    if diff.services_added or diff.services_removed:
        parts.append(f"{len(diff.services_added)} added and {len(diff.services_removed)} removed services")
    if diff.departments_added or diff.departments_removed:
        parts.append(f"{len(diff.departments_added)} added and {len(diff.departments_removed)} removed departments")
    if diff.corrections:
        services = len({c.service for c in diff.corrections})
        parts.append(f"{_plural(len(diff.corrections), 'published figure')} corrected in {_plural(services, 'service')}")
    if diff.new_periods:
        parts.append(f"new figures for {_plural(len({p.service for p in diff.new_periods}), 'service')}")
    if diff.headlines:
        parts.append(f"{_plural(len(diff.headlines), 'headline figure')} changed")
    if diff.new_warnings:
        parts.append(_plural(len(diff.new_warnings), "new warning"))
    elif diff.warnings_before is not None and diff.warnings_after is not None and sum(diff.warnings_after.values()) > sum(diff.warnings_before.values()):
        parts.append(f"warnings up from {sum(diff.warnings_before.values()):,} to {sum(diff.warnings_after.values()):,}")
    if not parts:
        parts.append("only department and government totals or inputs changed")
    return "; ".join(parts) + "."


@dataclass
class Section:
    title: str
    groups: list[tuple[str, list[str]]]  # (heading or "", lines)
    more: int = 0  # lines left out


def sections(diff: SiteDiff, limit: int | None = 50) -> list[Section]:
    words = Words(diff)
    found: list[Section] = []

    def grouped(changes: Iterable[ValueChange], line) -> tuple[list[tuple[str, list[str]]], int]:
        shown, more = _limited(list(changes), limit)
        groups: dict[str, list[str]] = {}
        for change in shown:
            groups.setdefault(words.owner(change), []).append(line(change))
        return list(groups.items()), more

    if diff.inputs:
        lines = []
        for path, how, before, after in diff.inputs:
            if how == "added":
                lines.append(f"added: {path} ({_plural(after or 0, 'row')})")
            elif how == "removed":
                lines.append(f"removed: {path} (had {_plural(before or 0, 'row')})")
            else:
                rows = f"{_plural(after or 0, 'row')}, was {before:,}" if before != after else _plural(after or 0, "row")
                lines.append(f"changed: {path} ({rows})")
        found.append(Section(f"Input files ({len(diff.inputs)})", [("", lines)]))
    for title, slugs, snapshot in (("Services added", diff.services_added, diff.new), ("Services removed", diff.services_removed, diff.old)):
        if slugs:
            shown, more = _limited(slugs, limit)
            lines = [f"{words.service(s)}, {words.department(snapshot.service_departments.get(s, ''))}" for s in shown]
            found.append(Section(f"{title} ({len(slugs)})", [("", lines)], more))
    for title, slugs in (("Departments added", diff.departments_added), ("Departments removed", diff.departments_removed)):
        if slugs:
            found.append(Section(f"{title} ({len(slugs)})", [("", [f"{words.department(s)} ({s})" for s in slugs])]))
    if diff.corrections:
        groups, more = grouped(diff.corrections, lambda c: f"{words.kpi(c.kpi, c.method)}, {c.period}: {words.change(c)}")
        title = f"Published figures corrected ({len(diff.corrections):,})"
        if diff.summed_changes:
            title += f"; {diff.summed_changes:,} rolling 12-month figures change with them"
        found.append(Section(title, groups, more))
    elif diff.summed_changes:
        found.append(Section(f"Rolling 12-month figures changed ({diff.summed_changes:,})", []))
    if diff.headlines:
        def headline_line(c: ValueChange) -> str:
            if c.old_period is not None:
                return f"{words.kpi(c.kpi, c.method)}: {words.value(c.kpi, c.old_value, c.old_status)} ({period_text(*c.old_period)}) → {words.value(c.kpi, c.new_value, c.new_status)} ({c.period})"
            return f"{words.kpi(c.kpi, c.method)}, {c.period}: {words.change(c)}"

        groups, more = grouped(diff.headlines, headline_line)
        found.append(Section(f"Headline figures changed ({len(diff.headlines):,})", groups, more))
    if diff.new_periods:
        by_service: dict[str, list[str]] = {}
        for period in diff.new_periods:
            by_service.setdefault(period.service, []).append(period_text(period.period_start, period.period_end))
        items = list(by_service.items())
        shown, more = _limited(items, limit)
        lines = [f"{words.service(s)}: {', '.join(periods)}" for s, periods in shown]
        found.append(Section(f"New figures ({_plural(len(diff.new_periods), 'period')} in {_plural(len(by_service), 'service')})", [("", lines)], more))
    if diff.aggregate_changes:
        lines = [f"{words.department(d)}: {_plural(n, 'value')}" for d, n in diff.aggregate_changes.items()]
        found.append(Section("Department and government totals changed", [("", lines)]))
    if diff.warnings_before is not None and diff.warnings_after is not None and diff.warnings_before != diff.warnings_after:
        codes = sorted(set(diff.warnings_before) | set(diff.warnings_after))
        lines = [f"{code}: {diff.warnings_before.get(code, 0):,} → {diff.warnings_after.get(code, 0):,}" for code in codes
                 if diff.warnings_before.get(code, 0) != diff.warnings_after.get(code, 0)]
        found.append(Section(f"Warnings by code ({sum(diff.warnings_before.values()):,} → {sum(diff.warnings_after.values()):,})", [("", lines)]))
    for title, listed in (("New warnings", diff.new_warnings), ("Warnings resolved", diff.resolved_warnings)):
        if listed:
            shown_warnings, more = _limited(listed, limit)
            lines = [_warning_text(w) for w in shown_warnings]
            found.append(Section(f"{title} ({len(listed):,})", [("", lines)], more))
    return found


def _warning_text(warning: dict[str, str]) -> str:
    location = warning["file"] + (f":{warning['line']}" if warning["line"] else "")
    where = f"{warning['where']}: " if warning["where"] else ""
    return f"{location}: {where}{warning['message']} [{warning['code']}]"


def text_report(diff: SiteDiff, limit: int | None = 50) -> str:
    lines = [f"Comparing {diff.old.label} (before) with {diff.new.label} (after)", "", summary_line(diff)]
    for section in sections(diff, limit):
        lines += ["", section.title]
        for heading, items in section.groups:
            indent = "  "
            if heading:
                lines.append(f"  {heading}")
                indent = "    "
            lines += [indent + item for item in items]
        if section.more:
            lines.append(f"  ... and {section.more:,} more (use --limit 0 to list all)")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Text safe inside Markdown: no HTML, no emphasis or links from data."""
    for char in "\\`*_{}[]<>|#":
        text = text.replace(char, "\\" + char)
    return text


def markdown_report(diff: SiteDiff, limit: int | None = 50, title: str = "What this change does to the published site") -> str:
    lines = [f"## {_md(title)}", "", _md(summary_line(diff))]
    for section in sections(diff, limit):
        lines += ["", f"### {_md(section.title)}", ""]
        for heading, items in section.groups:
            if heading:
                lines.append(f"- **{_md(heading)}**")
                lines += [f"  - {_md(item)}" for item in items]
            else:
                lines += [f"- {_md(item)}" for item in items]
        if section.more:
            lines.append(f"- ... and {section.more:,} more")
    return "\n".join(lines) + "\n"
