"""The load stage's memory bound (DuckDB spills beyond it, and a statement that needs more runs
again without it) and its row cache (each file's rows kept by content: the same rows whether
parsed or read back, problems named as when parsed)."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import duckdb
import pytest

from perfgen import load
from perfgen.config import load_config
from perfgen.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "fixtures" / "example"


def test_a_statement_over_the_bound_runs_again_without_it():
    db = duckdb.connect()
    db.execute("SET memory_limit = '1MB'")
    sort = "CREATE TABLE sorted AS SELECT range AS number, range::VARCHAR || ' a text too long to be inlined' AS text FROM range(300000) ORDER BY text"
    try:
        db.execute(sort)
        raise AssertionError("the sort fitted in 1 MB: the test no longer runs out of memory")
    except duckdb.OutOfMemoryException:
        pass
    load.execute_bounded(db, sort)
    assert db.execute("SELECT count(*) FROM sorted").fetchone()[0] == 300000
    assert db.execute("SELECT current_setting('memory_limit')").fetchone()[0] != "1.0 MiB"  # lifted
    db.close()


def test_the_memory_bound_is_set_again_with_the_folder_already_spilled_into():
    """The KPI stage bounds DuckDB's memory again after the load, whose spill folder DuckDB
    may have used already (it cannot be switched then): the same folder is kept."""
    db = duckdb.connect()
    load.bound_memory(db)
    folder = db.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    db.execute("SET memory_limit = '32MB'")  # a sort of 1,000,000 texts spills
    db.execute("CREATE TABLE sorted AS SELECT range AS number, range::VARCHAR || ' a text too long to be inlined' AS text FROM range(1000000) ORDER BY text")
    assert any(Path(folder).iterdir())
    load.bound_memory(db)  # DuckDB refused a new folder once the first had been used
    assert db.execute("SELECT current_setting('temp_directory')").fetchone()[0] == folder
    load.unbound_memory(db)
    db.close()


def test_the_bounded_load_gives_the_same_rows_and_leaves_no_folder(monkeypatch, tmp_path):
    config = load_config(ROOT / "config/services.yml", "config/services.yml")
    unbounded = load.load_data(ROOT / "data", config, ROOT)
    expected = unbounded.db.execute("SELECT * FROM clean_observations").fetchall()
    unbounded.db.close()
    # Spilled to a folder of its own in the temporary folder, gone once the connection is.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(load.tempfile, "tempdir", None)
    monkeypatch.setattr(load, "SPILL_HEADROOM", 0)  # the tightest bound: twice the text tables
    bounded = load.load_data(ROOT / "data", config, ROOT)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("perfgen-duckdb-")]
    assert bounded.db.execute("SELECT * FROM clean_observations").fetchall() == expected
    assert bounded.db.execute("SELECT current_setting('memory_limit')").fetchone()[0] == \
        duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchone()[0]  # lifted for the KPI stage
    bounded.db.close()
    del bounded
    gc.collect()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("perfgen-duckdb-")]


def _loaded_rows(project: Path, cache: load.RowCache | None) -> tuple[list[tuple], list[tuple], int]:
    """Every table the KPI stage reads, row by row, and how many files came from the cache."""
    config = load_config(project / "config/services.yml", "config/services.yml")
    loaded = load.load_data(project / "data", config, project, cache)
    try:
        observations = loaded.db.execute("SELECT * FROM clean_observations").fetchall()
        others = loaded.db.execute("SELECT * FROM periods ORDER BY label").fetchall() + loaded.db.execute("SELECT * FROM input_files").fetchall()
        return observations, others, loaded.from_cache
    finally:
        loaded.db.close()


def test_rows_read_from_the_cache_are_the_rows_parsed(tmp_path):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    # Quotes, a note with a comma, a blank line and padded cells: lines placed by Python's reader.
    extra = project / "data" / "notes.csv"
    extra.write_text('service,period,channel,metric,value,status,note\n\nrenew-driving-licence , 2019-01,online,transactions, 12 ,,"a note, quoted"\n'
                     'renew-driving-licence,2019-01,online,cost,,not_provided,\n', encoding="utf-8")
    cache = load.RowCache(tmp_path / "rows", "code")
    parsed = _loaded_rows(project, None)
    assert parsed[2] == 0
    first = _loaded_rows(project, cache)  # parses every file and keeps its rows
    assert first == parsed
    assert len(list(cache.folder.glob("*.parquet"))) == 5
    again = _loaded_rows(project, cache)
    assert again[:2] == parsed[:2] and again[2] == 5
    assert [(row[1], row[9], row[10], row[11]) for row in again[0] if row[0] == "data/notes.csv"] == [
        (3, 12.0, "value", "a note, quoted"), (4, None, "not_provided", None)]  # the file's own lines, trimmed
    # One file changed: parsed again, the others read back; its old rows are removed.
    changed = project / "data" / "hmpo-passports.csv"
    changed.write_text(changed.read_text(encoding="utf-8").replace("357000", "357001"), encoding="utf-8")
    assert _loaded_rows(project, cache) == (*_loaded_rows(project, None)[:2], 4)
    assert len(list(cache.folder.glob("*.parquet"))) == 5
    # Other code: nothing is read from the cache.
    assert _loaded_rows(project, load.RowCache(cache.folder, "other code"))[2] == 0


def test_a_damaged_cached_file_is_parsed_again(tmp_path):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    cache = load.RowCache(tmp_path / "rows", "code")
    expected = _loaded_rows(project, cache)
    for index, entry in enumerate(sorted(cache.folder.glob("*.parquet"))):
        data = entry.read_bytes()
        entry.write_bytes(data[: len(data) // 2] if index % 2 else b"not parquet")
    assert _loaded_rows(project, cache) == (*expected[:2], 0)  # every one parsed again and kept
    assert _loaded_rows(project, cache) == (*expected[:2], 4)
    # Damage past the footer shows only when the rows are read: every file is parsed again.
    entry = max(cache.folder.glob("*.parquet"), key=lambda path: path.stat().st_size)
    data = bytearray(entry.read_bytes())
    data[len(data) // 4: len(data) // 2] = bytes(len(data) // 2 - len(data) // 4)
    entry.write_bytes(bytes(data))
    assert _loaded_rows(project, cache) == (*expected[:2], 0)
    assert _loaded_rows(project, cache) == (*expected[:2], 4)


def test_cached_rows_are_checked_against_the_config_of_the_build(tmp_path):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    cache = load.RowCache(tmp_path / "rows", "code")
    _loaded_rows(project, cache)
    config = project / "config/services.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("apply-passport", "apply-for-a-passport"), encoding="utf-8")
    with pytest.raises(DataError) as raised:
        _loaded_rows(project, cache)
    problem = raised.value.problems[0]
    assert (problem.file, problem.line) == ("data/hmpo-passports.csv", 2)
    assert "unknown service 'apply-passport'" in problem.message


def test_a_file_with_problems_is_not_kept_and_is_named_again(tmp_path):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    broken = project / "data" / "hmpo-passports.csv"
    lines = broken.read_text(encoding="utf-8").splitlines()
    lines[4] += ",extra"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cache = load.RowCache(tmp_path / "rows", "code")
    for _ in range(2):
        with pytest.raises(DataError) as raised:
            _loaded_rows(project, cache)
        assert [(p.file, p.line, p.message) for p in raised.value.problems] == [("data/hmpo-passports.csv", 5, "too many fields (expected 5)")]
    assert not cache.folder.exists()  # a load with problems keeps nothing


def test_a_row_cache_that_cannot_be_written_is_an_os_error_naming_it(tmp_path):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    blocked = tmp_path / "rows"
    blocked.write_text("a file where the cache's folder would be", encoding="utf-8")
    with pytest.raises(OSError) as raised:
        _loaded_rows(project, load.RowCache(blocked, "code"))
    assert str(blocked) in str(raised.value)


def test_rows_read_from_the_cache_count_in_the_memory_bound_as_if_parsed(tmp_path, monkeypatch):
    """The files read from the cache are not in memory when the bound is set (they are read
    where they are sorted): the bound counts each of their rows as its text row would be, so
    that the load's peak is the same whether a file was parsed or not."""
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    cache = load.RowCache(tmp_path / "rows", "code")
    bounds: list[int] = []
    real = load.bound_memory
    monkeypatch.setattr(load, "bound_memory", lambda db, unread=0: (bounds.append(unread), real(db, unread))[1])
    parsed = _loaded_rows(project, cache)
    again = _loaded_rows(project, cache)
    assert again == (*parsed[:2], 4)
    rows = sum(row[2] for row in parsed[1] if len(row) == 3)  # input_files: path, sha256, rows
    assert rows == len(parsed[0]) and bounds == [0, load.CACHED_ROW_BYTES * rows]


