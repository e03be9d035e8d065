"""Built-in page sections, registered through the ``render_page_sections`` hook like a plugin's.

"Other measures": a tile for each KPI that an installed plugin defines, on the home,
department and service pages (the built-in KPIs have their own places on those pages).
"""

from __future__ import annotations

from typing import Any

from perfgen.plugins import PageSection, hookimpl

BUILT_IN_KPIS = "perfgen.kpis"


@hookimpl
def render_page_sections(kind: str, page: Any, model: Any) -> list[PageSection] | None:
    extra = [d.id for d in model.results.definitions if d.source != BUILT_IN_KPIS]
    if not extra or kind not in ("home", "department", "service"):
        return None
    if kind == "service":
        service, department = page.context["service"], page.context["department"].slug
        tiles = [model.tile(service, department, kpi) for kpi in extra]
    else:
        department = page.context["department"].slug if kind == "department" else ""
        tiles = [model.tile(None, department, kpi) for kpi in extra]
    return [PageSection("other-measures", "sections/more_measures.html", {"tiles": tiles}, order=100)]
