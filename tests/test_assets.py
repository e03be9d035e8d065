"""The front-end assets shipped in the package: complete, small, accessible, current."""

from __future__ import annotations

import gzip
import importlib.util
import re
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "src" / "perfgen" / "assets"
STYLESHEETS = ["perfgen.min.css", "perfgen-govuk.min.css"]
GZIP_BUDGET = 60 * 1024
WCAG_AA_TEXT = 4.5

URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)")
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def css(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8-sig")


@pytest.mark.parametrize("name", STYLESHEETS)
def test_every_url_in_the_css_is_a_shipped_file(name):
    urls = [match.group(2) for match in URL.finditer(css(name))]
    for url in urls:
        assert not url.startswith(("/", "http:", "https:", "//")), f"{name}: {url} is not relative"
        if url.startswith("data:"):
            continue
        target = (ASSETS / url.split("#")[0].split("?")[0]).resolve()
        assert target.is_relative_to(ASSETS), f"{name}: {url} points outside assets/"
        assert target.is_file(), f"{name}: {url} is not shipped"


def test_default_css_does_not_load_gds_transport():
    assert "GDS Transport" not in css("perfgen.min.css")
    assert "url(" not in css("perfgen.min.css")


def test_govuk_css_loads_every_gds_transport_file():
    urls = {match.group(2) for match in URL.finditer(css("perfgen-govuk.min.css"))}
    fonts = {f"fonts/{path.name}" for path in (ASSETS / "fonts").iterdir()}
    assert fonts == urls
    assert '"GDS Transport"' in css("perfgen-govuk.min.css")


SCRIPTS = ["perfgen-search.js"]


def test_only_perfgen_own_small_scripts_are_shipped():
    shipped = sorted(path.relative_to(ASSETS).as_posix() for path in ASSETS.rglob("*") if path.suffix in {".js", ".mjs", ".map"})
    assert shipped == SCRIPTS == list(load_build_script().HANDWRITTEN)
    for name in SCRIPTS:
        text = (ASSETS / name).read_text(encoding="utf-8")
        assert len(gzip.compress(text.encode("utf-8"), compresslevel=9)) < 3 * 1024, "a few KB, no framework"
        for risky in ("eval(", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "fetch(", "XMLHttpRequest", "new Function", "import("):
            assert risky not in text, f"{name}: {risky}"


@pytest.mark.parametrize("name", STYLESHEETS)
def test_css_size_budget(name):
    data = (ASSETS / name).read_bytes()
    assert len(gzip.compress(data, compresslevel=9)) < GZIP_BUDGET


@pytest.mark.parametrize("name", STYLESHEETS)
def test_shared_css_and_javascript_size_budget(name):
    """What a page that loads every shared file downloads: the stylesheet and the scripts."""
    total = sum(len(gzip.compress((ASSETS / file).read_bytes(), compresslevel=9)) for file in [name, *SCRIPTS])
    assert total <= GZIP_BUDGET


@pytest.mark.parametrize("name", STYLESHEETS)
def test_css_has_perfgen_classes(name):
    text = css(name)
    for selector in [
        ".app-kpi-grid",
        ".app-kpi",
        ".app-kpi__value",
        ".app-kpi__label",
        ".app-kpi__period",
        ".app-kpi__change",
        ".app-kpi__note",
        ".app-change--good",
        ".app-change--bad",
        ".app-change--neutral",
        ".app-status--missing",
        ".app-stale",
        ".app-chart",
        ".app-table-wrapper",
    ]:
        assert re.search(re.escape(selector) + r"[{,:\s]", text), selector
    assert "@media print{" in text
    assert ".app-chart svg{display:block;max-width:100%;height:auto}" in text


# Colour contrast -------------------------------------------------------------------------


def hex_colour(value: str) -> str:
    """The hex colour in a declaration value, taking a var() fallback."""
    match = re.search(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", value)
    if match:
        digits = match.group(1)
        return "#" + (digits if len(digits) == 6 else "".join(c * 2 for c in digits)).lower()
    if value.strip() in {"#fff", "white"}:
        return "#ffffff"
    raise AssertionError(f"no hex colour in {value!r}")


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted([luminance(foreground), luminance(background)], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def declared(text: str, selector: str, prop: str) -> str:
    """The last value of ``prop`` in a rule whose selector list is exactly ``selector``."""
    values = [
        declaration.split(":", 1)[1]
        for selectors, body in RULE.findall(text)
        if selectors.strip() == selector
        for declaration in body.split(";")
        if declaration.split(":", 1)[0].strip() == prop
    ]
    assert values, f"{selector} has no {prop}"
    return values[-1]


@pytest.mark.parametrize("name", STYLESHEETS)
@pytest.mark.parametrize(
    "selector",
    [
        ".app-change--good",
        ".app-change--bad",
        ".app-change--neutral",
        ".app-status--missing",
        ".app-kpi__period",
    ],
)
def test_text_colours_meet_wcag_aa_on_white_and_on_the_footer(name, selector):
    colour = hex_colour(declared(css(name), selector, "color"))
    assert contrast(colour, "#ffffff") >= WCAG_AA_TEXT
    assert contrast(colour, "#f4f8fb") >= WCAG_AA_TEXT  # GOV.UK template background


def test_good_and_bad_differ_by_more_than_colour():
    text = css("perfgen.min.css")
    assert declared(text, ".app-change--good,.app-change--bad", "font-weight") == "700"
    assert hex_colour(declared(text, ".app-change--good", "color")) != hex_colour(
        declared(text, ".app-change--bad", "color")
    )


def test_stale_tag_contrast():
    text = css("perfgen.min.css")
    foreground = hex_colour(declared(text, ".app-stale", "color"))
    background = hex_colour(declared(text, ".app-stale", "background-color"))
    assert contrast(foreground, background) >= WCAG_AA_TEXT


# Icons --------------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("name", ["perfgen-icon-180.png", "govuk-icon-180.png"])
def test_touch_icons_are_180px_pngs(name):
    assert png_size((ASSETS / "images" / name).read_bytes()) == (180, 180)


def test_perfgen_favicon_ico_holds_pngs():
    data = (ASSETS / "images" / "perfgen-favicon.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for index in range(count):
        width, height, _, _, _, _, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * index : 22 + 16 * index]
        )
        assert png_size(data[offset : offset + length]) == (width, height)
        sizes.append(width)
    assert sizes == [16, 32, 48]


def test_perfgen_icons_have_no_crown():
    svg = (ASSETS / "images" / "perfgen-favicon.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "<script" not in svg
    assert svg != (ASSETS / "images" / "favicon.svg").read_text(encoding="utf-8")


# The committed assets are what the build script makes --------------------------------------


def load_build_script():
    spec = importlib.util.spec_from_file_location(
        "build_assets", REPO / "scripts" / "build_assets.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_assets_match_a_fresh_build(tmp_path):
    build_assets = load_build_script()
    tarball = build_assets.DEFAULT_TARBALL
    if not tarball.is_file():
        # Fetch the pinned package from the npm registry, as a developer would.
        subprocess.run(["npm", "pack", "--silent", "govuk-frontend@6.3.0", "--pack-destination", str(tmp_path)],
                       check=True, capture_output=True, timeout=300)
        tarball = tmp_path / "govuk-frontend-6.3.0.tgz"
    out = tmp_path / "assets"
    build_assets.build(tarball, out)
    tmp_path = out
    fresh = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    shipped = sorted(path.relative_to(ASSETS) for path in ASSETS.rglob("*") if path.is_file() and path.name not in build_assets.HANDWRITTEN)
    assert fresh == shipped
    stale = [str(p) for p in fresh if (tmp_path / p).read_bytes() != (ASSETS / p).read_bytes()]
    assert stale == [], "run scripts/build_assets.py and commit the result"


def test_build_script_rejects_a_missing_tarball(tmp_path):
    build_assets = load_build_script()
    with pytest.raises(build_assets.AssetBuildError, match="npm pack govuk-frontend@6.3.0"):
        build_assets.build(tmp_path / "missing.tgz", tmp_path / "out")
