"""The same inputs give the same figures, bit for bit, even where DuckDB reads in parallel.

DuckDB loads the data files with several threads, so the rows of a large load can arrive in a
different order each run; a float sum over them then differs in its last bits (on 600 services
x 60 months x 5 channels, hundreds of department totals did). The load stage stores the rows
in file and line order, and the KPI stage runs on one thread, so every sum adds in one order.
This checks it where the problem showed: two fresh processes, one large synthetic project.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import generate

FIGURES = """
import hashlib, sys
from pathlib import Path
from perfgen.config import load_config
from perfgen.errors import Warnings
from perfgen.kpis import compute_kpis
from perfgen.load import load_data
root = Path(sys.argv[1])
config = load_config(root / "config/services.yml")
results = compute_kpis(load_data(root / "data", config), config, Warnings())
values = results.values.sort_values(["service", "department", "kpi", "method", "basis", "period_start", "period_end"], kind="stable")
print(hashlib.sha256(values.to_csv(index=False).encode()).hexdigest())
"""


def test_figures_are_identical_across_runs_of_a_large_parallel_load(tmp_path):
    generate(tmp_path, services=600, month_count=60, channel_count=5)
    digests = {subprocess.run([sys.executable, "-c", FIGURES, str(tmp_path)], capture_output=True, text=True, check=True).stdout.strip()
               for _ in range(2)}
    assert len(digests) == 1, digests