def test_a_load_removes_the_spill_folders_of_builds_that_were_killed(monkeypatch, tmp_path):
    """A killed build leaves its spill folder behind: the next load removes those whose
    process is gone, and keeps a running one's."""
    import os
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = tmp_path / f"{load.SPILL_PREFIX}{gone.stdout.strip()}-abc123"
    alive = tmp_path / f"{load.SPILL_PREFIX}{os.getppid()}-def456"
    other = tmp_path / f"{load.SPILL_PREFIX}notapid"
    for folder in (dead, alive, other):
        folder.mkdir()
        (folder / "spilled.block").write_bytes(b"x" * 10)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(load.tempfile, "tempdir", None)
    config = load_config(EXAMPLE / "config/services.yml", "config/services.yml")
    loaded = load.load_data(EXAMPLE / "data", config, EXAMPLE)
    assert not dead.exists() and alive.is_dir() and other.is_dir()
    own = [p.name for p in tmp_path.iterdir() if p.name.startswith(f"{load.SPILL_PREFIX}{os.getpid()}-")]
    assert len(own) == 1  # this load's, until its connection is closed
    loaded.db.close()


def test_a_renamed_file_is_read_from_the_cache_under_its_new_name(tmp_path):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    cache = load.RowCache(tmp_path / "rows", "code")
    _loaded_rows(project, cache)
    (project / "data" / "hmpo-passports.csv").rename(project / "data" / "passports.csv")
    renamed = _loaded_rows(project, cache)
    assert renamed == (*_loaded_rows(project, None)[:2], 4)
    assert {row[0] for row in renamed[0]} == {"data/dvla-renew-driving-licence.csv", "data/dvsa-theory-test.csv",
                                              "data/dwp-carers-allowance.csv", "data/passports.csv"}
