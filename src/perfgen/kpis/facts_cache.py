"""The facts (``_facts.sql``) of each group of services kept from one build to the next.

A service's facts depend on its own data rows alone: every sum is exact (``_exact_sum``), so
neither the order DuckDB adds rows in nor the other services beside them change a figure. The
rows of a service (or part) come from some of the data files: the services whose rows come from
the same files (by name and SHA-256) form a segment, and a segment's facts are kept in
``.perfgen-cache/facts/<key>/`` (Parquet), the key hashing the files, the config and perfgen's
code (``code``). A rebuild after one file changed works out the facts of that file's services
only and reads the others' (1,000 services in 25 files: 0.8 s of the KPI stage's SQL on two
cores). Deleting the folder changes nothing but the time a build takes; a segment that cannot be
read is worked out again with all the others.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from perfgen.files import abandoned, prune
from perfgen.load import InputFile, insert_table, sql_text

#: Changed whenever what a segment holds changes (its columns, or what they mean).
FACTS_FORMAT = 1


@dataclass
class FactsCache:
    folder: Path
    code: str  # perfgen's code, the plugins, the libraries' versions and the config, hashed

    def segments(self, db: Any, files: list[InputFile]) -> dict[str, list[str]]:
        """Each segment's units (the slugs the rows give: services, or their parts), by key:
        the units whose rows come from the same files. A unit with rows from a file not among
        ``files`` is in none (worked out every time)."""
        sha256 = {file.path: file.sha256 for file in files}
        found = db.execute("SELECT service::VARCHAR, list(DISTINCT file::VARCHAR) FROM clean_observations GROUP BY ALL").fetchall()
        by_files: dict[tuple[str, ...], list[str]] = {}
        for unit, names in found:
            if unit is not None and all(name in sha256 for name in names):
                by_files.setdefault(tuple(sorted(names)), []).append(unit)
        segments = {}
        for names, units in by_files.items():  # the units too: a unit whose other file lost its rows joins a segment
            key = "\n".join([str(FACTS_FORMAT), self.code, *(f"{name}:{sha256[name]}" for name in names), *sorted(units)])
            segments[hashlib.sha256(key.encode()).hexdigest()] = sorted(units)
        return segments

    def kept(self, segments: dict[str, list[str]]) -> list[str]:
        """The segments whose facts are in the folder."""
        return [key for key in segments if (self.folder / key).is_dir()]

    def read(self, db: Any, keys: list[str], table: str) -> None:
        """Add the kept facts of ``keys`` to ``table`` (``duckdb.Error`` if one cannot be read)."""
        if keys:
            listed = ", ".join(sql_text(str(self.folder / key / "*.parquet")) for key in keys)
            db.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet([{listed}])")

    def forget(self, keys: Iterable[str]) -> None:
        """Remove these segments (one could not be read: they are written again)."""
        for key in keys:
            shutil.rmtree(self.folder / key, ignore_errors=True)

    def write(self, db: Any, segments: dict[str, list[str]], table: str) -> None:
        """Keep the facts of ``segments`` (key -> units) from ``table``, in one statement (a
        folder per segment), each folder moved into place whole."""
        if not segments:
            return
        insert_table(db, "_segment_units", {"segment": "VARCHAR", "unit": "_service_slug"},  # the rows' service type: no cast per row
                     [(key, unit) for key, units in segments.items() for unit in units])
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=self.folder))
        try:
            db.execute(f"""COPY (SELECT f.*, s.segment FROM {table} f JOIN _segment_units s ON s.unit = f.service)
                           TO {sql_text(str(staging))} (FORMAT parquet, PARTITION_BY (segment))""")
            for key in segments:
                written = staging / f"segment={key}"
                if written.is_dir() and not (self.folder / key).exists():
                    try:
                        os.replace(written, self.folder / key)
                    except OSError:
                        if not (self.folder / key).is_dir():  # not another build's copy, written meanwhile
                            raise
        except (duckdb.IOException, OSError) as error:
            raise OSError(f"{self.folder}: the facts cannot be kept ({str(error).splitlines()[0]})") from error
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            db.execute("DROP TABLE IF EXISTS _segment_units")

    def keep_only(self, keys: Iterable[str]) -> None:
        """Remove the segments this build did not use, and any staging folder an hour old
        (left by a build that was stopped while writing)."""
        keep = set(keys)
        prune(self.folder, lambda path: abandoned(path) if path.name.startswith(".writing-") else path.name not in keep)
