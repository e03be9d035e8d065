"""Open data and the static API: KPI values in, downloadable files out (stage 6, publish).

Registered through the ``publish_files`` and ``render_page_sections`` hooks like any plugin.
Every address below is stable from build to build (it depends only on slugs):

- ``data/kpis.csv`` | ``.json`` | ``.parquet``: every KPI value of the site;
- ``data/services/<slug>.csv`` | ``.json`` and ``data/departments/<slug>.csv`` | ``.json``:
  every value of one service (its JSON with the service's targets and dated notes); a
  department's totals for every period and its services' headline values. A service measured
  in parts has its own values (the sum of its parts) in both files, and every value of each
  part in the JSON file's ``parts`` list;
- ``data/kpi-definitions.csv``: each KPI's label, unit and meaning;
- ``data/datapackage.json`` (Frictionless) with the Table Schema ``data/kpis.tableschema.json``;
- ``api/index.json``: every service and department with its page and downloads;
- ``api/schemas/*.schema.json``: JSON Schemas of the JSON files.

CSV text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with an apostrophe. Numbers are written with 12
significant figures, the same in CSV, JSON and Parquet, so the files agree with each other.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import math
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from perfgen.cells import is_missing
from perfgen.config import KPI_IDS, Config, Service
from perfgen.files import FileSlice, spill_file, write_whole
from perfgen.kpis import SCHEMA_COLUMNS, KpiDefinition, KpiResults, row_hashes
from perfgen.load import sql_text
from perfgen.plugins import PageSection, TextParts, hookimpl

API_VERSION = 1
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

NUMBER_COLUMNS = ("value", "numerator", "denominator")
INTEGER_COLUMNS = ("services_contributing", "services_expected")
DATE_COLUMNS = ("period_start", "period_end")
BOOLEAN_COLUMNS = ("derived",)
STATUSES = ("value", "not_provided", "not_applicable", "stale", "invalid")
BASES = ("period", "headline")
DEFINITION_COLUMNS = ("id", "label", "unit", "better", "aggregate", "mandatory", "numerator", "denominator", "definition")
UNIT_WORDS = {
    "money": "pounds sterling (GBP)",
    "percent": "a fraction from 0 to 1 (0.25 is 25%)",
    "count": "a number of transactions",
}

#: What each column of the KPI files means (the data page, the Table Schema and the JSON
#: Schema all use these words).
COLUMN_DESCRIPTIONS = {
    "service": "Slug of the service; empty for a department or government total.",
    "department": "Slug of the department; empty for a total of all government.",
    "period_start": "First day of the period (inclusive).",
    "period_end": "Last day of the period (inclusive).",
    "period": "The period in words, for example 'April 2024 to March 2025'.",
    "period_kind": "month, quarter, financial_year, range, rolling_12_months (summed from months or quarters), or for totals month, quarter, 12_months or range.",
    "kpi": "Id of the KPI; see kpi-definitions.csv for its label, unit and meaning.",
    "method": "For user satisfaction, the method: mean_score or top_two_box; otherwise empty.",
    "value": "The KPI value in its unit: pounds for money, a fraction from 0 to 1 for percentages, a number for counts. Empty unless status is value or stale.",
    "numerator": "Sum the value is worked out from (a count, or pounds for money KPIs).",
    "denominator": "Sum the numerator is divided by (a count); empty for KPIs that are sums.",
    "status": "value, not_provided, not_applicable, stale (an older figure, the latest available) or invalid (supplied but unusable).",
    "basis": "period for every figure of a series; headline for the figure shown first on a page.",
    "services_contributing": "For a department or government total: how many services it adds up.",
    "services_expected": "For a department or government total: how many services should report the KPI.",
    "derived": "true when the figure was derived (a total cost from a supplied cost per transaction).",
    "note": "Why a figure is missing, invalid or derived.",
}


# --- cells ------------------------------------------------------------------------------------

def number(value: Any) -> int | float | None:
    """A published number: 12 significant figures (free of float summing noise), integers as int."""
    if is_missing(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    rounded = float(format(float(value), ".12g"))
    return int(rounded) if rounded.is_integer() and abs(rounded) < 1e15 else rounded


def safe_text(text: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(value: Any, kind: str) -> str:
    if is_missing(value):
        return ""
    if kind == "number":
        result = number(value)
        return "" if result is None else (str(result) if isinstance(result, int) else format(result, ".12g"))
    if kind == "boolean" or isinstance(value, bool):
        return "true" if bool(value) else "false"
    if isinstance(value, date):
        return value.isoformat()
    return safe_text(str(value))


def _json_cell(column: str, value: Any) -> Any:
    if is_missing(value):
        return None
    if column in NUMBER_COLUMNS or column in INTEGER_COLUMNS:
        return number(value)
    if column in BOOLEAN_COLUMNS:
        return bool(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text or None


def csv_text(columns: Iterable[str], rows: Iterable[Iterable[Any]], numbers: Iterable[str] = (), booleans: Iterable[str] = ()) -> str:
    """CSV with a header; ``numbers`` and ``booleans`` name the columns that are not text."""
    columns = list(columns)
    kinds = ["number" if c in numbers else "boolean" if c in booleans else "text" for c in columns]
    # The csv module quotes a field holding a line break only if the break is in its line
    # terminator: write rows ending in \r\n (so \r and \n inside a field are quoted), then end
    # each row with \n. The writer hands over one whole row per write() call.
    lines: list[str] = []
    writer = csv.writer(_Sink(lines), lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(value, kind) for value, kind in zip(row, kinds)])
    return "".join(line[:-2] + "\n" for line in lines)


class _Sink:
    def __init__(self, lines: list[str]):
        self.write = lines.append


class _RawJSON:
    """JSON text already encoded, whole or in pieces (text, or UTF-8 as bytes or a slice of a
    file, which only ``_compact_json_parts`` places): ``_compact_json`` places it as it is (not
    copied)."""

    __slots__ = ("parts",)

    def __init__(self, text: str | list[str | bytes | FileSlice]):
        self.parts = [text] if isinstance(text, str) else text

    @property
    def text(self) -> str:
        return str(TextParts(self.parts))


def _compact_json(document: Any) -> str:
    """``json.dumps(document, separators=(",", ":"))`` (no ASCII escaping, no NaN), except that
    ``_RawJSON`` parts are placed as they are instead of being encoded again."""
    return "".join(_compact_json_parts(document, []))


def _compact_json_parts(document: Any, out: list[Any]) -> list[Any]:
    """:func:`_compact_json`'s text in pieces (each ``_RawJSON`` piece one of them), added to ``out``."""
    if isinstance(document, _RawJSON):
        out.extend(document.parts)
    elif isinstance(document, dict) and all(isinstance(key, str) for key in document):
        out.append("{")
        for number, (key, value) in enumerate(document.items()):
            out.append(("," if number else "") + _json_text(key) + ":")
            _compact_json_parts(value, out)
        out.append("}")
    elif isinstance(document, (list, tuple)):
        out.append("[")
        for number, value in enumerate(document):
            if number:
                out.append(",")
            _compact_json_parts(value, out)
        out.append("]")
    else:
        out.append(json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
    return out


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _csv_field(text: str) -> str:
    """One field as the csv module writes it in a row (quoted only when it must be)."""
    if not text:
        return text
    lines: list[str] = []
    csv.writer(_Sink(lines), lineterminator="\r\n").writerow([text])
    return lines[0][:-2]


def _encode_numbers(distinct: Any) -> tuple[list[Any], list[str], list[str]]:
    """``number``, its JSON text and ``_csv_cell``'s text for each distinct (present) number.
    Whole numbers below 10^12 (12 digits: rounding to 12 significant figures keeps them) are
    converted by numpy at once; the others one by one."""
    floats = np.array([float(value.item() if hasattr(value, "item") else value) for value in distinct] if distinct.dtype == object
                      else np.asarray(distinct, dtype=float), dtype=float)
    objects: list[Any] = [None] * len(floats)
    texts: list[str] = [""] * len(floats)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(floats) & (floats == np.floor(floats)) & (np.abs(floats) < 1e12)
    positions = np.flatnonzero(whole).tolist()
    integers = floats[whole].astype(np.int64)
    for position, integer, text in zip(positions, integers.tolist(), integers.astype(str).tolist()):
        objects[position] = integer
        texts[position] = text
    json_texts = list(texts)
    for position, value in zip(np.flatnonzero(~whole).tolist(), floats[~whole].tolist()):
        text = format(value, ".12g")  # number(value), inlined: the 12 significant figures
        result = float(text)
        if result.is_integer() and abs(result) < 1e15:
            objects[position] = int(result)
            texts[position] = json_texts[position] = str(int(result))
        else:
            objects[position] = result
            texts[position] = text  # what format(result, ".12g") gives: 12 digits survive the round trip
            # json writes a finite float as its repr (and refuses infinity)
            json_texts[position] = repr(result) if math.isfinite(result) else _json_text(result)
    return objects, json_texts, texts


class EncodedValues:
    """Every value encoded once, as CSV lines and JSON rows (text), so the site file and each
    service's and department's subset reuse them instead of converting every cell again.

    The lines are kept per block (a run of rows of one department and service) as one text
    in UTF-8 with each line's offset in bytes, and the JSON rows likewise, not as a million
    small strings: a service's rows (the values are sorted by department and service) are one
    slice of its block, and the site's files are the blocks one after another (``TextParts``).

    With a ``cache`` folder, the text of each run of rows of one department and service is
    kept there by the digest of its values (``BlockCache``): a rebuild after one service's
    figures changed encodes that service's rows only.

    The text waits in a temporary file (in the cache folder, if any), each block a
    ``FileSlice`` read when a file made of it is written: held in memory, the blocks were most
    of the open data's memory (a gigabyte for 3,000 services). One file written in order and
    read back by offset: a file per block opened each time one was needed cost a tenth of a
    millisecond per opening, four times per block."""

    def __init__(self, values: pd.DataFrame, cache: Path | None = None, hashes: np.ndarray | None = None):
        # Column by column, each distinct value converted once: the same cells as _json_cell and
        # _csv_cell give, without calling them for each of millions of cells.
        # pandas.factorize finds the distinct values in C (missing ones get code -1, the last
        # entry of each lookup table); numpy then picks every cell's text from the table.
        # The number columns (value, numerator, denominator) are encoded block by block instead:
        # nearly every one of their values is distinct, so a table of every distinct value's texts
        # was as large as the texts themselves, and a rebuild made it even when every block came
        # from the cache.
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # column -> (codes, objects)
        json_tables: dict[str, np.ndarray] = {}
        csv_tables: dict[str, np.ndarray] = {}
        for column in SCHEMA_COLUMNS:
            if column in NUMBER_COLUMNS:
                continue
            kind = "number" if column in INTEGER_COLUMNS else "boolean" if column in BOOLEAN_COLUMNS else "text"
            codes, distinct = pd.factorize(values[column], use_na_sentinel=True)
            if kind == "number":
                objects, json_texts, csv_texts = _encode_numbers(distinct)
            else:
                distinct = list(distinct)
                objects = [_json_cell(column, value) for value in distinct]
                json_texts = [_json_text(value) for value in objects]
                csv_texts = [_csv_cell(value, kind) for value in distinct]
            if kind == "text":  # numbers and booleans never need quotes
                csv_texts = [_csv_field(text) for text in csv_texts]
            codes = codes.astype(_code_type(len(distinct)))
            self._codes[column] = (codes, np.array(objects + [None], dtype=object))
            json_tables[column] = np.array(json_texts + ["null"], dtype=object)
            csv_tables[column] = np.array(csv_texts + [""], dtype=object)
        self.header = csv_text(SCHEMA_COLUMNS, [])
        numbers = {column: values[column].to_numpy() for column in NUMBER_COLUMNS}
        cached = BlockCache(cache, values, hashes) if cache is not None and len(values) else None
        published: list[np.ndarray] = []  # per block, each number column's published float (NaN: missing)
        # The text is kept per block, never joined into one string: the site's files are
        # written a block at a time (``TextParts``), a subset is cut from the blocks it is in.
        starts: list[int] = []
        self._csv_blocks: list[FileSlice] = []
        self._json_blocks: list[FileSlice] = []
        self._csv_ends: list[np.ndarray] = []  # per block, where each line ends in its text, in bytes (0 first)
        self._json_ends: list[np.ndarray] = []  # likewise each row with the comma after it
        self._spill = spill_file(cache)  # closed (and gone) with this object
        # Without a cache, blocks all the same (each run of one service's rows): the rows encoded
        # at once as one block took 11 GB at 10,000 services.
        for start, stop, digest in cached.blocks if cached is not None else [(*run, None) for run in service_runs(values)]:
            chunk = cached.read(digest, stop - start) if cached is not None else None
            if chunk is None:
                chunk = self._encode_block(start, stop, csv_tables, json_tables, numbers)
                if cached is not None:
                    cached.write(digest, chunk)
            published.append(chunk[4])
            starts.append(start)
            for text, blocks in ((chunk[0], self._csv_blocks), (chunk[1], self._json_blocks)):
                blocks.append(FileSlice(self._spill, self._spill.tell(), len(text)))
                self._spill.write(text)
            self._csv_ends.append(np.concatenate([[0], np.cumsum(chunk[2])]))
            self._json_ends.append(np.concatenate([[0], np.cumsum(chunk[3] + 1)]))
        if cached is not None:
            cached.forget_others()
        self._starts = np.array(starts, dtype=np.int64)
        every = np.concatenate(published) if published else np.empty((0, len(NUMBER_COLUMNS)))
        self._published = {column: every[:, index] for index, column in enumerate(NUMBER_COLUMNS)}

    def _encode_block(self, start: int, stop: int, csv_tables: dict[str, np.ndarray], json_tables: dict[str, np.ndarray],
                      numbers: dict[str, np.ndarray]) -> tuple[bytes, bytes, np.ndarray, np.ndarray, np.ndarray]:
        """Rows ``start`` to ``stop`` as CSV lines and JSON rows (``_encode_rows``), with each
        number column's published value per row (12 significant figures; NaN when missing):
        the number columns are encoded here, each distinct number of the block once."""
        csv_columns, json_columns, codes = [], [], []
        published = np.full((stop - start, len(NUMBER_COLUMNS)), np.nan)
        for column in SCHEMA_COLUMNS:
            if column in NUMBER_COLUMNS:
                block_codes, distinct = pd.factorize(numbers[column][start:stop], use_na_sentinel=True)
                objects, json_texts, csv_texts = _encode_numbers(distinct)
                csv_columns.append(np.array(csv_texts + [""], dtype=object))
                json_columns.append(np.array(json_texts + ["null"], dtype=object))
                codes.append(block_codes)
                published[:, NUMBER_COLUMNS.index(column)] = np.array([float(value) for value in objects] + [np.nan], dtype=float)[block_codes]
            else:
                csv_columns.append(csv_tables[column])
                json_columns.append(json_tables[column])
                codes.append(self._codes[column][0][start:stop])
        return (*_encode_rows(csv_columns, json_columns, codes), published)

    def _pieces(self, blocks: list[FileSlice], ends: list[np.ndarray], rows: np.ndarray, separator: int) -> list[bytes]:
        """The text of the rows at these positions (in order, UTF-8), each run of consecutive
        rows within one block as one slice (without the ``separator`` bytes after its last row)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return []
        block_of = np.searchsorted(self._starts, rows, side="right") - 1
        breaks = (np.flatnonzero((np.diff(rows) != 1) | (np.diff(block_of) != 0)) + 1).tolist()
        pieces = []
        for first, stop in zip([0, *breaks], [*breaks, len(rows)]):
            block = int(block_of[first])
            base = int(self._starts[block])
            local = ends[block]
            pieces.append(blocks[block].part(int(local[int(rows[first]) - base]), int(local[int(rows[stop - 1]) - base + 1]) - separator).read())
        return pieces

    def csv(self, rows: np.ndarray | None = None) -> bytes | TextParts:
        """The CSV file of every row (in pieces), or of the rows at these positions (UTF-8)."""
        if rows is None:
            return TextParts([self.header, *self._csv_blocks])
        return self.header.encode("utf-8") + b"".join(self._pieces(self._csv_blocks, self._csv_ends, rows, 0))

    def json_rows(self, rows: np.ndarray | None = None) -> _RawJSON:
        """Every row (in pieces), or the rows at these positions, as a JSON array (text), for
        ``_values_document``."""
        if rows is None:
            parts: list[str | bytes | FileSlice] = ["["]
            for block in self._json_blocks:
                if len(parts) > 1:
                    parts.append(",")  # a comma between blocks
                parts.append(block)
            return _RawJSON([*parts, "]"])
        return _RawJSON("[" + b",".join(self._pieces(self._json_blocks, self._json_ends, rows, 1)).decode("utf-8") + "]")

    def __len__(self) -> int:
        return len(self._published[NUMBER_COLUMNS[0]])

    def frame(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """The published values (JSON's numbers and flags, None when missing) of rows ``start``
        to ``stop`` (all by default) for Parquet: numbers as nullable floats, counts as nullable
        32-bit integers, flags as nullable booleans (numpy arrays with a mask, which DuckDB reads
        without looking at a Python object per cell), dates and text as text."""
        columns: dict[str, Any] = {}
        for column in SCHEMA_COLUMNS:
            if column in NUMBER_COLUMNS:
                published = self._published[column][start:stop]
                missing = np.isnan(published)
                columns[column] = pd.arrays.FloatingArray(np.where(missing, 0.0, published), missing)
                continue
            codes, objects = self._codes[column]
            codes = codes[start:stop]
            if column in INTEGER_COLUMNS or column in BOOLEAN_COLUMNS:
                missing = np.array([value is None for value in objects], dtype=bool)[codes]
                if column in BOOLEAN_COLUMNS:
                    flags = np.array([bool(value) for value in objects], dtype=bool)[codes]
                    columns[column] = pd.arrays.BooleanArray(flags, missing)
                else:  # counts of services and parts: four bytes each (a tenth of a GB at 10,000 services)
                    numbers = np.array([0 if value is None else int(value) for value in objects], dtype=np.int32)[codes]
                    columns[column] = pd.arrays.IntegerArray(numbers, missing)
            else:
                columns[column] = _categorical(codes, objects)
        return pd.DataFrame(columns)


def _categorical(codes: np.ndarray, objects: np.ndarray) -> Any:
    """A text column as a categorical (a code per row, which DuckDB reads as an ENUM) instead of
    a Python object per row: each distinct value's published text (None for a missing one) at
    each row's code. The objects themselves if two distinct values publish the same text."""
    present = [value for value in objects[:-1].tolist() if value is not None]
    if len(set(present)) != len(present):
        return objects[codes]
    index = {value: number for number, value in enumerate(present)}
    recoded = np.array([index[value] if value is not None else -1 for value in objects.tolist()], dtype=np.int32)
    return pd.Categorical.from_codes(recoded[codes], categories=present)


def _code_type(distinct: int) -> type:
    """The smallest integer type for codes of ``distinct`` values and -1 (missing): most columns
    have a few values among millions of rows."""
    return next(kind for kind in (np.int8, np.int16, np.int32, np.int64) if distinct < np.iinfo(kind).max)


def _encode_rows(csv_tables: list[np.ndarray], json_tables: list[np.ndarray], codes: list[np.ndarray]) -> tuple[bytes, bytes, np.ndarray, np.ndarray]:
    """Rows (each column's codes) as CSV lines and JSON rows: the lines' text, the rows' text
    joined by commas (both UTF-8), and each line's and row's length in bytes."""
    lines = [",".join(row) + "\n" for row in zip(*(table[c].tolist() for table, c in zip(csv_tables, codes)))]
    rows = ["[" + ",".join(row) + "]" for row in zip(*(table[c].tolist() for table, c in zip(json_tables, codes)))]
    (csv_text, csv_lengths), (json_text, json_lengths) = _utf8(lines, ""), _utf8(rows, ",")
    return csv_text, json_text, csv_lengths, json_lengths


def _utf8(texts: list[str], separator: str) -> tuple[bytes, np.ndarray]:
    """``texts`` joined by ``separator``, in UTF-8, and each text's length in bytes."""
    joined = separator.join(texts)
    data = joined.encode("utf-8")
    if len(data) == len(joined):  # ASCII: a character is a byte
        return data, np.array([len(text) for text in texts], dtype=np.int64)
    return data, np.array([len(text.encode("utf-8")) for text in texts], dtype=np.int64)


def service_runs(values: pd.DataFrame) -> list[tuple[int, int]]:
    """The (start, stop) rows of each run of rows of one department and service: the blocks the
    open data is encoded in."""
    if not len(values):
        return []
    department, service = values["department"].to_numpy(), values["service"].to_numpy()
    starts = [0, *(np.flatnonzero((department[1:] != department[:-1]) | (service[1:] != service[:-1])) + 1).tolist()]
    return list(zip(starts, [*starts[1:], len(values)]))


class BlockCache:
    """The encoded text of each run of rows of one department and service (a block), with its
    numbers' published values (for Parquet), kept in a folder by the SHA-256 of the block's
    values (``kpis.row_hashes``) and of this module's code, so that a block whose values are
    the same is not encoded again. A file is written whole (a temporary file renamed) as its
    parts' bytes one after another behind a header of their sizes (numbers read with numpy,
    never unpickled; a zip of numpy arrays per block cost a millisecond each to write and to
    read, for thousands of blocks); one that cannot be read or does not add up is encoded
    again. After a build the folder keeps that build's blocks only (``forget_others``), so it
    does not grow with every change."""

    SUFFIX = ".block"
    MAGIC = b"perfgen open data block 3\n"  # 3: lengths in bytes

    def __init__(self, folder: Path, values: pd.DataFrame, hashes: np.ndarray | None = None):
        """``hashes``: each row of ``values`` hashed from ``SCHEMA_COLUMNS`` (``kpis.row_hashes``),
        when already made."""
        self.folder = folder
        self._used: set[str] = set()
        hashes = hashes if hashes is not None else row_hashes(values, SCHEMA_COLUMNS)
        salt = _code_digest()
        self.blocks = [(start, stop, hashlib.sha256(salt + hashes[start:stop].tobytes()).hexdigest()) for start, stop in service_runs(values)]

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}{self.SUFFIX}"

    def read(self, digest: str, rows: int) -> tuple[bytes, bytes, np.ndarray, np.ndarray, np.ndarray] | None:
        """A block's ``(csv text, json text, csv lengths, json lengths, published)``, or None
        when it is not kept or does not add up."""
        self._used.add(digest)
        try:
            data = self._path(digest).read_bytes()
        except OSError:
            return None
        header = len(self.MAGIC) + 4 * 8
        if len(data) < header or not data.startswith(self.MAGIC):
            return None
        stored_rows, columns, csv_size, json_size = np.frombuffer(data, "<i8", 4, len(self.MAGIC)).tolist()
        numbers = header + 8 * stored_rows * (2 + columns)
        if (stored_rows, columns) != (rows, len(NUMBER_COLUMNS)) or len(data) != numbers + csv_size + json_size:
            return None
        lengths = np.frombuffer(data, "<i8", 2 * rows, header).astype(np.int64)
        published = np.frombuffer(data, "<f8", rows * columns, header + 16 * rows).astype(float).reshape(rows, columns)
        csv_lengths, json_lengths = lengths[:rows], lengths[rows:]
        if int(csv_lengths.sum()) != csv_size or int(json_lengths.sum()) + rows - 1 != json_size:
            return None
        return data[numbers:numbers + csv_size], data[numbers + csv_size:], csv_lengths, json_lengths, published

    def write(self, digest: str, chunk: tuple[bytes, bytes, np.ndarray, np.ndarray, np.ndarray]) -> None:
        published = np.ascontiguousarray(chunk[4], dtype="<f8")
        header = np.array([len(chunk[2]), published.shape[1], len(chunk[0]), len(chunk[1])], dtype="<i8")
        parts = [self.MAGIC, header.tobytes(), np.asarray(chunk[2], dtype="<i8").tobytes(), np.asarray(chunk[3], dtype="<i8").tobytes(),
                 published.tobytes(), chunk[0], chunk[1]]
        try:
            write_whole(self._path(digest), parts)
        except OSError:
            pass  # a cache that cannot be written costs time, not output

    def forget_others(self) -> None:
        """Remove the blocks this build did not use (a changed service's earlier text, and
        files of an earlier format), not another build's temporary files."""
        for path in self.folder.glob("*/*"):
            if path.suffix != ".tmp" and (path.suffix != self.SUFFIX or path.stem not in self._used):
                path.unlink(missing_ok=True)


@functools.cache
def _code_digest() -> bytes:
    """What a block's text depends on besides its values: this module's code and the versions
    of the libraries that turn numbers into text."""
    return hashlib.sha256(Path(__file__).read_bytes() + f"|{np.__version__}|{pd.__version__}|{sys.version}".encode()).digest()


def _json(document: Any, compact: bool = False) -> str:
    if compact:
        return _compact_json(document) + "\n"
    return json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def _json_parts(document: Any) -> TextParts:
    """``_json(document, compact=True)`` in pieces."""
    return TextParts(_compact_json_parts(document, []) + ["\n"])


#: Rows of a row group of ``kpis.parquet`` (DuckDB's default), and of the values made into
#: one typed frame at a time for it: a whole number of row groups, so that the slices' rows
#: form the same row groups as all rows at once.
PARQUET_ROW_GROUP = 122880
PARQUET_SLICE = 8 * PARQUET_ROW_GROUP


def values_parquet(values: pd.DataFrame, encoded: EncodedValues | None = None, slice_rows: int | None = None) -> bytes:
    """Every value as Parquet, typed (dates as DATE, numbers as DOUBLE), written by DuckDB.

    A typed frame of every row, with DuckDB's copy of it for writing, was 1.1 GB at 10,000
    services (the forked open-data process's peak): the rows are typed ``slice_rows``
    (``PARQUET_SLICE``) at a time, each slice written to a Parquet file of its own, and the
    slices then copied into one file in order, which DuckDB reads and writes a row group at a
    time. The same bytes as one frame written at once (tests/test_opendata.py): a slice is a
    whole number of row groups.

    A text column that comes as a categorical reaches DuckDB as an ENUM of its published texts
    and is written as it is (Parquet text with the ENUM's dictionary; read back as VARCHAR):
    cast to VARCHAR first, each row's text was made and hashed again, half of the time at 1,000
    services (1.1 s against 0.6). The slices' text columns, read back as VARCHAR, are made the
    same ENUMs again for the copy (``_text_enums``), so that its bytes are the same."""
    encoded = encoded if encoded is not None else EncodedValues(values)
    slice_rows = slice_rows or PARQUET_SLICE
    if slice_rows % PARQUET_ROW_GROUP:
        raise ValueError(f"slices of Parquet rows must be whole row groups ({PARQUET_ROW_GROUP} rows)")
    db = duckdb.connect()
    db.execute("SET enable_progress_bar = false")  # no bar on standard output (see load.py)
    try:
        db.execute("SET threads = 1")
        enums = _text_enums(db, encoded)
        casts = []
        for column in SCHEMA_COLUMNS:
            kind = ("DATE" if column in DATE_COLUMNS else "DOUBLE" if column in NUMBER_COLUMNS else "BIGINT" if column in INTEGER_COLUMNS
                    else "BOOLEAN" if column in BOOLEAN_COLUMNS else None if column in enums else "VARCHAR")
            casts.append(f"CAST({column} AS {kind}) AS {column}" if kind is not None else column)
        with tempfile.TemporaryDirectory(prefix="perfgen-parquet-") as folder:
            target = Path(folder) / "kpis.parquet"
            starts = range(0, max(len(encoded), 1), slice_rows)
            slices = [Path(folder) / f"slice-{number:06d}.parquet" for number in range(len(starts))] if len(starts) > 1 else [target]
            for start, path in zip(starts, slices):
                db.register("published_values", encoded.frame(start, start + slice_rows))
                options = f"ROW_GROUP_SIZE {PARQUET_ROW_GROUP}, " + ("COMPRESSION zstd" if path == target else "COMPRESSION uncompressed")
                db.execute(f"COPY (SELECT {', '.join(casts)} FROM published_values) TO {sql_text(str(path))} (FORMAT parquet, {options})")
                db.unregister("published_values")
            if slices != [target]:
                listed = ", ".join(sql_text(str(path)) for path in slices)
                columns = ", ".join(f"CAST({column} AS {enums[column]}) AS {column}" if column in enums else column for column in SCHEMA_COLUMNS)
                db.execute(f"COPY (SELECT {columns} FROM read_parquet([{listed}])) TO {sql_text(str(target))} "
                           f"(FORMAT parquet, ROW_GROUP_SIZE {PARQUET_ROW_GROUP}, COMPRESSION zstd)")
            return target.read_bytes()
    finally:
        db.close()


def _text_enums(db: Any, encoded: EncodedValues) -> dict[str, str]:
    """For each text column that ``EncodedValues.frame`` gives as a categorical (numbers, counts
    and flags never are; dates are, and are cast to DATE), an ENUM type made in ``db`` of its
    categories in their order (the type DuckDB reads the column as); not for one without
    categories (every row missing), which is cast to VARCHAR as before."""
    enums = {}
    for number, (column, kind) in enumerate(encoded.frame(0, 0).dtypes.items()):  # no rows: the columns' types only
        if column not in DATE_COLUMNS and isinstance(kind, pd.CategoricalDtype) and len(kind.categories):
            enums[column] = f"_text_{number}"
            db.execute(f"CREATE TYPE {enums[column]} AS ENUM ({', '.join(sql_text(text) for text in kind.categories)})")
    return enums



# --- documents ----------------------------------------------------------------------------------

def service_paths(slug: str) -> dict[str, str]:
    return {"page": f"services/{slug}/", "csv": f"data/services/{slug}.csv", "json": f"data/services/{slug}.json"}


def department_paths(slug: str) -> dict[str, str]:
    return {"page": f"departments/{slug}/", "csv": f"data/departments/{slug}.csv", "json": f"data/departments/{slug}.json"}


SITE_DOWNLOADS = {
    "csv": "data/kpis.csv",
    "json": "data/kpis.json",
    "parquet": "data/kpis.parquet",
    "kpi_definitions": "data/kpi-definitions.csv",
    "datapackage": "data/datapackage.json",
    "table_schema": "data/kpis.tableschema.json",
}
SCHEMAS = {
    "index": "api/schemas/index.schema.json",
    "values": "api/schemas/values.schema.json",
}


def _definition_record(definition: KpiDefinition) -> dict[str, Any]:
    return {column: getattr(definition, column) for column in DEFINITION_COLUMNS}


def _values_document(scope: dict[str, Any], config: Config, rows: _RawJSON, parts: list[dict[str, Any]] | None = None,
                     service: Service | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "api_version": API_VERSION,
        "schema": SCHEMAS["values"],
        "scope": scope,
        "licence": config.site.licence,
        "columns": list(SCHEMA_COLUMNS),
        "rows": rows,
    }
    if parts:
        document["parts"] = parts
    if service is not None:
        document.update(service_marks(service))
    return document


def service_marks(service: Service) -> dict[str, Any]:
    """A service's targets (KPI id -> value, in the KPI's unit: rates as fractions, money in
    pounds) and its dated notes, in date order as numbered on its page."""
    return {
        "targets": {kpi: number(value) for kpi, value in sorted(service.targets.items())},
        "annotations": [{"date": a.date.isoformat(), "text": a.text, "kpi": a.kpi}
                        for a in sorted(service.annotations, key=lambda a: a.date)],
    }


def index_document(config: Config, results: KpiResults) -> dict[str, Any]:
    by_department: dict[str, list[str]] = {d.slug: [] for d in config.departments}
    for service in config.services:
        by_department[service.department].append(service.slug)
    document: dict[str, Any] = {
        "api_version": API_VERSION,
        "schema": SCHEMAS["index"],
        "title": config.site.title,
        "licence": config.site.licence,
        "base_url": config.site.base_url,
        "latest_period_end": results.latest_end.isoformat() if results.latest_end else None,
        "downloads": SITE_DOWNLOADS,
        "schemas": SCHEMAS,
        "kpis": [_definition_record(d) for d in results.definitions],
        "departments": [
            {"slug": d.slug, "name": d.name, "abbreviation": d.abbreviation, **department_paths(d.slug), "services": by_department[d.slug]}
            for d in config.departments
        ],
        "services": [
            {"slug": s.slug, "name": s.name, "department": s.department, "agency": s.agency, **service_paths(s.slug),
             "parts": [{"slug": part.slug, "name": part.name} for part in s.parts]}
            for s in config.services
        ],
    }
    return document


def _package_name(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "perfgen"


def _licences(text: str) -> list[dict[str, str]]:
    if re.search(r"open government licen[cs]e", text, re.IGNORECASE):
        return [{"name": "OGL-UK-3.0", "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/", "title": "Open Government Licence v3.0"}]
    return [{"name": "other", "title": text}]


def table_schema() -> dict[str, Any]:
    """Frictionless Table Schema of kpis.csv and its per-service and per-department subsets."""
    fields = []
    for column in SCHEMA_COLUMNS:
        kind = "date" if column in DATE_COLUMNS else "number" if column in NUMBER_COLUMNS else "integer" if column in INTEGER_COLUMNS else "boolean" if column in BOOLEAN_COLUMNS else "string"
        field: dict[str, Any] = {"name": column, "type": kind, "description": COLUMN_DESCRIPTIONS[column]}
        if column in ("kpi", "status", "basis"):
            field["constraints"] = {"required": True}
        if column == "status":
            field["constraints"]["enum"] = list(STATUSES)
        if column == "basis":
            field["constraints"]["enum"] = list(BASES)
        if column in NUMBER_COLUMNS:
            field["constraints"] = {"minimum": 0}
        fields.append(field)
    return {
        "fields": fields,
        "missingValues": [""],
        "foreignKeys": [{"fields": "kpi", "reference": {"resource": "kpi-definitions", "fields": "id"}}],
    }


def datapackage(config: Config) -> dict[str, Any]:
    def resource(name: str, path: str, title: str) -> dict[str, Any]:
        return {"name": name, "path": path, "title": title, "profile": "tabular-data-resource", "format": "csv",
                "mediatype": "text/csv", "encoding": "utf-8", "schema": "kpis.tableschema.json"}

    definitions_fields = [
        {"name": "id", "type": "string", "description": "KPI id, as in the kpi column of the value files.", "constraints": {"required": True, "unique": True}},
        {"name": "label", "type": "string", "description": "Name of the KPI."},
        {"name": "unit", "type": "string", "description": "; ".join(f"{k}: {v}" for k, v in UNIT_WORDS.items()), "constraints": {"enum": list(UNIT_WORDS)}},
        {"name": "better", "type": "string", "description": "Which direction is better: higher, lower or neutral.", "constraints": {"enum": ["higher", "lower", "neutral"]}},
        {"name": "aggregate", "type": "string", "description": "ratio: totals are sum of numerators / sum of denominators; sum: totals are sums.", "constraints": {"enum": ["ratio", "sum"]}},
        {"name": "mandatory", "type": "boolean", "description": "One of the four KPIs every service must publish."},
        {"name": "numerator", "type": "string", "description": "What the numerator counts."},
        {"name": "denominator", "type": "string", "description": "What the denominator counts (empty for sums)."},
        {"name": "definition", "type": "string", "description": "What the KPI means."},
    ]
    resources = [
        {"name": "kpi-definitions", "path": "kpi-definitions.csv", "title": "KPI definitions: label, unit and meaning of each KPI",
         "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
         "schema": {"fields": definitions_fields, "primaryKey": ["id"], "missingValues": [""]}},
        resource("kpis", "kpis.csv", "Every KPI value of every service, department and all of government"),
    ]
    for department in config.departments:
        resource_entry = resource(f"department-{department.slug}", f"departments/{department.slug}.csv", f"{department.name}: its totals for every period and its services' headline values")
        resources.append(resource_entry)
    for service in config.services:
        resources.append(resource(f"service-{service.slug}", f"services/{service.slug}.csv", f"{service.name}: every KPI value"))
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": _package_name(config.site.title),
        "title": config.site.title,
        "description": "Key performance indicators of government services: cost per transaction, completion rate, user satisfaction and digital take-up, with their numerators, denominators, status and coverage.",
        "licenses": _licences(config.site.licence),
        "resources": resources,
    }
    if config.site.source:
        package["sources"] = [{"title": config.site.source}]
    if config.site.base_url:
        package["homepage"] = config.site.base_url
    return package


# --- JSON Schemas -------------------------------------------------------------------------------

def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def values_schema() -> dict[str, Any]:
    """JSON Schema of the value files: ``columns`` names the fields, each of ``rows`` is one
    value with its fields in that order (the "split" layout: a third the size of objects)."""
    items: list[dict[str, Any]] = []
    for column in SCHEMA_COLUMNS:
        if column in DATE_COLUMNS:
            spec = _nullable("string", format="date", pattern=r"^\d{4}-\d{2}-\d{2}$")
        elif column in NUMBER_COLUMNS:
            spec = _nullable("number", minimum=0)
        elif column in INTEGER_COLUMNS:
            spec = _nullable("integer", minimum=0)
        elif column in BOOLEAN_COLUMNS:
            spec = _nullable("boolean")
        elif column == "status":
            spec = {"enum": list(STATUSES)}
        elif column == "basis":
            spec = {"enum": list(BASES)}
        elif column == "kpi":
            spec = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
        else:
            spec = _nullable("string", minLength=1)
        items.append({"title": column, **spec, "description": COLUMN_DESCRIPTIONS[column]})
    slug = {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"}
    rows = {"type": "array", "items": {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMAS["values"],
        "title": "perfgen KPI values (data/kpis.json, data/services/<slug>.json, data/departments/<slug>.json)",
        "description": "Every row is one KPI value; its fields are in the order given by 'columns'. Empty fields are null.",
        "type": "object",
        "required": ["api_version", "schema", "scope", "licence", "columns", "rows"],
        "additionalProperties": False,
        "properties": {
            "api_version": {"const": API_VERSION},
            "schema": {"const": SCHEMAS["values"]},
            "scope": {
                "type": "object",
                "required": ["type", "name", "page"],
                "additionalProperties": False,
                "properties": {
                    "type": {"enum": ["site", "department", "service"]},
                    "slug": slug,
                    "name": {"type": "string"},
                    "department": slug,
                    "page": {"type": "string", "description": "The page showing these figures, relative to the site root."},
                },
            },
            "licence": {"type": "string"},
            "targets": {
                "type": "object",
                "description": "Service files only: the service's target for each KPI that has one, in the KPI's unit (rates as fractions from 0 to 1, money in pounds).",
                "propertyNames": {"enum": list(KPI_IDS)},
                "additionalProperties": {"type": "number", "minimum": 0},
            },
            "annotations": {
                "type": "array",
                "description": "Service files only: dated notes on the figures, in date order (numbered 1, 2, ... on the service's page and charts).",
                "items": {
                    "type": "object", "required": ["date", "text", "kpi"], "additionalProperties": False,
                    "properties": {
                        "date": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                        "text": {"type": "string", "minLength": 1},
                        "kpi": {"anyOf": [{"enum": list(KPI_IDS)}, {"type": "null"}], "description": "The KPI the note is about; null for every KPI of the service."},
                    },
                },
            },
            "columns": {"const": list(SCHEMA_COLUMNS)},
            "rows": rows,
            "parts": {
                "type": "array",
                "description": "Only in the file of a service measured in parts: each part with every one of its values, in the layout of 'rows' ('service' is the service the part belongs to). The service's own rows are the sum of its parts; departments and government add up the service, never its parts again.",
                "items": {
                    "type": "object",
                    "required": ["slug", "name", "description", "rows"],
                    "additionalProperties": False,
                    "properties": {
                        "slug": slug,
                        "name": {"type": "string"},
                        "description": {"type": ["string", "null"]},
                        "rows": rows,
                    },
                },
            },
        },
    }


def index_schema() -> dict[str, Any]:
    slug = {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"}
    path = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9./_-]*$", "description": "Relative to the site root."}
    definition = {
        "type": "object",
        "required": list(DEFINITION_COLUMNS),
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}, "label": {"type": "string"},
            "unit": {"enum": list(UNIT_WORDS)}, "better": {"enum": ["higher", "lower", "neutral"]},
            "aggregate": {"enum": ["ratio", "sum"]}, "mandatory": {"type": "boolean"},
            "numerator": {"type": "string"}, "denominator": {"type": "string"}, "definition": {"type": "string"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMAS["index"],
        "title": "perfgen static API index (api/index.json)",
        "type": "object",
        "required": ["api_version", "schema", "title", "licence", "base_url", "latest_period_end", "downloads", "schemas", "kpis", "departments", "services"],
        "additionalProperties": False,
        "properties": {
            "api_version": {"const": API_VERSION},
            "schema": {"const": SCHEMAS["index"]},
            "title": {"type": "string"},
            "licence": {"type": "string"},
            "base_url": {"type": ["string", "null"]},
            "latest_period_end": {"type": ["string", "null"], "format": "date"},
            "downloads": {"type": "object", "required": list(SITE_DOWNLOADS), "additionalProperties": path},
            "schemas": {"type": "object", "required": list(SCHEMAS), "additionalProperties": path},
            "kpis": {"type": "array", "items": definition},
            "departments": {"type": "array", "items": {
                "type": "object", "required": ["slug", "name", "abbreviation", "page", "csv", "json", "services"], "additionalProperties": False,
                "properties": {"slug": slug, "name": {"type": "string"}, "abbreviation": {"type": ["string", "null"]},
                               "page": path, "csv": path, "json": path, "services": {"type": "array", "items": slug}},
            }},
            "services": {"type": "array", "items": {
                "type": "object", "required": ["slug", "name", "department", "agency", "page", "csv", "json", "parts"], "additionalProperties": False,
                "properties": {"slug": slug, "name": {"type": "string"}, "department": slug, "agency": {"anyOf": [slug, {"type": "null"}]},
                               "page": path, "csv": path, "json": path,
                               "parts": {"type": "array", "description": "The parts the service is measured in (empty for most services); each part's values are in the service's JSON file.",
                                         "items": {"type": "object", "required": ["slug", "name"], "additionalProperties": False,
                                                   "properties": {"slug": slug, "name": {"type": "string"}}}}},
            }},
        },
    }


# --- hooks --------------------------------------------------------------------------------------

def open_data_files(config: Config, results: KpiResults, cache: Path | None = None) -> Iterator[tuple[str, str | bytes]]:
    """Every open data file, one at a time: the build writes each before the next is made, so
    the site's files (several hundred megabytes for a thousand services) are never all held.
    ``cache``: a folder where the encoded rows are kept between builds (``BlockCache``)."""
    values = results.values
    encoded = EncodedValues(values, cache, results.value_hashes())
    yield SITE_DOWNLOADS["csv"], encoded.csv()
    yield SITE_DOWNLOADS["json"], _json_parts(_values_document({"type": "site", "name": config.site.title, "page": ""}, config, encoded.json_rows()))
    yield SITE_DOWNLOADS["parquet"], values_parquet(values, encoded)
    yield SITE_DOWNLOADS["kpi_definitions"], csv_text(DEFINITION_COLUMNS, ([getattr(d, c) for c in DEFINITION_COLUMNS] for d in results.definitions), booleans=("mandatory",))
    yield SITE_DOWNLOADS["datapackage"], _json(datapackage(config))
    yield SITE_DOWNLOADS["table_schema"], _json(table_schema())
    yield "api/index.json", _json(index_document(config, results))
    yield SCHEMAS["index"], _json(index_schema())
    yield SCHEMAS["values"], _json(values_schema())
    # A department's file: its totals for every period and its services' headline figures (the
    # values its page shows). Every value of a service is in the service's own file.
    # Row positions per group, not a copy of each group's rows.
    shown = values[((values["service"] == "") | (values["basis"] == "headline")) & (values["department"] != "")]
    shown_positions = shown.index.to_numpy()
    by_department = {slug: shown_positions[rows] for slug, rows in shown.groupby("department", sort=False, observed=True).indices.items()}
    by_service = values.groupby("service", sort=False, observed=True).indices
    part_values = results.part_values
    encoded_parts = EncodedValues(part_values) if not part_values.empty else None
    by_part = part_values.groupby("part", sort=False, observed=True).indices if encoded_parts else {}
    none = np.array([], dtype=np.int64)
    for department in config.departments:
        rows = by_department.get(department.slug, none)
        paths = department_paths(department.slug)
        yield paths["csv"], encoded.csv(rows)
        yield paths["json"], _json(_values_document({"type": "department", "slug": department.slug, "name": department.name, "page": paths["page"]}, config, encoded.json_rows(rows)), compact=True)
    for service in config.services:
        rows = by_service.get(service.slug, none)
        paths = service_paths(service.slug)
        yield paths["csv"], encoded.csv(rows)
        parts = [{"slug": part.slug, "name": part.name, "description": part.description,
                  "rows": encoded_parts.json_rows(by_part[part.slug]) if encoded_parts and part.slug in by_part else []}
                 for part in service.parts]
        yield paths["json"], _json(_values_document({"type": "service", "slug": service.slug, "name": service.name, "department": service.department, "page": paths["page"]},
                                                    config, encoded.json_rows(rows), parts, service), compact=True)


@hookimpl
def publish_files(config: Config, results: KpiResults, cache: Path | None) -> Iterator[tuple[str, str | bytes]]:
    return open_data_files(config, results, cache / "opendata" if cache is not None else None)


@hookimpl
def render_page_sections(kind: str, page: Any) -> list[PageSection] | None:
    """'Download these figures' at the end of the home, department and service pages."""
    if kind == "service":
        service = page.context["service"]
        paths, what = service_paths(service.slug), f"every figure for {service.name}, for every period"
    elif kind == "department":
        department = page.context["department"]
        paths, what = department_paths(department.slug), f"every figure for the {department.name} and its services, for every period"
    elif kind == "data":
        files = [
            {"href": SITE_DOWNLOADS["json"], "text": "kpis.json", "description": "Every value as JSON: a list of columns and a list of rows."},
            {"href": SITE_DOWNLOADS["parquet"], "text": "kpis.parquet", "description": "Every value as Parquet, typed, for analysis tools."},
            {"href": SITE_DOWNLOADS["kpi_definitions"], "text": "kpi-definitions.csv", "description": "Each KPI's id, label, unit, better direction and meaning."},
            {"href": SITE_DOWNLOADS["datapackage"], "text": "datapackage.json", "description": "Frictionless Data Package describing every CSV file: fields, units and licence."},
            {"href": "api/index.json", "text": "api/index.json", "description": "Every service and department with the addresses of its page and files."},
            {"href": SCHEMAS["values"], "text": "values.schema.json", "description": "JSON Schema of kpis.json and the service and department JSON files."},
            {"href": SCHEMAS["index"], "text": "index.schema.json", "description": "JSON Schema of api/index.json."},
        ]
        return [PageSection("other-formats", "sections/api.html", {"files": files}, order=900)]
    elif kind == "home":
        paths, what = {"csv": SITE_DOWNLOADS["csv"], "json": SITE_DOWNLOADS["json"], "parquet": SITE_DOWNLOADS["parquet"]}, "every figure on this site, for every period"
    else:
        return None
    links = [{"href": paths[key], "text": label} for key, label in (("csv", "CSV"), ("json", "JSON"), ("parquet", "Parquet")) if key in paths]
    return [PageSection("download-data", "sections/downloads.html", {"downloads": links, "downloads_what": what}, order=900)]
