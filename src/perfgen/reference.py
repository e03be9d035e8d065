"""Reference pages for the documentation, generated so they cannot drift from the code.

- :func:`config_markdown`: every key of ``services.yml``, from the JSON Schema that the pydantic
  models in ``config.py`` generate (type, default, description);
- :func:`kpis_markdown`: every built-in KPI, from ``kpis/kpis.yml`` and its SQL.

The documentation site (``mkdocs.yml``) calls these at build time; both raise
:class:`UndocumentedError` when a key or a KPI has no description, so ``mkdocs build --strict``
and the tests fail instead of publishing a gap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from perfgen.config import Config


class UndocumentedError(ValueError):
    """Keys or KPIs without a description."""


@dataclass(frozen=True)
class ConfigKey:
    path: str  # "services[].department"
    anchor: str  # "services.department"
    type_words: str
    default: str | None  # as YAML would show it; None when there is no default
    required: bool
    description: str


@dataclass(frozen=True)
class ConfigSection:
    path: str  # "" for the top level, "site", "services[]"
    description: str
    keys: list[ConfigKey]


def _resolve(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return definitions[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _model_of(node: dict[str, Any], definitions: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The model a key holds (object or list of objects), and whether it is a list."""
    if "$ref" in node:
        return _resolve(node, definitions), False
    if node.get("type") == "array" and "$ref" in node.get("items", {}):
        return _resolve(node["items"], definitions), True
    return None, False


def _type_words(node: dict[str, Any]) -> str:
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        words = " or ".join(_type_words(o) for o in options)
        return f"{words}, or nothing" if len(options) < len(node["anyOf"]) else words
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type")
    if kind == "array":
        return "list; each item: " + _type_words(node.get("items", {}))
    if kind == "string":
        pattern = node.get("pattern", "")
        if pattern.startswith("^[a-z0-9]+(?:-"):
            return "slug (lower-case letters, digits and hyphens)"
        if pattern.startswith("^[a-z0-9]+(?:_"):
            return "channel name (lower-case letters, digits and underscores)"
        return "text"
    minimum = f", at least {node['minimum']}" if "minimum" in node else ""
    return {"integer": f"whole number{minimum}", "number": f"number{minimum}", "boolean": "`true` or `false`", "object": "keys with values"}.get(kind or "", "value")


def _default(node: dict[str, Any]) -> str | None:
    if "default" not in node:
        return None
    value = node["default"]
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else str(value).lower()


