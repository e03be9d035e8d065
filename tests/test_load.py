"""The load stage's memory bound: DuckDB spills beyond it, and a statement that needs more runs
again without it."""

from __future__ import annotations

import gc
from pathlib import Path

import duckdb

from perfgen import load
from perfgen.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def test_a_statement_over_the_bound_runs_again_without_it():
    db = duckdb.connect()
    db.execute("SET memory_limit = '1MB'")
    sort = "CREATE TABLE sorted AS SELECT range AS number, range::VARCHAR || ' a text too long to be inlined' AS text FROM range(300000) ORDER BY text"
    try:
        db.execute(sort)
        raise AssertionError("the sort fitted in 1 MB: the test no longer runs out of memory")
    except duckdb.OutOfMemoryException:
        pass
    load._execute_bounded(db, sort)
    assert db.execute("SELECT count(*) FROM sorted").fetchone()[0] == 300000
    assert db.execute("SELECT current_setting('memory_limit')").fetchone()[0] != "1.0 MiB"  # lifted
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
