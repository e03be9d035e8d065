"""The build cache and incremental publishing: an unchanged project is not rebuilt, a change
rewrites only the files it affects, and the chart cache never changes the output."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from perfgen.pipeline import Project, build
from site_checks import tree_hashes

EXAMPLE = Path(__file__).parent / "fixtures" / "example"


def project(root: Path, output: Path, cache: Path) -> Project:
    return Project(config=root / "config/services.yml", data=root / "data", output=output,
                   templates=root / "templates", root=root, cache=cache)


def inodes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_ino for p in folder.rglob("*") if p.is_file()}


def test_unchanged_project_is_not_rebuilt(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    first = build(project(root, tmp_path / "site", tmp_path / "cache"), workers=1)
    assert not first.up_to_date and first.files_written > 0
    assert (tmp_path / "site").stat().st_mode & 0o777 == 0o755  # readable by a web server
    before = inodes(tmp_path / "site")
    second = build(project(root, tmp_path / "site", tmp_path / "cache"), workers=1)
    assert second.up_to_date
    assert inodes(tmp_path / "site") == before


def test_one_change_rewrites_only_the_files_that_depend_on_it(tmp_path, monkeypatch):
    from perfgen import publish

    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site = tmp_path / "site"
    build(project(root, site, tmp_path / "cache"), workers=1)
    before_hashes, before_inodes = tree_hashes(site), inodes(site)
    path = root / "data/dwp-carers-allowance.csv"
    text = path.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if ",2024-Q4,online,transactions," in line)
    value = int(old.rsplit(",", 1)[1])
    path.write_text(text.replace(old, old.rsplit(",", 1)[0] + f",{value + 1000}"), encoding="utf-8")
    compared: list[str] = []
    same_file = publish._same_file
    monkeypatch.setattr(publish, "_same_file", lambda old, data: compared.append(old.relative_to(site).as_posix()) or same_file(old, data))
    result = build(project(root, site, tmp_path / "cache"), workers=1)
    after_hashes, after_inodes = tree_hashes(site), inodes(site)
    # A page taken from the published site (read and checked against its recorded digest) is
    # linked without being compared again; a page rendered again is compared.
    assert "services/renew-driving-licence/index.html" not in compared and "departments/ho/index.html" not in compared
    assert "services/claim-carers-allowance/index.html" in compared
    changed = {name for name in after_hashes if after_hashes[name] != before_hashes.get(name)}
    assert "services/claim-carers-allowance/index.html" in changed
    assert "departments/dwp/index.html" in changed
    assert "data/kpis.csv" in changed
    assert "services/renew-driving-licence/index.html" not in changed
    assert "departments/ho/index.html" not in changed
    # Unchanged files are the very same files (hard links), not rewritten copies.
    for name in after_hashes:
        if name not in changed:
            assert after_inodes[name] == before_inodes[name], name
    assert result.files_written == len(changed)


def test_chart_cache_never_changes_the_output(tmp_path):
    warm = build(project(EXAMPLE, tmp_path / "warm", tmp_path / "cache"), workers=1)
    assert (tmp_path / "cache" / "charts.sqlite").is_file()
    again = build(project(EXAMPLE, tmp_path / "again", tmp_path / "cache"), workers=1)
    cold = build(project(EXAMPLE, tmp_path / "cold", None), workers=2)
    assert warm.pages == again.pages == cold.pages
    assert tree_hashes(tmp_path / "warm") == tree_hashes(tmp_path / "again") == tree_hashes(tmp_path / "cold")


def test_chart_workers_started_with_the_build_draw_into_the_cache_and_stop_with_it(tmp_path):
    """The chart workers start before the data is loaded: with a cache they draw into it (the
    same site as drawn in the build's own process), and a build that fails on its data leaves
    no worker behind."""
    import contextlib
    import multiprocessing
    import re
    import sqlite3

    import pytest

    drawn = build(project(EXAMPLE, tmp_path / "drawn", tmp_path / "cache"), workers=2)
    assert multiprocessing.active_children() == []
    # The cache holds every chart on the site and nothing else.
    with contextlib.closing(sqlite3.connect(tmp_path / "cache" / "charts.sqlite")) as connection:
        kept = {svg for (svg,) in connection.execute("SELECT svg FROM charts")}
    shown = {svg for page in (tmp_path / "drawn").rglob("*.html")
             for svg in re.findall(r'<div class="app-chart__graphic">(.*?)</div>', page.read_text(encoding="utf-8"), re.DOTALL)}
    assert shown and kept == shown
    here = build(project(EXAMPLE, tmp_path / "here", None), workers=1)
    assert tree_hashes(tmp_path / "drawn") == tree_hashes(tmp_path / "here") and here.pages == drawn.pages
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLE, broken)
    (broken / "templates").mkdir(exist_ok=True)
    (broken / "templates" / "service.html").write_text("{{ no_such_value }}", encoding="utf-8")  # fails while charts draw
    with pytest.raises(RuntimeError, match="no_such_value"):
        build(project(broken, tmp_path / "broken-site", tmp_path / "broken-cache"), workers=2)
    assert multiprocessing.active_children() == [] and not (tmp_path / "broken-site").exists()


def test_a_first_build_starts_every_chart_worker_and_a_rebuild_one(tmp_path, monkeypatch):
    """Every chart is drawn by a first build (its cache empty): both workers start with the
    KPI stage, the first warming up. A rebuild draws few: one starts (a second, starting beside
    the KPI stage, slowed it); the job starts the other if many charts changed after all
    (``tests/test_charts.py``)."""
    from perfgen import charts

    started = []

    class Recorded(charts.ChartWorkers):
        def __init__(self, count, warm_up=False, start=None):
            super().__init__(count, warm_up=warm_up, start=start)
            started.append((self.count, warm_up))

    monkeypatch.setattr(charts, "ChartWorkers", Recorded)
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    build(project(root, tmp_path / "site", tmp_path / "cache"), workers=2)
    path = root / "data/dwp-carers-allowance.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",2024-Q4,online,transactions,", ",2024-Q4,online,transactions,1", 1), encoding="utf-8")
    build(project(root, tmp_path / "site", tmp_path / "cache"), workers=2)
    assert started == [(2, True), (1, False)]


def test_deleting_the_cache_gives_the_same_site(tmp_path):
    build(project(EXAMPLE, tmp_path / "first", tmp_path / "cache"), workers=1)
    shutil.rmtree(tmp_path / "cache")
    build(project(EXAMPLE, tmp_path / "second", tmp_path / "cache"), workers=1)
    assert tree_hashes(tmp_path / "first") == tree_hashes(tmp_path / "second")


def test_a_large_file_is_compared_to_its_last_byte(tmp_path):
    from perfgen.publish import SiteWriter

    site = tmp_path / "site"
    big = bytes(range(256)) * 10_000  # 2.5 MB: compared block by block
    with SiteWriter(site) as writer:
        writer.add("data/same.bin", big)
        writer.add("data/last-byte.bin", big)
        writer.add("data/first-block.bin", big)
        writer.commit()
    before = inodes(site)
    with SiteWriter(site) as writer:
        writer.add("data/same.bin", big)
        writer.add("data/last-byte.bin", big[:-1] + b"\x00")  # same size, differs at the very end
        writer.add("data/first-block.bin", b"\x01" + big[1:])
        written = writer.commit()
    assert written == 2
    after = inodes(site)
    assert after["data/same.bin"] == before["data/same.bin"]  # the very same file, linked
    assert after["data/last-byte.bin"] != before["data/last-byte.bin"]
    assert (site / "data/last-byte.bin").read_bytes()[-1:] == b"\x00"
    assert (site / "data/first-block.bin").read_bytes()[:1] == b"\x01"


def _change_carers_allowance(root: Path, extra: int = 1000) -> None:
    path = root / "data/dwp-carers-allowance.csv"
    text = path.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if ",2024-Q4,online,transactions," in line)
    path.write_text(text.replace(old, old.rsplit(",", 1)[0] + f",{int(old.rsplit(',', 1)[1]) + extra}"), encoding="utf-8")


def test_pages_taken_from_the_previous_build_are_the_pages_a_fresh_build_renders(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site = tmp_path / "site"
    first = build(project(root, site, tmp_path / "cache"), workers=1)
    assert first.pages_reused == 0
    shutil.copytree(site, tmp_path / "published")  # what the fresh builds compare their figures with
    _change_carers_allowance(root)
    again = build(project(root, site, tmp_path / "cache"), workers=1)
    # Into a new folder, taking pages from the previous site it is compared with (a preview).
    beside = build(replace(project(root, tmp_path / "beside", tmp_path / "cache"), previous=tmp_path / "published"), workers=1)
    uncached = build(replace(project(root, tmp_path / "uncached", None), previous=tmp_path / "published"), workers=1)
    assert uncached.pages_reused == 0  # caching off: every page rendered
    # Most pages were taken as they were; the changed service's were rendered again.
    assert 0 < again.pages_reused < again.pages
    assert beside.pages_reused == again.pages_reused
    assert "services/claim-carers-allowance/index.html" in (site / "_build/pages.json").read_text(encoding="utf-8")

    def published(folder: Path) -> dict[str, str]:
        return {name: digest for name, digest in tree_hashes(folder).items() if name != "_build/manifest.json"}  # the manifest names the options

    assert published(site) == published(tmp_path / "beside") == published(tmp_path / "uncached")


def test_a_page_whose_ranks_another_service_moves_is_rendered_again(tmp_path):
    """A service page says where the service stands among others: one service's figures
    moving it past others changes their pages too, though their own rows are as they were,
    and the league tables. Those pages are rendered again, as a fresh build renders them."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site = tmp_path / "site"
    build(project(root, site, tmp_path / "cache"), workers=1)
    shutil.copytree(site, tmp_path / "published")
    before = tree_hashes(site)
    _change_carers_allowance(root, extra=500_000)  # its digital take-up now leads
    again = build(project(root, site, tmp_path / "cache"), workers=1)
    build(replace(project(root, tmp_path / "fresh", None), previous=tmp_path / "published"), workers=1)
    after, fresh = tree_hashes(site), tree_hashes(tmp_path / "fresh")
    others = {"services/apply-passport/index.html", "services/book-theory-test/index.html", "services/renew-driving-licence/index.html"}
    assert all(after[page] != before[page] for page in others)  # their data unchanged, their ranks not
    assert all(after[page] == fresh[page] for page in others)
    assert 0 < again.pages_reused < again.pages
    # The leagues it moves up are made again, the others taken as they were: all as fresh.
    leagues = [name for name in after if name.startswith("league/")]
    assert {name for name in leagues if after[name] != before[name]} >= {"league/digital-take-up/index.html"}
    assert [after[name] for name in leagues] == [fresh[name] for name in leagues]


def test_a_rebuild_makes_chart_requests_only_for_the_services_whose_rows_changed(tmp_path, monkeypatch):
    """The last build's record of each service's charts (AddressMemo) stands in for the
    requests of the services whose rows are as they were; the site is as a fresh build's."""
    from perfgen import charts, render

    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site = tmp_path / "site"
    build(project(root, site, tmp_path / "cache"), workers=1)
    assert (tmp_path / "cache" / charts.AddressMemo.FILE).exists()
    shutil.copytree(site, tmp_path / "published")
    asked: list[object] = []
    chart_requests = render.chart_requests
    monkeypatch.setattr(render, "chart_requests", lambda model, only=None: asked.append(only) or chart_requests(model, only))
    _change_carers_allowance(root)
    build(project(root, site, tmp_path / "cache"), workers=1)
    assert asked == [{"claim-carers-allowance"}]
    build(replace(project(root, tmp_path / "fresh", None), previous=tmp_path / "published"), workers=1)
    assert tree_hashes(site) == tree_hashes(tmp_path / "fresh") | {"_build/manifest.json": tree_hashes(site)["_build/manifest.json"]}


def test_charts_the_record_names_but_the_cache_lost_are_drawn_again(tmp_path):
    """The record of charts kept, their drawings gone (charts.sqlite deleted) or the record
    damaged: the charts are drawn from their requests, and the site is as before."""
    from perfgen import charts

    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site, cache = tmp_path / "site", tmp_path / "cache"
    build(project(root, site, cache), workers=1)
    shutil.copytree(site, tmp_path / "published")
    (cache / charts.ChartStore.FILE).unlink()
    _change_carers_allowance(root)
    build(project(root, site, cache), workers=1)
    build(replace(project(root, tmp_path / "fresh", None), previous=tmp_path / "published"), workers=1)
    published = {name: digest for name, digest in tree_hashes(site).items() if name != "_build/manifest.json"}
    assert published == {name: digest for name, digest in tree_hashes(tmp_path / "fresh").items() if name != "_build/manifest.json"}
    (cache / charts.AddressMemo.FILE).write_text("{not json", encoding="utf-8")
    _change_carers_allowance(root)
    build(project(root, site, cache), workers=1)
    assert (cache / charts.AddressMemo.FILE).read_text(encoding="utf-8").startswith('{"')  # written anew


def test_a_changed_template_renders_every_page_that_uses_it_again(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site = tmp_path / "site"
    build(project(root, site, tmp_path / "cache"), workers=1)
    (root / "templates").mkdir()
    original = (Path(__file__).parents[1] / "src/perfgen/templates/accessibility.html").read_text(encoding="utf-8")
    (root / "templates/accessibility.html").write_text(original.replace("{% block content %}", "{% block content %}<p>Checked again.</p>", 1), encoding="utf-8")
    result = build(project(root, site, tmp_path / "cache"), workers=1)
    assert "Checked again." in (site / "accessibility/index.html").read_text(encoding="utf-8")
    assert result.pages_reused == 0  # the project's templates are part of every page's key


def test_a_published_page_edited_by_hand_is_rendered_again(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site = tmp_path / "site"
    build(project(root, site, tmp_path / "cache"), workers=1)
    page = site / "services/renew-driving-licence/index.html"
    good = page.read_text(encoding="utf-8")
    page.write_text(good.replace("</main>", "<p>edited</p></main>"), encoding="utf-8")
    _change_carers_allowance(root)  # so that the build runs (the inputs changed)
    result = build(project(root, site, tmp_path / "cache"), workers=1)
    assert page.read_text(encoding="utf-8") == good
    assert result.pages_reused > 0


def _swap_phone_and_paper(root: Path, month: str = "2024-12") -> None:
    """Phone and paper swap their figures for a month: the service's totals, digital share and
    KPIs stay the same; only its channel breakdown changes."""
    path = root / "data/dvla-renew-driving-licence.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for metric in ("transactions", "cost"):
        phone = next(i for i, line in enumerate(lines) if line.startswith(f"renew-driving-licence,{month},phone,{metric},"))
        paper = next(i for i, line in enumerate(lines) if line.startswith(f"renew-driving-licence,{month},paper,{metric},"))
        phone_value, paper_value = lines[phone].rsplit(",", 1)[1], lines[paper].rsplit(",", 1)[1]
        lines[phone] = lines[phone].rsplit(",", 1)[0] + "," + paper_value
        lines[paper] = lines[paper].rsplit(",", 1)[0] + "," + phone_value
    path.write_text("".join(lines), encoding="utf-8")


def test_a_service_page_is_laid_out_only_if_it_is_rendered(tmp_path, monkeypatch):
    """A rebuild makes the costly part of a service page (charts' figures, tables, tiles) only
    for the pages it renders again; the others are taken from the previous build unread."""
    from perfgen import render

    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site = tmp_path / "site"
    build(project(root, site, tmp_path / "cache"), workers=1)
    laid_out: list[str] = []
    history_table = render._history_table
    monkeypatch.setattr(render, "_history_table", lambda model, service, *rest: laid_out.append(service.slug) or history_table(model, service, *rest))
    _change_carers_allowance(root)
    result = build(project(root, site, tmp_path / "cache"), workers=1)
    assert result.pages_reused > 0
    assert set(laid_out) == {"claim-carers-allowance"}


def test_a_change_only_the_figures_beside_the_charts_show_renders_the_page_again(tmp_path):
    """A change that leaves a service's KPIs, summary and ranks as they were but changes its
    channel breakdown: the page's key covers the rows its deferred part is made from, so the
    page is rendered again, exactly as a fresh build renders it."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    site = tmp_path / "site"
    build(project(root, site, tmp_path / "cache"), workers=1)
    page = "services/renew-driving-licence/index.html"
    before = (site / page).read_text(encoding="utf-8")
    _swap_phone_and_paper(root)
    result = build(project(root, site, tmp_path / "cache"), workers=1)
    fresh = build(project(root, tmp_path / "fresh", None), workers=1)
    assert result.pages_reused > 0 and fresh.pages_reused == 0
    after = (site / page).read_text(encoding="utf-8")
    assert after != before
    assert after == (tmp_path / "fresh" / page).read_text(encoding="utf-8")
    assert tree_hashes(site)["data/kpis.csv"] == tree_hashes(tmp_path / "fresh")["data/kpis.csv"]


def test_page_keys_are_the_same_in_every_process(tmp_path):
    """Keys are compared across builds, so they must not depend on the process (hash seeds,
    object identities): two builds in two processes write the same keys."""
    import subprocess
    import sys

    script = ("import sys; from pathlib import Path; from perfgen.pipeline import Project, build; r = Path(sys.argv[1]); "
              "build(Project(config=r / 'config/services.yml', data=r / 'data', output=Path(sys.argv[2]), templates=r / 'templates', root=r, cache=None), workers=1)")
    for name, seed in (("one", "1"), ("two", "2")):
        subprocess.run([sys.executable, "-c", script, str(EXAMPLE), str(tmp_path / name)], check=True, env={**__import__("os").environ, "PYTHONHASHSEED": seed})
    keys = (tmp_path / "one/_build/pages.json").read_text(encoding="utf-8")
    assert keys == (tmp_path / "two/_build/pages.json").read_text(encoding="utf-8")
    assert '"services/renew-driving-licence/index.html"' in keys


def test_compiled_templates_are_kept_in_the_cache_and_follow_their_source(tmp_path):
    """Jinja's compiled templates are kept in the cache (``templates``), by their source's
    checksum: a project template edited between two builds shows its new text, and compiled
    files that are damaged cost a compilation, never the output."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root)
    (root / "templates").mkdir(exist_ok=True)
    page = (Path(__file__).parents[1] / "src/perfgen/templates/definitions.html").read_text(encoding="utf-8")
    (root / "templates" / "definitions.html").write_text(page.replace("{% block content %}", "{% block content %}<p>First words</p>", 1), encoding="utf-8")
    build(project(root, tmp_path / "site", tmp_path / "cache"), workers=1)
    compiled = sorted((tmp_path / "cache" / "templates").iterdir())
    assert compiled
    assert "First words" in (tmp_path / "site" / "definitions" / "index.html").read_text(encoding="utf-8")
    (root / "templates" / "definitions.html").write_text(page.replace("{% block content %}", "{% block content %}<p>Second words</p>", 1), encoding="utf-8")
    build(project(root, tmp_path / "site", tmp_path / "cache"), workers=1)
    text = (tmp_path / "site" / "definitions" / "index.html").read_text(encoding="utf-8")
    assert "Second words" in text and "First words" not in text
    for path in (tmp_path / "cache" / "templates").iterdir():
        path.write_bytes(path.read_bytes()[:40] + b"damaged")
    build(project(root, tmp_path / "again", tmp_path / "cache"), workers=1)
    build(project(root, tmp_path / "fresh", None), workers=1)
    assert tree_hashes(tmp_path / "again") == tree_hashes(tmp_path / "fresh")
