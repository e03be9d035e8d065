"""Benchmark perfgen builds and print figures per stage.

    python benchmarks/run.py                      # 100 and 1,000 services, 5 years monthly, 5 channels
    python benchmarks/run.py --sizes 1000 10000   # choose the sizes

For each size: a cold build (empty chart cache, no previous site), a rebuild with nothing
changed, and a rebuild after one service's data changed. Each build runs in a fresh process so
peak memory (max RSS, including chart workers) is measured per build. Prints wall time per stage
(config, load, kpis, model, charts, pages, render, opendata, write), the CPU time of the build and its
helpers (chart workers and the forked open-data process), together and apart (steadier than
wall time on a shared machine; on two cores, a build whose CPU is twice its wall time waited
for a core, not for a helper), the cores it kept busy on
average (CPU over wall time: how well the build overlaps its processes), pages per second, files written and
peak memory (the larger of the build process's and its largest child's, both shown), and the
build process's own peak in each stage (Linux); after the cold build, the largest service page
and the shared CSS and JavaScript gzipped. Figures, not assertions: tests never time anything.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate

STAGES = ("config", "load", "kpis", "model", "charts", "pages", "render", "opendata", "write")
BUILD_ONE = """
import json, resource, sys, time
from pathlib import Path
from perfgen.pipeline import Project, build
from perfgen.progress import Progress
root = Path(sys.argv[1])
def used(who):
    return sum(getattr(resource.getrusage(who), field) for field in ("ru_utime", "ru_stime"))
before = used(resource.RUSAGE_SELF)  # Python and perfgen imported: timed neither in wall nor in CPU time
started = time.perf_counter()
progress = Progress(enabled=False, memory=True)  # this process's peak in each stage too
result = build(Project(config=root / "config/services.yml", data=root / "data", output=root / "site",
                       templates=root / "templates", root=root, cache=root / ".perfgen-cache"), progress=progress)
wall = time.perf_counter() - started
# The build's own CPU and its helpers' (the chart workers and the forked open-data process,
# all ended by now): with the wall time, whether the build waited for a core or for them.
build_cpu = used(resource.RUSAGE_SELF) - before
helpers_cpu = used(resource.RUSAGE_CHILDREN)
# Peak of this process or of its largest child (a chart worker, or the forked open-data process),
# measured here so that each build has its own; both are reported, to tell which one it is.
# (Progress starts this process's peak anew for each stage: its own record is the whole build's.)
build_mb, child_mb = (resource.getrusage(who).ru_maxrss / 1024 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
build_mb = max(build_mb, progress.peak_mb or 0)
print(json.dumps({"wall": wall, "cpu": build_cpu + helpers_cpu, "build_cpu": build_cpu, "helpers_cpu": helpers_cpu, "peak_mb": max(build_mb, child_mb), "build_mb": build_mb, "child_mb": child_mb, "timings": result.timings,
                  "stage_peaks": progress.peaks, "pages": result.pages, "written": result.files_written,
                  "reused": result.pages_reused, "skipped": result.up_to_date}))
"""


def run_build(root: Path) -> dict:
    output = subprocess.run([sys.executable, "-c", BUILD_ONE, str(root)], check=False, capture_output=True, text=True)
    if output.returncode != 0:
        raise SystemExit(f"the build of {root} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def change_one_service(root: Path) -> None:
    """Edit one figure of one service, as a corrected export would."""
    path = min((root / "data").glob("*.csv"))
    lines = path.read_text(encoding="utf-8").splitlines()
    # The latest satisfaction count of the file's last service: it reaches that service's
    # monthly and 12-month figures, its department's and government's totals and the leagues.
    for index in range(len(lines) - 1, 0, -1):
        fields = lines[index].split(",")
        if fields[3] == "rating_5" and fields[4]:
            fields[4] = str(int(float(fields[4])) + 10)
            lines[index] = ",".join(fields)
            break
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def report(label: str, figures: dict) -> None:
    stages = "  ".join(f"{stage} {figures['timings'].get(stage, 0):6.2f}" for stage in STAGES)
    rate = figures["pages"] / figures["wall"] if figures["wall"] else 0
    note = "(up to date)" if figures.get("skipped") else f"{figures.get('reused', 0)} pages reused"
    busy = figures["cpu"] / figures["wall"] if figures["wall"] else 0  # cores busy on average: steadier than either time
    split = f" = {figures['build_cpu']:.1f} build + {figures['helpers_cpu']:.1f} helpers" if "build_cpu" in figures else ""
    print(f"  {label:<11} wall {figures['wall']:7.2f} s  cpu {figures['cpu']:7.2f} s{split} ({busy:4.2f} cores)  {rate:7.1f} pages/s  written {figures['written']:>6}  "
          f"peak {figures['peak_mb']:7.0f} MB (build {figures['build_mb']:.0f}, largest child {figures['child_mb']:.0f})  {note}")
    print(f"  {'':<11} {stages}")
    peaks = figures.get("stage_peaks") or {}  # the build process's own, by stage (not its children's)
    if any(stage in peaks for stage in STAGES):
        print(f"  {'':<11} peak MB by stage: " + "  ".join(f"{stage} {peaks[stage]:6.0f}" for stage in STAGES if stage in peaks))


def report_weight(site: Path) -> None:
    """The heaviest service page (HTML with its inline charts) and the shared CSS and JavaScript,
    gzipped as a server would send them."""
    pages = [(path.stat().st_size, path.parent.name) for path in (site / "services").glob("*/index.html")]
    size, slug = max(pages)
    assets = sorted((site / "assets").glob("*.css")) + sorted((site / "assets").glob("*.js"))
    shipped = sum(len(gzip.compress(path.read_bytes(), compresslevel=9)) for path in assets)
    print(f"  {'':<11} largest service page {size / 1024:.1f} KB ({slug}; {len(pages):,} pages); "
          f"CSS + JS {shipped / 1024:.1f} KB gzipped ({len(assets)} files)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the generated projects in this folder")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="perfgen-bench-"))
    print(f"perfgen benchmark: {args.months} months, {args.channels} channels; projects in {base}")
    for size in args.sizes:
        root = base / f"services-{size}"
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        generate(root, size, args.months, args.channels)
        rows = sum(sum(1 for _ in p.open()) - 1 for p in (root / "data").glob("*.csv"))
        print(f"\n{size:,} services ({rows:,} data rows, generated in {time.perf_counter() - started:.1f} s)")
        report("cold", run_build(root))
        report_weight(root / "site")
        report("no change", run_build(root))
        change_one_service(root)
        report("one change", run_build(root))
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
