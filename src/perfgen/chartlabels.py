"""Axis labels placed by perfgen, so that vl-convert does not measure each one.

vl-convert measures every text item it lays out by shaping it in Rust (about 0.7 ms each, with
no cache): the ten or so axis labels were two thirds of a chart's drawing time. A chart is
therefore drawn with its axis labels at font size 0, which Vega does not measure, and this
module then does what Vega would have done with their widths, the same way:

* each label's box (``bounds``), from its anchor, baseline and width;
* the labels an axis hides when they overlap (``labelOverlap``: every other one, repeatedly);
* the chart's size and origin (``autosize: pad``), grown to take in the labels' boxes;
* the labels' real size and their baseline offsets in the SVG.

Costly parts of the axes are left out of that drawing too (:func:`lighter`) and put back by
:func:`place`: an axis that draws only grid lines (Vega-Lite makes one beside each labelled axis;
a quarter of a chart's drawing time), whose lines are where the ticks of its labelled twin are;
each axis's domain line, which depends on the chart's size alone (a tenth); the labelled axes'
ticks, one where each label is (the labels padded by the ticks' size instead; a tenth). The
markup put back (:class:`Learned`) is read once per shape from a drawing that has every part
(:func:`learn`).

Widths come from vl-convert itself (one call measures every label not seen before in this
process), so the SVG is byte for byte the one vl-convert would draw (tests/test_charts.py checks
it against a full drawing for every kind of chart). A spec this module does not handle (another
axis orientation, angled labels, ...) is drawn the ordinary way: :func:`plan` returns None.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from itertools import pairwise
from typing import Any

#: Vega's default label baseline for an axis of each orientation.
_BASELINE = {"bottom": "top", "top": "bottom", "left": "middle", "right": "middle"}
_SIZED = {"labelFont", "labelFontSize", "labelFontWeight", "labelFontStyle", "labelBound", "labelLineHeight", "title"}


@dataclass(frozen=True)
class Axis:
    labelled: bool
    baseline: str
    overlap: str | None  # "parity", "greedy" or None
    separation: float
    translate: float
    orient: str


@dataclass(frozen=True)
class Grid:
    """A grid-only axis left out of a drawing: ``index`` among every axis of the spec. Its group
    goes back in just before the group of drawn axis ``before``, its lines where drawn axis
    ``twin`` has its ticks (indexes among the drawn axes)."""

    index: int
    before: int
    twin: int


@dataclass(frozen=True)
class Plan:
    """What is needed to place a chart's axis labels after it is drawn without them."""

    axes: tuple[Axis, ...]
    font: str
    size: float
    padding: float
    width: float
    height: float
    grids: tuple[Grid, ...] = ()
    domains: tuple[int, ...] = ()  # drawn axes whose domain line was left out (indexes among them)
    ticks: tuple[int, ...] = ()  # drawn axes whose ticks were left out (their labels padded by the ticks' size)


@dataclass(frozen=True)
class Lines:
    """The markup of a run of lines (a grid's, an axis's ticks) around them, and each line's
    after its ``translate(...)``."""

    head: str
    line: str
    tail: str

    def around(self, places: list[str]) -> str:
        return self.head + "".join(f'<line transform="translate({place})"{self.line}/>' for place in places) + self.tail


@dataclass(frozen=True)
class Learned:
    """The markup :func:`place` puts back for a light plan: each grid's, domain's and ticks'."""

    grids: tuple[Lines, ...]
    domains: tuple[str, ...]
    ticks: tuple[Lines, ...]


