"""What a user sees when a data file is wrong: the exact message, word for word.

Each case adds or changes a file in ``data/`` of a copy of the example project and runs
``perfgen build``. The ``failing_build`` fixture (conftest.py) also checks exit code 1, no
traceback, the closing count line and that the previously published site is untouched.
Warnings, ``--strict`` and ``perfgen validate`` are at the end.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfgen.cli import main

HEADER = "service,period,channel,metric,value\n"
EXTRA = "data/extra.csv"
HEADER_HINT = "  Hint: the header must be: service,period,channel,metric,value (optionally status,note)"
ROW_HINT = "  Hint: every row needs one value per header column; quote text containing commas"


def write(project: Path, name: str, content: str | bytes) -> None:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


CASES = [
    pytest.param(
        "apply-passport,2025-01,online,transactions,abc\n",
        "error: data/extra.csv:2: column 'value': 'abc' is not a number",
        id="value-not-a-number",
    ),
    pytest.param(
        'apply-passport,2025-01,online,transactions,"1,234"\n',
        "error: data/extra.csv:2: column 'value': '1,234' is not a number\n"
        "  Hint: write plain numbers such as 1234.5, without thousands separators, currency signs or units",
        id="value-with-thousands-separator",
    ),
    pytest.param(
        "apply-passport,2025-01,,cost,£5200\n",
        "error: data/extra.csv:2: column 'value': '£5200' is not a number\n"
        "  Hint: write plain numbers such as 1234.5, without thousands separators, currency signs or units",
        id="value-with-currency-sign",
    ),
    pytest.param(
        "apply-passport,2025-01,online,transactions,-5\n",
        "error: data/extra.csv:2: column 'value': '-5' is negative; counts and costs cannot be below zero",
        id="negative-value",
    ),
    pytest.param(
        "apply-pasport,2025-01,online,transactions,5\n",
        "error: data/extra.csv:2: column 'service': unknown service 'apply-pasport' (did you mean 'apply-passport'?)\n"
        "  Hint: add the service to config/services.yml or correct the slug",
        id="unknown-service",
    ),
    pytest.param(
        ",2025-01,online,transactions,5\n",
        "error: data/extra.csv:2: column 'service': is empty",
        id="empty-service",
    ),
    pytest.param(
        "apply-passport,2025-01,online,transaction,5\n",
        "error: data/extra.csv:2: column 'metric': unknown metric 'transaction' (did you mean 'transactions'?)\n"
        "  Hint: metrics are transactions, cost, cost_per_transaction, started, completed, rating_1, rating_2, rating_3, rating_4, rating_5",
        id="unknown-metric",
    ),
    pytest.param(
        "apply-passport,2025-01,onlin,transactions,5\n",
        "error: data/extra.csv:2: column 'channel': unknown channel 'onlin' (did you mean 'online'?)\n"
        "  Hint: leave it empty for an all-channel figure, or add the channel to site.channels in config/services.yml",
        id="unknown-channel",
    ),
    pytest.param(
        "apply-passport,2024-13,online,transactions,5\n",
        "error: data/extra.csv:2: column 'period': '2024-13' is neither a month (01 to 12) nor a financial year (it would be 2024-25)",
        id="period-month-13",
    ),
    pytest.param(
        "apply-passport,2024-Q5,online,transactions,5\n",
        "error: data/extra.csv:2: column 'period': '2024-Q5' has no quarter 5: quarters are Q1 to Q4",
        id="period-quarter-5",
    ),
    pytest.param(
        "apply-passport,2024-05-01/2024-04-01,online,transactions,5\n",
        "error: data/extra.csv:2: column 'period': '2024-05-01/2024-04-01' ends before it starts",
        id="period-ends-before-it-starts",
    ),
    pytest.param(
        "apply-passport,2024-02-30/2024-03-01,online,transactions,5\n",
        "error: data/extra.csv:2: column 'period': '2024-02-30/2024-03-01' has an impossible date: 2024-02-30 does not exist",
        id="period-impossible-date",
    ),
    pytest.param(
        "apply-passport,May 2025,online,transactions,5\n",
        "error: data/extra.csv:2: column 'period': 'May 2025' is not a period: use 2024-05 (month), 2024-Q2 (quarter), "
        "2024-25 (financial year) or 2024-04-01/2025-03-31",
        id="period-in-words",
    ),
    pytest.param(
        "apply-passport,,online,transactions,5\n",
        "error: data/extra.csv:2: column 'period': is empty",
        id="period-empty",
    ),
    pytest.param(
        "apply-passport,2025-01,online,transactions,5\napply-passport,2025-01,online,transactions,6\n",
        "error: data/extra.csv:3: duplicate row for service 'apply-passport', period '2025-01', channel 'online', metric 'transactions' "
        "(first given at data/extra.csv:2)\n"
        "  Hint: each figure must be given once; remove one of the rows",
        id="duplicate-row-in-one-file",
    ),
    pytest.param(
        "apply-passport,2025-01,online,transactions,5\napply-passport,2025-02,online,transactions,5,7\napply-passport,2025-03,online,transactions,5\n",
        "error: data/extra.csv:3: too many fields (expected 5)\n" + ROW_HINT,
        id="too-many-fields",
    ),
    pytest.param(
        "apply-passport,2025-01,online,transactions,5\napply-passport,2025-02,online,transactions\n",
        "error: data/extra.csv:3: too few fields (expected 5)\n" + ROW_HINT,
        id="too-few-fields",
    ),
    pytest.param(
        'apply-passport,2025-01,online,transactions,5\napply-passport,2025-02,"online,transactions,5\napply-passport,2025-03,online,transactions,5\n',
        "error: data/extra.csv:3: a quote is not closed\n" + ROW_HINT,
        id="unterminated-quote",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), CASES)
def test_data_error(example_project, failing_build, rows, expected):
    write(example_project, EXTRA, HEADER + rows)
    assert failing_build() == expected


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            "apply-passport,2025-01,online,transactions,5,not_provided\n",
            "error: data/extra.csv:2: column 'status': status 'not_provided' given with a value\n"
            "  Hint: a row has either a value or a status saying why there is none",
            id="status-with-a-value",
        ),
        pytest.param(
            "apply-passport,2025-01,online,transactions,,missing\n",
            "error: data/extra.csv:2: column 'status': unknown status 'missing'\n"
            "  Hint: leave it empty for a value, or use not_provided, not_applicable, invalid",
            id="unknown-status",
        ),
        pytest.param(
            "apply-passport,2025-01,online,transactions,,not_provded\n",
            "error: data/extra.csv:2: column 'status': unknown status 'not_provded' (did you mean 'not_provided'?)\n"
            "  Hint: leave it empty for a value, or use not_provided, not_applicable, invalid",
            id="misspelt-status",
        ),
    ],
)
def test_status_error(example_project, failing_build, rows, expected):
    write(example_project, EXTRA, "service,period,channel,metric,value,status\n" + rows)
    assert failing_build() == expected


def test_figures_under_a_service_with_parts_belong_to_a_part(example_project, failing_build):
    # Claim Carer's Allowance is reported by its parts: a figure under its own slug would be
    # counted twice (on its own and in the sum of its parts).
    write(example_project, EXTRA, HEADER + "carers-allowance-claim,2025-Q1,online,transactions,5\n"
          "claim-carers-allowance,2025-Q1,online,transactions,5\nclaim-carers-allowance,2025-Q1,,cost,90\n")
    hint = ("  Hint: a service with parts is the sum of its parts' figures; declare another part in "
            "config/services.yml for figures that belong to none")
    assert failing_build() == (
        "error: data/extra.csv:3: column 'service': service 'claim-carers-allowance' is reported by its parts "
        f"'carers-allowance-claim', 'carers-allowance-change': give these figures under a part's slug\n{hint}\n"
        "error: data/extra.csv:4: column 'service': service 'claim-carers-allowance' is reported by its parts "
        f"'carers-allowance-claim', 'carers-allowance-change': give these figures under a part's slug\n{hint}"
    )


def test_duplicate_row_across_files_names_the_first(example_project, failing_build):
    # Files are read in name order: hmpo-passports.csv comes before the new file.
    write(example_project, "data/zz-late-corrections.csv", HEADER + "apply-passport,2023-01,online,transactions,357001\n")
    assert failing_build() == (
        "error: data/zz-late-corrections.csv:2: duplicate row for service 'apply-passport', period '2023-01', channel 'online', "
        "metric 'transactions' (first given at data/hmpo-passports.csv:2)\n"
        "  Hint: each figure must be given once; remove one of the rows"
    )


def test_duplicate_across_period_labels_for_the_same_dates(example_project, failing_build):
    write(example_project, EXTRA, HEADER + "apply-passport,2025-01,online,transactions,5\napply-passport,2025-01-01/2025-01-31,online,transactions,5\n")
    assert failing_build() == (
        "error: data/extra.csv:3: duplicate row for service 'apply-passport', period '2025-01-01/2025-01-31', channel 'online', "
        "metric 'transactions' (first given at data/extra.csv:2)\n"
        "  Hint: each figure must be given once; remove one of the rows"
    )


def test_wrong_header(example_project, failing_build):
    write(example_project, EXTRA, "service,period,chanel,metric\napply-passport,2025-01,online,transactions\n")
    assert failing_build() == (
        "error: data/extra.csv:1: header: missing columns 'channel', 'value'\n"
        f"{HEADER_HINT}\n"
        "error: data/extra.csv:1: header: unknown column 'chanel' (did you mean 'channel'?)\n"
        f"{HEADER_HINT}"
    )


def test_header_with_repeated_column(example_project, failing_build):
    write(example_project, EXTRA, "service,period,channel,metric,value,value\n")
    assert failing_build() == "error: data/extra.csv:1: header: column 'value' appears more than once"


def test_semicolon_separated_file(example_project, failing_build):
    write(example_project, EXTRA, "service;period;channel;metric;value\napply-passport;2025-01;online;transactions;5\n")
    assert failing_build() == (
        "error: data/extra.csv:1: header: missing columns 'service', 'period', 'channel', 'metric', 'value'\n"
        f"{HEADER_HINT}\n"
        "error: data/extra.csv:1: header: unknown column 'service;period;channel;metric;value'\n"
        f"{HEADER_HINT}"
    )


@pytest.mark.parametrize("content", ["", "\n\n", "  \r\n"], ids=["no-bytes", "blank-lines", "spaces"])
def test_empty_file(example_project, failing_build, content):
    write(example_project, EXTRA, content)
    assert failing_build() == "error: data/extra.csv: the file is empty\n" + HEADER_HINT


def test_windows_1252_file(example_project, failing_build):
    text = "service,period,channel,metric,value,note\napply-passport,2025-01,,cost,5200,Cost in £ – estimated\n"
    write(example_project, EXTRA, text.encode("cp1252"))
    assert failing_build() == (
        "error: data/extra.csv:2: the file is not UTF-8 text (it looks like Windows-1252)\n"
        "  Hint: save it as UTF-8 (in Excel: Save As, 'CSV UTF-8')"
    )


def test_unsupported_file_type(example_project, failing_build):
    write(example_project, "data/notes.txt", "Figures for 2025 arrive in March.\n")
    assert failing_build() == (
        "error: data/notes.txt: unsupported file type '.txt'\n"
        "  Hint: data files must be one of .csv, .json, .jsonl, .parquet, .xlsm, .xlsx; move other files out of the data folder"
    )


def test_data_folder_not_found(example_project, failing_build):
    for path in (example_project / "data").iterdir():
        path.unlink()
    (example_project / "data").rmdir()
    assert failing_build() == (
        "error: data: data folder not found\n"
        "  Hint: create it or point perfgen at your data with --data"
    )


def test_line_numbers_count_quoted_line_breaks_and_blank_lines(example_project, failing_build):
    write(example_project, EXTRA, (
        "service,period,channel,metric,value,note\n"
        'apply-passport,2025-01,online,transactions,5,"Two lines\nof note"\n'
        "\n"
        "apply-passport,2025-02,online,transactions,5,too,many\n"
        "apply-passport,2025-03,online,transactions,abc,\n"
    ))
    assert failing_build() == (
        "error: data/extra.csv:5: too many fields (expected 6)\n"
        f"{ROW_HINT}\n"
        "error: data/extra.csv:6: column 'value': 'abc' is not a number"
    )


def test_only_twenty_problems_of_a_kind_are_listed_per_file(example_project, failing_build):
    rows = "".join(f"apply-passport,2030-01-{day:02d}/2030-01-{day:02d},online,transactions,{day} k\n" for day in range(1, 26))
    write(example_project, EXTRA, HEADER + rows)
    listed = [f"error: data/extra.csv:{day + 1}: column 'value': '{day} k' is not a number" for day in range(1, 21)]
    assert failing_build() == "\n".join(listed + ["error: data/extra.csv: 5 more rows with the same kind of problem as line 2 not listed"])
    assert failing_build.summary == "perfgen: 21 problems in the data; nothing was written"


def test_only_twenty_unreadable_rows_are_listed_per_file(example_project, failing_build):
    rows = "".join(f"apply-passport,2030-{month:02d},online,transactions,5,extra\n" for month in range(1, 13)) * 2
    write(example_project, EXTRA, HEADER + rows)
    listed = [f"error: data/extra.csv:{line}: too many fields (expected 5)\n{ROW_HINT}" for line in range(2, 22)]
    assert failing_build() == "\n".join(listed + ["error: data/extra.csv: 4 more unreadable rows not listed"])


def test_every_problem_of_every_file_is_reported_in_one_run(example_project, failing_build):
    write(example_project, "data/a-new.csv", HEADER + "apply-passport,2025-01,online,transactions,abc\n")
    write(example_project, "data/b-new.csv", HEADER + "claim-carers-allowence,2025-01,online,transactions,5\n")
    write(example_project, "data/c-new.csv", "")
    write(example_project, "data/notes.txt", "to do\n")
    write(example_project, "data/hmpo-passports.csv",
          (example_project / "data/hmpo-passports.csv").read_text(encoding="utf-8") + "apply-passport,2025-Q5,online,transactions,5\n")
    assert failing_build() == (
        "error: data/a-new.csv:2: column 'value': 'abc' is not a number\n"
        "error: data/b-new.csv:2: column 'service': unknown service 'claim-carers-allowence' (did you mean 'claim-carers-allowance'?)\n"
        "  Hint: add the service to config/services.yml or correct the slug\n"
        "error: data/c-new.csv: the file is empty\n"
        f"{HEADER_HINT}\n"
        "error: data/hmpo-passports.csv:248: column 'period': '2025-Q5' has no quarter 5: quarters are Q1 to Q4\n"
        "error: data/notes.txt: unsupported file type '.txt'\n"
        "  Hint: data files must be one of .csv, .json, .jsonl, .parquet, .xlsm, .xlsx; move other files out of the data folder"
    )
    assert failing_build.summary == "perfgen: 5 problems in the data; nothing was written"


# --- Files that must be accepted ---------------------------------------------------------------


def test_utf8_bom_and_windows_line_endings_build_the_same_site(example_project, published_example, tmp_path, monkeypatch, capsys):
    path = example_project / "data/dwp-carers-allowance.csv"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    monkeypatch.chdir(example_project)
    site = tmp_path / "site"
    code = main(["build", "--config", "config/services.yml", "--data", "data", "--output", str(site), "--workers", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    # Every page and data file is the same; only the build record differs (input hashes).
    built = {k: v for k, v in tree_hashes(site).items() if not k.startswith("_build/")}
    published = {k: v for k, v in tree_hashes(published_example.site).items() if not k.startswith("_build/")}
    assert built == published


def test_header_only_file_is_valid(example_project, monkeypatch, capsys):
    write(example_project, EXTRA, HEADER.replace("\n", "\r\n"))
    monkeypatch.chdir(example_project)
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == "config/services.yml and data/ are valid (4 warnings)\n"


# --- Warnings, --strict and validate -------------------------------------------------------------

EXAMPLE_WARNINGS = [
    "service 'apply-passport': March 2024: 471,974 completed but 283,184 started [completed-above-started]",
    "service 'apply-pension-credit': no figures in any data file [no-data]",
    "service 'book-theory-test': July to September 2023: digital transactions 554,705 exceed all transactions 553,465 [digital-above-total]",
    "service 'report-lost-passport': April 2023 to March 2024: no figures after March 2024; the site's latest figures run to December 2024 [stale-data]",
]


def test_strict_build_fails_on_the_example_warnings(failing_build):
    assert failing_build("--strict") == "\n".join(f"error: {warning}" for warning in EXAMPLE_WARNINGS)
    assert failing_build.summary == "perfgen: 4 problems in the data (--strict turns warnings into errors); nothing was written"


def test_build_without_strict_succeeds_and_lists_the_warnings(published_example):
    assert published_example.exit_code == 0
    assert published_example.stderr == "\n".join(
        ["4 warnings (completed-above-started: 1, digital-above-total: 1, no-data: 1, stale-data: 1)"]
        + [f"  warning: {warning}" for warning in EXAMPLE_WARNINGS]
    ) + "\n"
    assert (published_example.site / "index.html").is_file()


def test_validate_writes_nothing(example_project, monkeypatch, capsys):
    before = tree_hashes(example_project)
    monkeypatch.chdir(example_project)
    assert main(["validate"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "config/services.yml and data/ are valid (4 warnings)\n"
    assert "[digital-above-total]" in captured.err
    assert tree_hashes(example_project) == before
    assert sorted(p.name for p in example_project.iterdir()) == ["config", "data"]


def test_validate_strict_fails_on_warnings(example_project, monkeypatch, capsys):
    monkeypatch.chdir(example_project)
    assert main(["validate", "--strict"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "perfgen: 4 warnings and --strict was given"


def test_validate_fails_on_bad_data(example_project, failing_build):
    write(example_project, EXTRA, HEADER + "apply-passport,2025-01,online,transactions,abc\n")
    before = tree_hashes(example_project)
    assert failing_build(command="validate") == "error: data/extra.csv:2: column 'value': 'abc' is not a number"
    assert tree_hashes(example_project) == before


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=["a", ",", " ", "\n", "\n", "\u2028", "\x0c", "é"], max_size=40))
def test_record_starts_without_quotes_are_the_csv_readers(text):
    """The quick reading of a plain file (no quotes, carriage returns or NULs) places every
    record on the line the csv module does, and the header is the first line."""
    import csv
    import io

    from perfgen import load

    reader = csv.reader(io.StringIO(text, newline=""))
    expected, end = [], 0
    for record in reader:
        expected.append(end + 1 if record else None)
        end = reader.line_num
    assert list(load._record_starts(text)) == expected
    assert load._FIRST_LINE.match(text).group() == (text.splitlines() or [""])[0]


def test_the_load_keeps_each_row_with_its_line_and_leaves_no_file_tables(example_project):
    """Each file's rows are read through a view (copied once, into ``observations``, in file and
    line order); a file whose records do not start on consecutive lines (a quoted line break, a
    blank line) maps them through a table of lines. Nothing of either is left once loaded."""
    from perfgen.config import load_config
    from perfgen.load import load_data

    write(example_project, EXTRA, (
        "service,period,channel,metric,value,note\n"
        'apply-passport,2031-01,online,transactions,5,"Two lines\nof note"\n'
        "\n"
        "apply-passport,2031-02,online,transactions,7,\n"
    ))
    (example_project / "data" / "more.json").write_text(
        '[{"service": "apply-passport", "period": "2031-03", "channel": "online", "metric": "transactions", "value": "9"}]', encoding="utf-8")
    config = load_config(example_project / "config" / "services.yml", "config/services.yml")
    loaded = load_data(example_project / "data", config, example_project)
    rows = loaded.db.execute("SELECT file, line, value, note FROM clean_observations WHERE period_start >= DATE '2031-01-01' ORDER BY period_start").fetchall()
    assert rows == [("data/extra.csv", 2, 5.0, "Two lines\nof note"), ("data/extra.csv", 5, 7.0, None), ("data/more.json", 1, 9.0, None)]
    stored = loaded.db.execute("SELECT file, line FROM clean_observations").fetchall()  # as stored
    assert stored == sorted(stored) and len(set(stored)) == len(stored)
    # Each row's file is a code of an ENUM of the files' names, in name order (not the name again
    # on every row); SQL reads it as text.
    kind = loaded.db.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'clean_observations' AND column_name = 'file'").fetchone()[0]
    names = sorted(str(path.relative_to(example_project)) for path in (example_project / "data").iterdir())
    assert kind == "ENUM(" + ", ".join(f"'{name}'" for name in names) + ")"
    assert loaded.db.execute("SELECT printf('%s:%d', file, line) FROM clean_observations WHERE file = 'data/more.json'").fetchall() == [("data/more.json:1",)]
    left = loaded.db.execute("SELECT table_name FROM duckdb_tables() WHERE regexp_matches(table_name, '^input_[0-9]') "
                             "UNION ALL SELECT view_name FROM duckdb_views() WHERE regexp_matches(view_name, '^input_[0-9]')").fetchall()
    assert left == []


def test_each_clean_row_has_its_periods_dates_kind_and_months(example_project):
    """Each row's period fields come from its label (looked up by the label's place among the
    periods, not joined): a month, a quarter, a financial year and a range, in any row order."""
    from perfgen.config import load_config
    from perfgen.load import load_data
    from perfgen.periods import parse_period

    labels = ["2031-05", "2031-Q2", "2030-31", "2031-01-01/2031-03-15", "2031-02", "2031-Q1"]
    write(example_project, EXTRA, "service,period,channel,metric,value\n" + "".join(
        f"apply-passport,{label},online,transactions,{number}\n" for number, label in enumerate(labels)))
    config = load_config(example_project / "config" / "services.yml", "config/services.yml")
    loaded = load_data(example_project / "data", config, example_project)
    rows = loaded.db.execute("SELECT line, period_start, period_end, period_kind, months FROM clean_observations WHERE file = 'data/extra.csv'").fetchall()
    expected = []
    for line, label in enumerate(labels, start=2):
        period = parse_period(label)
        expected.append((line, period.start, period.end, period.kind, period.months))
    assert rows == expected
    assert loaded.db.execute("SELECT count(*) FROM duckdb_types() WHERE type_name = '_period_label'").fetchone()[0] == 0


def test_a_plain_file_gives_its_records_lines_without_listing_them():
    """Without quotes, carriage returns, NULs or blank lines, record n is line n: a range, and
    the load then maps no row through a table of lines."""
    from perfgen import load

    assert load._record_starts("service,period\na,2024-01\nb,2024-02\n") == range(1, 4)
    assert load._record_starts("service,period\na,2024-01\nb,2024-02") == range(1, 4)
    assert load._record_starts("service,period\n\nb,2024-02\n") == [1, None, 3]


def test_a_full_disk_is_one_message_not_a_bug_report(example_project, published_example, monkeypatch, capsys):
    """A file perfgen cannot write (here: no space left on the device) is the machine's problem,
    not the input's nor a bug: one message naming the file, exit code 4, no traceback, and the
    published site as it was, with no staging folder left."""
    import errno

    from perfgen import publish
    from site_checks import tree_hashes

    site = published_example.site
    before = tree_hashes(site)
    add = publish.SiteWriter.add

    def full(self, relative, content):
        if relative.startswith("services/"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self.staging / relative))
        return add(self, relative, content)

    monkeypatch.setattr(publish.SiteWriter, "add", full)
    monkeypatch.chdir(example_project)
    capsys.readouterr()
    # A base address the published site was not built with: a build, not "up to date".
    code = main(["build", "--config", "config/services.yml", "--data", "data", "--output", str(site), "--workers", "1",
                 "--base-url", "https://example.org/performance/"])
    out, err = capsys.readouterr()
    assert code == 4
    assert "Traceback" not in out + err and "This is a bug in perfgen" not in err  # the staging folder's random name may hold "bug"
    first, last = err.rstrip("\n").split("\n")
    assert first.startswith("error: No space left on device: ") and "/services/" in first
    assert last == "perfgen: a file could not be read or written; nothing was written (the published site is as it was)"
    assert tree_hashes(site) == before
    assert sorted(p.name for p in site.parent.iterdir()) == ["example", "site"], "a staging folder was left behind"
