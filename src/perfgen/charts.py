"""Stage 4, charts: KPI series in, inline SVG out (Altair specs rendered by vl-convert).

One Vega-Lite spec per unit (money, percent, count) is built once with Altair; each chart only
swaps in its data. Charts are rendered in worker processes (``spawn``: vl-convert hangs in
forked children) because each conversion costs milliseconds of CPU, five per service; axis
labels are placed by :mod:`perfgen.chartlabels` rather than measured one by one, and a chart's
marks are drawn without axes (a batch's charts in one call: :func:`_marks_together`) and put
into axes drawn once for every chart with its domains (:func:`_spliced`). The SVG gets an
accessible name; the page puts a caption, a sentence and a data table beside it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import math
import os
import pickle
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from multiprocessing import get_context
from multiprocessing.connection import wait as ready_connections
from pathlib import Path
from typing import Any

from perfgen import chartlabels
from perfgen.files import write_whole
from perfgen.processes import lower_priority


@dataclass(frozen=True)
class ChartRequest:
    key: str  # unique id, used to match results
    unit: str  # money | percent | count
    points: tuple[tuple[str, float | None, str], ...]  # (ISO period end, value, series name); None breaks the line (a gap)
    label: str  # accessible name of the SVG
    target: tuple[float, str] | None = None  # (value, its label: "Target 85%"), a dashed rule
    notes: tuple[tuple[str, str], ...] = ()  # (ISO date, marker: "1"), a numbered vertical rule each


_AXIS_FORMAT = {
    "money": "'£' + (datum.value < 100 ? format(datum.value, ',.2f') : replace(format(datum.value, '.3~s'), 'G', 'bn'))",
    "percent": "format(datum.value, '.0%')",
    "count": "replace(format(datum.value, '.3~s'), 'G', 'bn')",
}
_TOOLTIP_FORMAT = {"money": ",.2f", "percent": ".1%", "count": ","}
# GOV.UK blue and a dark orange: both over 4.5:1 on white, distinguishable with dashes too.
_COLOURS = ["#1d70b8", "#b04b00"]
# The target (long dashes) and the notes (short dashes) in GOV.UK black and dark grey: 19:1 and
# 7:1 on white, so they stand apart from the series by colour, weight and dash alike.
_TARGET_COLOUR = "#0b0c0c"
_NOTE_COLOUR = "#505a5f"


#: A series with more figures than this is drawn as a line alone: 60 monthly dots are too close
#: to read one by one (the table beside the chart has every figure) and were a quarter of the
#: bytes of a service page. A figure alone between gaps is a line of no length, which draws
#: nothing: it gets a dot of its own (``lone`` of :func:`base_spec`).
MAX_DOTTED = 24


@cache
def base_spec(unit: str, series_count: int, target: bool = False, notes: bool = False, dots: bool = True, lone: bool = False) -> dict[str, Any]:
    """The Vega-Lite spec for one unit, without data; with ``target``, ``notes`` or ``lone``, a
    layered spec whose layers pick their rows from the one data set by ``kind`` (or ``alone``).
    ``dots`` marks each figure with a dot (short series; see :data:`MAX_DOTTED`); ``lone``, each
    figure with no figure of its series on either side (``alone``: a gap or the series' end).
    Altair is imported here, in the chart workers: the build itself keys charts by their shape
    (``_cache_key``) without it."""
    import altair as alt

    y_scale = alt.Scale(domain=[0, 1]) if unit == "percent" else alt.Scale(zero=True)
    encoding = {
        "x": alt.X("end:T", title=None, axis=alt.Axis(format="%b %Y", labelAngle=0, tickCount=6, grid=False)),
        "y": alt.Y("value:Q", title=None, scale=y_scale, axis=alt.Axis(labelExpr=_AXIS_FORMAT[unit], tickCount=5)),
    }
    if series_count > 1:
        encoding["color"] = alt.Color("series:N", title=None, scale=alt.Scale(range=_COLOURS), legend=alt.Legend(orient="top"))
        encoding["strokeDash"] = alt.StrokeDash("series:N", title=None, legend=None)
    else:
        encoding["color"] = alt.value(_COLOURS[0])
    dotted = {"point": alt.OverlayMarkDef(size=30, filled=True)} if dots else {}
    line = alt.Chart().mark_line(strokeWidth=2, **dotted).encode(**encoding)
    if target or notes or lone:
        layers = [line.transform_filter("datum.kind === 'value'") if target or notes else line]
        if lone:
            layers.append(alt.Chart().transform_filter("datum.alone === true").mark_point(size=30, filled=True, opacity=1)
                          .encode(x=encoding["x"], y=encoding["y"], color=encoding["color"]))
        if target:
            rows = alt.Chart().transform_filter("datum.kind === 'target'")
            layers.append(rows.mark_rule(color=_TARGET_COLOUR, strokeDash=[8, 4], strokeWidth=1.5).encode(y=encoding["y"]))
            # The label sits in the right margin, where no point of the series can hide it.
            layers.append(rows.mark_text(align="left", baseline="middle", dx=6, font="arial", fontSize=13, color=_TARGET_COLOUR)
                          .encode(x=alt.value(560), y=encoding["y"], text="label:N"))
        if notes:
            rows = alt.Chart().transform_filter("datum.kind === 'note'")
            layers.append(rows.mark_rule(color=_NOTE_COLOUR, strokeDash=[3, 3], strokeWidth=1.5).encode(x=encoding["x"]))
            layers.append(rows.mark_text(baseline="bottom", dy=-4, font="arial", fontSize=13, fontWeight="bold", color=_TARGET_COLOUR)
                          .encode(x=encoding["x"], y=alt.value(0), text="label:N"))
        layered: alt.LayerChart | alt.Chart = alt.layer(*layers, data=alt.Data(values=[]))
    else:
        layered = line.properties(data=alt.Data(values=[]))
    chart = (
        layered
        .properties(width=560, height=220)
        .configure_view(stroke=None)
        .configure_axis(labelFont="arial", labelFontSize=13, labelColor="#0b0c0c", domainColor="#505a5f", tickColor="#505a5f", gridColor="#dcdcdc")
        .configure_legend(labelFont="arial", labelFontSize=14, labelColor="#0b0c0c")
    )
    return chart.to_dict(validate=True)


def spec_for(request: ChartRequest) -> dict[str, Any]:
    """A chart's Vega-Lite spec: its shape's spec (shared, not to be changed) with its data."""
    shape = _shape_of(request)
    return {**base_spec(*shape), "data": {"values": _values_of(request, shape)}}


def _shape_of(request: ChartRequest) -> tuple[str, int, bool, bool, bool, bool]:
    """The arguments of :func:`base_spec` a chart is drawn with."""
    series = {name for _, _, name in request.points}
    dots = len({end for end, value, _ in request.points if value is not None}) <= MAX_DOTTED
    lone = not dots and any(value is None for _, value, _ in request.points) and any(_alone(request.points))  # only a gap leaves a figure alone
    return request.unit, len(series), request.target is not None, bool(request.notes), dots, lone


def _alone(points: tuple[tuple[str, float | None, str], ...]) -> list[bool]:
    """For each point, whether it is a figure with no figure of its series on either side (a
    gap or the series' end): a line alone would not show it."""
    positions: dict[str, list[int]] = {}
    for index, (_, _, name) in enumerate(points):
        positions.setdefault(name, []).append(index)
    alone = [False] * len(points)
    for indexes in positions.values():
        valued = [points[index][1] is not None for index in indexes]
        for i, index in enumerate(indexes):
            alone[index] = valued[i] and not (i > 0 and valued[i - 1]) and not (i + 1 < len(valued) and valued[i + 1])
    return alone


def _values_of(request: ChartRequest, shape: tuple[str, int, bool, bool, bool, bool], times: bool = False) -> list[dict[str, Any]]:
    """A chart's data for its ``shape`` (:func:`_shape_of`); with ``times``, each date as the time
    Vega makes of it (``_day_time``)."""
    when = _day_time if times else str
    values: list[dict[str, Any]] = [{"end": when(end), "value": value, "series": name} for end, value, name in request.points]
    if shape[-1]:  # lone figures: each marked
        values = [{**row, "alone": alone} for row, alone in zip(values, _alone(request.points))]
    if request.target is not None or request.notes:
        values = [{**row, "kind": "value"} for row in values]
        if request.target is not None:
            values.append({"kind": "target", "value": request.target[0], "label": request.target[1]})
        values += [{"kind": "note", "end": when(day), "label": marker} for day, marker in request.notes]
    return values


@lru_cache(maxsize=64)
def _shape_json(shape: tuple[str, int, bool, bool, bool, bool]) -> str:
    """A shape's Vega-Lite spec without its data, as JSON (the key of its compiled Vega)."""
    return json.dumps({key: value for key, value in base_spec(*shape).items() if key != "data"}, sort_keys=True)


_SVG_OPEN = re.compile(r"^<svg ")


def _finish_svg(svg: str, label: str) -> str:
    """Give the root <svg> an accessible name and make it scale with the page."""
    from html import escape

    svg = _SVG_OPEN.sub(f'<svg role="img" aria-label="{escape(label, quote=True)}" focusable="false" ', svg.strip(), count=1)
    return svg.replace('class="marks"', 'class="marks app-chart__svg"', 1)


_POINTS = "perfgen_points"  # name of a chart's own data in its compiled Vega spec


@lru_cache(maxsize=64)
def _vega_for_shape(shape: str) -> str:
    """The Vega spec (JSON) for a Vega-Lite spec without its data, compiled once per shape.

    Three changes make drawing cheaper without changing what a reader sees. vl-convert measures
    every text item by laying it out (about 1 ms each), and a label with a width limit is
    measured twice (once for its bounds, once to truncate it): our labels are short, so axes
    and legends get no limit. The marks' and axes' ARIA descriptions are dropped: the root
    <svg> is role="img" with its own name (``_finish_svg``), which hides them from assistive
    technology anyway, and they were most of a chart's bytes. The dates come as times, not
    parsed by the spec (``_PARSE_END``)."""
    import vl_convert as vlc

    spec = json.loads(shape)
    spec["data"] = {"name": _POINTS, "values": []}
    vega = _lighten(vlc.vegalite_to_vega(spec))
    for dataset in vega.get("data", []):  # the dates come as times (_shape_and_values)
        if "transform" in dataset:
            dataset["transform"] = [step for step in dataset["transform"] if step != _PARSE_END]
            if not dataset["transform"]:
                del dataset["transform"]
    return json.dumps(vega)


def _lighten(vega: dict[str, Any]) -> dict[str, Any]:
    for guide in vega.get("axes", []) + vega.get("legends", []):
        guide["labelLimit"] = 0
        guide["aria"] = False
    _without_descriptions(vega.get("marks", []))
    return vega


def _without_descriptions(marks: list[dict[str, Any]]) -> None:
    for mark in marks:
        mark["aria"] = False
        for channels in mark.get("encode", {}).values():
            channels.pop("description", None)
            channels.pop("ariaRoleDescription", None)
        _without_descriptions(mark.get("marks", []))


def vega_spec(request: ChartRequest) -> dict[str, Any]:
    """The Vega spec vl-convert draws for a chart: its shape's compiled spec with its data."""
    shape, values = _shape_and_values(request)
    return _with_values(_vega_for_shape(shape), values)


def _shape_and_values(request: ChartRequest) -> tuple[str, list[dict[str, Any]]]:
    shape = _shape_of(request)
    return _shape_json(shape), _values_of(request, shape, times=True)


#: How the compiled spec turns a date of the data into a time; a chart's dates are given to Vega
#: as those times instead (``_day_time``) and this step is left out (a twentieth of a drawing).
_PARSE_END = {"type": "formula", "expr": 'toDate(datum["end"])', "as": "end"}
_EPOCH = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=4096)
def _day_time(day: str) -> int:
    """An ISO date as JavaScript's ``Date`` parses it: milliseconds from 1970 to its midnight, UTC."""
    return (date.fromisoformat(day).toordinal() - _EPOCH) * 86_400_000


def _with_values(vega_json: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    vega = json.loads(vega_json)
    for dataset in vega["data"]:
        if dataset["name"] == _POINTS:
            dataset["values"] = values
    return vega


@lru_cache(maxsize=64)
def _label_plan(vega_json: str) -> tuple[chartlabels.Plan, str] | None:
    """How a compiled spec's axis labels are placed without vl-convert measuring them (see
    :mod:`perfgen.chartlabels`), with the spec drawn first; None to draw it the ordinary way."""
    vega = json.loads(vega_json)
    plan = chartlabels.plan(vega)
    return None if plan is None else (plan, json.dumps(chartlabels.unmeasured(vega)))


@lru_cache(maxsize=64)
def _light_plan(vega_json: str) -> tuple[chartlabels.Plan, str] | None:
    """The plan and the spec drawn first without the spec's grid-only axes and domain lines,
    which :func:`chartlabels.place` puts back (:func:`chartlabels.lighter`); None if it has none."""
    light = chartlabels.lighter(json.loads(vega_json))
    return None if light is None else (light[0], json.dumps(light[1]))


#: Label widths measured by vl-convert in this process: (font, size) -> text -> width.
_WIDTHS: dict[tuple[str, float], dict[str, float]] = {}
#: The markup each compiled spec's light plan leaves out, read from the first drawing of it in
#: this process with every part (:func:`chartlabels.learn`); None if it could not be read (every
#: part is then drawn).
_LEARNED: dict[str, chartlabels.Learned | None] = {}


def _draw(request: ChartRequest) -> str:
    """A chart's SVG as vl-convert draws it: its marks drawn alone and put into its axes when
    the shape allows (:func:`_spliced`), else drawn with its axis labels placed by perfgen."""
    shape, values = _shape_and_values(request)
    split = _split_specs(shape)
    if split is not None:
        spliced = _spliced(shape, split, values)
        if spliced is not None:
            return spliced
    return _draw_labelled(_vega_for_shape(shape), values)


def _draw_labelled(vega_json: str, values: list[dict[str, Any]]) -> str:
    """A compiled spec drawn with its data, its axis labels placed by perfgen when the spec
    allows (the same bytes, a third of the time)."""
    import vl_convert as vlc

    labelled = _label_plan(vega_json)
    if labelled is not None:
        plan, unmeasured = labelled
        light, learned = _light_plan(vega_json), _LEARNED.get(vega_json)  # learned only for a spec with a light plan
        if light is not None and learned is not None:
            plan, unmeasured = light  # without grid axes, domains and ticks (about half the time), put back by place
        measured = _WIDTHS.setdefault((plan.font, plan.size), {})
        svg = vlc.vega_to_svg(_with_values(unmeasured, values), allowed_base_urls=[])
        if light is not None and vega_json not in _LEARNED:
            _LEARNED[vega_json] = chartlabels.learn(svg, light[0])
        missing = sorted({text for text in chartlabels.label_texts(svg) if text and text not in measured})
        if missing:
            drawn = vlc.vega_to_svg(chartlabels.measurement_spec(missing, plan.font, plan.size), allowed_base_urls=[])
            widths = chartlabels.widths_from(drawn, len(missing))
            if widths is not None:
                measured.update(zip(missing, widths))
        if all(text in measured for text in missing):
            placed = chartlabels.place(svg, plan, measured.__getitem__, learned)
            if placed is not None:
                return placed
    return vlc.vega_to_svg(_with_values(vega_json, values), allowed_base_urls=[])


# A chart's axes depend on nothing but its shape and its scales' domains, and its marks on
# nothing but its data and those scales: a site's charts share a few hundred pairs of domains
# (the same five years, 0 to 100%, round maximums), and drawing the axes was most of drawing a
# chart. So each chart's marks are drawn alone, with a text item that reads the domains back
# (``_PROBE_NAME``), and put into the axes drawn once per shape and domains (``_AXES``). Vega pads
# each side of the frame by the whole pixels what is drawn overflows it (``autosize: pad``):
# the chart's margin on a side is the larger of the marks' and the axes'.

#: The text item added to a chart's marks-only spec: its scales' domains, as numbers.
_PROBE_NAME = "perfgen_domains"
_CONTINUOUS = {"linear", "time", "utc", "log", "pow", "sqrt", "symlog"}


@dataclass(frozen=True)
class _Split:
    """A shape's compiled spec as two (JSON), and the frame's size they share."""

    marks: str  # its marks with the probe, no axes
    axes: str  # its axes, no marks
    sides: tuple[float, float, float]  # padding, width, height (``chartlabels.margins``)
    scope: str | None  # what its marks need around them (size, padding, config: JSON); None if not drawn with others'


@lru_cache(maxsize=64)
def _split_specs(shape: str) -> _Split | None:
    """A shape's compiled spec split into its marks and its axes; None for a shape drawn whole
    (a legend, which depends on the data's series; a scale that is not continuous; an axis
    above the marks; labels not placed by perfgen)."""
    vega_json = _vega_for_shape(shape)
    vega, labelled = json.loads(vega_json), _label_plan(vega_json)
    scales = vega.get("scales", [])
    if (vega.get("legends") or not vega.get("axes") or labelled is None
            or any(scale.get("type", "linear") not in _CONTINUOUS for scale in scales)
            or any(axis.get("zindex", 0) != 0 for axis in vega["axes"]) or "zindex" in vega.get("config", {}).get("axis", {})):
        return None
    text = " + ';' + ".join(f"length(domain('{scale['name']}')) + ',' + (+domain('{scale['name']}')[0]) + ',' + (+peek(domain('{scale['name']}')))"
                            for scale in scales)
    probe = {"type": "text", "name": _PROBE_NAME, "aria": False, "interactive": False,
             "encode": {"enter": {"x": {"value": 0}, "y": {"value": 0}, "fontSize": {"value": 0}, "text": {"signal": text}}}}
    marks, axes = dict(vega), dict(vega)
    marks["axes"], marks["marks"] = [], vega.get("marks", []) + [probe]
    axes["marks"] = []
    plan = labelled[0]
    scope = {key: value for key, value in vega.items() if key not in ("data", "scales", "marks", "axes")}
    shared = set(scope) <= _SCOPE_KEYS and all(isinstance(scope.get(key), int) for key in ("padding", "width", "height"))
    return _Split(json.dumps(marks), json.dumps(axes), (plan.padding, plan.width, plan.height), json.dumps(scope) if shared else None)


_FRAME = re.compile(r'<g class="mark-group role-frame root"[^>]*><g transform="translate\(0,0\)"><path class="background"[^>]*/><g>')
_PROBED = re.compile(r'<g class="mark-text role-mark ' + _PROBE_NAME + r'"[^>]*><text [^>]*>([^<]*)</text></g>')


@dataclass(frozen=True)
class _Axes:
    """A drawing of a shape's axes for some domains: its root markup (``chartlabels.ROOT``) and
    margins, and its markup before and after where the marks go."""

    root: re.Match[str]
    margins: tuple[float, float, float, float]
    body: str  # the frame and the axes
    tail: str  # what closes them


#: Axes drawn in this process: (shape, domains) -> their drawing (None: not one to splice into).
_AXES: dict[tuple[str, str], _Axes | None] = {}
#: At most this many kept (a few kilobytes each), here and in a chart store; the oldest go first.
MAX_AXES = 4096
#: Where a worker shares its axes with the build's other workers (``_work``): the build's
#: chart store, read before drawing axes not yet in ``_AXES``; None in the build itself.
_AXES_STORE: ChartStore | None = None
#: Axes this process drew since its store was last written: (address, drawing, tail), kept with
#: the charts of the batch they were drawn for (``_work``).
_NEW_AXES: list[tuple[str, str, str]] = []


def _spliced(shape: str, split: _Split, values: list[dict[str, Any]]) -> str | None:
    """The chart's SVG from its marks drawn alone, put into its axes; None if either drawing is
    not one this understands (the caller draws the chart whole)."""
    marks = _marks_alone(split, values)
    return _into_axes(shape, split, values, marks) if marks is not None else None


@dataclass(frozen=True)
class _Marks:
    """A chart's marks drawn without axes: their markup inside the frame, the domains the probe
    read, the whole pixels each side of the frame needs for them (left, top, right, bottom: the
    least and the most it can be, the same when the drawing says it exactly) and the markup
    that closes the frame."""

    markup: str
    domains: str
    margins: tuple[tuple[float, float], ...]
    tail: str


def _marks_alone(split: _Split, values: list[dict[str, Any]]) -> _Marks | None:
    """A chart's marks drawn by themselves (their margins read from the drawing's root)."""
    import vl_convert as vlc

    svg = vlc.vega_to_svg(_with_values(split.marks, values), allowed_base_urls=[])
    root, probe = chartlabels.ROOT.match(svg), _PROBED.search(svg)
    frame = _FRAME.search(svg) if root is not None else None
    if root is None or probe is None or frame is None:
        return None
    sides = chartlabels.margins(root, *split.sides)
    return _Marks(svg[frame.end():probe.start()], probe.group(1), tuple((side, side) for side in sides), svg[probe.end():])


def _into_axes(shape: str, split: _Split, values: list[dict[str, Any]], marks: _Marks) -> str | None:
    """The chart's SVG: its marks put into the axes of its shape and domains (drawn once, or read
    from another worker's), each margin the larger of the marks' and the axes'; None if the axes
    are not ones to splice into, or if the marks' margin on a side is not known closely enough
    to tell (the caller draws the marks alone, or the chart whole)."""
    key = (shape, marks.domains)
    if key not in _AXES:
        if len(_AXES) >= MAX_AXES:
            del _AXES[next(iter(_AXES))]
        _AXES[key] = _shared_axes(key, split, values, marks.tail)
    axes = _AXES[key]
    if axes is None:
        return None
    wider = tuple(max(least, side) for (least, _), side in zip(marks.margins, axes.margins))
    if any(max(most, side) != margin for (_, most), side, margin in zip(marks.margins, axes.margins, wider)):
        return None
    return chartlabels.root_markup(axes.root, wider, *split.sides) + axes.body + marks.markup + axes.tail


def _shared_axes(key: tuple[str, str], split: _Split, values: list[dict[str, Any]], tail: str) -> _Axes | None:
    """The axes for a shape and its domains (``key``): read from the build's chart store if
    another worker drew them, else drawn here (and kept for the store: ``_NEW_AXES``)."""
    if _AXES_STORE is None:
        return _axes_from(_draw_labelled(split.axes, values), tail, split.sides)
    address = hashlib.sha256(_content_bytes((*key, _drawing_version()))).hexdigest()
    kept = _AXES_STORE.axes(address)
    if kept is not None and kept[1] == tail:
        return _axes_from(kept[0], tail, split.sides)
    drawing = _draw_labelled(split.axes, values)
    _NEW_AXES.append((address, drawing, tail))
    return _axes_from(drawing, tail, split.sides)


def _axes_from(svg: str, tail: str, sides: tuple[float, float, float]) -> _Axes | None:
    """The axes' drawing split where the marks go (before ``tail``, which closes the frame in
    the marks' drawing too); None if it does not end so."""
    root = chartlabels.ROOT.match(svg)
    if root is None or not svg.endswith(tail):
        return None
    return _Axes(root, chartlabels.margins(root, *sides), svg[root.end():len(svg) - len(tail)], tail)


# A vl-convert call costs milliseconds whatever it draws, and each group of marks with its own
# data and scales costs as much again to set up: so the marks of many charts are drawn in one
# call, the charts of each shape faceted from one data set (one group per chart, its scales its
# own, set up once for all), and read back as if drawn alone. Vega pads a drawing by what
# overflows its frame, which in one drawing of many is the union of every chart's: each chart's
# own margins are worked out from its markup, bounding each item as Vega does
# (``_marks_margins``).

#: The charts whose marks one drawing holds at most (about a third of the time of drawing each alone).
MARKS_PER_DRAWING = 100
#: What a shape's spec may hold besides its data, scales, marks and axes to be drawn with others.
_SCOPE_KEYS = frozenset({"$schema", "background", "padding", "width", "height", "style", "config"})
#: The field of the faceted rows naming their chart, and the facet marks' names (then a number).
_CHART_FIELD, _FACET_NAME, _ROWS_NAME = "perfgen_chart", "perfgen_charts", "perfgen_rows"
_FACET = re.compile(r'<g class="mark-group role-scope ' + _FACET_NAME + r'\d+" role="graphics-object" aria-roledescription="group mark container">')
_FACET_ITEM = re.compile(r'<g transform="translate\(0,0\)"><path class="background" aria-hidden="true" d="[^"]*"/><g>')
_FACET_ITEM_END = '</g><path class="foreground" aria-hidden="true" d="" display="none"/></g>'
_NUMBERED = re.compile(r"(\d+):(.*)")


def _render_batch(requests: list[ChartRequest]) -> list[tuple[str, str]]:
    return [(request.key, _finish_svg(svg, request.label)) for request, svg in zip(requests, _draw_all(requests))]


def _draw_all(requests: list[ChartRequest]) -> list[str]:
    """The charts' SVGs, each as :func:`_draw` draws it: the marks of charts whose shapes allow
    it drawn up to :data:`MARKS_PER_DRAWING` at a time (:func:`_marks_together`), the others,
    and any chart whose margins those drawings do not tell exactly, drawn one by one."""
    drawn: list[str | None] = [None] * len(requests)
    together: dict[str, list[tuple[int, str, _Split, list[dict[str, Any]]]]] = {}
    for number, request in enumerate(requests):
        shape, values = _shape_and_values(request)
        split = _split_specs(shape)
        if split is not None and split.scope is not None and values:
            together.setdefault(split.scope, []).append((number, shape, split, values))
    for scope, charts in together.items():
        for start in range(0, len(charts) - 1, MARKS_PER_DRAWING):  # a chart left alone is drawn alone
            chunk = charts[start:start + MARKS_PER_DRAWING]
            for (number, shape, split, values), marks in zip(chunk, _marks_together(scope, [(split, values) for _, _, split, values in chunk])):
                if marks is not None:
                    drawn[number] = _into_axes(shape, split, values, marks)
    return [svg if svg is not None else _draw(request) for svg, request in zip(drawn, requests)]


def _marks_together(scope: str, charts: list[tuple[_Split, list[dict[str, Any]]]]) -> list[_Marks | None]:
    """The marks of charts whose shapes share ``scope`` (:attr:`_Split.scope`), drawn in one
    drawing, each as :func:`_marks_alone` gives it: a facet group mark per shape over the rows
    of its charts, numbered (``_CHART_FIELD``), each chart's probe saying its number; None for a
    chart whose markup :func:`_marks_margins` does not know (or for all, if the drawing is not
    as expected)."""
    import vl_convert as vlc

    spec = json.loads(scope)
    spec["data"], spec["marks"] = [], []
    shapes: dict[str, int] = {}
    for number, (split, values) in enumerate(charts):
        if split.marks not in shapes:
            shapes[split.marks] = len(shapes)
            spec["data"].append({"name": f"{_ROWS_NAME}{shapes[split.marks]}", "values": []})
            spec["marks"].append(json.loads(_facet_json(split.marks, shapes[split.marks])))
        spec["data"][shapes[split.marks]]["values"] += [{**row, _CHART_FIELD: number} for row in values]
    svg = vlc.vega_to_svg(spec, allowed_base_urls=[])
    frame = _FRAME.search(svg) if chartlabels.ROOT.match(svg) is not None else None
    if frame is None:
        return [None] * len(charts)
    found: dict[int, tuple[str, str]] = {}
    at = frame.end()
    for _ in shapes:
        facet = _FACET.match(svg, at)
        if facet is None:
            return [None] * len(charts)
        at = facet.end()
        while (item := _FACET_ITEM.match(svg, at)) is not None:
            probe = _PROBED.search(svg, item.end())
            numbered = _NUMBERED.fullmatch(probe.group(1)) if probe is not None else None
            if probe is None or numbered is None or not svg.startswith(_FACET_ITEM_END, probe.end()):
                return [None] * len(charts)
            found[int(numbered.group(1))] = (svg[item.end():probe.start()], numbered.group(2))
            at = probe.end() + len(_FACET_ITEM_END)
        if not svg.startswith("</g>", at):
            return [None] * len(charts)
        at += len("</g>")
    marks: list[_Marks | None] = [None] * len(charts)
    for number, (markup, domains) in found.items():
        margins = _marks_margins(markup, *charts[number][0].sides[1:])
        if margins is not None:
            marks[number] = _Marks(markup, domains, margins, svg[at:])
    return marks


@lru_cache(maxsize=64)
def _facet_json(marks_json: str, shape: int) -> str:
    """A shape's marks (:attr:`_Split.marks`) as a group mark faceting the data set
    ``perfgen_rows<shape>`` by chart: the shape's own data set is each facet, its derived
    data sets, scales and marks are each group's, and the probe starts with the chart's number."""
    marks = json.loads(marks_json)
    for mark in marks["marks"]:
        if mark.get("name") == _PROBE_NAME:
            text = mark["encode"]["enter"]["text"]
            text["signal"] = f"parent.{_CHART_FIELD} + ':' + " + text["signal"]
    return json.dumps({"type": "group", "name": f"{_FACET_NAME}{shape}",
                       "from": {"facet": {"data": f"{_ROWS_NAME}{shape}", "name": _POINTS, "groupby": _CHART_FIELD}},
                       "data": [dataset for dataset in marks["data"] if dataset["name"] != _POINTS], "scales": marks["scales"], "marks": marks["marks"],
                       "encode": {"enter": {"width": {"signal": "width"}, "height": {"signal": "height"}}}})


_MARK = re.compile(r'<g class="mark-(line|symbol) role-mark [^"]*" aria-hidden="true">')
_ITEM = re.compile(r'<path ((?:[a-z-]+="[^"]*" ?)*)/>')
_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')
_NUMBER = re.compile(r"-?\d+(?:\.\d{1,3})?")
_LINE_PATH = re.compile(rf"(?:M{_NUMBER.pattern},{_NUMBER.pattern}(?:L{_NUMBER.pattern},{_NUMBER.pattern})*Z?)+")  # a point alone: M x,y Z
_CIRCLE = re.compile(r'M([\d.]+),0A\1,\1,0,1,1,-\1,0A\1,\1,0,1,1,\1,0')
_TRANSLATE = re.compile(r'translate\(([-\d.e+]+),([-\d.e+]+)\)')
#: How far a number of a path may be from the one Vega computed: paths are written to 3 decimals.
_ROUNDED = 0.0005


def _marks_margins(markup: str, width: float, height: float) -> tuple[tuple[float, float], ...] | None:
    """The whole pixels each side of a ``width`` by ``height`` frame (left, top, right, bottom)
    needs for the marks of this markup, as Vega's ``autosize: pad`` pads by what its items'
    bounds overflow (a line's points, a circle's centre and radius, widened by the stroke's
    width): the least and the most each can be, as a path's numbers are rounded. None for markup
    other than lines and circles."""
    beyond = [[0.0, 0.0] for _ in range(4)]  # how far the items go past each side: the least and the most
    at = 0
    while at < len(markup):
        mark = _MARK.match(markup, at)
        if mark is None:
            return None
        at = mark.end()
        while not markup.startswith("</g>", at):
            item = _ITEM.match(markup, at)
            if item is None:
                return None
            at = item.end()
            attributes = dict(_ATTRIBUTE.findall(item.group(1)))
            past = _line_past(attributes, width, height) if mark.group(1) == "line" else _circle_past(attributes, width, height)
            if past is None:
                return None
            for side, (least, most) in zip(beyond, past):
                side[0], side[1] = max(side[0], least), max(side[1], most)
        at += len("</g>")
    return tuple((float(math.ceil(least)), float(math.ceil(most))) for least, most in beyond)


def _stroke(attributes: dict[str, str]) -> float:
    """How far Vega widens an item's bounds for its stroke (the whole width: ``boundStroke``)."""
    return float(attributes.get("stroke-width", "1")) if "stroke" in attributes else 0.0


def _line_past(attributes: dict[str, str], width: float, height: float) -> tuple[tuple[float, float], ...] | None:
    """How far a line's bounds go past each side of the frame (left, top, right, bottom; each
    the least and the most). Its x is a time scale over the data's own dates, so a point written
    at either end of the frame is exactly there (the ends of the domain map to the ends of the
    range). Its numbers have at most 3 decimals (else None), so two that differ are 0.001
    apart: the extremes are those of the numbers as written."""
    if not set(attributes) <= {"d", "stroke", "stroke-width"} or not _LINE_PATH.fullmatch(attributes.get("d", "")):
        return None
    numbers = [float(number) for number in _NUMBER.findall(attributes["d"])]
    xs, ys, stroke = numbers[0::2], numbers[1::2], _stroke(attributes)
    left, right, top, bottom = min(xs), max(xs), min(ys), max(ys)
    left_error, right_error = (0.0 if x in (0.0, width) else _ROUNDED for x in (left, right))
    return ((stroke - left - left_error, stroke - left + left_error), (stroke - top - _ROUNDED, stroke - top + _ROUNDED),
            (right - width + stroke - right_error, right - width + stroke + right_error),
            (bottom - height + stroke - _ROUNDED, bottom - height + stroke + _ROUNDED))


def _circle_past(attributes: dict[str, str], width: float, height: float) -> tuple[tuple[float, float], ...] | None:
    """How far a circle symbol's bounds go past each side of the frame: its centre (written
    exactly) plus and minus its radius (rounded), widened by its stroke."""
    if not set(attributes) <= {"transform", "d", "fill", "stroke", "stroke-width", "opacity"} or attributes.get("opacity", "1") != "1":
        return None
    centre, circle = _TRANSLATE.fullmatch(attributes.get("transform", "")), _CIRCLE.fullmatch(attributes.get("d", ""))
    if centre is None or circle is None:
        return None
    x, y = float(centre.group(1)), float(centre.group(2))
    least, most = float(circle.group(1)) - _ROUNDED + _stroke(attributes), float(circle.group(1)) + _ROUNDED + _stroke(attributes)
    return (least - x, most - x), (least - y, most - y), (x - width + least, x - width + most), (y - height + least, y - height + most)


@lru_cache(maxsize=1)
def _drawing_version() -> tuple[str, ...]:
    """What draws a chart of a given shape and data, besides them: the versions of vl-convert
    and Altair (which writes the spec) and the SHA-256 of this module and :mod:`chartlabels`
    (the spec of each shape, the SVG's finishing, the labels' placing). Read once per process
    (package metadata costs about 1 ms)."""
    from importlib.metadata import version

    sources = [Path(__file__), Path(chartlabels.__file__)]
    return (version("vl-convert-python"), version("altair"), *(hashlib.sha256(path.read_bytes()).hexdigest() for path in sources))


def _cache_key(request: ChartRequest) -> str:
    """Content address of a chart: everything but its key that the request holds (unit,
    points, target and notes: its shape, the arguments of :func:`base_spec`, is made from them
    by this module's code), its label and :func:`_drawing_version` (which holds that code's
    digest: the build never imports Altair, a third of a second, to make the spec). The fields
    are hashed as pickle writes them (:func:`_content_bytes`) rather than as the spec's JSON or
    as ``repr`` writes them (writing each float's shortest decimal took eight times as long:
    0.5 s for the 5,000 charts of every 1,000-service build)."""
    payload = (request.unit, request.points, request.target, request.notes, request.label, _drawing_version())
    return hashlib.sha256(_content_bytes(payload)).hexdigest()


def _content_bytes(value: Any) -> bytes:
    """``value`` (tuples of text, numbers, booleans and None) pickled without the pickler's memo:
    the same bytes for equal values whatever their objects, in every process (with the memo, a
    text used twice is written once if it is one object and twice if it is two). A float is
    written as its eight bytes."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.fast = True  # no memo: equal values, equal bytes
    pickler.dump(value)
    return buffer.getvalue()


def render_charts(requests: Iterable[ChartRequest], workers: int | None = None, progress=None, cache_dir: Path | None = None) -> dict[str, str]:
    """Render every chart; returns key -> SVG markup. Deterministic whatever the worker count.

    With ``cache_dir``, each SVG is stored under the hash of everything that shapes it, and
    only charts not seen before are drawn."""
    job = ChartJob(requests, workers=workers, cache_dir=cache_dir)
    try:
        return job.wait(progress)
    finally:
        job.close()


def _cache_store(cache_dir: Path | None) -> ChartStore | None:
    """Where a build's charts are kept, in its cache folder."""
    return ChartStore(cache_dir / ChartStore.FILE) if cache_dir is not None else None


class ChartStore:
    """Charts' SVGs by content address (:func:`_cache_key`) in one SQLite file (the standard
    library's ``sqlite3``): ``charts.sqlite`` in the cache folder, or a temporary one for a
    build without a cache. The workers write each batch they draw in one transaction while
    the build reads the charts its pages ask for (write-ahead log: readers and the writer do
    not wait for each other; other writers wait their turn). One file rather than a file per
    chart: creating tens of thousands of small files cost the kernel a millisecond each on a
    virtual disk (4 s of CPU in a 1,000-service build, a third of the workers' time), and a
    cache of one file is quick to save and restore in CI. A killed build leaves no chart half
    written (transactions); a file that is not a database is replaced (a cache costs time,
    never output). The connection is opened when first used and closed by :meth:`close`:
    never carried into a forked process."""

    FILE = "charts.sqlite"
    _SIDE_FILES = ("-wal", "-shm", "-journal")

    def __init__(self, path: Path):
        self.path = path
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self._connection = self._open()
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.OperationalError):  # cannot be opened or written: the machine's
                    raise _as_os_error(error, self.path) from None
                for suffix in ("", *self._SIDE_FILES):  # not a database (a damaged file): start again
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                try:
                    self._connection = self._open()
                except sqlite3.Error as again:
                    raise _as_os_error(again, self.path) from None
        return self._connection

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")  # a cache: losing it to a power cut costs time only
            connection.execute("CREATE TABLE IF NOT EXISTS charts (address TEXT PRIMARY KEY, svg TEXT NOT NULL) WITHOUT ROWID")
            # Axes by (shape, domains, drawing version) (``_spliced``), in the order drawn: shared
            # by the workers of a build (each drew the axes of most domains; the site has a few
            # hundred) and removed at its end (``keep_only``).
            connection.execute("CREATE TABLE IF NOT EXISTS axes (address TEXT UNIQUE NOT NULL, svg TEXT NOT NULL, tail TEXT NOT NULL)")
        except BaseException:
            connection.close()
            raise
        return connection

    def addresses(self) -> set[str]:
        """The addresses of every chart kept."""
        try:
            return {address for (address,) in self._connect().execute("SELECT address FROM charts")}
        except sqlite3.Error as error:
            raise _as_os_error(error, self.path) from None

    def get(self, address: str) -> str | None:
        """A chart's SVG, or None if it is not kept (another build removed it meanwhile)."""
        try:
            row = self._connect().execute("SELECT svg FROM charts WHERE address = ?", (address,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row is not None else None

    def put(self, drawn: Iterable[tuple[str, str]], axes: Iterable[tuple[str, str, str]] = ()) -> None:
        """Keep charts (address, SVG) and axes (address, drawing, tail: ``_spliced``), all or
        none (at most ``MAX_AXES`` axes: the oldest go); ``OSError`` if the file cannot be written."""
        connection = self._connect()
        axes = list(axes)
        try:
            with connection:  # one transaction
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany("INSERT OR REPLACE INTO charts (address, svg) VALUES (?, ?)", drawn)
                if axes:
                    connection.executemany("INSERT OR IGNORE INTO axes (address, svg, tail) VALUES (?, ?, ?)", axes)
                    connection.execute("DELETE FROM axes WHERE rowid <= (SELECT max(rowid) FROM axes) - ?", (MAX_AXES,))
        except sqlite3.Error as error:
            raise _as_os_error(error, self.path) from None

    def axes(self, address: str) -> tuple[str, str] | None:
        """Axes another process drew (drawing, tail), or None."""
        try:
            row = self._connect().execute("SELECT svg, tail FROM axes WHERE address = ?", (address,)).fetchone()
        except sqlite3.Error:
            return None
        return (row[0], row[1]) if row is not None else None

    def keep_only(self, wanted: Iterable[str]) -> None:
        """Remove every chart but ``wanted``, and every axes drawing; the file is compacted
        once most of it is free."""
        connection = self._connect()
        try:
            with connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (address TEXT PRIMARY KEY) WITHOUT ROWID")
                connection.execute("DELETE FROM temp.wanted")
                connection.executemany("INSERT OR IGNORE INTO temp.wanted (address) VALUES (?)", ((address,) for address in wanted))
                connection.execute("DELETE FROM charts WHERE address NOT IN (SELECT address FROM temp.wanted)")
                connection.execute("DELETE FROM temp.wanted")
                connection.execute("DELETE FROM axes")  # shared by one build's workers: the next draws its own
            free, pages = (connection.execute(f"PRAGMA {name}").fetchone()[0] for name in ("freelist_count", "page_count"))
            if free * 2 > pages:
                connection.execute("VACUUM")
        except sqlite3.Error:
            pass  # another build holds the file: pruned by a later build

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def is_empty(self) -> bool:
        """Whether no chart is kept (a missing or unreadable file keeps none). Opens no connection to
        keep: called before the build forks. Read as a file no one writes (``immutable``: no
        lock, and none of SQLite's side files made beside it); charts only in the log of a
        build that was killed are not seen, which costs a warmed-up worker, not a chart."""
        if not self.path.is_file():
            return True
        try:
            connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
            try:
                return connection.execute("SELECT 1 FROM charts LIMIT 1").fetchone() is None
            finally:
                connection.close()
        except sqlite3.Error:
            return True


#: SQLite's result codes for a full disk or a file it may not write, as the operating system's.
_SQLITE_ERRNOS = {13: errno.ENOSPC, 8: errno.EROFS, 14: errno.EACCES, 23: errno.EACCES, 10: errno.EIO}


def _as_os_error(error: sqlite3.Error, path: Path) -> OSError:
    """A chart store that cannot be opened or written, as the ``OSError`` a file would raise (the
    CLI reports it as the machine's problem, with the file)."""
    code = getattr(error, "sqlite_errorcode", 10) & 0xFF
    return OSError(_SQLITE_ERRNOS.get(code, errno.EIO), f"the chart cache cannot be used ({error}; deleting it is safe)", str(path))


#: Charts to draw from which a job starts every worker it was given (``ChartWorkers.start_all``):
#: a worker costs over a second of CPU to start, and draws a chart in about 2-3 ms.
MANY_CHARTS = 300

#: Charts a worker draws while it waits for its job (``_warm_up``), at most.
WARM_UP_CHARTS = 240


def _warm_up_requests() -> Iterator[ChartRequest]:
    """Charts like the site's (each unit, one series or two, five years monthly or two years
    quarterly), made up, drawn in turn."""
    shapes = [(unit, series, months, step) for months, step in ((60, 1), (8, 3)) for unit in ("percent", "count", "money")
              for series in (("Figure",), ("Figure", "Other"))]
    for number in range(WARM_UP_CHARTS):
        unit, series, months, step = shapes[number % len(shapes)]
        scale = {"percent": 0.01, "count": 1000.0, "money": 3.0}[unit]
        points = tuple((date(2020 + (month * step) // 12, (month * step) % 12 + 1, 28).isoformat(),
                        scale * (40 + (number * 7 + month * 13 + index * 5) % 50), name)
                       for index, name in enumerate(series) for month in range(months))
        yield ChartRequest(f"warm-up/{number}", unit, points, "Warm-up chart")


def _warm_up(connection: Any) -> None:
    """Draw made-up charts until the job arrives: the first charts a process draws cost twice
    as much as later ones (vl-convert's JavaScript engine compiles as it goes, and each shape's
    spec, label widths and axis markup are made once), and the build computes its KPIs on one
    core meanwhile. What is drawn is thrown away; what is learned is the same for any chart."""
    for request in _warm_up_requests():
        if connection.poll():
            return
        _draw(request)


def _work(connection: Any, counter: Any, warm_up: bool = False) -> None:
    """A worker process: load Altair and vl-convert's engine at once (and with ``warm_up``, draw
    made-up charts: ``_warm_up``) until its one job comes (a file of batches and the
    :class:`ChartStore` file to draw them into), then draw the batches the shared ``counter``
    hands out, and report each one done (or failed, with its traceback, and an ``OSError``'s
    number, reason and file so that the build raises it as such: a chart cache that cannot be
    written is the machine's problem, not a bug) through ``connection``. Ctrl-C is left to the
    build, which stops its workers. Runs at a helper's lower priority (``processes.py``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority()  # the build, laying out and rendering pages meanwhile, is the one everything waits for
    with contextlib.suppress(Exception):  # an error here is reported by the first batch that draws
        import altair  # noqa: F401 - for the specs (base_spec), while the build computes its KPIs
        import vl_convert as vlc

        vlc.vega_to_svg({"width": 1, "height": 1}, allowed_base_urls=[])  # starts the engine (about half a second)
        if warm_up:
            _warm_up(connection)
    try:
        job = connection.recv()
    except EOFError:
        return
    if job is None:
        return
    tasks, store_path = job
    batches = pickle.loads(Path(tasks).read_bytes())
    store = ChartStore(Path(store_path))
    global _AXES_STORE
    _AXES_STORE = store  # axes the other worker drew are read, not drawn again
    while True:
        with counter.get_lock():
            number = counter.value
            if number >= len(batches):
                store.close()
                return
            counter.value = number + 1
        try:
            addresses = {request.key: address for address, request in batches[number]}
            drawn = [(addresses[key], svg) for key, svg in _render_batch([request for _, request in batches[number]])]
            store.put(drawn, _NEW_AXES)
            _NEW_AXES.clear()
            report: tuple[Any, ...] = ("done", number)
        except OSError as error:  # the machine's (a full disk): raised by the build as the same error
            report = ("failed", number, traceback.format_exc(), (error.errno, error.strerror, error.filename))
        except Exception:  # noqa: BLE001 - handed to the build, which raises it
            report = ("failed", number, traceback.format_exc(), None)
        connection.send(report)


def cache_is_empty(cache_dir: Path | None) -> bool:
    """Whether a build will draw every chart: no chart cache, or none in it (a first build, or
    one after the cache was deleted). A rebuild draws only the charts that changed."""
    store = _cache_store(cache_dir)
    return store is None or store.is_empty()


def worker_count(workers: int | None) -> int:
    """The chart workers a build uses: as asked, else two (or one on a one-core machine)."""
    return workers if workers is not None else min(2, os.cpu_count() or 1)


def _start_without_main(process: Any) -> None:
    """Start a ``spawn`` process that does not run this process's main script first.

    ``spawn`` runs the parent's main script in the child (as ``__mp_main__``), for a target
    defined there. perfgen's is the ``perfgen`` command's script, which imports the CLI and with
    it every stage (pandas, DuckDB, pydantic, Jinja: 1.7 s of CPU), though a worker needs only
    this module (0.2 s). Started while the main module names no file, the child runs none; a
    main module run with ``-m`` (``python -m perfgen``, pytest) is named by its spec, and
    multiprocessing already skips a ``__main__`` module run that way."""
    main = sys.modules.get("__main__")
    hidden = main is not None and getattr(main, "__spec__", None) is None and "__file__" in vars(main)
    path = vars(main).pop("__file__") if hidden else None
    try:
        process.start()
    finally:
        if hidden:
            main.__file__ = path


class ChartWorkers:
    """Processes that draw charts, started before the charts are known so that they are ready
    when asked (Python, Altair and vl-convert's engine loaded: over a second each): a build
    starts them once its data is loaded, while its KPI stage leaves a core idle.

    ``spawn``: vl-convert hangs in a forked copy of a process that used it. No thread is
    started in this process (a process is forked only while it runs one thread:
    ``publish.BackgroundFiles``): a worker takes its next batch from a shared counter, writes
    the batch's SVGs into the job's :class:`ChartStore` and reports it done through its own pipe, so it never waits
    for this process, which reads the reports when a page needs a chart."""

    def __init__(self, count: int, warm_up: bool = False, start: int | None = None):
        """``warm_up``: the first worker draws made-up charts while it waits (``_warm_up``), for
        a build that will draw many (with the KPI stage on the other core, a second would slow
        it). ``start``: how many of the ``count`` workers start now (all by default); the others
        start when :meth:`start_all` is called (by a job with many charts to draw)."""
        self._context = get_context("spawn")
        self._counter = self._context.Value("i", 0)
        self._connections: list[Any] = []
        self._processes: list[Any] = []
        self.wanted = count
        for number in range(count if start is None else min(start, count)):
            self._start(warm_up and number == 0)

    def _start(self, warm_up: bool) -> None:
        mine, theirs = self._context.Pipe()
        process = self._context.Process(target=_work, args=(theirs, self._counter, warm_up), daemon=True)
        _start_without_main(process)
        theirs.close()
        self._connections.append(mine)
        self._processes.append(process)

    def start_all(self) -> None:
        """Start the workers not started yet (before :meth:`draw`: a job reaches only the
        workers started when it is given)."""
        while len(self._processes) < self.wanted:
            self._start(False)

    @property
    def count(self) -> int:
        return len(self._processes)

    def draw(self, batches: list[list[tuple[str, ChartRequest]]], tasks: Path, store: Path) -> None:
        """Start drawing ``batches`` (each chart with its address) into the :class:`ChartStore`
        file ``store``; the batches are handed over in the file ``tasks``."""
        tasks.write_bytes(pickle.dumps(batches, protocol=pickle.HIGHEST_PROTOCOL))
        for connection in self._connections:
            try:
                connection.send((str(tasks), str(store)))
            except OSError:  # a worker that already stopped: the others draw its share
                pass

    def reports(self) -> list[tuple[Any, ...]]:
        """The reports available, waiting for at least one. A worker that stopped without
        finishing its batches (killed, or crashed) is an error."""
        if not self._connections:
            raise RuntimeError("every chart worker stopped before the charts were drawn")
        found: list[tuple[Any, ...]] = []
        for connection in ready_connections(self._connections):
            try:
                found.append(connection.recv())
            except (EOFError, OSError):  # the worker is gone: fine once it drew what it took
                index = self._connections.index(connection)
                process = self._processes.pop(index)
                self._connections.pop(index).close()
                process.join()
                if process.exitcode != 0:
                    raise RuntimeError(f"a chart worker stopped unexpectedly (exit code {process.exitcode})") from None
        return found

    def close(self) -> None:
        """Stop the workers: at once, whatever they are doing (loading, or drawing a job's
        charts that are then abandoned; a job that is done has left them nothing to do)."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for connection, process in zip(self._connections, self._processes):
            process.join()
            connection.close()
        self._connections, self._processes = [], []


class ChartJob:
    """Charts being drawn in worker processes while the build goes on with other work (the
    build's own stages run on one core). :meth:`slots` gives each chart's markup to put in a
    page before it is drawn; :meth:`wait` collects every SVG.

    ``workers``: a number of processes to start (one: drawn in this process), or
    :class:`ChartWorkers` already started. Cached charts (``cache_dir``) are read when a page
    asks for them and only the others are drawn; the workers write them into the cache's
    :class:`ChartStore` (a temporary one without a cache). Call :meth:`close` when done (or on an error) so that no
    worker outlives the build."""

    def __init__(self, requests: Iterable[ChartRequest], workers: int | ChartWorkers | None = None, cache_dir: Path | None = None,
                 known: dict[str, str] | None = None, request_for: Callable[[set[str]], list[ChartRequest]] | None = None):
        """``known``: charts whose requests were not made, by key, with their content address
        (a rebuild's services whose charts are as the last build's: :class:`AddressMemo`);
        ``request_for`` makes the requests of the services with these slugs, for a known chart
        that is not in the cache (the cache deleted meanwhile) or leaves it during the build."""
        self.requests: list[ChartRequest] | None = list(requests)  # None once they wait in a file (see below)
        self._svgs: dict[str, str] = {}  # drawn in this process
        self._cache_dir = cache_dir
        self._store = _cache_store(cache_dir)
        self._addresses: dict[str, str] = {}
        self._scratch: Path | None = None  # the workers' job file, and their charts without a cache
        self.request_for = request_for  # None once no page will ask for a chart
        missing: list[ChartRequest] = []
        # A cached chart is read when a page asks for it: a rebuild takes most of its pages from
        # the previous build.
        kept = self._store.addresses() if self._store is not None else set()
        known = dict(known or {}) if self._store is not None and request_for is not None else {}
        absent = {_service_of(key) for key, address in known.items() if address not in kept}
        if absent:  # known charts the cache no longer holds: drawn again from their requests
            assert request_for is not None
            self.requests += request_for(absent)
            known = {key: address for key, address in known.items() if _service_of(key) not in absent}
        self._addresses.update(known)
        self.keys = [request.key for request in self.requests] + list(known)
        for request in self.requests:
            if self._store is None:
                missing.append(request)
                continue
            address = self._addresses[request.key] = _cache_key(request)
            if address not in kept:
                missing.append(request)
        del kept
        if isinstance(workers, ChartWorkers) and len(missing) >= MANY_CHARTS:
            workers.start_all()  # a rebuild started one worker; this one redraws many charts
        count = workers.count if isinstance(workers, ChartWorkers) else worker_count(workers)
        batch_size = max(1, min(50, len(missing) // (max(count, 1) * 4) or 1))
        self._batches = [missing[i : i + batch_size] for i in range(0, len(missing), batch_size)]
        self.waited = 0.0  # seconds this process spent waiting for charts (or drawing them itself)
        self._batch_of = {request.key: number for number, batch in enumerate(self._batches) for request in batch}
        self._collected: set[int] = set()
        self._pool: ChartWorkers | None = workers if isinstance(workers, ChartWorkers) else None
        if self._pool is None and count > 1 and len(self._batches) > 1:
            self._pool = ChartWorkers(count)
        if self._pool is not None and not self._batches:
            self._stop_workers()  # every chart cached: nothing to draw
        if self._pool is not None:
            self._scratch = Path(tempfile.mkdtemp(prefix="perfgen-charts-"))
            try:
                if self._store is None:
                    self._store = ChartStore(self._scratch / ChartStore.FILE)
                    self._addresses.update((request.key, _cache_key(request)) for request in missing)
                    self._store.addresses()  # made before the workers write into it
                self._pool.draw([[(self._addresses[request.key], request) for request in batch] for batch in self._batches],
                                self._scratch / "batches.pickle", self._store.path)
                # The workers have their batches: this process needs the requests again only to
                # draw a chart whose cached drawing disappears during the build. They wait in a
                # file rather than in memory (a quarter of a GB at 10,000 services, held while
                # every page is laid out and rendered).
                with (self._scratch / "requests.pickle").open("wb") as handle:
                    pickle.dump(self.requests, handle, protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # the job file could not be written (a full disk): nothing left behind
                self.close()
                raise
            self.requests = None
            self._batches = [[request.key for request in batch] for batch in self._batches]  # only counted from now on

    def address(self, key: str) -> str:
        """A chart's content address (what its SVG is drawn from: :func:`_cache_key`)."""
        if key not in self._addresses:
            self._addresses.update((request.key, _cache_key(request)) for request in self._all_requests() if request.key not in self._addresses)
        return self._addresses[key]

    def _all_requests(self) -> list[ChartRequest]:
        """The requests, read back from their file if they wait there."""
        if self.requests is None:
            assert self._scratch is not None
            with (self._scratch / "requests.pickle").open("rb") as handle:
                self.requests = pickle.load(handle)
        return self.requests

    def slots(self) -> dict[str, ChartSvg]:
        """Each chart's markup by key, for pages built before the charts are drawn."""
        return {key: ChartSvg(self, key) for key in self.keys}

    def svg(self, key: str) -> str:
        """One chart's SVG, waiting only for the batch it is drawn in (pages are rendered in the
        order the charts were asked for, so the first pages render while later charts draw)."""
        number = self._batch_of.get(key)
        if number is not None and number not in self._collected:
            self._collect(number)
        if key in self._svgs:
            return self._svgs[key]
        assert self._store is not None
        svg = self._store.get(self._addresses[key])
        if svg is None:  # removed from the cache during the build (by another build): draw the chart here
            started = time.monotonic()
            request = next((r for r in self._all_requests() if r.key == key), None)
            if request is None:  # a known chart: its request made now
                assert self.request_for is not None
                request = next(r for r in self.request_for({_service_of(key)}) if r.key == key)
            self._svgs.update(_render_batch([request]))
            self.waited += time.monotonic() - started
            return self._svgs[key]
        return svg

    def wait(self, progress=None) -> dict[str, str]:
        """Every chart's SVG by key, once all are drawn (and the new ones cached)."""
        self.finish(progress)
        return {key: self.svg(key) for key in self.keys}

    def finish(self, progress=None) -> None:
        """Wait until every chart not cached before is drawn and cached, then stop the workers."""
        pending = [number for number in range(len(self._batches)) if number not in self._collected]
        if progress:
            progress(len(self.keys) - sum(len(self._batches[number]) for number in pending))
        for number in pending:
            self._collect(number)
            if progress:
                progress(len(self._batches[number]))
        self._stop_workers()

    def _collect(self, number: int) -> None:
        started = time.monotonic()
        if self._pool is None:
            drawn = _render_batch(self._batches[number])
            if self._store is not None:
                self._store.put([(self._addresses[key], svg) for key, svg in drawn])
            self._svgs.update(drawn)
            self._collected.add(number)
        while number not in self._collected:
            assert self._pool is not None
            for report in self._pool.reports():
                if report[0] == "failed":
                    if report[3] is not None:  # a chart that could not be written
                        raise OSError(*report[3])
                    raise RuntimeError(f"drawing charts failed in a worker process:\n{report[2]}")
                self._collected.add(report[1])
        self.waited += time.monotonic() - started

    def addresses_by_service(self) -> dict[str, list[tuple[str, str]]]:
        """Each service's charts (key and content address), for :class:`AddressMemo`."""
        by_service: dict[str, list[tuple[str, str]]] = {}
        for key in self.keys:
            by_service.setdefault(_service_of(key), []).append((key, self.address(key)))
        return by_service

    def forget_others(self) -> None:
        """Remove from the cache the charts this job did not ask for (a changed chart's earlier
        drawing, charts of services no longer on the site), so that the cache holds one site's
        charts instead of growing with every change (and the folder of charts, a file each, that
        earlier versions kept). Call it once every chart is drawn."""
        if self._store is None or self._cache_dir is None:
            return
        self._store.keep_only(self._addresses.values())
        shutil.rmtree(self._cache_dir / "charts", ignore_errors=True)

    def _stop_workers(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def close(self) -> None:
        """Stop the workers (charts not yet drawn are abandoned) and remove their temporary files."""
        self._stop_workers()
        if self._store is not None:
            self._store.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _service_of(key: str) -> str:
    """The service a chart's key names ("<service>/<kpi>")."""
    return key.rsplit("/", 1)[0]


class AddressMemo:
    """Each service's charts (key and content address) by the digest of what its chart
    requests are made from (``render.ServiceInputs.charts_digest``), as the last build made
    them: a rebuild makes the requests only of the services whose digest is new (making every
    service's, a second of a 1,000-service rebuild, only to find most charts cached).
    ``chart-addresses.json`` in the cache folder; a memo that cannot be read is none (it costs
    time, never output), and each build keeps only its own services' entries."""

    FILE = "chart-addresses.json"

    def __init__(self, cache_dir: Path | None):
        self.path = cache_dir / self.FILE if cache_dir is not None else None
        self._entries: dict[str, list[list[str]]] = {}
        if self.path is not None:
            with contextlib.suppress(OSError, ValueError):
                entries = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(entries, dict):
                    self._entries = entries

    def get(self, digest: str | None) -> list[tuple[str, str]] | None:
        """The charts of a service whose requests are made from ``digest``; None if not seen."""
        entry = self._entries.get(digest) if digest is not None else None
        if not isinstance(entry, list) or not all(isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair) for pair in entry):
            return None
        return [(key, address) for key, address in entry]

    def save(self, entries: dict[str, list[tuple[str, str]]]) -> None:
        """Keep these entries (this build's services) instead of the last build's."""
        if self.path is None:
            return
        if entries == {digest: [tuple(pair) for pair in pairs] for digest, pairs in self._entries.items()}:
            return  # as it was: not written again
        text = json.dumps({digest: [list(pair) for pair in pairs] for digest, pairs in sorted(entries.items())}, separators=(",", ":"))
        write_whole(self.path, [text.encode("utf-8")])


class ChartSvg:
    """One chart's SVG, placed in a page before it is drawn: Jinja reads ``__html__`` when it
    renders the page, which waits for the chart's batch if it is not drawn yet."""

    __slots__ = ("job", "key")

    def __init__(self, job: ChartJob, key: str):
        self.job, self.key = job, key

    def __html__(self) -> str:
        return self.job.svg(self.key)

    def __str__(self) -> str:
        return self.__html__()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as what the SVG is drawn from, not drawn (for ``render.PageReuse``'s keys)."""
        return (str, (f"chart {self.job.address(self.key)}",))