def plan(vega: dict[str, Any]) -> Plan | None:
    """How to place this spec's axis labels, or None if it is one to draw the ordinary way."""
    config = vega.get("config", {}).get("axis", {})
    if (_SIZED - {"labelFont", "labelFontSize", "title"}) & set(config) or config.get("labelAngle", 0) != 0:
        return None
    font, size, padding = config.get("labelFont"), config.get("labelFontSize"), vega.get("padding")
    width, height = vega.get("width"), vega.get("height")
    if not isinstance(font, str) or not _number(size) or size <= 0 or not all(_number(v) for v in (padding, width, height)):
        return None
    if (vega.get("autosize") or "pad") not in ("pad", {"type": "pad"}):
        return None
    axes = []
    for axis in vega.get("axes", []):
        orient, labelled = axis.get("orient"), axis.get("labels", True) is not False
        if orient not in ("bottom", "left") or not isinstance(axis.get("translate", 0.5), (int, float)):
            return None
        # Positions are read from the drawing; what changes a label's font or its box's shape,
        # or places a title by the labels' extent, is left to Vega.
        if labelled and (_SIZED & set(axis) or axis.get("labelAngle", 0) != 0
                         or not _no_text_override(axis.get("encode", {}).get("labels", {}))):
            return None
        overlap = axis.get("labelOverlap")
        if overlap not in (None, False, True, "parity", "greedy"):
            return None
        method = "parity" if overlap is True else overlap or None
        axes.append(Axis(labelled, axis.get("labelBaseline", _BASELINE[orient]), method,
                         float(axis.get("labelSeparation", 0) or 0), float(axis.get("translate", 0.5)), orient))
    return Plan(tuple(axes), font, float(size), float(padding), float(width), float(height))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _no_text_override(encode: dict[str, Any]) -> bool:
    """An axis's label encoding may set the text and nothing that changes size or place."""
    return all(set(channels) <= {"text", "fill", "opacity"} for channels in encode.values())


def unmeasured(vega: dict[str, Any]) -> dict[str, Any]:
    """The spec drawn first: the same, with labelled axes' labels at size 0 (not measured)."""
    spec = json.loads(json.dumps(vega))
    for axis in spec.get("axes", []):
        if axis.get("labels", True) is not False:
            axis["labelFontSize"] = 0
    return spec


#: The options that place an axis's ticks (and a grid's lines): a grid-only axis with the same
#: ones as a labelled axis has its lines where that axis has its ticks.
_TICK_OPTIONS = ("scale", "orient", "tickCount", "tickMinStep", "values", "tickBand", "tickOffset", "tickRound",
                 "tickExtra", "bandPosition", "translate", "zindex")


def _grid_only(axis: dict[str, Any]) -> bool:
    return (axis.get("grid") is True and axis.get("labels") is False and axis.get("ticks") is False
            and axis.get("domain") is False and not axis.get("title") and not axis.get("encode"))


def _grid_twins(axes: list[dict[str, Any]]) -> dict[int, int]:
    """Grid-only axes that can be left out of a drawing: index -> index of the labelled twin
    whose ticks place its lines. One is kept unless the next axis is drawn, in the same layer
    (``zindex``): its group goes back just before that one's."""
    twins = {}
    for index, axis in enumerate(axes[:-1]):
        following = axes[index + 1]
        if not _grid_only(axis) or _grid_only(following) or following.get("zindex") != axis.get("zindex"):
            continue
        twin = next((other for other, candidate in enumerate(axes) if not _grid_only(candidate)
                     and candidate.get("ticks", True) is not False and candidate.get("labels", True) is not False
                     and all(candidate.get(option) == axis.get(option) for option in _TICK_OPTIONS)), None)
        if twin is not None:
            twins[index] = twin
    return twins


def lighter(vega: dict[str, Any]) -> tuple[Plan, dict[str, Any]] | None:
    """The plan and the spec drawn first (:func:`unmeasured`) without the grid-only axes whose
    lines :func:`place` can put back, and without the labelled axes' domain lines; None when
    there is nothing to leave out (or no plan)."""
    whole = plan(vega)
    if whole is None:
        return None
    twins = _grid_twins(vega.get("axes", []))
    drawn = [index for index in range(len(vega["axes"])) if index not in twins]
    grids = tuple(Grid(grid, drawn.index(grid + 1), drawn.index(twin)) for grid, twin in sorted(twins.items()))
    light = json.loads(json.dumps(vega))
    light["axes"] = [light["axes"][index] for index in drawn]
    # A domain spans the scale's range: the chart's width or height, whatever its data.
    domains = tuple(position for position, axis in enumerate(light["axes"])
                    if axis.get("domain", True) is not False and axis.get("labels", True) is not False and not axis.get("encode", {}).get("domain"))
    for position in domains:
        light["axes"][position]["domain"] = False
    ticks = _tick_axes(light)
    if not grids and not domains and not ticks:
        return None
    axes = tuple(whole.axes[index] for index in drawn)
    return Plan(axes, whole.font, whole.size, whole.padding, whole.width, whole.height, grids, domains, ticks), unmeasured(light)


