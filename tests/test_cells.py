"""perfgen.cells.table_body: the body rows of every data table, built in Python."""

from __future__ import annotations

from markupsafe import Markup

from perfgen.cells import table_body


def test_rows_with_a_header_cell_numeric_columns_and_every_kind_of_cell():
    rows = [["Q1 <2024>", {"text": "75.1%", "title": "75.0668%"}, None, {"html": Markup("<a href='x'>link</a>")}, {"text": "a & b", "classes": "app-x"}]]
    assert table_body(rows, [1, 2]) == (
        '      <tr class="govuk-table__row">'
        '        <th scope="row" class="govuk-table__header">Q1 &lt;2024&gt;</th>'
        '        <td class="govuk-table__cell govuk-table__cell--numeric"><abbr title="75.0668%">75.1%</abbr></td>'
        '        <td class="govuk-table__cell govuk-table__cell--numeric"><span class="app-status--missing">Not provided</span></td>'
        "        <td class=\"govuk-table__cell\"><a href='x'>link</a></td>"
        '        <td class="govuk-table__cell app-x">a &amp; b</td>'
        "      </tr>")


def test_compact_rows_have_no_class_per_cell_and_text_is_escaped():
    rows = [["January 2024", "1,000", {"html": "<b>not markup</b>"}, {"text": "x", "classes": "app-y"}]]
    assert table_body(rows, compact=True) == (
        '<tr><th scope="row">January 2024</th><td>1,000</td><td>&lt;b&gt;not markup&lt;/b&gt;</td><td class="app-y">x</td></tr>')
    assert isinstance(table_body([], compact=True), Markup) and table_body([]) == ""


def test_plain_text_is_escaped_exactly_as_markupsafe_escapes_it():
    """Cells' text skips ``markupsafe.escape`` (``_escaped``): every character it replaces, and
    only those, with the same entities; markup, numbers and text in dicts included."""
    from markupsafe import escape

    from perfgen.cells import _content, _escaped

    texts = ["", "plain", "a & b", "<tag attr=\"x\">", "it's", "&amp; already", "£4.50 – 90%", "\"'<>&" * 3]
    for text in texts:
        assert _escaped(text) == str(escape(text))
        assert _content(text) == str(escape(text))
        assert _content({"text": text}) == str(escape(text))
        assert _content({"text": "x", "title": text}) == (f'<abbr title="{escape(text)}">x</abbr>' if text else "x")
    assert _content(Markup("<b>kept</b>")) == "<b>kept</b>" and _content(1200) == "1200"
    assert _content({"text": Markup("<i>t</i>"), "title": "t"}) == '<abbr title="t"><i>t</i></abbr>'
