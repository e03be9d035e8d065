"""Chart drawing: a chart drawn from its shape's compiled Vega spec (data swapped in) is the
chart its own Vega-Lite spec gives, and it keeps its accessible name."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
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
    """Each chart's points swapped into its shape's compiled spec, with its dates given as times
    rather than parsed by the spec, draw what the chart's own Vega-Lite spec draws."""
    for request in REQUESTS + VARIED:
        own = charts._lighten(vlc.vegalite_to_vega(charts.spec_for(request)))
        swapped = charts.vega_spec(request)
        assert not any(charts._PARSE_END in dataset.get("transform", []) for dataset in swapped["data"])
        assert any(charts._PARSE_END in dataset.get("transform", []) for dataset in own["data"])
        assert vlc.vega_to_svg(swapped) == vlc.vega_to_svg(own), request.key


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
    assert job._batch_of["chart-3"] in job._collected and len(job._batches) > 1 and job._svgs == {}  # drawn by the workers
    drawn = job.wait()  # the rest, cached as they are collected; the workers stop
    assert multiprocessing.active_children() == []
    assert sorted(drawn) == sorted(slots) and str(slots["chart-11"]) == drawn["chart-11"]
    scratch = job._scratch
    job.close()
    assert scratch is not None and not scratch.exists()  # the workers' job file is removed
    # Drawn once, cached: a second job reads every chart from the cache and starts no worker.
    again = charts.ChartJob(requests, workers=2, cache_dir=tmp_path)
    assert again._pool is None and again.wait() == drawn


def _forget(cache_dir: Path, *requests: charts.ChartRequest) -> None:
    """Remove charts from a cache as another build pruning it would (``ChartStore.keep_only``)."""
    store = charts.ChartStore(cache_dir / charts.ChartStore.FILE)
    store.keep_only(store.addresses() - {charts._cache_key(request) for request in requests})
    store.close()


def test_cached_charts_are_read_when_a_page_asks_and_drawn_again_if_the_cache_went(tmp_path):
    """A rebuild takes most pages from the previous build: their cached charts are never read.
    A cache deleted or pruned during the build costs time, not a chart."""
    import shutil

    requests = [_request(f"chart-{n}", "count", ("Transactions",), 200.0 + n) for n in range(4)]
    drawn = charts.render_charts(requests, workers=1, cache_dir=tmp_path)
    job = charts.ChartJob(requests, workers=1, cache_dir=tmp_path)
    assert job._svgs == {} and job._batches == []  # every chart cached, none read yet
    assert job.svg("chart-0") == drawn["chart-0"]
    _forget(tmp_path, requests[2])  # another build pruned the cache: drawn here
    assert job.svg("chart-2") == drawn["chart-2"] and "chart-2" in job._svgs
    shutil.rmtree(tmp_path)  # the whole cache deleted
    assert job.svg("chart-3") == drawn["chart-3"]
    job.finish()
    job.close()


def test_known_charts_are_read_from_the_cache_and_drawn_from_requests_made_when_it_lost_them(tmp_path):
    """A rebuild hands the job the charts of unchanged services as known (key and address,
    no request): read from the cache; one the cache lost before the job (or during it) is drawn
    from its service's requests, made then by ``request_for``."""
    requests = [_request(f"{service}/transactions", "count", ("Transactions",), 400.0 + n) for n, service in enumerate("abc")]
    drawn = charts.render_charts(requests, workers=1, cache_dir=tmp_path)
    known = {request.key: charts._cache_key(request) for request in requests}
    asked: list[set[str]] = []

    def request_for(services: set[str]) -> list[charts.ChartRequest]:
        asked.append(services)
        return [request for request in requests if request.key.split("/")[0] in services]

    _forget(tmp_path, requests[0])  # lost before the job: its request made at once, drawn by the job
    job = charts.ChartJob([], workers=1, cache_dir=tmp_path, known=known, request_for=request_for)
    try:
        assert asked == [{"a"}] and sorted(job.keys) == sorted(known)
        assert job.svg("b/transactions") == drawn["b/transactions"]  # from the cache
        _forget(tmp_path, requests[2])  # lost during the job: drawn here from a request made now
        assert job.svg("c/transactions") == drawn["c/transactions"] and asked == [{"a"}, {"c"}]
        assert job.wait() == drawn
        assert job.addresses_by_service() == {request.key.split("/")[0]: [(request.key, known[request.key])] for request in requests}
    finally:
        job.close()


def test_requests_handed_to_workers_wait_in_a_file_until_a_chart_must_be_drawn_here(tmp_path):
    """Once the workers have their batches the job holds the charts' keys, not their requests
    (memory while pages are laid out); a cached chart deleted meanwhile is drawn from the
    requests read back."""
    requests = [_request(f"chart-{n}", "count", ("Transactions",), 300.0 + n) for n in range(6)]
    drawn = charts.render_charts(requests[:3], workers=1, cache_dir=tmp_path)  # half of them cached
    job = charts.ChartJob(requests, workers=2, cache_dir=tmp_path)
    try:
        assert job.requests is None and job.keys == [request.key for request in requests]
        assert job.svg("chart-4") == charts.render_charts([requests[4]], workers=1)["chart-4"]  # drawn by a worker
        _forget(tmp_path, requests[1])  # as another build would, while the workers write others
        assert job.svg("chart-1") == drawn["chart-1"]  # cached, then deleted: drawn here
        assert job.requests is not None  # read back from their file to draw it
        job.finish()
        assert set(job.wait()) == set(job.keys)
    finally:
        job.close()


