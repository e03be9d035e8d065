"""The facts kept from one build to the next (kpis/facts_cache.py): a segment is the services
whose rows come from the same data files; a rebuild reads the unchanged segments' facts and
works out the others', with the same figures as without the cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from perfgen.config import load_config
from perfgen.errors import Warnings
from perfgen.kpis import compute_kpis
from perfgen.kpis.facts_cache import FactsCache
from perfgen.load import load_data
from perfgen.pipeline import Project, build
from site_checks import tree_hashes

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
CONFIG = """departments:
  - slug: d
    name: D
services:
""" + "".join(f"  - slug: s{i}\n    name: Service {i}\n    department: d\n" for i in range(1, 5))


def write_project(root: Path, files: dict[str, list[str]], bump: int = 0) -> None:
    """Each file a year of monthly figures of its services (the first file 2020, the next 2021,
    and so on: a service in two files has other periods in each); ``bump`` added to the last
    file's transactions."""
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config/services.yml").write_text(CONFIG, encoding="utf-8")
    shutil.rmtree(root / "data", ignore_errors=True)
    (root / "data").mkdir()
    for index, (name, services) in enumerate(files.items()):
        lines = ["service,period,channel,metric,value"]
        extra = bump if index == len(files) - 1 else 0
        for service in services:
            for month in range(1, 13):
                base = int(service[1:]) * 100 + month + extra
                lines += [f"{service},{2020 + index}-{month:02d},online,transactions,{base}",
                          f"{service},{2020 + index}-{month:02d},phone,transactions,{base // 3}",
                          f"{service},{2020 + index}-{month:02d},,cost,{base * 2.05}"]
        (root / "data" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def kpis(root: Path, cache: FactsCache | None):
    config = load_config(root / "config/services.yml", "config/services.yml")
    loaded = load_data(root / "data", config, root)
    try:
        return compute_kpis(loaded, config, Warnings(), channels=True, facts_cache=cache)
    finally:
        loaded.db.close()


def same(a, b) -> None:
    pd.testing.assert_frame_equal(a.values, b.values)
    pd.testing.assert_frame_equal(a.quality, b.quality)
    pd.testing.assert_frame_equal(a.channels, b.channels)


def test_kept_facts_give_the_same_figures_and_only_a_changed_files_services_are_worked_out_again(tmp_path, monkeypatch):
    import perfgen.kpis as kpis_module

    root = tmp_path / "project"
    write_project(root, {"a.csv": ["s1"], "b.csv": ["s2", "s3"], "c.csv": ["s3", "s4"]})  # s3 in two files
    cache = FactsCache(tmp_path / "facts", "code")
    worked_out: list[list[str]] = []
    facts_of = kpis_module._facts_of
    monkeypatch.setattr(kpis_module, "_facts_of", lambda db, kept: (worked_out.append(sorted(
        {row[0] for row in db.execute("SELECT DISTINCT service::VARCHAR FROM clean_observations").fetchall()} - set(kept))), facts_of(db, kept))[1])
    fresh = kpis(root, None)
    same(fresh, kpis(root, cache))  # works out every segment and keeps them: s1; s2; s3 (a and c); s4
    assert len(list((tmp_path / "facts").iterdir())) == 4
    same(fresh, kpis(root, cache))
    assert worked_out == [["s1", "s2", "s3", "s4"], ["s1", "s2", "s3", "s4"], []]
    # c.csv changes: s3 and s4 are worked out again, s1 and s2 read
    write_project(root, {"a.csv": ["s1"], "b.csv": ["s2", "s3"], "c.csv": ["s3", "s4"]}, bump=7)
    changed = kpis(root, None)
    assert not changed.values.equals(fresh.values)
    worked_out.clear()
    same(changed, kpis(root, cache))
    assert worked_out == [["s3", "s4"]] and len(list((tmp_path / "facts").iterdir())) == 4  # the old segments of s3 and s4 removed


def test_a_service_whose_other_file_lost_its_rows_is_worked_out_again(tmp_path):
    """s2 is in a.csv and b.csv; once b.csv no longer has it, s2's rows are those of a.csv only,
    like s1's: s1's kept segment (a.csv) does not hold s2's facts."""
    root = tmp_path / "project"
    cache = FactsCache(tmp_path / "facts", "code")
    write_project(root, {"a.csv": ["s1", "s2"], "b.csv": ["s2", "s3"]})
    kpis(root, cache)
    write_project(root, {"a.csv": ["s1", "s2"], "b.csv": ["s3"]})
    same(kpis(root, None), kpis(root, cache))


def test_a_damaged_segment_is_worked_out_again(tmp_path):
    root = tmp_path / "project"
    write_project(root, {"a.csv": ["s1"], "b.csv": ["s2"]})
    cache = FactsCache(tmp_path / "facts", "code")
    fresh = kpis(root, cache)
    for segment in (tmp_path / "facts").iterdir():
        for part in segment.glob("*.parquet"):
            part.write_bytes(b"PAR1 not a Parquet file PAR1")
    same(fresh, kpis(root, cache))
    import duckdb

    for segment in (tmp_path / "facts").iterdir():  # kept again, readable
        assert duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{segment}/*.parquet')").fetchone()[0] > 0
    same(fresh, kpis(root, cache))


@pytest.mark.parametrize("change", ["config", "code"])
def test_kept_facts_are_not_read_under_another_config_or_code(tmp_path, change):
    """The key hashes perfgen's code and the config (pipeline._facts_cache): a digital channel
    added to the config changes the facts of every service."""
    root = tmp_path / "project"
    write_project(root, {"a.csv": ["s1", "s2"]})
    kpis(root, FactsCache(tmp_path / "facts", "code"))
    if change == "config":
        (root / "config/services.yml").write_text(CONFIG.replace("services:\n", "site:\n  digital_channels: [online, phone]\nservices:\n"), encoding="utf-8")
    other = FactsCache(tmp_path / "facts", "code" if change == "config" else "other code")
    from perfgen.pipeline import _facts_cache  # the key the build uses: the config's fields in it
    if change == "config":
        config = load_config(root / "config/services.yml", "config/services.yml")
        other = FactsCache(tmp_path / "facts", _facts_cache(Project(config=root / "config/services.yml", data=root / "data", root=root,
                                                                            cache=tmp_path), "code", config).code)
    same(kpis(root, None), kpis(root, other))


def test_a_build_with_kept_facts_publishes_the_same_site(tmp_path):
    """The example project built with a cache and without, then again after a figure changed:
    the same sites."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    cached = Project(config=root / "config/services.yml", data=root / "data", output=tmp_path / "cached", root=root, cache=tmp_path / "cache")
    fresh = Project(config=root / "config/services.yml", data=root / "data", output=tmp_path / "fresh", root=root)
    for _ in range(2):
        build(cached, workers=1)
        build(fresh, workers=1)
        assert tree_hashes(tmp_path / "cached") == tree_hashes(tmp_path / "fresh")
        path = root / "data/dwp-carers-allowance.csv"
        text = path.read_text(encoding="utf-8")
        old = next(line for line in text.splitlines() if ",2024-Q4,online,transactions," in line)
        path.write_text(text.replace(old, old.rsplit(",", 1)[0] + f",{int(old.rsplit(',', 1)[1]) + 1000}"), encoding="utf-8")
    assert len(list((tmp_path / "cache/facts").iterdir())) == len(list((root / "data").iterdir()))  # a segment per file here


def test_rolling_windows_worked_out_in_batches_of_services_are_the_same(monkeypatch):
    """A large site's rolling 12-month windows are summed a batch of services at a time
    (kpis.WINDOW_ROWS): the same facts as all at once."""
    import perfgen.kpis as kpis_module

    whole = kpis(EXAMPLE, None)
    monkeypatch.setattr(kpis_module, "WINDOW_ROWS", 10)
    statements: list[str] = []
    execute_bounded = kpis_module.execute_bounded
    monkeypatch.setattr(kpis_module, "execute_bounded", lambda db, sql: (statements.append(sql), execute_bounded(db, sql))[1])
    same(whole, kpis(EXAMPLE, None))
    batches = [sql for sql in statements if "% " in sql and "INSERT INTO facts" in sql]
    assert len(batches) > 3 and all(kpis_module.WINDOW_BATCH not in sql for sql in batches)


def test_segments_not_used_and_staging_folders_an_hour_old_are_removed(tmp_path):
    import os

    root = tmp_path / "project"
    write_project(root, {"a.csv": ["s1"]})
    folder = tmp_path / "facts"
    for name in (".writing-old", ".writing-new", "0" * 64):
        (folder / name).mkdir(parents=True)
    os.utime(folder / ".writing-old", (1, 1))
    kpis(root, FactsCache(folder, "code"))
    left = sorted(path.name for path in folder.iterdir())
    assert left[0] == ".writing-new" and len(left) == 2 and "0" * 64 not in left  # and this build's segment