#: Config keys that could set an axis's ticks apart from the general ``axis`` config.
_AXIS_CONFIGS = {"axisX", "axisY", "axisLeft", "axisRight", "axisTop", "axisBottom", "axisBand", "axisPoint",
                 "axisQuantitative", "axisTemporal", "axisDiscrete"}


def _tick_axes(light: dict[str, Any]) -> tuple[int, ...]:
    """Turn off the ticks of the labelled axes whose ticks :func:`place` can put back (one where
    each label is, rounded: Vega's ``tickRound``), padding their labels by the ticks' size so
    that they stay where they were; the axes' indexes."""
    config = light.get("config", {})
    defaults = config.get("axis", {})
    if _AXIS_CONFIGS & set(config) or {"tickRound", "tickExtra", "tickBand", "tickOffset", "ticks"} & set(defaults):
        return ()
    ticked = []
    for position, axis in enumerate(light["axes"]):
        size, padding = axis.get("tickSize", defaults.get("tickSize", 5)), axis.get("labelPadding", defaults.get("labelPadding", 2))
        if (axis.get("labels", True) is False or axis.get("ticks", True) is False or not _number(size) or not _number(padding)
                or {"tickRound", "tickExtra", "tickBand", "tickOffset", "values"} & set(axis) or axis.get("encode", {}).get("ticks")):
            continue
        axis["ticks"], axis["labelPadding"] = False, padding + size
        ticked.append(position)
    return tuple(ticked)


_TICKS = re.compile(r'<g class="mark-rule role-axis-tick"[^>]*>((?:<line [^>]*/>)*)</g>')
_GRID_LINES = re.compile(r'<g class="mark-rule role-axis-grid"[^>]*>((?:<line [^>]*/>)*)</g>')
_LINE = re.compile(r'<line transform="translate\(([^)]*)\)"([^>]*)/>')


def _filling(item: re.Pattern[str], svg: str, group: re.Match[str]) -> list[re.Match[str]] | None:
    """The items (``<line>``s, ``<text>``s) that make up a group's content (its group 1), or None
    if there is anything else in it: markup this module does not understand."""
    items = list(item.finditer(svg, group.start(1), group.end(1)))
    return items if sum(len(found.group(0)) for found in items) == group.end(1) - group.start(1) else None


def _tick_places(svg: str, start: int, end: int) -> list[str] | None:
    """The ``translate`` of each tick of the axis group between ``start`` and ``end``."""
    ticks = _TICKS.search(svg, start, end)
    lines = _filling(_LINE, svg, ticks) if ticks is not None else None
    return None if lines is None else [line.group(1) for line in lines]


_DOMAIN = re.compile(r'<g class="mark-rule role-axis-domain"[^>]*>(?:<line [^>]*/>)*</g>')


def learn(svg: str, light: Plan) -> Learned | None:
    """The markup ``light`` leaves out, read from a drawing with every part: None unless each
    grid's lines are where its twin has its ticks and differ only in that place, and each domain
    comes right after its axis's labels."""
    groups = list(_AXIS.finditer(svg))
    left_out = {grid.index for grid in light.grids}
    if len(groups) != len(light.axes) + len(left_out):
        return None
    drawn = [index for index in range(len(groups)) if index not in left_out]  # the drawn axes among all
    ends = [group.start() for group in groups[1:]] + [len(svg)]
    grids = []
    for grid in light.grids:
        start, end = groups[grid.index].start(), ends[grid.index]
        found = _GRID_LINES.search(svg, start, end)
        places = _tick_places(svg, groups[drawn[grid.twin]].start(), ends[drawn[grid.twin]])
        text = _lines(svg, found, places, start, end) if found is not None else None
        if text is None:
            return None
        grids.append(text)
    ticks = []
    for position in light.ticks:
        start, end = groups[drawn[position]].start(), ends[drawn[position]]
        found = _TICKS.search(svg, start, end)
        labels = _LABELS.match(svg, found.end()) if found is not None else None
        if found is None or labels is None or labels.end() > end:
            return None
        text = _lines(svg, found, _label_places(svg, labels, light.axes[position].orient), found.start(), found.end())
        if text is None:
            return None
        ticks.append(text)
    domains = []
    for position in light.domains:
        start, end = groups[drawn[position]].start(), ends[drawn[position]]
        labels = _LABELS.search(svg, start, end)
        domain = _DOMAIN.match(svg, labels.end()) if labels is not None else None
        if domain is None or domain.end() > end:
            return None
        domains.append(domain.group(0))
    return Learned(tuple(grids), tuple(domains), tuple(ticks))