def test_workers_started_before_the_charts_are_known_draw_them_without_a_cache():
    """A build starts its chart workers before it loads its data: a job given them draws into
    a temporary folder (no cache), the same charts as drawn here; closing leaves nothing."""
    import multiprocessing

    requests = [_request(f"chart-{n}", "percent", ("Digital take-up",), 0.01 * n) for n in range(9)]
    workers = charts.ChartWorkers(2, warm_up=True)  # the first one draws made-up charts until the job comes
    job = charts.ChartJob(requests, workers=workers)
    scratch = job._scratch
    assert scratch is not None and scratch.is_dir() and job._pool is workers
    drawn = job.wait()
    assert drawn == charts.render_charts(requests, workers=1)
    job.close()
    assert not scratch.exists() and multiprocessing.active_children() == []


def test_a_rebuild_starts_one_worker_and_a_job_with_many_charts_starts_the_others(monkeypatch):
    """A rebuild starts one of its workers (it draws few charts); a job with at least
    ``MANY_CHARTS`` to draw starts the others before handing its charts out. Same charts."""
    import multiprocessing

    requests = [_request(f"chart-{n}", "count", ("Transactions",), 3.0 + n) for n in range(6)]
    expected = charts.render_charts(requests, workers=1)
    monkeypatch.setattr(charts, "MANY_CHARTS", 7)
    few = charts.ChartWorkers(2, start=1)
    assert few.count == 1
    job = charts.ChartJob(requests, workers=few)
    assert few.count == 1 and job.wait() == expected
    job.close()
    monkeypatch.setattr(charts, "MANY_CHARTS", 6)
    many = charts.ChartWorkers(2, start=1)
    job = charts.ChartJob(requests, workers=many)
    assert many.count == 2 and job.wait() == expected
    job.close()
    assert multiprocessing.active_children() == []


class _Pipe:
    """A worker's end of its pipe, whose job comes after ``polls`` looks."""

    def __init__(self, polls: int):
        self.polls = polls

    def poll(self) -> bool:
        self.polls -= 1
        return self.polls < 0


def test_a_worker_warms_up_until_its_job_comes_and_draws_the_same_charts_after(monkeypatch):
    drawn = []
    draw = charts._draw
    monkeypatch.setattr(charts, "_draw", lambda request: drawn.append(request.key) or draw(request))
    charts._warm_up(_Pipe(3))
    assert len(drawn) == 3 and all(key.startswith("warm-up/") for key in drawn)
    monkeypatch.undo()
    # Everything made up is drawn (each shape's spec, labels' widths and axis markup learned
    # from made-up charts): the site's charts are still the ones vl-convert draws.
    charts._LEARNED.clear()
    charts._WIDTHS.clear()
    charts._warm_up(_Pipe(charts.WARM_UP_CHARTS))
    assert charts._LEARNED and all(charts._LEARNED.values())
    for request in REQUESTS + VARIED[::7]:
        assert charts._draw(request) == vlc.vega_to_svg(charts.vega_spec(request), allowed_base_urls=[]), request.key


