"""perfgen.cells: the body rows of every data table, built in Python (``table_body``), and markup
made only when a page needs it (``DeferredMarkup``)."""

from __future__ import annotations

import pickle

from jinja2 import Environment
from markupsafe import Markup

from perfgen.cells import DeferredMarkup, table_body


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


def test_deferred_markup_is_made_once_when_a_page_is_keyed_or_rendered():
    """A league table's body: nothing is made when the page is laid out; its key (the context
    pickled) and its rendering share one making, and the key is the markup's."""
    made = []

    def make() -> str:
        made.append(1)
        return '<tr class="govuk-table__row"><td>A &amp; B</td></tr>'

    body = DeferredMarkup(make)
    assert made == []
    keyed = pickle.dumps({"table": {"rows": [body]}}, protocol=5)
    assert made == [1]
    assert pickle.loads(keyed) == {"table": {"rows": [Markup('<tr class="govuk-table__row"><td>A &amp; B</td></tr>')]}}
    assert keyed == pickle.dumps({"table": {"rows": [DeferredMarkup(make)]}}, protocol=5)  # the same key for the same markup
    template = Environment(autoescape=True).from_string('<tbody>{{ rows | join("\\n") }}</tbody><p>{{ row }}</p>')
    html = template.render(rows=[body, Markup("<tr></tr>")], row=body)
    assert html == '<tbody><tr class="govuk-table__row"><td>A &amp; B</td></tr>\n<tr></tr></tbody><p><tr class="govuk-table__row"><td>A &amp; B</td></tr></p>'
    assert made == [1, 1]  # once for this body (and once for the other one keyed above)


def test_keyed_deferred_markup_is_pickled_as_its_key_without_being_made():
    """A league body with a key (its rows' digests and its depth) is keyed by that: a page
    taken from the previous build never joins its body; other keys give other bytes."""
    made = []

    def make() -> str:
        made.append(1)
        return "<tr></tr>"

    keyed = pickle.dumps([DeferredMarkup(make, key=b"rows+../")], protocol=5)
    assert made == []
    assert keyed == pickle.dumps([DeferredMarkup(make, key=b"rows+../")], protocol=5)
    assert keyed != pickle.dumps([DeferredMarkup(make, key=b"rows+../../")], protocol=5)
    assert keyed != pickle.dumps([b"rows+../"], protocol=5)  # marked as markup's key, not plain bytes
    assert str(DeferredMarkup(make, key=b"k")) == "<tr></tr>" and made == [1]