def _lines(svg: str, run: re.Match[str], places: list[str] | None, start: int, end: int) -> Lines | None:
    """The markup from ``start`` to ``end`` around a run of lines (``run``'s group 1), if the
    lines are at ``places`` and differ only there; else None."""
    lines = _filling(_LINE, svg, run)
    if not lines or len({line.group(2) for line in lines}) != 1 or [line.group(1) for line in lines] != places:
        return None
    return Lines(svg[start:run.start(1)], lines[0].group(2), svg[run.end(1):end])


def _label_places(svg: str, labels: re.Match[str], orient: str) -> list[str] | None:
    """Where an axis's ticks are, from its labels (drawn at size 0): at each label's position
    along the axis, rounded as Vega rounds ticks (``tickRound``)."""
    texts = _filling(_TEXT, svg, labels)
    if texts is None:
        return None
    along = 3 if orient in ("left", "right") else 2
    spots = [js_number(_js_round(float(text.group(along)))) for text in texts]
    return [f"0,{spot}" for spot in spots] if along == 3 else [f"{spot},0" for spot in spots]


ROOT = re.compile(r'^(<svg [^>]*?)width="(\d+)" height="(\d+)" viewBox="0 0 (\d+) (\d+)">'
                  r'(<rect width="\d+" height="\d+" fill="[^"]*"/>)?<g fill="none" stroke-miterlimit="10" transform="translate\(([-\d.e+]+),([-\d.e+]+)\)">')
_AXIS = re.compile(r'<g class="mark-group role-axis"[^>]*><g transform="translate\(([-\d.e+]+),([-\d.e+]+)\)">')
_LABELS = re.compile(r'<g class="mark-text role-axis-label"[^>]*>((?:<text [^>]*>[^<]*</text>)*)</g>')
_TEXT = re.compile(r'<text text-anchor="(start|middle|end)" transform="translate\(([-\d.e+]+),([-\d.e+]+)\)" '
                   r'font-family="([^"]*)" font-size="0px"( [^>]*?)? opacity="1">([^<]*)</text>')


def label_texts(svg: str) -> list[str]:
    """The axis labels of a chart drawn from :func:`unmeasured` (to measure them)."""
    return [unescape(m.group(6)) for group in _LABELS.finditer(svg) for m in _TEXT.finditer(group.group(1))]


