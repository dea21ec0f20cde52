"""The checked-in JSON Schema of case files is current, and the examples conform to it."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from fhir_adapter.casefile import _CaseLoader
from fhir_adapter.schema import SCHEMA_PATH, case_json_schema, schema_bytes

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_schema_file_is_current():
    assert SCHEMA_PATH.read_bytes() == schema_bytes(), (
        "fhir_adapter/case.schema.json is stale: run `fhir-adapter schema > fhir_adapter/case.schema.json`"
    )


def test_examples_conform_to_the_schema():
    validator = jsonschema.Draft202012Validator(case_json_schema())
    for path in sorted(EXAMPLES.glob("*.yaml")):
        data = yaml.load(path.read_text(), Loader=_CaseLoader)
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], path.name


def test_schema_rejects_an_unknown_field():
    validator = jsonschema.Draft202012Validator(case_json_schema())
    data = {
        "case": {"id": "x"},
        "patient": {"sex": "female", "shoe": 1},
        "primary_cancers": [{"site": "breast"}],
    }
    assert any("shoe" in e.message for e in validator.iter_errors(data))
