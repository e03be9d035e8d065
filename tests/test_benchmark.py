"""What the benchmark prints besides times: the page weight it is judged by."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from run import report, report_weight


def test_the_heaviest_service_page_and_the_shared_assets_gzipped(tmp_path, capsys):
    site = tmp_path / "site"
    for slug, size in (("light", 1000), ("heavy", 51_200), ("middling", 20_000)):
        (site / "services" / slug).mkdir(parents=True)
        (site / "services" / slug / "index.html").write_text("x" * size, encoding="utf-8")
    (site / "services" / "index.html").write_text("x" * 300_000, encoding="utf-8")  # the A to Z: not a service page
    (site / "assets").mkdir()
    css, js = b"body { margin: 0 }\n" * 200, b"document.title;\n" * 100
    (site / "assets" / "site.css").write_bytes(css)
    (site / "assets" / "search.js").write_bytes(js)
    (site / "assets" / "logo.png").write_bytes(b"\x89PNG" * 1000)  # not shipped as CSS or JS
    report_weight(site)
    shipped = (len(gzip.compress(css, compresslevel=9)) + len(gzip.compress(js, compresslevel=9))) / 1024
    assert capsys.readouterr().out.split() == (
        f"largest service page 50.0 KB (heavy; 3 pages); CSS + JS {shipped:.1f} KB gzipped (2 files)").split()


def test_a_builds_figures_show_its_cpu_and_its_helpers_apart(capsys):
    figures = {"wall": 20.0, "cpu": 38.0, "build_cpu": 21.5, "helpers_cpu": 16.5, "pages": 100, "written": 90, "peak_mb": 400.0,
               "build_mb": 400.0, "child_mb": 350.0, "timings": {"load": 1.5}, "reused": 10}
    report("cold", figures)
    first = capsys.readouterr().out.splitlines()[0]
    assert "cpu   38.00 s = 21.5 build + 16.5 helpers (1.90 cores)" in first
