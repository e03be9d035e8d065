"""Writing the site: files made in a forked process land in the site as if made in this one."""

from __future__ import annotations

import os

import pytest

from perfgen.errors import DataError, Problem
from perfgen.plugins import TextParts
from perfgen.publish import BackgroundFiles, SiteWriter
from site_checks import tree_hashes


def files():
    yield "data/a.csv", "a,b\n1,2\n"
    yield "data/nested/b.json", b'{"b": 1}\n'
    yield "api/c.json", "[]\n"


@pytest.mark.parametrize("fork", [True, False])
def test_files_made_beside_the_build_are_written_and_named(tmp_path, fork):
    site = tmp_path / "site"
    with SiteWriter(site) as writer:
        assets = writer.written  # the shared CSS and fonts, written first
        background = BackgroundFiles(writer, files, fork=fork)
        assert (background._pid is not None) == (fork and hasattr(os, "fork"))  # pytest runs one thread
        writer.add("index.html", "<p>page</p>")  # the build goes on meanwhile
        assert background.join() == ["data/a.csv", "data/nested/b.json", "api/c.json"]
        written = writer.commit()
    assert written == assets + 4  # the child's three files are counted too
    assert (site / "data/nested/b.json").read_bytes() == b'{"b": 1}\n'
    assert (site / "data/a.csv").read_text() == "a,b\n1,2\n"


def test_every_file_and_folder_of_a_committed_site_has_the_same_fixed_time(tmp_path):
    """Archives of the site are reproducible: the folder, each nested folder and each file
    (written in this process or the forked one, or linked from the previous site) dated
    2000-01-01."""
    site = tmp_path / "site"
    for _ in range(2):  # the second build links the unchanged files from the first
        with SiteWriter(site) as writer:
            BackgroundFiles(writer, files).join()
            writer.add("services/a/index.html", "<p>page</p>")
            writer.commit()
        found = [site, *site.rglob("*")]
        assert {path.relative_to(site).as_posix() for path in found} >= {"data/nested", "data/nested/b.json", "services/a/index.html"}
        assert {os.stat(path).st_mtime for path in found[1:]} == {946684800}


def test_the_forked_process_runs_at_a_lower_priority_than_the_build(tmp_path):
    """The build lays out pages while the open data is written: everything waits for the
    build, so the forked process gives way to it (processes.py); the build keeps its own."""
    from perfgen.processes import HELPER_NICENESS

    own = os.nice(0)

    def niceness():
        yield "niceness.txt", str(os.nice(0))

    with SiteWriter(tmp_path / "site") as writer:
        BackgroundFiles(writer, niceness).join()
        writer.commit()
    assert int((tmp_path / "site" / "niceness.txt").read_text()) == min(19, own + HELPER_NICENESS) and os.nice(0) == own


def test_forked_and_unforked_writes_give_the_same_site(tmp_path):
    sites = []
    for fork in (True, False):
        site = tmp_path / f"site-{fork}"
        with SiteWriter(site) as writer:
            BackgroundFiles(writer, files, fork=fork).join()
            writer.commit()
        sites.append(tree_hashes(site))
    assert sites[0] == sites[1]


def test_text_in_pieces_is_written_as_one_file_and_linked_when_unchanged(tmp_path):
    """A large file comes in pieces (TextParts, the open data): written one piece at a time,
    compared with the published file piece by piece, hard-linked from it when the same."""
    site = tmp_path / "site"
    pieces = ["a,b\n", "", "1,£2\n", "3,4\n"]  # an empty piece and a character of two bytes
    assert TextParts(pieces).size() == len("".join(pieces).encode("utf-8"))
    with SiteWriter(site) as writer:
        writer.add("data/big.csv", TextParts(pieces))
        writer.commit()
    assert (site / "data/big.csv").read_text(encoding="utf-8") == "a,b\n1,£2\n3,4\n"
    for changed, linked in ((pieces, True), (["a,b\n1,£2\n", "3,4\n"], True), (["a,b\n1,£2\n3,5\n"], False),
                            (["a,b\n1,£2\n3,4\n", "5,6\n"], False), (["a,b\n1,£2\n3,4"], False)):
        before = os.stat(site / "data/big.csv").st_ino
        with SiteWriter(site) as writer:
            start = writer.written
            writer.add("data/big.csv", TextParts(changed))
            assert writer.written - start == (0 if linked else 1)
            writer.commit()
        assert (site / "data/big.csv").read_text(encoding="utf-8") == "".join(changed)
        assert (os.stat(site / "data/big.csv").st_ino == before) == linked



