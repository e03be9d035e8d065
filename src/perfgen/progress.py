"""Progress on a terminal for the long steps of a build; silent when output is not a terminal.
Each step's time is recorded either way, and with ``memory`` this process's peak memory in each
step too (for ``benchmarks/run.py``)."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def peak_memory_mb() -> float | None:
    """This process's peak resident memory (Linux's VmHWM) in MB, or None where it is not known."""
    try:
        found = re.search(r"^VmHWM:\s*(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) / 1024 if found else None


def _reset_peak_memory() -> bool:
    """Start the peak anew from the memory in use now (Linux 4.0 and later); False if it cannot be."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class Progress:
    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None, memory: bool = False):
        """``memory``: record this process's peak memory in each step (``peaks``, MB) where the
        system lets the peak be started anew (Linux); ``peak_mb`` is then the whole run's."""
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.timings: dict[str, float] = {}  # seconds per named stage, recorded even when silent
        self.peaks: dict[str, float] = {}  # MB per named stage, with memory
        self._memory = memory and peak_memory_mb() is not None
        self._peak_before = 0.0  # the highest peak of the steps and the time between them, so far

    @property
    def peak_mb(self) -> float | None:
        """The peak memory of the whole run so far (steps started anew do not lower it)."""
        now = peak_memory_mb()
        return None if now is None else max(self._peak_before, now, *self.peaks.values())

    def _started(self) -> None:
        if self._memory:
            self._peak_before = max(self._peak_before, peak_memory_mb() or 0.0)
            self._memory = _reset_peak_memory()

    def _finished(self, name: str) -> None:
        if self._memory:
            self.peaks[name] = max(self.peaks.get(name, 0.0), peak_memory_mb() or 0.0)

    @contextmanager
    def step(self, label: str, name: str | None = None) -> Iterator[None]:
        started = time.monotonic()
        self._started()
        if self.enabled:
            self.stream.write(f"{label}...")
            self.stream.flush()
        yield
        self.timings[name or label] = time.monotonic() - started
        self._finished(name or label)
        if self.enabled:
            self.stream.write(f" done ({time.monotonic() - started:.1f} s)\n")

    @contextmanager
    def counter(self, label: str, total: int, name: str | None = None) -> Iterator[Callable[[int], None]]:
        started = time.monotonic()
        self._started()
        done = 0
        last = 0.0

        def tick(count: int) -> None:
            nonlocal done, last
            done += count
            now = time.monotonic()
            if self.enabled and (now - last > 0.2 or done == total):
                last = now
                self.stream.write(f"\r{label}: {done:,} of {total:,}")
                self.stream.flush()

        yield tick
        self.timings[name or label] = time.monotonic() - started
        self._finished(name or label)
        if self.enabled:
            self.stream.write(f"\r{label}: {total:,} of {total:,} done ({time.monotonic() - started:.1f} s)\n")