def place(svg: str, plan: Plan, width_of: Callable[[str], float], learned: Learned | None = None) -> str | None:
    """The SVG Vega would have drawn with the labels measured (and what a light plan left out,
    from its ``learned`` markup); None if the drawing is not one this module understands (the
    caller then draws the chart the ordinary way)."""
    root = ROOT.match(svg)
    axes = list(_AXIS.finditer(svg))
    learned = learned or Learned((), (), ())
    if (root is None or len(axes) != len(plan.axes) or len(learned.grids) != len(plan.grids)
            or len(learned.domains) != len(plan.domains) or len(learned.ticks) != len(plan.ticks)):
        return None
    ends = [axis.start() for axis in axes[1:]] + [len(svg)]
    groups = [_LABELS.search(svg, axis.end(), end) for axis, end in zip(axes, ends)]  # each axis's labels
    edits: list[tuple[int, int, str]] = []
    ticked: dict[int, list[str]] = {}
    for position, text in zip(plan.ticks, learned.ticks):
        labels = groups[position]
        spots = _label_places(svg, labels, plan.axes[position].orient) if labels is not None else None
        if spots is None:
            return None
        ticked[position] = spots
        edits.append((labels.start(), labels.start(), text.around(spots)))
    for grid, text in zip(plan.grids, learned.grids):
        ticks = ticked[grid.twin] if grid.twin in ticked else _tick_places(svg, axes[grid.twin].start(), ends[grid.twin])
        if ticks is None:
            return None
        edits.append((axes[grid.before].start(), axes[grid.before].start(), text.around(ticks)))
    for position, domain in zip(plan.domains, learned.domains):
        labels = groups[position]
        if labels is None:
            return None
        edits.append((labels.end(), labels.end(), domain))
    boxes: list[tuple[float, float, float, float]] = []
    for axis, found, group in zip(plan.axes, axes, groups):
        if group is None:
            if axis.labelled:
                return None
            continue
        if not axis.labelled:
            return None
        labels = _filling(_TEXT, svg, group)
        if labels is None:
            return None  # a label this module does not understand
        shift_x, shift_y = float(found.group(1)) - axis.translate, float(found.group(2)) - axis.translate
        offset = _baseline_offset(axis.baseline, plan.size)
        items = []
        for label in labels:
            x, y, text = float(label.group(2)), float(label.group(3)), unescape(label.group(6))
            width = width_of(text) if text else 0.0
            x1 = x - width / 2 if label.group(1) == "middle" else x - width if label.group(1) == "end" else x
            y1 = y + offset - _js_round(0.8 * plan.size)
            items.append([x1, y1, x1 + width, y1 + plan.size, 1])
        _hide_overlapping(items, axis)
        if axis.overlap is not None:  # Vega then bounds the labels by the shown ones alone
            items_bounded = [item for item in items if _sized(item) and item[4]]
        else:
            items_bounded = items
        boxes += [(x1 + shift_x, y1 + shift_y, x2 + shift_x, y2 + shift_y) for x1, y1, x2, y2, _ in items_bounded]
        for label, item in zip(labels, items):
            x, y = label.group(2), js_number(float(label.group(3)) + offset)
            rest = label.group(5) or ""
            text = (f'<text text-anchor="{label.group(1)}" transform="translate({x},{y})" font-family="{label.group(4)}" '
                    f'font-size="{js_number(plan.size)}px"{rest} opacity="{item[4]}">{label.group(6)}</text>')
            edits.append((label.start(), label.end(), text))
    left, top, right, bottom = margins(root, plan.padding, plan.width, plan.height)
    if boxes:
        left = max(left, math.ceil(-min(b[0] for b in boxes)))
        top = max(top, math.ceil(-min(b[1] for b in boxes)))
        right = max(right, math.ceil(max(b[2] for b in boxes) - plan.width))
        bottom = max(bottom, math.ceil(max(b[3] for b in boxes) - plan.height))
    head = root_markup(root, (left, top, right, bottom), plan.padding, plan.width, plan.height)
    parts, position = [head], root.end()
    for start, stop, text in sorted(edits, key=lambda edit: edit[0]):
        parts += [svg[position:start], text]
        position = stop
    parts.append(svg[position:])
    return "".join(parts)


def margins(root: re.Match[str], padding: float, width: float, height: float) -> tuple[float, float, float, float]:
    """A drawing's margins around its frame (left, top, right, bottom), from its root markup
    (:data:`ROOT`): with ``autosize: pad``, Vega pads each side by the whole pixels that what
    is drawn overflows the frame, then by the spec's padding."""
    left, top = float(root.group(7)) - padding, float(root.group(8)) - padding
    return left, top, float(root.group(2)) - 2 * padding - left - width, float(root.group(3)) - 2 * padding - top - height


def root_markup(root: re.Match[str], sides: tuple[float, float, float, float], padding: float, width: float, height: float) -> str:
    """A drawing's root markup (:data:`ROOT`) for these margins (left, top, right, bottom)."""
    left, top, right, bottom = sides
    total_w, total_h = js_number(width + left + right + 2 * padding), js_number(height + top + bottom + 2 * padding)
    return (f'{root.group(1)}width="{total_w}" height="{total_h}" viewBox="0 0 {total_w} {total_h}">'
            + (re.sub(r'width="\d+" height="\d+"', f'width="{total_w}" height="{total_h}"', root.group(6)) if root.group(6) else "")
            + f'<g fill="none" stroke-miterlimit="10" transform="translate({js_number(left + padding)},{js_number(top + padding)})">')


