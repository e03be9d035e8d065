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


def test_schema_accepts_the_bundled_configs():
    jsonschema = __import__("jsonschema")
    schema = json.loads(json_schema())
    for path in (REPO / "config/services.yml", REPO / "tests/fixtures/example/config/services.yml"):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


def test_every_key_has_a_description():
    schema = json.loads(json_schema())
    for name, definition in schema["$defs"].items():
        for key, spec in definition["properties"].items():
            assert spec.get("description"), f"{name}.{key} has no description"
