"""The fast case-file readers (orjson, libyaml) give the same data and the same messages as the slow ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fhir_adapter import casefile
from fhir_adapter.casefile import parse_case, read_case_text
from fhir_adapter.errors import InvalidCaseError

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_yaml_data_is_what_the_python_loader_reads(path):
    text = path.read_text()
    expected = casefile._CaseLoader(text).get_single_data()
    assert read_case_text(path.name, path.read_bytes()).data == expected


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_json_data_is_what_json_reads(path):
    data = yaml.load(path.read_text(), Loader=casefile._CaseLoader)  # noqa: S506
    text = json.dumps(data, indent=2)
    assert read_case_text("case.json", text.encode()).data == json.loads(text)


def test_partial_dates_stay_strings_with_the_fast_loader():
    text = (
        b"case:\n  id: x\npatient:\n  sex: female\nprimary_cancers:\n  - site: breast\n    date: 2019-03-14\n"
    )
    assert read_case_text("c.yaml", text).data["primary_cancers"][0]["date"] == "2019-03-14"


def test_json_that_only_the_json_module_reads_is_held_to_the_limits():
    # NaN is not JSON; json.loads reads it (orjson does not), and the limits then refuse it with its line.
    raw = b'{"case": {"id": "n"},\n"patient": {"sex": "female", "age_at_diagnosis": NaN}, "primary_cancers": [{"site": "breast"}]}'
    with pytest.raises(InvalidCaseError) as info:
        read_case_text("n.json", raw)
    assert str(info.value) == (
        "n.json:2: patient.age_at_diagnosis: nan is not a number a case file can hold; write a finite number"
    )


def test_lines_are_worked_out_only_for_a_failing_case():
    raw = b'{\n  "case": {"id": "ok"},\n  "patient": {"sex": "f"},\n  "primary_cancers": [{"site": "breast"}]\n}\n'
    case_file = read_case_text("c.json", raw)
    assert case_file._lines is None
    with pytest.raises(InvalidCaseError) as info:
        parse_case(case_file)
    assert info.value.problems[0].startswith("c.json:3: patient.sex:")


def test_yaml_errors_keep_the_python_parser_wording():
    with pytest.raises(InvalidCaseError) as info:
        read_case_text("c.yaml", b"case:\n  id: [x\n")
    assert "invalid YAML: " in str(info.value)
    assert "check indentation and quoting" in str(info.value)