def _baseline_offset(baseline: str, size: float) -> int:
    """Vega's vertical offset of a text's anchor for its baseline (rounded as Vega does)."""
    factor = {"top": 0.79, "middle": 0.3, "bottom": -0.21}.get(baseline, 0.0)
    return _js_round(factor * size)


def _hide_overlapping(items: list[list[float]], axis: Axis) -> None:
    """Vega's overlap removal for an axis's labels: while neighbours overlap, hide every other
    label (``parity``) or each one overlapping the last kept (``greedy``); the last label is
    shown again if too few are left. Hidden items get opacity 0 (item[4])."""
    if axis.overlap is None:
        return
    shown = [item for item in items if _sized(item)]
    if len(shown) < 3 or not _overlapping(shown, axis.separation):
        return
    kept = shown
    while True:
        kept = _parity(kept) if axis.overlap == "parity" else _greedy(kept, axis.separation)
        if len(kept) < 3 or not _overlapping(kept, axis.separation):
            break
    if len(kept) < 3 and not shown[-1][4]:
        if len(kept) > 1:
            kept[-1][4] = 0
        shown[-1][4] = 1


def _sized(item: list[float]) -> bool:
    """Vega leaves out of overlap removal (and of the bounds) a label at most 1 px wide or high."""
    return item[2] - item[0] > 1 and item[3] - item[1] > 1


def _parity(items: list[list[float]]) -> list[list[float]]:
    for item in items[1::2]:
        item[4] = 0
    return items[0::2]


def _greedy(items: list[list[float]], separation: float) -> list[list[float]]:
    kept: list[list[float]] = []
    for index, item in enumerate(items):
        if index and _intersect(kept[-1], item, separation):
            item[4] = 0
        else:
            kept.append(item)
    return kept


def _intersect(a: list[float], b: list[float], separation: float) -> bool:
    return separation > max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3])


def _overlapping(items: list[list[float]], separation: float) -> bool:
    return any(_intersect(a, b, separation) for a, b in pairwise(items))


def _js_round(value: float) -> int:
    """JavaScript's Math.round: halves go up."""
    return math.floor(value + 0.5)


def js_number(value: float) -> str:
    """A number as JavaScript writes it (the SVG's own formatting)."""
    if value == 0:
        return "0"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = int(exponent)
    if -7 < power < 21:  # JavaScript writes these without an exponent
        digits = mantissa.replace("-", "").replace(".", "")
        sign = "-" if value < 0 else ""
        if power < 0:
            return f"{sign}0.{'0' * (-power - 1)}{digits}"
        return f"{sign}{digits}{'0' * (power + 1 - len(digits))}" if len(digits) <= power + 1 else f"{sign}{digits[:power + 1]}.{digits[power + 1:]}"
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def measurement_spec(texts: list[str], font: str, size: float) -> dict[str, Any]:
    """A Vega spec whose drawing gives each text's width as Vega measures it: a text mark
    per text, and a rect per text as wide as that text's box (Vega's reactive geometry)."""
    return {
        "width": 1, "height": 1, "padding": 0, "autosize": "none",
        "data": [{"name": "texts", "values": [{"row": row, "text": text} for row, text in enumerate(texts)]}],
        "marks": [
            {"type": "text", "name": "measured", "from": {"data": "texts"},
             "encode": {"enter": {"x": {"value": 0}, "y": {"value": 0}, "text": {"field": "text"}, "font": {"value": font},
                                  "fontSize": {"value": size}, "align": {"value": "left"}, "baseline": {"value": "top"}}}},
            {"type": "rect", "from": {"data": "measured"},
             "encode": {"enter": {"x": {"value": 0}, "y": {"signal": "datum.datum.row"}, "height": {"value": 1},
                                  "width": {"signal": "datum.bounds.x2 - datum.bounds.x1"}}}},
        ],
    }


_WIDTH = re.compile(r'<path d="M0,(\d+)h([\d.e+-]+)v1h')


def widths_from(svg: str, count: int) -> list[float] | None:
    """The widths a :func:`measurement_spec` drawing gives, in order; None if unreadable."""
    found = {int(row): float(width) for row, width in _WIDTH.findall(svg)}
    return [found[row] for row in range(count)] if len(found) == count else None
