"""``perfgen diff`` and the public changelog of corrections it drives.

Two builds of the example: the published one, and one where a department corrected a month,
sent an impossible completion count, a service was added and another removed. The report must
say exactly that, in words and formatted numbers; the changelog must record the corrections with
the build date and carry them forward.
"""

from __future__ import annotations

import csv
import re
import shutil
import socket
from html import unescape
from pathlib import Path

import pytest

from browser import describe_violations, open_site, requires_browser, serve
from perfgen.changelog import PreviousSiteError, read_published
from perfgen.cli import main
from perfgen.diff import compare_folders, markdown_report, text_report
from perfgen.importers.transactions_explorer import import_transactions_explorer
from perfgen.pipeline import Project, build
from site_checks import tree_hashes

EXAMPLE = Path(__file__).parent / "fixtures" / "example"
EXCERPT = Path(__file__).parent / "fixtures" / "transactions-explorer-excerpt.csv"

NEW_SERVICE = """  - slug: check-vehicle-tax
    name: Check if a vehicle is taxed
    department: dft
    agency: dvla
"""


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _build(project: Path, output: Path, **options) -> Path:
    build(Project(config=project / "config/services.yml", data=project / "data", output=output,
                  templates=project / "templates", root=project, **options), workers=1)
    return output


def edited_copy(target: Path) -> Path:
    """The example after a month's correction, a bad completion count, one service added and one removed."""
    shutil.copytree(EXAMPLE, target)
    data = target / "data/dvla-renew-driving-licence.csv"
    _replace(data, "renew-driving-licence,2024-12,online,transactions,201650\n", "renew-driving-licence,2024-12,online,transactions,300000\n")
    _replace(data, "renew-driving-licence,2024-06,online,completed,227900\n", "renew-driving-licence,2024-06,online,completed,300000\n")
    config = target / "config/services.yml"
    text = config.read_text(encoding="utf-8")
    text = text[: text.index("  - slug: apply-pension-credit")] + NEW_SERVICE
    config.write_text(text, encoding="utf-8")
    rows = ["service,period,channel,metric,value"] + [f"check-vehicle-tax,2024-{month:02d},online,transactions,{100000 + month}" for month in range(1, 13)]
    (target / "data/dvla-check-vehicle-tax.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("diff")
    before = _build(EXAMPLE, root / "before")
    project = edited_copy(root / "edited")
    after = _build(project, root / "after", previous=before, today=__import__("datetime").date(2025, 1, 15),
                   base_url="https://example.org/performance/")
    return before, after


CORRECTIONS = """Published figures corrected (6)
  Renew a driving licence (renew-driving-licence)
    Completion rate, June 2024: 87.0% → Not provided (invalid)
    Cost per transaction, December 2024: £2.44 → £1.71
    Digital cost per transaction, December 2024: £1.07 → £0.72
    Digital take-up, December 2024: 87.2% → 91.0%
    Digital transactions, December 2024: 201,650 → 300,000
    Transactions, December 2024: 231,250 → 329,600"""


def test_diff_finds_what_changed(sites):
    before, after = sites
    diff = compare_folders(before, after)
    assert diff.services_added == ["check-vehicle-tax"]
    assert diff.services_removed == ["apply-pension-credit"]
    assert diff.departments_added == diff.departments_removed == []
    assert [(c.kpi, c.period_start, c.old_status, c.new_status) for c in diff.corrections] == [
        ("completion_rate", "2024-06-01", "value", "invalid"),
        ("cost_per_transaction", "2024-12-01", "value", "value"),
        ("digital_cost_per_transaction", "2024-12-01", "value", "value"),
        ("digital_take_up", "2024-12-01", "value", "value"),
        ("digital_transactions", "2024-12-01", "value", "value"),
        ("transactions", "2024-12-01", "value", "value"),
    ]
    # every rolling 12-month figure that contains June or December 2024 changes with them
    assert diff.summed_changes > 0
    assert [w["code"] for w in diff.new_warnings] == ["completed-above-started"]
    assert [w["code"] for w in diff.resolved_warnings] == ["no-data"]
    assert diff.warnings_before == {"completed-above-started": 1, "digital-above-total": 1, "no-data": 1, "stale-data": 1}
    assert diff.warnings_after == {"completed-above-started": 2, "digital-above-total": 1, "stale-data": 1}
    assert [(path, how) for path, how, _, _ in diff.inputs] == [
        ("config/services.yml", "changed"), ("data/dvla-check-vehicle-tax.csv", "added"), ("data/dvla-renew-driving-licence.csv", "changed")]


def test_text_report_says_it_in_words(sites):
    before, after = sites
    report = text_report(compare_folders(before, after))
    assert report.startswith(f"Comparing {before} (before) with {after} (after)\n\n"
                             "1 added and 1 removed services; 6 published figures corrected in 1 service; "
                             "16 headline figures changed; 1 new warning.\n")
    assert "\nInput files (3)\n  changed: config/services.yml (6 rows)\n  added: data/dvla-check-vehicle-tax.csv (12 rows)\n" in report
    assert "\nServices added (1)\n  Check if a vehicle is taxed (check-vehicle-tax), Department for Transport\n" in report
    assert "\nServices removed (1)\n  Apply for Pension Credit (apply-pension-credit), Department for Work and Pensions\n" in report
    assert "\n" + CORRECTIONS.replace("(6)", f"(6); {compare_folders(before, after).summed_changes} rolling 12-month figures change with them") + "\n" in report
    # a headline that moved to another period says both periods
    assert ("\nHeadline figures changed (16)\n  Renew a driving licence (renew-driving-licence)\n"
            "    Completion rate: 87.8% (January to December 2024) → 88.1% (June 2023 to May 2024)\n"
            "    Cost per transaction, January to December 2024: £2.82 → £2.73\n") in report
    assert "\nDepartment and government totals changed\n  Department for Transport: 51 values\n  All of government: 51 values\n" in report
    assert ("\nNew warnings (1)\n  service 'renew-driving-licence': June 2024: 300,000 completed but 262,051 started [completed-above-started]\n") in report
    assert "\nWarnings resolved (1)\n  service 'apply-pension-credit': no figures in any data file [no-data]\n" in report
    assert "\nWarnings by code (4 → 4)\n  completed-above-started: 1 → 2\n  no-data: 1 → 0\n" in report


def test_markdown_report_for_a_job_summary(sites):
    before, after = sites
    report = markdown_report(compare_folders(before, after))
    assert report.startswith("## What this change does to the published site\n\n1 added and 1 removed services; ")
    assert "\n### Published figures corrected (6); " in report
    assert "\n- **Renew a driving licence (renew-driving-licence)**\n  - Completion rate, June 2024: 87.0% → Not provided (invalid)\n" in report
    assert "\n- service 'renew-driving-licence': June 2024: 300,000 completed but 262,051 started \\[completed-above-started\\]\n" in report


def test_markdown_report_cannot_inject_markup(tmp_path, sites):
    before, after = sites
    hostile = tmp_path / "hostile"
    shutil.copytree(after, hostile)
    _replace(hostile / "_build/services.csv", "service,renew-driving-licence,Renew a driving licence,dft",
             'service,renew-driving-licence,"<img src=x onerror=alert(1)> **Renew** [link](javascript:x) | cell",dft')
    report = markdown_report(compare_folders(before, hostile))
    assert "**\\<img src=x onerror=alert(1)\\> \\*\\*Renew\\*\\* \\[link\\](javascript:x) \\| cell (renew-driving-licence)**" in report
    # nothing from the data is read as markup: every <, [, * and | arrives escaped
    assert not re.search(r"(?<!\\)[<\[|]", report) and "**Renew**" not in report


def test_identical_builds_have_no_changes(sites):
    before, _ = sites
    assert text_report(compare_folders(before, before)).endswith("\n\nNo changes: the two builds publish the same figures.\n")


def test_limit_shortens_long_sections(sites):
    before, after = sites
    report = text_report(compare_folders(before, after), limit=2)
    assert "    Completion rate, June 2024: 87.0% → Not provided (invalid)\n    Cost per transaction, December 2024: £2.44 → £1.71\n  ... and 4 more (use --limit 0 to list all)\n" in report


def test_diff_command(sites, capsys):
    before, after = sites
    assert main(["diff", str(before), str(after), "--format", "markdown", "--limit", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## What this change does to the published site\n")
    assert main(["diff", str(before), str(before.parent / "nowhere")]) == 1
    assert capsys.readouterr().err == (f"error: {before.parent / 'nowhere'}: no such folder\n"
                                       "  Hint: give two folders (or addresses) of sites built by perfgen\n"
                                       "perfgen: 1 problem in the sites compared; nothing was written\n")
    assert main(["diff", str(before / "data"), str(after)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {before / 'data'}: not a site built by perfgen: data/kpis.csv is missing\n")


def test_diff_of_a_site_without_the_build_record_uses_slugs(sites, tmp_path):
    """A site built before perfgen kept _build/ still compares: by slugs, without warnings."""
    before, after = sites
    old = tmp_path / "old"
    shutil.copytree(before, old)
    shutil.rmtree(old / "_build")
    diff = compare_folders(old, after)
    assert diff.warnings_before is None and diff.new_warnings == []
    assert len(diff.corrections) == 6
    report = text_report(diff)
    # the old site has no names: its removed service is shown by its slug
    assert "\nServices removed (1)\n  apply-pension-credit, Department for Work and Pensions\n" in report
    assert "Warnings" not in report


# --- the changelog --------------------------------------------------------------------------

def _page_text(page: Path) -> str:
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))).split())
    return re.sub(r" ([:;,.)])", r"\1", text)


def test_changelog_records_corrections_with_the_build_date(sites):
    _, after = sites
    with (after / "changelog/corrections.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["date"], r["service"], r["kpi"], r["period_start"], r["old_value"], r["new_value"], r["new_status"]) for r in rows] == [
        ("2025-01-15", "renew-driving-licence", "completion_rate", "2024-06-01", "0.869678039771", "", "invalid"),
        ("2025-01-15", "renew-driving-licence", "cost_per_transaction", "2024-12-01", "2.44298153514", "1.71401541262", "value"),
        ("2025-01-15", "renew-driving-licence", "digital_cost_per_transaction", "2024-12-01", "1.06884884701", "0.718444566667", "value"),
        ("2025-01-15", "renew-driving-licence", "digital_take_up", "2024-12-01", "0.872", "0.910194174757", "value"),
        ("2025-01-15", "renew-driving-licence", "digital_transactions", "2024-12-01", "201650", "300000", "value"),
        ("2025-01-15", "renew-driving-licence", "transactions", "2024-12-01", "231250", "329600", "value"),
    ]
    text = _page_text(after / "changelog/index.html")
    assert "15 January 2025 Corrected on 15 January 2025: 6 figures" in text
    assert "Renew a driving licence Transactions December 2024 231,250 329,600" in text
    assert "Renew a driving licence Completion rate June 2024 87.0% Not provided (invalid)" in text
    service = _page_text(after / "services/renew-driving-licence/index.html")
    assert "Corrections Figures published earlier for this service that have since been corrected." in service
    assert "15 January 2025 Digital take-up December 2024 87.2% 91.0%" in service
    feed = (after / "services/renew-driving-licence/feed.xml").read_text(encoding="utf-8")
    assert "<title>Renew a driving licence: 6 figures corrected</title>" in feed
    assert "<updated>2025-01-15T00:00:00Z</updated>" in feed
    assert "Transactions, December 2024: 231,250 corrected to 329,600" in feed


def test_changelog_is_carried_forward_unchanged(sites, tmp_path):
    _, after = sites
    project = edited_copy(tmp_path / "edited")
    again = _build(project, tmp_path / "again", previous=after, today=__import__("datetime").date(2025, 2, 1),
                   base_url="https://example.org/performance/")
    assert (again / "changelog/corrections.csv").read_bytes() == (after / "changelog/corrections.csv").read_bytes()
    assert (again / "changelog/index.html").read_bytes() == (after / "changelog/index.html").read_bytes()


def test_only_the_changed_services_published_figures_are_read(sites, tmp_path, monkeypatch):
    """The published site records each service's figures hashed (_build/figures.json): a build
    reads the published figures of the services whose figures changed only, and finds the same
    corrections as a build comparing every published figure. Other code (an upgrade of perfgen)
    hashing the figures the same way is no different; hashed another way, every figure is
    compared."""
    import json

    from perfgen import changelog, pipeline

    before, after = sites
    read: list[str] = []
    reader = changelog.read_site_file
    monkeypatch.setattr(changelog, "read_site_file", lambda location, relative, *rest, **options: read.append(relative) or reader(location, relative, *rest, **options))
    opener = changelog.site_file  # data/kpis.csv: read from its file
    monkeypatch.setattr(changelog, "site_file", lambda location, relative, *rest, **options: read.append(relative) or opener(location, relative, *rest, **options))
    project = edited_copy(tmp_path / "edited")
    again = _build(project, tmp_path / "again", previous=before, today=__import__("datetime").date(2025, 1, 15),
                   base_url="https://example.org/performance/")
    assert sorted(read) == ["_build/figures.json", "changelog/corrections.csv", "data/services/renew-driving-licence.csv"]
    assert (again / "changelog/corrections.csv").read_bytes() == (after / "changelog/corrections.csv").read_bytes()
    # Built by other code (perfgen upgraded): its figures hashed the same way, only the changed
    # service's figures are read.
    recorded = json.loads((before / "_build/figures.json").read_text(encoding="utf-8"))
    assert recorded["scheme"] == changelog.figures_scheme() and "code" not in recorded
    monkeypatch.setattr(pipeline, "code_fingerprint", lambda project, package=None: "upgraded")
    read.clear()
    upgraded = _build(project, tmp_path / "upgraded", previous=before, today=__import__("datetime").date(2025, 1, 15),
                      base_url="https://example.org/performance/")
    assert sorted(read) == ["_build/figures.json", "changelog/corrections.csv", "data/services/renew-driving-licence.csv"]
    assert (upgraded / "changelog/corrections.csv").read_bytes() == (after / "changelog/corrections.csv").read_bytes()
    # Hashed another way (or before sites recorded how): every figure is compared.
    other = tmp_path / "other"
    shutil.copytree(before, other)
    (other / "_build/figures.json").write_text(json.dumps({**recorded, "scheme": "figure digests 0"}), encoding="utf-8")
    read.clear()
    compared = _build(project, tmp_path / "compared", previous=other, today=__import__("datetime").date(2025, 1, 15),
                      base_url="https://example.org/performance/")
    assert "data/kpis.csv" in read and not any(name.startswith("data/services/") for name in read)
    assert (compared / "changelog/corrections.csv").read_bytes() == (after / "changelog/corrections.csv").read_bytes()


def test_first_build_has_an_empty_changelog(sites):
    before, _ = sites
    assert "No published figure has been corrected yet." in _page_text(before / "changelog/index.html")
    assert (before / "changelog/corrections.csv").read_text(encoding="utf-8").count("\n") == 1  # the header


def test_building_again_into_the_same_folder_compares_with_it(tmp_path, monkeypatch, capsys):
    """The default previous site is the output folder; without a build date the clock dates the
    corrections, and the build says so."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    monkeypatch.chdir(project)
    monkeypatch.delenv("PERFGEN_TODAY", raising=False)
    assert main(["build", "--workers", "1", "--quiet"]) == 0
    _replace(project / "data/dvsa-theory-test.csv", "book-theory-test,2024-Q4,,cost_per_transaction,2.78\n", "book-theory-test,2024-Q4,,cost_per_transaction,3.10\n")
    capsys.readouterr()
    assert main(["build", "--workers", "1", "--quiet"]) == 0
    from datetime import date

    assert (f"Recorded 2 corrections to published figures (compared with site), dated {date.today().isoformat()} "
            "from the system clock: give --today or PERFGEN_TODAY to choose the date\n") in capsys.readouterr().out


def test_published_figures_are_read_from_their_file_not_held_as_text(sites, monkeypatch):
    """``data/kpis.csv`` is read by pandas from the file: held as text first (``io.StringIO``
    keeps four bytes a character) it was six times the file's size, the peak of a build whose
    code changed (all its figures compared). The same text either way; all but the values kept
    as categories (a code per row)."""
    from perfgen import changelog, diff

    before, _ = sites
    real = diff.read_site_file

    def refusing_kpis(location, relative, *args, **kwargs):
        assert relative != diff.KPIS_FILE, "kpis.csv read whole as text"
        return real(location, relative, *args, **kwargs)

    monkeypatch.setattr(changelog, "read_site_file", refusing_kpis)
    monkeypatch.setattr(diff, "read_site_file", refusing_kpis)
    published = read_published(before)
    text = (before / diff.KPIS_FILE).read_text(encoding="utf-8")
    import pandas as pd

    expected = diff.read_kpis(text, "kpis.csv", changelog._COMPARED_COLUMNS)
    pd.testing.assert_frame_equal(published.kpis.astype(str), expected)  # the same text in every cell
    assert all(isinstance(published.kpis[column].dtype, pd.CategoricalDtype) for column in published.kpis.columns if column != "value")
    assert len(diff.load_site(before).kpis) == len(diff.read_kpis(text, "kpis.csv"))


def test_previous_site_from_its_web_address(sites, tmp_path, capsys, monkeypatch):
    import tempfile

    before, after = sites
    project = edited_copy(tmp_path / "edited")
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    with serve(before) as url:
        published = read_published(url)
        assert published is not None and len(published.kpis) > 0
        assert list(temporary.iterdir()) == []  # the downloaded kpis.csv, read from a temporary file, is gone
        from_web = _build(project, tmp_path / "from-web", previous=url, today=__import__("datetime").date(2025, 1, 15),
                          base_url="https://example.org/performance/")
        assert main(["diff", url, str(after), "--limit", "0"]) == 0
    assert (from_web / "changelog/corrections.csv").read_bytes() == (after / "changelog/corrections.csv").read_bytes()
    assert "Published figures corrected (6)" in capsys.readouterr().out
    empty = tmp_path / "nothing-published"
    empty.mkdir()
    with serve(empty) as url:
        assert read_published(url) is None  # HTTP 404: nothing published yet, a new history starts
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PreviousSiteError, match=rf"^http://127.0.0.1:{port}/data/kpis.csv: cannot read it: "):
        read_published(f"http://127.0.0.1:{port}/")
    before_hashes = tree_hashes(from_web)
    code = main(["build", "--config", str(project / "config/services.yml"), "--data", str(project / "data"),
                 "--output", str(from_web), "--previous", f"http://127.0.0.1:{port}/", "--today", "2025-02-01"])
    assert code == 1
    err = capsys.readouterr().err
    assert "  Hint: check the address and the network; the build stops rather than lose the history of corrections\n" in err
    assert err.endswith("perfgen: 1 problem in the previously published site; nothing was written\n")
    assert tree_hashes(from_web) == before_hashes


# --- real data ------------------------------------------------------------------------------

EHIC = "dh-european-health-insurance-card-ehic-new-applications"

REAL_REPORT = """4 published figures corrected in 1 service; 4 headline figures changed.

Input files (2)
  changed: data/transactions-explorer-annual.csv (672 rows)
  changed: data/transactions-explorer-quarterly.csv (315 rows)

Published figures corrected (4)
  European Health Insurance Card (EHIC): new applications (dh-european-health-insurance-card-ehic-new-applications)
    Cost per transaction, July 2016 to June 2017: £1.19 → £1.25
    Digital take-up, April to June 2017: 95.0% → 96.0%
    Digital transactions, April to June 2017: 593,948 → 600,000
    Total cost, July 2016 to June 2017: £2.21m → £2.33m

Headline figures changed (4)
  European Health Insurance Card (EHIC): new applications (dh-european-health-insurance-card-ehic-new-applications)
    Cost per transaction, July 2016 to June 2017: £1.19 → £1.25
    Total cost, July 2016 to June 2017: £2.21m → £2.33m
  Department of Health and Social Care (total)
    Cost per transaction, July 2016 to June 2017: £1.19 → £1.25
    Total cost, July 2016 to June 2017: £2.21m → £2.33m

Department and government totals changed
  Department of Health and Social Care: 4 values
  All of government: 4 values
"""


def test_diff_of_real_data_with_one_service_edited(tmp_path, capsys):
    """An excerpt of the real Transactions Explorer export, built twice: once as published, once
    after the EHIC service corrected its 12-month cost and a quarter's digital volume."""
    project = tmp_path / "real"
    import_transactions_explorer(EXCERPT, project)
    before = _build(project, tmp_path / "before")
    _replace(project / "data/transactions-explorer-annual.csv", f"{EHIC},2016-07-01/2017-06-30,,cost_per_transaction,1.1867,", f"{EHIC},2016-07-01/2017-06-30,,cost_per_transaction,1.25,")
    _replace(project / "data/transactions-explorer-quarterly.csv", f"{EHIC},2017-Q2,digital,transactions,593948,", f"{EHIC},2017-Q2,digital,transactions,600000,")
    after = _build(project, tmp_path / "after")
    assert main(["diff", str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert out == f"Comparing {before} (before) with {after} (after)\n\n" + REAL_REPORT


@requires_browser
def test_corrections_pages_are_accessible(sites):
    _, after = sites
    with open_site(after) as site:
        for path, width in (("changelog/index.html", 1024), ("changelog/index.html", 320), ("services/renew-driving-licence/index.html", 1024)):
            violations = site.audit(path, width=width)
            assert not violations, describe_violations(violations)
        with site.visit("changelog/index.html") as visit:
            assert not visit.failed_requests and not visit.console_errors


def test_corrections_are_the_same_whether_rows_line_up_or_not():
    """value_changes compares row by row when both builds list the same figures in the same
    order (the usual rebuild) and joins the two otherwise: both ways find the same corrections,
    including for a key listed twice (the last row of a key counts)."""
    import pandas as pd

    from perfgen.diff import value_changes

    def frame(rows):
        return pd.DataFrame([dict(zip(["service", "department", "kpi", "method", "basis", "period_kind", "period_start", "period_end",
                                       "status", "value"], row)) for row in rows])

    month = ("monthly", "2024-01-01", "2024-01-31")
    old = frame([("a", "d", "transactions", "", "period", *month, "value", "10"),
                 ("a", "d", "total_cost", "", "period", *month, "value", "5"),
                 ("a", "d", "total_cost", "", "period", *month, "value", "6"),   # the same key again: this row counts
                 ("b", "d", "transactions", "", "period", *month, "value", "7"),
                 ("b", "d", "total_cost", "", "period", *month, "value", "3")])
    new = old.copy()
    new.loc[0, "value"] = "11"          # a correction
    new.loc[1, "value"] = "99"          # the duplicate's first row changes, its last does not: no correction
    new.loc[4, "status"] = "invalid"    # a figure that became invalid
    new.loc[4, "value"] = ""
    lined_up, _ = value_changes(old, new, {"a", "b"})
    reordered, _ = value_changes(old, new.iloc[[3, 4, 0, 1, 2]].reset_index(drop=True), {"a", "b"})  # b first: joined
    assert lined_up == reordered
    assert [(c.service, c.kpi, c.old_value, c.new_value, c.new_status) for c in lined_up] == [
        ("a", "transactions", "10", "11", "value"), ("b", "total_cost", "3", "", "invalid")]
    # As a build by changed code compares them: every column but the values as categories, each
    # frame with its own (a new KPI, a new status). The same corrections, lined up or joined.
    def categories(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.astype({column: "category" for column in rows.columns if column != "value"})

    added = frame([("a", "d", "plugin_kpi", "", "period", *month, "not_applicable", "")])
    with_new = categories(pd.concat([new, added], ignore_index=True))
    assert value_changes(categories(old), with_new, {"a", "b"})[0] == lined_up
    assert value_changes(categories(old), with_new.iloc[[5, 3, 4, 0, 1, 2]].reset_index(drop=True), {"a", "b"})[0] == lined_up
    assert value_changes(categories(old), categories(new), {"a", "b"})[0] == lined_up


def test_this_builds_figures_are_compared_as_categories_of_their_published_text():
    """``published_rows`` gives the text kpis.csv has in every cell (missing: ""), kept as
    categories: a category's missing cells and values with the same text share one category."""
    from datetime import date

    import pandas as pd

    from perfgen.changelog import _categories, _date_text, _texts

    column = pd.Series(pd.Categorical(["b", None, "a", "b"]))
    assert list(_categories(column)) == ["b", "", "a", "b"]
    assert list(_categories(pd.Series(["x", None], dtype=object))) == ["x", ""]
    days = pd.Series([date(2024, 1, 31), None, date(2024, 1, 31), pd.Timestamp("2024-01-31").date()], dtype=object)
    as_categories = _texts(days, _date_text, categories=True)
    assert list(as_categories) == _texts(days, _date_text) == ["2024-01-31", "", "2024-01-31", "2024-01-31"]
    assert sorted(as_categories.categories) == ["", "2024-01-31"]
