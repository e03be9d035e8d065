"""Progress records each step's time, and with ``memory`` the build process's peak memory in
each step: what ``benchmarks/run.py`` prints to show which stage sets a large site's peak."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from perfgen import progress as progress_module
from perfgen.progress import Progress, peak_memory_mb

ROOT = Path(__file__).resolve().parent.parent

needs_peak = pytest.mark.skipif(peak_memory_mb() is None, reason="the peak memory of a process is read from Linux's /proc")


def _touched(megabytes: int) -> bytearray:
    """Memory really in use (every page written), not only reserved."""
    block = bytearray(megabytes << 20)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    return block


@needs_peak
def test_each_step_records_its_own_peak_memory():
    """A step's peak is that step's: a step that held 150 MB shows it, the next one, which held
    little, does not (the peak is started anew), and the whole run's peak still has it."""
    progress = Progress(enabled=False, memory=True)
    with progress.step("Holding a lot", "big"):
        block = _touched(150)
        in_use = peak_memory_mb()
    del block
    with progress.counter("Holding little", 1, "small") as tick:
        small = _touched(5)
        tick(1)
    del small
    assert set(progress.timings) == set(progress.peaks) == {"big", "small"}
    assert progress.peaks["big"] >= in_use >= 150
    assert progress.peaks["small"] < progress.peaks["big"] - 100
    assert progress.peak_mb >= progress.peaks["big"]


def test_without_memory_only_times_are_recorded():
    progress = Progress(enabled=False)
    with progress.step("A step", "step"):
        pass
    assert list(progress.timings) == ["step"] and progress.peaks == {}


@needs_peak
def test_where_the_peak_cannot_be_started_anew_no_stage_peak_is_recorded(monkeypatch, tmp_path):
    """Without a way to start the peak anew (an older kernel, a locked-down /proc) a stage's peak
    would be the whole run's so far: none is recorded rather than a wrong one, and the build
    goes on."""
    monkeypatch.setattr(progress_module, "_CLEAR_REFS", tmp_path / "missing" / "clear_refs")
    progress = Progress(enabled=False, memory=True)
    with progress.step("A step", "step"):
        pass
    assert progress.timings and progress.peaks == {}
    assert progress.peak_mb is not None


def test_the_benchmark_prints_the_build_process_peak_by_stage(capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from run import report
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    figures = {"wall": 2.0, "cpu": 3.0, "pages": 10, "written": 10, "peak_mb": 300.0, "build_mb": 300.0, "child_mb": 120.0,
               "timings": {"load": 0.5, "kpis": 1.0, "key": 0.01}, "stage_peaks": {"load": 250.4, "kpis": 300.0, "key": 90.0}, "reused": 0}
    report("cold", figures)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].split() == ["peak", "MB", "by", "stage:", "load", "250", "kpis", "300"]
    assert "cpu    3.00 s (1.50 cores)" in lines[0]  # CPU over wall time: the cores kept busy
    report("no change", {**figures, "stage_peaks": {"key": 90.0}, "skipped": True})
    assert "peak MB by stage" not in capsys.readouterr().out  # nothing measured but the check for changes
