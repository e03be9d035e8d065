"""Chart drawing: a chart drawn from its shape's compiled Vega spec (data swapped in) is the
chart its own Vega-Lite spec gives, and it keeps its accessible name."""

from __future__ import annotations

import re

import vl_convert as vlc

from perfgen import charts


def _request(key: str, unit: str, series: tuple[str, ...], scale: float) -> charts.ChartRequest:
    points = tuple((f"{2020 + month // 12}-{month % 12 + 1:02d}-28", scale * (1 + (month * 7 + index) % 11), name)
                   for index, name in enumerate(series) for month in range(30))
    return charts.ChartRequest(key, unit, points, f"Line chart of {key}")


REQUESTS = [
    _request("transactions", "count", ("Transactions",), 1234.0),
    _request("cost", "money", ("Cost per transaction",), 3.5),
    _request("satisfaction", "percent", ("Mean score", "Top-two-box"), 0.08),
]


def test_a_shape_compiled_once_draws_what_each_spec_would():
    for request in REQUESTS:
        own = charts._lighten(vlc.vegalite_to_vega(charts.spec_for(request)))
        assert vlc.vega_to_svg(charts.vega_spec(request)) == vlc.vega_to_svg(own), request.key


def test_charts_of_one_shape_differ_only_by_their_data():
    first, second = REQUESTS[0], _request("other", "count", ("Transactions",), 98765.0)
    assert charts.vega_spec(first) != charts.vega_spec(second)
    without_data = [{**charts.vega_spec(r), "data": [d for d in charts.vega_spec(r)["data"] if "values" not in d]} for r in (first, second)]
    assert without_data[0] == without_data[1]


def test_a_drawn_chart_has_its_name_its_labels_and_no_inner_descriptions():
    rendered = charts.render_charts(REQUESTS, workers=1)
    for request in REQUESTS:
        svg = rendered[request.key]
        assert svg.startswith(f'<svg role="img" aria-label="{request.label}" focusable="false" ')
        assert re.findall(r'aria-label="([^"]*)"', svg) == [request.label]  # marks and axes are not described again
        assert "<text" in svg and "Jan 2021" in svg  # axis labels are drawn
    assert "Top-two-box" in rendered["satisfaction"]  # the legend of a chart with two series


def test_charts_drawn_by_workers_while_pages_wait_for_them(tmp_path):
    """A ChartJob's workers draw while the build goes on: each page holds a placeholder whose
    markup is the chart once drawn; closing the job leaves no worker behind."""
    import multiprocessing

    from markupsafe import escape

    requests = [_request(f"chart-{n}", "count", ("Transactions",), 100.0 + n) for n in range(12)]
    job = charts.ChartJob(requests, workers=2, cache_dir=tmp_path)
    slots = job.slots()
    assert set(slots) == {r.key for r in requests}
    # A page's chart waits only for its own batch: the last batch is not collected yet.
    assert str(escape(slots["chart-3"])) == charts.render_charts([requests[3]], workers=1)["chart-3"]
    assert "chart-11" not in job._svgs
    drawn = job.wait()  # the rest, cached as they are collected; the workers stop
    assert multiprocessing.active_children() == []
    assert sorted(drawn) == sorted(slots) and str(slots["chart-11"]) == drawn["chart-11"]
    # Drawn once, cached: a second job reads every chart from the cache and starts no worker.
    again = charts.ChartJob(requests, workers=2, cache_dir=tmp_path)
    assert again._pool is None and again.wait() == drawn


def test_closing_a_job_before_its_charts_are_drawn_stops_its_workers():
    requests = [_request(f"chart-{n}", "money", ("Cost per transaction",), 1.0 + n) for n in range(40)]
    job = charts.ChartJob(requests, workers=2)
    job.close()  # as the build does when a later stage fails
    import multiprocessing
    assert multiprocessing.active_children() == []
