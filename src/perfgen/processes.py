"""The priority of the build's helper processes: the chart workers (``charts.ChartWorkers``)
and the process that writes the open data (``publish.BackgroundFiles``).

The build's own process is the one everything waits for: it lays out and renders every page,
one after another, while the helpers draw charts and write files that are needed only later
(a page waits only for its own charts; publishing waits for the open data). With four
processes on two cores the scheduler shared the cores evenly, so the build was slowed the most
and a core sat idle at the end while it finished alone (1.8 of the 2 cores busy on average in a
cold 1,000-service build). The helpers run at a lower priority (niceness 10 more than the
build's): the build takes the CPU it can use and the helpers the rest (1.94 of 2 cores busy;
the same work in about 7% less time). With a core to spare nothing changes.
"""

from __future__ import annotations

import contextlib
import os

#: How much lower a helper's priority is than the build's (Unix niceness, capped at 19).
HELPER_NICENESS = 10


def lower_priority() -> None:
    """Lower this process's priority as a helper's (where the system allows it)."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(HELPER_NICENESS)
