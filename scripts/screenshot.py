"""Save pictures of pages of a built site, as a browser shows and prints them.

Usage::

    python scripts/screenshot.py SITE_DIR PATH [PATH...] --out DIR [--pdf] [--width PX]

For each PATH (relative to SITE_DIR, e.g. ``index.html`` or
``services/tax-your-vehicle/``) it writes a full-page PNG to DIR and, with
``--pdf``, the page printed on A4. The site is served over HTTP on 127.0.0.1
so relative links, CSS and fonts load as they will when published.

Needs Debian's chromium (``apt-get install -y chromium fonts-liberation``) and
the test extras (playwright); never run ``playwright install``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from browser import DESKTOP_WIDTH, open_site


def picture_name(path: str) -> str:
    """A file name for a site path: services/a/index.html -> services-a-index."""
    stem = re.sub(r"\.html?$", "", path.strip("/")) or "index"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "index"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="folder of the built site")
    parser.add_argument("paths", nargs="+", help="pages to capture, relative to the site")
    parser.add_argument("--out", type=Path, required=True, help="folder for the pictures")
    parser.add_argument("--pdf", action="store_true", help="also save each page printed on A4")
    parser.add_argument(
        "--width", type=int, default=DESKTOP_WIDTH, help="viewport width (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if not args.site.is_dir():
        parser.error(f"{args.site}: no such folder")
    missing = [path for path in args.paths if not (args.site / path).exists()]
    if missing:
        parser.error(f"not in {args.site}: {', '.join(missing)}")

    with open_site(args.site) as site:
        for path in args.paths:
            name = picture_name(path)
            print(site.screenshot(path, args.out / f"{name}.png", width=args.width))
            if args.pdf:
                print(site.pdf(path, args.out / f"{name}.pdf"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
