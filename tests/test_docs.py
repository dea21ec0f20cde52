"""The documentation stays honest: the field reference is current and complete, the README and --help agree."""

from __future__ import annotations

from pathlib import Path

from fhir_adapter.fieldref import field_reference, undescribed_fields
from fhir_adapter.schema import case_json_schema

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "case-format.md"


def test_field_reference_is_current():
    assert REFERENCE.read_text(encoding="utf-8") == field_reference(), (
        "docs/case-format.md is stale: run `fhir-adapter schema --format markdown > docs/case-format.md`"
    )


def test_every_field_of_the_schema_has_a_description():
    assert undescribed_fields() == [], "add description= to these fields in fhir_adapter/case.py"


def test_undescribed_fields_finds_a_field_without_description():
    schema = case_json_schema()
    schema["$defs"]["Receptors"]["properties"]["er"].pop("description")
    assert undescribed_fields(schema) == ["Receptors.er"]


def test_field_reference_lists_every_field_of_every_object():
    schema = case_json_schema()
    text = field_reference(schema)
    for model in [schema, *schema["$defs"].values()]:
        for field in model["properties"]:
            assert f"| `{field}` |" in text, field
    # Generic: a field added to the schema appears without touching the generator.
    schema["$defs"]["Receptors"]["properties"]["ki67"] = {"type": "string", "description": "Ki-67 index."}
    assert "| `ki67` | text |  |  | Ki-67 index. |" in field_reference(schema)