def test_workers_warm_up_only_for_a_build_that_draws_every_chart(tmp_path):
    assert charts.cache_is_empty(None) and charts.cache_is_empty(tmp_path)
    store = charts.ChartStore(tmp_path / charts.ChartStore.FILE)
    assert store.addresses() == set() and charts.cache_is_empty(tmp_path)  # a store with no chart
    store.put([("abcd", "<svg/>")])
    store.close()
    assert not charts.cache_is_empty(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [charts.ChartStore.FILE]  # asked without leaving side files
    (tmp_path / charts.ChartStore.FILE).write_bytes(b"not a database")
    assert charts.cache_is_empty(tmp_path)


def test_a_chart_that_fails_in_a_worker_fails_the_job_with_its_traceback():
    requests = [_request(f"chart-{n}", "count", ("Transactions",), 10.0 + n) for n in range(8)]
    # A figure vl-convert cannot take (a complex number): the job fails with the worker's traceback.
    broken = charts.ChartRequest("broken", "count", (("2024-01-31", 1j, "Transactions"), ("2024-02-29", 2.0, "Transactions")), "Line chart")
    job = charts.ChartJob([*requests, broken], workers=charts.ChartWorkers(2))
    try:
        with pytest.raises(RuntimeError, match="drawing charts failed in a worker process") as raised:
            job.wait()
        assert "Traceback" in str(raised.value) and "unsupported type complex" in str(raised.value)
    finally:
        job.close()



def test_a_chart_a_worker_cannot_write_fails_the_job_with_that_error(tmp_path):
    """A worker that cannot write its charts into the cache (a full disk; here a store whose
    every insert fails) fails the job with an OSError naming the cache file, which the CLI
    reports as one message (exit code 4), not as a bug with a traceback."""
    import sqlite3

    requests = [_request(f"chart-{n}", "count", ("Transactions",), 10.0 + n) for n in range(8)]
    store = charts.ChartStore(tmp_path / charts.ChartStore.FILE)
    store.addresses()  # made, then made to refuse every chart
    with sqlite3.connect(store.path) as connection:
        connection.execute("CREATE TRIGGER full BEFORE INSERT ON charts BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    store.close()
    job = charts.ChartJob(requests, workers=charts.ChartWorkers(2), cache_dir=tmp_path)
    try:
        with pytest.raises(OSError) as raised:
            job.wait()
        assert raised.value.filename == str(store.path) and "database or disk is full" in raised.value.strerror
        assert not isinstance(raised.value, RuntimeError) and "Traceback" not in str(raised.value)
    finally:
        job.close()


def test_a_chart_cache_that_cannot_be_opened_is_one_error_and_a_damaged_one_is_replaced(tmp_path):
    """A cache file that cannot be opened (here a folder where it should be) is an OSError
    naming it; a file that is not a database (a damaged cache) is replaced, and the charts
    drawn into the new one."""
    import errno

    requests = [_request(f"chart-{n}", "count", ("Transactions",), 10.0 + n) for n in range(3)]
    (tmp_path / "folder" / charts.ChartStore.FILE).mkdir(parents=True)
    with pytest.raises(OSError) as raised:
        charts.ChartJob(requests, workers=1, cache_dir=tmp_path / "folder")
    assert raised.value.errno == errno.EACCES and raised.value.filename == str(tmp_path / "folder" / charts.ChartStore.FILE)
    (tmp_path / charts.ChartStore.FILE).write_bytes(b"not a database, " * 100)
    assert charts.render_charts(requests, workers=1, cache_dir=tmp_path) == charts.render_charts(requests, workers=1)
    again = charts.ChartJob(requests, workers=1, cache_dir=tmp_path)
    assert again._batches == []  # every chart kept in the new file
    again.close()


def test_a_worker_that_stops_unexpectedly_fails_the_job():
    import multiprocessing
    import os
    import signal

    workers = charts.ChartWorkers(2)
    for process in workers._processes:
        os.kill(process.pid, signal.SIGKILL)
    job = charts.ChartJob([_request(f"chart-{n}", "count", ("Transactions",), 1.0 + n) for n in range(8)], workers=workers)
    with pytest.raises(RuntimeError, match="stopped unexpectedly"):
        job.wait()
    job.close()
    assert multiprocessing.active_children() == []


def test_chart_workers_run_at_a_lower_priority_than_the_build():
    """The build renders pages while the workers draw: it is the one everything waits for, so
    the workers give way to it (processes.py)."""
    import os
    import time

    from perfgen.processes import HELPER_NICENESS

    own = os.getpriority(os.PRIO_PROCESS, 0)
    workers = charts.ChartWorkers(2)
    try:
        for process in workers._processes:
            deadline = time.monotonic() + 60
            while os.getpriority(os.PRIO_PROCESS, process.pid) == own and time.monotonic() < deadline:  # its own code has started
                time.sleep(0.05)
            assert os.getpriority(os.PRIO_PROCESS, process.pid) == min(19, own + HELPER_NICENESS)
        assert os.getpriority(os.PRIO_PROCESS, 0) == own
    finally:
        workers.close()


def test_workers_do_not_run_the_main_script_of_the_build(tmp_path):
    """The ``perfgen`` command is a script that imports every stage; a worker started by a
    build run from a script does not run it (``spawn`` would, as ``__mp_main__``), and draws.
    The script counts its runs in a file."""
    import subprocess
    import sys

    runs = tmp_path / "runs.txt"
    script = tmp_path / "build_script.py"
    script.write_text(f"""
import sys
with open({str(runs)!r}, "a") as out:
    out.write(__name__ + "\\n")
from perfgen import charts

if __name__ == "__main__":
    request = charts.ChartRequest("one", "count", (("2024-01-31", 5.0, "Transactions"), ("2024-02-29", 7.0, "Transactions")), "Line chart")
    job = charts.ChartJob([request], workers=charts.ChartWorkers(2))
    drawn = job.wait()
    job.close()
    assert drawn["one"].startswith("<svg"), drawn
    assert sys.modules["__main__"].__file__ == {str(script)!r}  # put back once the workers started
""", encoding="utf-8")
    subprocess.run([sys.executable, str(script)], check=True, timeout=300)
    assert runs.read_text(encoding="utf-8").splitlines() == ["__main__"]


def test_ctrl_c_is_left_to_the_build_not_the_workers():
    """Ctrl-C reaches every process of the terminal's group: the workers ignore it (no traceback
    of each), the build stops them."""
    import os
    import signal
    import time

    def ignores_ctrl_c(pid: int) -> bool:  # Linux: the mask of ignored signals
        status = Path(f"/proc/{pid}/status").read_text()
        return bool(int(re.search(r"^SigIgn:\s*([0-9a-f]+)", status, re.MULTILINE).group(1), 16) & (1 << (signal.SIGINT - 1)))

    workers = charts.ChartWorkers(2)
    try:
        for process in workers._processes:
            deadline = time.monotonic() + 60
            while not ignores_ctrl_c(process.pid) and time.monotonic() < deadline:  # its own code has started
                time.sleep(0.05)
            os.kill(process.pid, signal.SIGINT)
        requests = [_request(f"chart-{n}", "count", ("Transactions",), 5.0 + n) for n in range(6)]
        job = charts.ChartJob(requests, workers=workers)
        assert job.wait() == charts.render_charts(requests, workers=1)
        job.close()
    finally:
        workers.close()


def test_closing_a_job_before_its_charts_are_drawn_stops_its_workers():
    requests = [_request(f"chart-{n}", "money", ("Cost per transaction",), 1.0 + n) for n in range(40)]
    job = charts.ChartJob(requests, workers=2)
    job.close()  # as the build does when a later stage fails
    import multiprocessing
    assert multiprocessing.active_children() == []


def _varied(unit: str, series: tuple[str, ...], months: int, scale: float, **extra) -> charts.ChartRequest:
    points = tuple((f"{2020 + (month + 3) // 12}-{(month + 3) % 12 + 1:02d}-28", scale * (1 + ((month * 37 + index * 11) % 23) / 7), name)
                   for index, name in enumerate(series) for month in range(months))
    return charts.ChartRequest(f"{unit}-{len(series)}-{months}-{scale}", unit, points, "Line chart", **extra)


#: Every kind of chart the site draws: each unit, one or two series, short series (dots, labels
#: every month or two, some hidden where they would overlap) and long ones, a target, notes.
_NOTES = {"notes": (("2021-03-31", "1"), ("2022-01-31", "2"))}
VARIED = [
    _varied(unit, series, months, scale, **extra)
    for months in (2, 5, 11, 13, 25, 60)
    for unit, scale in (("count", 1234.0), ("count", 4.0e9), ("money", 0.35), ("money", 12345.0), ("percent", 0.1))
    for series, extra in ((("Digital",), {}),
                          (("Digital", "Phone"), {"target": (0.85, "Target 85%")} if unit == "percent" else {}),
                          (("Digital", "Phone"), _NOTES),
                          (("Digital",), {"target": (scale * 2, "Target")} if months in (5, 60) else _NOTES))
]


def _gapped(request: charts.ChartRequest, missing: range | set[int]) -> charts.ChartRequest:
    """The request with the figures at these positions of each series missing (the line breaks)."""
    counts: dict[str, int] = {}
    points = []
    for end, value, name in request.points:
        counts[name] = counts.get(name, -1) + 1
        points.append((end, None if counts[name] in missing else value, name))
    return charts.ChartRequest(f"{request.key}-without-{min(missing)}", request.unit, tuple(points), request.label, request.target, request.notes)


#: Series with gaps: a run of months missing, a figure alone between two gaps (dots), the first
#: figures missing.
VARIED += [_gapped(request, missing) for request in VARIED if request.key.endswith(("-60-1234.0", "-60-0.1"))
           for missing in (range(20, 26), {39, 41}, range(3))]


def test_labels_placed_by_perfgen_give_the_chart_vl_convert_draws():
    """Axis labels are drawn unmeasured and placed by perfgen (chartlabels): the SVG is byte for
    byte the one vl-convert draws measuring each label, for every kind of chart."""
    hidden = 0
    for request in VARIED:
        shape, values = charts._shape_and_values(request)
        vega = charts._vega_for_shape(shape)
        assert charts._label_plan(vega) is not None, request.key  # the fast way, not the fallback
        drawn = charts._draw_labelled(vega, values)
        assert drawn == vlc.vega_to_svg(charts.vega_spec(request), allowed_base_urls=[]), (request.key, request.target, request.notes)
        hidden += len(re.findall(r'<text [^>]*opacity="0"', drawn))
    assert hidden > 0  # some of these charts hide overlapping labels, as Vega does
    # After the first chart of each shape, the grid axis and the domains were left out and put back.
    shapes = {charts._vega_for_shape(charts._shape_and_values(request)[0]) for request in VARIED}
    assert all(charts._light_plan(vega) is not None and charts._LEARNED[vega] is not None for vega in shapes)


def _twin(request: charts.ChartRequest, key: str) -> charts.ChartRequest:
    """A chart like ``request`` with other figures (nine tenths of each): for a percent chart,
    the same scales' domains (0 to 100%), so the same axes."""
    points = tuple((end, None if value is None else value * 0.9, name) for end, value, name in request.points)
    return charts.ChartRequest(key, request.unit, points, request.label, request.target, request.notes)


def test_a_worker_takes_axes_another_drew_from_the_chart_store(tmp_path, monkeypatch):
    """Axes a worker drew are kept in the build's chart store with its charts: another worker
    (here, this process with its own axes forgotten) reads them instead of drawing them, and
    the chart is byte for byte vl-convert's. The build's end removes them with the charts it
    does not want."""
    store = charts.ChartStore(tmp_path / charts.ChartStore.FILE)
    monkeypatch.setattr(charts, "_AXES_STORE", store)
    monkeypatch.setattr(charts, "_AXES", {})
    monkeypatch.setattr(charts, "_NEW_AXES", [])
    request = next(r for r in VARIED if r.unit == "percent" and len({name for _, _, name in r.points}) == 1)
    twin = _twin(request, "twin")
    assert charts._draw(request) == vlc.vega_to_svg(charts.vega_spec(request), allowed_base_urls=[])
    assert len(charts._NEW_AXES) == 1
    address = charts._NEW_AXES[0][0]
    store.put([], charts._NEW_AXES)
    charts._NEW_AXES.clear()
    charts._AXES.clear()  # another process: nothing drawn yet

    def not_drawn(*args):
        raise AssertionError("axes drawn again")

    with monkeypatch.context() as patch:
        patch.setattr(charts, "_draw_labelled", not_drawn)
        assert charts._draw(twin) == vlc.vega_to_svg(charts.vega_spec(twin), allowed_base_urls=[])
    assert charts._NEW_AXES == [] and store.axes(address) is not None
    store.keep_only([])
    assert store.axes(address) is None
    store.close()


def test_marks_drawn_alone_and_put_into_shared_axes_give_the_chart_vl_convert_draws():
    """A chart of one series is drawn as its marks alone, put into axes drawn once for its shape
    and its scales' domains: byte for byte the chart vl-convert draws whole, for every kind."""
    charts._AXES.clear()
    single = [request for request in VARIED if len({name for _, _, name in request.points}) == 1]
    # The same domains as another chart, other figures: the axes are drawn once for both.
    twins = [_twin(request, f"{request.key}-twin") for request in single if request.unit == "percent"]
    spliced = []
    splice = charts._spliced
    axes_after_single = 0
    for number, request in enumerate(single + twins):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(charts, "_spliced", lambda *args, key=request.key: spliced.append(key) or splice(*args))
            drawn = charts._draw(request)
        assert drawn == vlc.vega_to_svg(charts.vega_spec(request), allowed_base_urls=[]), (request.key, request.target, request.notes)
        if number == len(single) - 1:
            axes_after_single = len(charts._AXES)
    assert len(spliced) == len(single) + len(twins)  # every one spliced, none drawn whole
    assert all(axes is not None for axes in charts._AXES.values())
    # Percent charts go from 0 to 100%: a twin's axes are its original's, drawn once.
    assert len(charts._AXES) == axes_after_single < len(single)
    # A chart with a legend (two series) is drawn whole: its legend depends on its series.
    two = next(request for request in VARIED if len({name for _, _, name in request.points}) == 2)
    assert charts._split_specs(charts._shape_and_values(two)[0]) is None


def test_a_grid_is_left_out_only_where_its_lines_can_be_put_back():
    from perfgen import chartlabels

    vega = charts.vega_spec(VARIED[0])
    grid = next(index for index, axis in enumerate(vega["axes"]) if axis.get("grid"))
    plan, light = chartlabels.lighter(vega)
    assert [axis.get("grid") for axis in light["axes"]] == [axis.get("grid") for axis in vega["axes"] if axis is not vega["axes"][grid]]
    assert plan.grids == (chartlabels.Grid(grid, grid, next(i for i, axis in enumerate(light["axes"]) if axis["scale"] == vega["axes"][grid]["scale"])),)
    # A grid with other ticks than any labelled axis, or with no drawn axis of its layer right after
    # it to go back before, stays.
    other_ticks = [{**axis, "tickCount": 3} if index == grid else axis for index, axis in enumerate(vega["axes"])]
    last = [axis for index, axis in enumerate(vega["axes"]) if index != grid] + [vega["axes"][grid]]
    other_layer = [{**axis, "zindex": 1} if index == grid + 1 else axis for index, axis in enumerate(vega["axes"])]
    for axes in (other_ticks, last, other_layer):
        kept, _ = chartlabels.lighter({**vega, "axes": axes})
        assert kept.grids == () and len(kept.axes) == len(axes)
    # Its markup is read only from a drawing where its lines are at its twin's ticks.
    whole = vlc.vega_to_svg(chartlabels.unmeasured(vega), allowed_base_urls=[])
    learned = chartlabels.learn(whole, plan)
    assert learned is not None and len(learned.grids) == 1 and 'class="mark-rule role-axis-grid"' in learned.grids[0].head
    moved = re.sub(r'(role-axis-grid" pointer-events="none"><line transform="translate\(0,)(\d+)', lambda m: m.group(1) + str(int(m.group(2)) + 1), whole, count=1)
    assert moved != whole and chartlabels.learn(moved, plan) is None
    # Put back, the chart is the one drawn with every axis.
    drawn = vlc.vega_to_svg(light, allowed_base_urls=[])
    assert "role-axis-grid" not in drawn
    assert chartlabels.place(drawn, plan, len, learned) == chartlabels.place(whole, chartlabels.plan(vega), len)


def test_domain_lines_are_left_out_and_put_back_after_their_labels():
    from perfgen import chartlabels

    vega = charts.vega_spec(VARIED[0])
    plan, light = chartlabels.lighter(vega)
    labelled = [index for index, axis in enumerate(light["axes"]) if axis.get("labels", True) is not False]
    assert plan.domains == tuple(labelled) and all(light["axes"][index]["domain"] is False for index in labelled)
    whole = vlc.vega_to_svg(chartlabels.unmeasured(vega), allowed_base_urls=[])
    learned = chartlabels.learn(whole, plan)
    assert len(learned.domains) == len(labelled) and all('role-axis-domain' in domain for domain in learned.domains)
    drawn = vlc.vega_to_svg(light, allowed_base_urls=[])
    assert "role-axis-domain" not in drawn
    assert chartlabels.place(drawn, plan, len, learned) == chartlabels.place(whole, chartlabels.plan(vega), len)
    # An axis drawn without its domain keeps none; a drawing whose domain is elsewhere is refused.
    bare = {**vega, "axes": [{**axis, "domain": False} for axis in vega["axes"]]}
    assert chartlabels.lighter(bare)[0].domains == ()
    misplaced = re.sub(r'(<g class="mark-rule role-axis-domain"[^>]*>(?:<line [^>]*/>)*</g>)', r'<g></g>\1', whole, count=1)
    assert chartlabels.learn(misplaced, plan) is None


def test_ticks_are_left_out_and_put_back_where_the_labels_are():
    from perfgen import chartlabels

    vega = charts.vega_spec(VARIED[0])
    plan, light = chartlabels.lighter(vega)
    labelled = [index for index, axis in enumerate(light["axes"]) if axis.get("labels", True) is not False]
    assert plan.ticks == tuple(labelled)
    assert all(light["axes"][index]["ticks"] is False and light["axes"][index]["labelPadding"] == 7 for index in labelled)  # 2 + 5
    whole = vlc.vega_to_svg(chartlabels.unmeasured(vega), allowed_base_urls=[])
    learned = chartlabels.learn(whole, plan)
    assert len(learned.ticks) == len(labelled) and all("role-axis-tick" in ticks.head for ticks in learned.ticks)
    drawn = vlc.vega_to_svg(light, allowed_base_urls=[])
    assert "role-axis-tick" not in drawn
    assert chartlabels.place(drawn, plan, len, learned) == chartlabels.place(whole, chartlabels.plan(vega), len)
    # A tick not where its label is (rounded) is refused; ticks set apart by the config are drawn.
    moved = re.sub(r'(role-axis-tick" pointer-events="none"><line transform="translate\()(\d+)', lambda m: m.group(1) + str(int(m.group(2)) + 1), whole, count=1)
    assert moved != whole and chartlabels.learn(moved, plan) is None
    assert chartlabels.lighter({**vega, "config": {**vega["config"], "axisX": {"tickSize": 8}}})[0].ticks == ()


def test_a_spec_whose_labels_perfgen_cannot_place_is_drawn_the_ordinary_way():
    from perfgen import chartlabels

    vega = charts.vega_spec(VARIED[0])
    assert chartlabels.plan(vega) is not None
    for change in ({"labelAngle": 45}, {"orient": "top"}, {"title": "Month"}, {"labelFontWeight": "bold"}):
        changed = {**vega, "axes": [{**axis, **change} if axis.get("labels") is not False else axis for axis in vega["axes"]]}
        assert chartlabels.plan(changed) is None, change
    # A drawing it does not recognise is left to vl-convert too.
    plan = chartlabels.plan(vega)
    assert chartlabels.place("<svg>not a chart</svg>", plan, len) is None


def test_numbers_are_written_as_javascript_writes_them():
    from perfgen.chartlabels import js_number

    cases = {17.0: "17", -0.0: "0", 47.99999999999999: "47.99999999999999", 1e21: "1e+21", 1.5e-7: "1.5e-7",
             2.5e-5: "0.000025", -3.25e-6: "-0.00000325", 1.4210854715202004e-14: "1.4210854715202004e-14", 123.5: "123.5"}
    assert {value: js_number(value) for value in cases} == cases


def test_the_cache_key_is_the_content_the_same_in_every_process():
    """A chart's cache address follows what is drawn (unit, points, series, label), not the
    request's id, and is the same in another process (a spawned worker, the next build)."""
    import subprocess
    import sys

    points = (("2024-01-31", 0.5, "All"), ("2024-02-29", 0.25, "All"))
    base = charts.ChartRequest("a/k", "percent", points, "Line chart")
    assert charts._cache_key(base) == charts._cache_key(charts.ChartRequest("b/other", "percent", points, "Line chart"))
    changed = [charts.ChartRequest("a/k", "count", points, "Line chart"), charts.ChartRequest("a/k", "percent", points[:1], "Line chart"),
               charts.ChartRequest("a/k", "percent", (points[0], ("2024-02-29", 0.26, "All")), "Line chart"),
               charts.ChartRequest("a/k", "percent", (points[0], ("2024-02-29", 0.25, "Digital")), "Line chart"),
               charts.ChartRequest("a/k", "percent", points, "Bar chart"),
               charts.ChartRequest("a/k", "percent", points, "Line chart", target=(0.5, "Target 50%")),
               charts.ChartRequest("a/k", "percent", points, "Line chart", target=(0.6, "Target 50%")),
               charts.ChartRequest("a/k", "percent", points, "Line chart", notes=(("2024-02-01", "1"),))]
    assert len({charts._cache_key(request) for request in [base, *changed]}) == 9
    # Equal texts that are one object or several (as a build and an unpickled request have them).
    copies = tuple(("".join(list(end)), value, "".join(list(name))) for end, value, name in points)
    assert copies[0][2] is not copies[1][2] and points[0][2] is points[1][2]
    assert charts._cache_key(charts.ChartRequest("c", "percent", copies, "Line chart")) == charts._cache_key(base)
    elsewhere = subprocess.run([sys.executable, "-c", ("from perfgen import charts; from perfgen.charts import ChartRequest; "
                                f"print(charts._cache_key(ChartRequest('x', 'percent', {points!r}, 'Line chart')))")],
                               capture_output=True, text=True, check=True).stdout.strip()
    assert elsewhere == charts._cache_key(base)


def test_the_build_keys_charts_without_altair():
    """The build process computes every chart's address without importing Altair (a third of a
    second on every build): only the chart workers, which write the specs, import it."""
    import subprocess
    import sys

    code = ("import sys; from perfgen import pipeline; from perfgen.charts import ChartRequest, _cache_key; "
            "_cache_key(ChartRequest('x', 'percent', (('2024-01-31', 0.5, 'All'),), 'Line chart')); print('altair' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_the_cache_key_names_the_code_that_draws(monkeypatch):
    """A chart is keyed by its shape's arguments rather than its spec, so the code that makes
    the spec and places the labels is in the key: changing it draws every chart again."""
    from pathlib import Path

    request = charts.ChartRequest("a/k", "percent", (("2024-01-31", 0.5, "All"),), "Line chart")
    before = charts._cache_key(request)
    read = Path.read_bytes
    for module in ("charts.py", "chartlabels.py"):
        monkeypatch.setattr(Path, "read_bytes", lambda path, module=module: read(path) + (b"# edited" if path.name == module else b""))
        charts._drawing_version.cache_clear()
        try:
            assert charts._cache_key(request) != before, module
        finally:
            monkeypatch.undo()
            charts._drawing_version.cache_clear()
    assert charts._cache_key(request) == before


def test_the_cache_keeps_the_charts_of_the_latest_job_only(tmp_path):
    """A changed chart's earlier drawing is removed once the job that replaces it is done, so
    the cache does not grow with every change; charts still asked for stay. The folder of
    charts (a file each) that earlier versions kept goes too."""
    first = [_request(f"chart-{n}", "count", ("Transactions",), 300.0 + n) for n in range(3)]
    charts.render_charts(first, workers=1, cache_dir=tmp_path)
    store = charts.ChartStore(tmp_path / charts.ChartStore.FILE)
    assert store.addresses() == {charts._cache_key(request) for request in first}
    (tmp_path / "charts" / "ab").mkdir(parents=True)
    (tmp_path / "charts" / "ab" / "ab12.svg").write_text("an earlier version's chart")

    second = [*first[:2], _request("chart-2", "count", ("Transactions",), 999.0)]  # the third chart changed
    job = charts.ChartJob(second, workers=1, cache_dir=tmp_path)
    job.finish()
    assert store.addresses() == {charts._cache_key(request) for request in first + second}
    job.forget_others()
    job.close()
    assert store.addresses() == {charts._cache_key(request) for request in second}
    assert not (tmp_path / "charts").exists()
    store.close()
    # Pruned, the cache still gives every chart of the latest job without drawing any.
    again = charts.ChartJob(second, workers=1, cache_dir=tmp_path)
    assert again._batches == []
    again.close()


def test_a_cache_mostly_pruned_is_compacted(tmp_path):
    """A site that lost most of its charts leaves a cache file of its new size, not its largest."""
    requests = [_request(f"chart-{n}", "count", ("Transactions",), 300.0 + n) for n in range(60)]
    store = charts.ChartStore(tmp_path / charts.ChartStore.FILE)
    store.put([(f"{n:064x}", "<svg>" + "x" * 20000 + "</svg>") for n in range(60)])
    store.close()
    large = sum(path.stat().st_size for path in tmp_path.glob(f"{charts.ChartStore.FILE}*"))
    job = charts.ChartJob(requests[:2], workers=1, cache_dir=tmp_path)
    job.finish()
    job.forget_others()
    job.close()
    small = sum(path.stat().st_size for path in tmp_path.glob(f"{charts.ChartStore.FILE}*"))
    assert small * 10 < large and charts.ChartStore(store.path).addresses() == {charts._cache_key(r) for r in requests[:2]}


def test_a_job_that_cannot_hand_out_its_charts_leaves_nothing_behind(tmp_path, monkeypatch):
    """The workers' job file cannot be written (a full disk): the error is raised as it is, the
    workers stop and the temporary folder is removed."""
    import errno
    import multiprocessing
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real_write = Path.write_bytes

    def full_disk(self, data):
        if self.name == "batches.pickle":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    requests = [_request(f"chart-{n}", "count", ("Transactions",), 2.0 + n) for n in range(8)]
    with pytest.raises(OSError) as raised:
        charts.ChartJob(requests, workers=charts.ChartWorkers(2))
    assert raised.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == [] and multiprocessing.active_children() == []


def _edge(key: str, unit: str, values: list[float | None]) -> charts.ChartRequest:
    points = tuple((f"{2020 + month // 12}-{month % 12 + 1:02d}-28", value, "Digital") for month, value in enumerate(values))
    return charts.ChartRequest(key, unit, points, f"Line chart of {key}")


#: Charts whose marks touch or pass the frame's edges: a figure at 100% (the top, exactly), one
#: a rounding above it, a dot at 100%, one figure only, the last figure missing, a figure of 0.
EDGES = [
    _edge("top", "percent", [0.5 + 0.01 * (month % 7) for month in range(40)] + [1.0] + [0.6] * 19),
    _edge("above-top", "percent", [0.7] * 30 + [0.1 + 0.2 + 0.7000000000000001] + [0.4] * 29),
    _edge("dot-at-top", "percent", [0.9, 1.0, 0.95, 0.97]),
    _edge("one-figure", "count", [1234.0]),
    _edge("last-missing", "money", [3.0 + month % 5 for month in range(59)] + [None]),
    _edge("zero", "count", [0.0] + [100.0 + month for month in range(35)]),
]


def test_charts_drawn_together_are_the_charts_vl_convert_draws_one_by_one(monkeypatch):
    """The marks of many charts drawn in one call (a facet of each shape's charts), each chart's
    margins worked out from its own markup, give byte for byte the charts vl-convert draws
    whole, one at a time: every kind, and marks at the frame's edges. Charts whose marks are
    not lines and circles (a target's label, notes) or that have a legend are drawn alone."""
    charts._AXES.clear()
    requests = [charts.ChartRequest(f"{number}", request.unit, request.points, request.label, request.target, request.notes)
                for number, request in enumerate(VARIED + EDGES)]
    alone = []
    draw = charts._draw
    monkeypatch.setattr(charts, "_draw", lambda request: alone.append(request.key) or draw(request))
    drawn = charts._render_batch(requests)
    monkeypatch.undo()
    assert [key for key, _ in drawn] == [request.key for request in requests]
    for (key, svg), request in zip(drawn, requests):
        assert svg == charts._finish_svg(vlc.vega_to_svg(charts.vega_spec(request), allowed_base_urls=[]), request.label), key
    others = {request.key for request in requests if request.target or request.notes or len({name for _, _, name in request.points}) > 1}
    assert set(alone) == others
    assert len(requests) - len(others) == 42  # drawn together: a series alone, no target, no notes


def test_marks_margins_are_what_vega_pads_for_lines_and_circles():
    """Each side's whole pixels as Vega bounds the items (a line's points widened by its
    stroke's width, a circle's radius): the least and the most, as a path's numbers are
    rounded to 3 decimals (a point written at 0 or the frame's width is exact: the ends of the
    time scale); None for anything else, and for a path with more decimals."""
    line = '<g class="mark-line role-mark marks" aria-hidden="true"><path d="M0,100L280,0.4L560,219M300,10Z" stroke="#1d70b8" stroke-width="2"/></g>'
    assert charts._marks_margins(line, 560, 220) == ((2.0, 2.0), (2.0, 2.0), (2.0, 2.0), (1.0, 2.0))
    inside = '<g class="mark-line role-mark marks" aria-hidden="true"><path d="M9.5,100L550.5,17" stroke="#1d70b8" stroke-width="2"/></g>'
    assert charts._marks_margins(inside, 560, 220) == ((0.0, 0.0),) * 4
    dot = ('<g class="mark-symbol role-mark layer_1_marks" aria-hidden="true"><path transform="translate(560,219.5)" '
           'd="M2.739,0A2.739,2.739,0,1,1,-2.739,0A2.739,2.739,0,1,1,2.739,0" fill="#1d70b8" stroke-width="2" opacity="1"/></g>')
    assert charts._marks_margins(dot, 560, 220) == ((0.0, 0.0), (0.0, 0.0), (3.0, 3.0), (3.0, 3.0))
    assert charts._marks_margins(line + dot, 560, 220) == ((2.0, 2.0), (2.0, 2.0), (3.0, 3.0), (3.0, 3.0))
    stroked = dot.replace('fill="#1d70b8"', 'fill="#1d70b8" stroke="#0b0c0c"')
    assert charts._marks_margins(stroked, 560, 220)[2] == (5.0, 5.0)  # the radius and the stroke's width
    for other in (line.replace("L280", "C1,2,3,4,280"), line.replace("L280,0.4", "L280,0.4001"), dot.replace('opacity="1"', 'opacity="0"'), '<g class="mark-text role-mark t" aria-hidden="true"></g>',
                  line.replace('stroke-width="2"', 'stroke-width="2" stroke-dasharray="3,3"'), line + "<g>"):
        assert charts._marks_margins(other, 560, 220) is None


def test_marks_not_known_closely_enough_are_drawn_alone():
    """A side whose margin could be either of two whole pixels, where the larger would show
    (the axes' margin there is smaller), is not guessed: the chart is drawn alone."""
    charts._AXES.clear()
    request = next(request for request in VARIED if request.unit == "count" and not request.target and not request.notes)
    shape, values = charts._shape_and_values(request)
    split = charts._split_specs(shape)
    marks = charts._marks_alone(split, values)
    whole = vlc.vega_to_svg(charts.vega_spec(request), allowed_base_urls=[])
    assert charts._into_axes(shape, split, values, marks) == whole
    axes = charts._AXES[(shape, marks.domains)].margins
    side = min(range(4), key=lambda side: marks.margins[side][0] - axes[side])
    assert marks.margins[side][1] < axes[side]  # the axes' margin decides this side
    below, past = list(marks.margins), list(marks.margins)
    below[side] = (axes[side] - 1, axes[side])
    past[side] = (axes[side], axes[side] + 1)
    assert charts._into_axes(shape, split, values, dataclasses.replace(marks, margins=tuple(below))) == whole
    assert charts._into_axes(shape, split, values, dataclasses.replace(marks, margins=tuple(past))) is None
