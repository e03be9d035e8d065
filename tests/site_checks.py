"""Helpers shared by the tests that inspect a built site."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from pathlib import Path

from perfgen.pipeline import Project, build


def build_site(project_root: Path, output: Path, workers: int = 1) -> Path:
    build(Project(config=project_root / "config/services.yml", data=project_root / "data",
                  output=output, templates=project_root / "templates", root=project_root), workers=workers)
    return output


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class PageFacts(HTMLParser):
    """What the page-level tests look at: headings, title, links, ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1: list[str] = []
        self.title = ""
        self.lang = None
        self.links: list[str] = []
        self.ids: list[str] = []
        self.inline_scripts = 0
        self.style_attributes = 0
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        if tag in ("h1", "title"):
            self._in.append(tag)
            if tag == "h1":
                self.h1.append("")
        if tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])
        if tag == "link" and "href" in attributes:
            self.links.append(attributes["href"])
        if tag in ("img", "script") and "src" in attributes:
            self.links.append(attributes["src"])
        if tag == "script" and "src" not in attributes:
            self.inline_scripts += 1
        if "style" in attributes:
            self.style_attributes += 1
        if "id" in attributes:
            self.ids.append(attributes["id"])

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if "h1" in self._in:
            self.h1[-1] += data
        elif "title" in self._in:
            self.title += data


def page_facts(path: Path) -> PageFacts:
    facts = PageFacts()
    facts.feed(path.read_text(encoding="utf-8"))
    facts.h1 = [" ".join(h.split()) for h in facts.h1]
    facts.title = " ".join(facts.title.split())
    return facts
