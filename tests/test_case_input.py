"""What case files may say: enumerations in any case, a numeric case id."""

from __future__ import annotations

import json

from click.testing import CliRunner

from fhir_adapter.case import Case
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE

CASE = """case: {id: %s}
patient: {sex: %s}
primary_cancers:
  - {site: breast, laterality: %s, clinical_status: %s}
procedures:
  - {name: mastectomy, status: %s}
"""


def convert(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path, CliRunner().invoke(main, ["convert", "-q", str(path)])


def test_enumerations_are_accepted_in_any_case(tmp_path):
    _, upper = convert(tmp_path, CASE % ("c1", "Female", "Right", "Recurrence", "COMPLETED"))
    assert upper.exit_code == 0, upper.stderr
    _, lower = convert(tmp_path, CASE % ("c1", "female", "right", "recurrence", "completed"))
    assert json.loads(upper.stdout) == json.loads(lower.stdout)


def test_a_value_that_is_no_member_in_any_case_is_still_refused_as_written(tmp_path):
    path, result = convert(tmp_path, CASE % ("c1", "Femme", "Right", "active", "completed"))
    assert result.exit_code == EXIT_INVALID_CASE
    assert result.stderr.splitlines()[0] == (
        f"Error: {path}:2: patient.sex: 'Femme' is not allowed;"
        " expected 'female', 'male', 'other' or 'unknown'"
    )


def test_a_numeric_case_id_is_read_as_text(tmp_path):
    _, result = convert(tmp_path, CASE % ("12345", "female", "left", "active", "completed"))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["identifier"]["value"] == "12345"
    assert (
        Case.model_validate(
            {"case": {"id": 7}, "patient": {"sex": "male"}, "primary_cancers": [{"site": "breast"}]}
        ).case.id
        == "7"
    )


def test_a_boolean_case_id_is_not_a_number(tmp_path):
    path, result = convert(tmp_path, CASE % ("true", "female", "left", "active", "completed"))
    assert result.exit_code == EXIT_INVALID_CASE
    assert result.stderr.startswith(f"Error: {path}:1: case.id: Input should be a valid string")