def _factory_defaults(model: dict[str, Any]) -> dict[str, str]:
    """Defaults made by a ``default_factory`` (a fresh list), which the JSON Schema leaves out."""
    from pydantic import BaseModel

    from perfgen import config

    cls = getattr(config, model.get("title", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        return {}
    found = {}
    for name, field in cls.model_fields.items():
        if field.default_factory is not None:
            value = field.default_factory()  # type: ignore[call-arg]
            if not isinstance(value, BaseModel):
                found[name] = json.dumps(value, ensure_ascii=False)
    return found


def config_sections(schema: dict[str, Any] | None = None) -> list[ConfigSection]:
    """Every section and key of services.yml, walking the JSON Schema (nested models included)."""
    schema = schema or Config.model_json_schema()  # keys in the order they are declared
    definitions = schema.get("$defs", {})
    sections: list[ConfigSection] = []

    def walk(model: dict[str, Any], path: str, description: str) -> None:
        keys, nested = [], []
        required = set(model.get("required", []))
        factory = _factory_defaults(model)
        for name, node in model.get("properties", {}).items():
            key_path = f"{path}.{name}" if path else name
            child, is_list = _model_of(node, definitions)
            words = _type_words(node)
            if child is not None:
                words = f"list of {child.get('title', 'items').lower()} entries" if is_list else "keys with values"
                nested.append((child, key_path + ("[]" if is_list else ""), node.get("description", "")))
            default = _default(node) if "default" in node else factory.get(name)
            keys.append(ConfigKey(key_path, key_path.replace("[]", ""), words, default, name in required, node.get("description", "").strip()))
        sections.append(ConfigSection(path, description, keys))
        for child, child_path, child_description in nested:
            walk(child, child_path, (child.get("description") or child_description).strip())

    walk(schema, "", schema.get("description", "").strip())
    return sections


def undocumented_config_keys(schema: dict[str, Any] | None = None) -> list[str]:
    return [key.path for section in config_sections(schema) for key in section.keys if not key.description]


def config_markdown(schema: dict[str, Any] | None = None) -> str:
    missing = undocumented_config_keys(schema)
    if missing:
        raise UndocumentedError("config keys without a description (add description= to their Field in src/perfgen/config.py): " + ", ".join(missing))
    lines = [
        "# Config reference",
        "",
        "Every key of `config/services.yml`. This page is generated from the pydantic models in",
        "`src/perfgen/config.py`, the same declaration that checks the file and produces",
        "`schema/services.schema.json` (`perfgen schema`), so it is always complete.",
        "",
        "Unknown keys are errors, and every problem names the file, the line and the key path, for",
        "example `config/services.yml:42: services[3].department: unknown department 'hmrcc' (did you mean 'hmrc'?)`.",
        "",
    ]
    for section in config_sections(schema):
        title = f"`{section.path}`" if section.path else "Top level"
        anchor = "section-" + (section.path.replace("[]", "") or "top-level")
        lines += [f"## {title} {{#{anchor}}}", ""]
        if section.description:
            lines += [section.description.replace("``", "`"), ""]
        if section.path.endswith("[]"):
            lines += [f"Each entry of the list `{section.path[:-2]}` has these keys.", ""]
        for key in section.keys:
            facts = [key.type_words[:1].upper() + key.type_words[1:]]
            if key.required:
                facts.append("required")
            elif key.default is not None:
                facts.append(f"default `{key.default}`")
            else:
                facts.append("optional")
            lines += [f"### `{key.path}` {{#{key.anchor}}}", "", f"*{'; '.join(facts)}.*", "", key.description, ""]
    return "\n".join(lines).rstrip() + "\n"


UNIT_WORDS = {"money": "Pounds sterling (GBP)", "percent": "Percentage (published as a fraction from 0 to 1 in the data files)", "count": "Number of transactions"}
BETTER_WORDS = {"higher": "Higher", "lower": "Lower", "neutral": "Neither: it measures demand"}
AGGREGATE_WORDS = {"ratio": "Sum of the numerators divided by the sum of the denominators, over services reporting both for the same period",
                   "sum": "Sum over the services reporting it for the same period"}


def builtin_kpis() -> list[Any]:
    from perfgen.kpis import definitions_from

    return definitions_from(resources.files("perfgen.kpis"))


def kpis_markdown(definitions: list[Any] | None = None) -> str:
    definitions = builtin_kpis() if definitions is None else definitions
    missing = [d.id for d in definitions if not (d.definition.strip() and d.label.strip() and d.numerator.strip())]
    if missing:
        raise UndocumentedError("KPIs without a label, numerator or definition in kpis.yml: " + ", ".join(missing))
    lines = [
        "# KPI definitions",
        "",
        "How every figure perfgen publishes is worked out. This page is generated from",
        "`src/perfgen/kpis/kpis.yml` and the SQL file of each KPI beside it, the same files the",
        "build runs. Plugins can add KPIs of their own (see [Writing a plugin](../plugins.md)).",
        "",
        "Every rate is a ratio of two sums. A department's or government's figure adds up the",
        "numerators and the denominators of the services that reported both for the same period;",
        "rates are never averaged. Each published value keeps its numerator, its denominator and,",
        "for totals, how many services contributed out of how many expected.",
        "",
        "| KPI | id | unit | better when | mandatory |",
        "|---|---|---|---|---|",
    ]
    for d in definitions:
        lines.append(f"| [{d.label}](#{d.id}) | `{d.id}` | {d.unit} | {d.better} | {'yes' if d.mandatory else 'no'} |")
    lines.append("")
    for d in definitions:
        lines += [
            f"## {d.label} {{#{d.id}}}",
            "",
            d.definition.strip(),
            "",
            "| | |",
            "|---|---|",
            f"| Id | `{d.id}` |",
            f"| Numerator | {d.numerator} |",
            f"| Denominator | {d.denominator or 'none: the figure is a sum'} |",
            f"| Unit | {UNIT_WORDS[d.unit]} |",
            f"| Better when | {BETTER_WORDS[d.better]} |",
            f"| Department and government totals | {AGGREGATE_WORDS[d.aggregate]} |",
            f"| One of the four mandatory KPIs | {'Yes' if d.mandatory else 'No'} |",
            "",
            f"The SQL (`src/perfgen/kpis/{d.id}.sql`), run on the `facts` table built by `_facts.sql`:",
            "",
            "```sql",
            d.sql.strip(),
            "```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
