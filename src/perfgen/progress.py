"""Progress on a terminal for the long steps of a build; silent when output is not a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.timings: dict[str, float] = {}  # seconds per named stage, recorded even when silent

    @contextmanager
    def step(self, label: str, name: str | None = None) -> Iterator[None]:
        started = time.monotonic()
        if self.enabled:
            self.stream.write(f"{label}...")
            self.stream.flush()
        yield
        self.timings[name or label] = time.monotonic() - started
        if self.enabled:
            self.stream.write(f" done ({time.monotonic() - started:.1f} s)\n")

    @contextmanager
    def counter(self, label: str, total: int, name: str | None = None) -> Iterator[Callable[[int], None]]:
        started = time.monotonic()
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
        if self.enabled:
            self.stream.write(f"\r{label}: {total:,} of {total:,} done ({time.monotonic() - started:.1f} s)\n")
