"""mkdocs hook: pages and files generated from perfgen's code at build time.

- reference/config.md from the pydantic models in src/perfgen/config.py;
- reference/kpis.md from src/perfgen/kpis/kpis.yml and the SQL beside it;
- perfgen-data-template.xlsx, the spreadsheet service managers fill in.

A config key or KPI without a description makes the build fail (perfgen.reference raises).
"""

from __future__ import annotations

from mkdocs.structure.files import File, Files

from perfgen.reference import config_markdown, kpis_markdown
from perfgen.xlsx import template_bytes

GENERATED = {
    "reference/config.md": config_markdown,
    "reference/kpis.md": kpis_markdown,
    "perfgen-data-template.xlsx": template_bytes,
}


def on_files(files: Files, config) -> Files:
    for path, make in GENERATED.items():
        existing = files.get_file_from_path(path)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, path, content=make()))
    return files
