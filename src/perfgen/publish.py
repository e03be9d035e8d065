"""Stage 6, publish: rendered pages and data files in, the site folder out.

Everything is written to a temporary folder beside the output first; the old site is swapped
out only when the whole site is written, so a failed build never leaves a half-written site and
the previously published one stays untouched.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import shutil
import tempfile
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from perfgen.kpis import SCHEMA_COLUMNS

ASSET_PATTERNS = ("perfgen.min.css", "perfgen-govuk.min.css", "fonts", "images")


def number_text(value: Any) -> str:
    """A number as plain CSV text: integers without '.0', others as the shortest exact repr."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int,)):
        return str(value)
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    # 12 significant figures: exact for any published figure, and free of the last-bit noise
    # that summing floats in a different order can leave.
    text = format(number, ".12g")
    return str(int(float(text))) if float(text).is_integer() and "e" not in text else text


def cell_text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, bool)):
        return number_text(value)
    if hasattr(value, "item"):  # numpy scalars
        return cell_text(value.item())
    return str(value)


def kpis_csv(values: pd.DataFrame) -> str:
    """The public contract: every KPI value with period, numerator, denominator and status."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SCHEMA_COLUMNS)
    for row in values[list(SCHEMA_COLUMNS)].itertuples(index=False):
        writer.writerow([cell_text(v) for v in row])
    return buffer.getvalue()


def package_versions() -> dict[str, str]:
    """Versions of perfgen and the libraries that shape its output."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("perfgen", "duckdb", "pandas", "altair", "vl-convert-python", "jinja2", "govuk-frontend-jinja", "markdown", "nh3", "pydantic", "pyyaml"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            found[name] = "not installed"
    return found


def manifest_json(inputs: list[dict[str, Any]], values: pd.DataFrame, warnings: dict[str, int], pages: int, files: list[str]) -> str:
    """The build's machine-readable record: inputs with hashes and rows, KPI rows, warnings,
    versions. No clock time, so identical inputs still give identical files."""
    kpi_rows = values.groupby(["kpi", "status"]).size()
    manifest = {
        "perfgen_manifest_version": 1,
        "inputs": inputs,
        "kpi_rows": {kpi: {status: int(count) for (k, status), count in kpi_rows.items() if k == kpi} for kpi in sorted(set(values["kpi"]))},
        "kpi_rows_total": int(len(values)),
        "warnings": warnings,
        "pages": pages,
        "files": sorted(files),
        "versions": package_versions(),
    }
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def copy_assets(target: Path) -> None:
    assets = resources.files("perfgen").joinpath("assets")
    with resources.as_file(assets) as source:
        shutil.copytree(source, target / "assets", dirs_exist_ok=True)


def write_site(output: Path, files: Iterable[tuple[str, str | bytes]]) -> None:
    """Write every file into a fresh temporary folder, then swap it in for ``output``."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.building-", dir=output.parent))
    try:
        copy_assets(staging)
        for relative, content in files:
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", newline="\n")
        _normalise_times(staging)
        previous = output.with_name(f".{output.name}.previous")
        if previous.exists():
            shutil.rmtree(previous)
        if output.exists():
            os.replace(output, previous)
        os.replace(staging, output)
        if previous.exists():
            shutil.rmtree(previous)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _normalise_times(folder: Path) -> None:
    """Fixed file times so archives of the site are reproducible too."""
    stamp = 946684800  # 2000-01-01
    for path in folder.rglob("*"):
        os.utime(path, (stamp, stamp))