def test_a_file_of_several_megabytes_is_compared_block_by_block_across_its_pieces(tmp_path):
    """``_same_file`` reads the published file a megabyte at a time against pieces of any size:
    the same bytes are the same file however they are cut; one byte changed anywhere (the
    first, one on a block's edge, the last), one missing or one more are not."""
    from itertools import pairwise

    from perfgen.publish import _same_file

    data = bytes(range(256)) * (3 * 4096 + 17)  # 3 MB and a bit: blocks end inside pieces
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    cuts = [0, 5, (1 << 20) - 3, (1 << 20) + 9, 2 * (1 << 20), len(data)]
    assert _same_file(path, data)
    assert _same_file(path, TextParts([data[a:b] for a, b in pairwise(cuts)]))
    for position in (0, (1 << 20) - 1, 1 << 20, len(data) - 1):
        changed = bytearray(data)
        changed[position] ^= 1
        assert not _same_file(path, bytes(changed)), position
        assert not _same_file(path, TextParts([bytes(changed[a:b]) for a, b in pairwise(cuts)])), position
    assert not _same_file(path, data[:-1]) and not _same_file(path, data + b"x")
    assert not _same_file(tmp_path / "missing.csv", data)


def test_text_in_pieces_may_be_bytes_or_slices_of_a_file_read_when_written(tmp_path):
    """A piece of TextParts is text, UTF-8 bytes or a FileSlice (the open data's rows waiting in
    a temporary file): sized without reading it, read only as it is written, the same file."""
    from perfgen.files import FileSlice, spill_file

    spill = spill_file(tmp_path)
    spill.write("1,£2\n3,4\n".encode())
    middle = FileSlice(spill, 0, spill.tell())
    parts = TextParts(["a,b\n", middle.part(0, 6), b"", middle.part(6, 10), "\u00e9\n".encode()])
    assert parts.size() == len("a,b\n1,£2\n3,4\né\n".encode()) and str(parts) == "a,b\n1,£2\n3,4\né\n"
    with SiteWriter(tmp_path / "site") as writer:
        writer.add("data/big.csv", parts)
        writer.commit()
    assert (tmp_path / "site/data/big.csv").read_text(encoding="utf-8") == "a,b\n1,£2\n3,4\né\n"
    spill.truncate(4)  # cut short: an error that names the file, never wrong text
    with pytest.raises(OSError, match="cut short") as raised:
        str(parts)
    assert raised.value.filename is None or isinstance(raised.value.filename, str) and not raised.value.filename.isdigit()
    spill.close()


def failing():
    yield "data/a.csv", "made\n"
    raise DataError([Problem("data/x.csv", 3, "column 'value'", "'abc' is not a number")])


@pytest.mark.parametrize("fork", [True, False])
def test_a_failure_making_the_files_is_raised_in_the_build(tmp_path, fork):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("published")
    with pytest.raises(DataError) as raised, SiteWriter(site) as writer:
        background = BackgroundFiles(writer, failing, fork=fork)
        try:
            background.join()
        finally:
            background.close()
    assert str(raised.value.problems[0]) == str(Problem("data/x.csv", 3, "column 'value'", "'abc' is not a number"))
    assert (site / "index.html").read_text() == "published"  # the previous site is untouched
    assert not list(tmp_path.glob(".site.building-*"))  # the half-written folder is gone


def slow():
    import time

    yield "data/a.csv", "made\n"
    time.sleep(60)
    yield "data/b.csv", "never\n"


def test_closing_stops_the_process_when_the_build_fails_elsewhere(tmp_path):
    with SiteWriter(tmp_path / "site") as writer:
        background = BackgroundFiles(writer, slow)
        pid = background._pid
        assert pid is not None
        background.close()
        writer.discard()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no such child any more
    assert not (tmp_path / "site").exists()


def test_the_manifest_counts_rows_by_kpi_and_status_present():
    """Counted from the columns' codes: every status a KPI has, none it has not, whatever
    categories the columns carry; KPIs and statuses in order."""
    import json

    import pandas as pd

    from perfgen.publish import manifest_json

    values = pd.DataFrame({"kpi": pd.Categorical(["b", "a", "b", "b"], categories=["a", "b", "unused"]),
                           "status": pd.Categorical(["value", "stale", "value", "not_provided"], categories=["value", "stale", "not_provided", "invalid"])})
    manifest = json.loads(manifest_json([], values, {}, 0, []))
    assert manifest["kpi_rows"] == {"a": {"stale": 1}, "b": {"not_provided": 1, "value": 2}}
    assert list(manifest["kpi_rows"]) == ["a", "b"] and manifest["kpi_rows_total"] == 4
    text = values.astype(str)  # text columns count the same
    assert json.loads(manifest_json([], text, {}, 0, []))["kpi_rows"] == manifest["kpi_rows"]
