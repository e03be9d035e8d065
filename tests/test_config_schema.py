"""The committed JSON Schema of services.yml is generated from the typed config declaration."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from perfgen.config import json_schema

REPO = Path(__file__).resolve().parents[1]


def test_committed_schema_is_current():
    committed = (REPO / "schema/services.schema.json").read_text(encoding="utf-8")
    assert committed == json_schema(), "run: make schema"


class _EditorLoader(yaml.SafeLoader):
    """YAML as an editor validating against the JSON Schema reads it: 2023-04-03 is text (YAML
    1.2), not the date object PyYAML makes of it."""


_EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def test_schema_accepts_the_bundled_configs():
    jsonschema = __import__("jsonschema")
    schema = json.loads(json_schema())
    for path in (REPO / "config/services.yml", REPO / "tests/fixtures/example/config/services.yml"):
        jsonschema.validate(yaml.load(path.read_text(encoding="utf-8"), Loader=_EditorLoader), schema)


def test_schema_accepts_targets_as_written():
    jsonschema = __import__("jsonschema")
    targets = json.loads(json_schema())["$defs"]["Service"]["properties"]["targets"]
    for value in (0.85, 4.5, "85%", "87.5 %", "£4.50", "£1,200", "4.50"):
        jsonschema.validate({"digital_take_up": value}, targets)
    for value in ("lots", "£", ",", "85%%"):
        try:
            jsonschema.validate({"digital_take_up": value}, targets)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"{value!r} should not be a valid target")


def test_every_key_has_a_description():
    schema = json.loads(json_schema())
    for name, definition in schema["$defs"].items():
        for key, spec in definition["properties"].items():
            assert spec.get("description"), f"{name}.{key} has no description"
