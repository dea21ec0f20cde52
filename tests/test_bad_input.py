"""Bad case files: each gives a message naming file, line, field and what was expected; nothing is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter.casefile import load_case
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE, InvalidCaseError

GOOD = """\
case:
  id: good-1
patient:
  sex: female
primary_cancers:
  - id: breast
    site: breast
    date: 2015-06
"""


def problems(tmp_path: Path, text: str | bytes, name: str = "case.yaml") -> list[str]:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(InvalidCaseError) as info:
        load_case(path, display_name=name)
    return info.value.problems


def test_good_case_loads(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(GOOD)
    case = load_case(path)
    assert case.case.id == "good-1"
    assert case.primary_cancers[0].date == "2015-06"  # a partial date stays partial


def test_malformed_yaml_names_the_line(tmp_path):
    text = GOOD.replace("    site: breast\n", "    site: [breast\n")
    (message,) = problems(tmp_path, text)
    assert message.startswith("case.yaml:8: invalid YAML:")


def test_wrong_type(tmp_path):
    text = GOOD.replace("    date: 2015-06\n", "    date: 2015-06\n    age: forty\n")
    assert problems(tmp_path, text) == [
        'case.yaml:9: primary_cancers[0].age: Input should be a valid number, unable to parse string as a number (got "forty")'
    ]


def test_unknown_field_suggests_the_close_one(tmp_path):
    text = GOOD.replace("    site: breast\n", "    site: breast\n    histolgy: invasive ductal carcinoma\n")
    assert problems(tmp_path, text) == [
        "case.yaml:8: primary_cancers[0].histolgy: unknown field; did you mean 'histology'?"
    ]


def test_unknown_field_with_nothing_close_lists_the_allowed(tmp_path):
    text = GOOD.replace("  sex: female\n", "  sex: female\n  shoe_size: 38\n")
    (message,) = problems(tmp_path, text)
    assert message.startswith(
        "case.yaml:5: patient.shoe_size: unknown field; allowed here: sex, age_at_diagnosis"
    )


def test_missing_case_id(tmp_path):
    text = GOOD.replace("  id: good-1\n", "  summary: no id here\n")
    assert problems(tmp_path, text) == ["case.yaml:1: case.id: required field is missing"]


def test_metastasis_dated_before_its_primary(tmp_path):
    text = GOOD + "metastases:\n  - site: bone\n    date: 2014\n"
    assert problems(tmp_path, text) == [
        "case.yaml:11: metastases[0].date: 2014 is before the diagnosis of its primary (2015-06); check both dates"
    ]


def test_same_year_is_not_called_earlier(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(GOOD + "metastases:\n  - site: bone\n    date: 2015\n")
    assert load_case(path).metastases[0].date == "2015"


def test_metastasis_younger_than_diagnosis(tmp_path):
    text = GOOD.replace("    date: 2015-06\n", "    age: 50\n") + "metastases:\n  - site: bone\n    age: 45\n"
    (message,) = problems(tmp_path, text)
    assert message == (
        "case.yaml:11: metastases[0].age: 45 is younger than the age at diagnosis of its primary (50); check both ages"
    )


def test_age_over_130(tmp_path):
    text = GOOD.replace("  sex: female\n", "  sex: female\n  age_at_diagnosis: 140\n")
    assert problems(tmp_path, text) == [
        "case.yaml:5: patient.age_at_diagnosis: 140 is out of range: input should be less than or equal to 130 (ages are in years)"
    ]


def test_impossible_calendar_day(tmp_path):
    text = GOOD.replace("date: 2015-06", "date: 2015-02-30")
    assert problems(tmp_path, text) == [
        "case.yaml:8: primary_cancers[0].date: '2015-02-30' is not a day of the calendar"
    ]


def test_badly_formed_date(tmp_path):
    text = GOOD.replace("date: 2015-06", "date: June 2015")
    (message,) = problems(tmp_path, text)
    assert message.startswith(
        "case.yaml:8: primary_cancers[0].date: 'June 2015' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD"
    )


def test_reference_to_unknown_cancer(tmp_path):
    text = GOOD + "procedures:\n  - name: mastectomy\n    treats: [brest]\n"
    assert problems(tmp_path, text) == [
        "case.yaml:11: procedures[0].treats: no cancer has id 'brest' (ids: breast)"
    ]


def test_empty_file(tmp_path):
    assert problems(tmp_path, "") == [
        "case.yaml: the file is empty; a case file needs at least case, patient and primary_cancers"
    ]


def test_comment_only_file(tmp_path):
    (message,) = problems(tmp_path, "# nothing yet\n")
    assert (
        message
        == "case.yaml: the file holds no data; a case file needs at least case, patient and primary_cancers"
    )


def test_binary_file(tmp_path):
    assert problems(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == [
        "case.yaml: this is a binary file, not a YAML or JSON case file"
    ]


def test_not_utf8(tmp_path):
    (message,) = problems(tmp_path, GOOD.replace("breast\n", "br\xe9ast\n").encode("latin-1"))
    assert message == "case.yaml:6: the file is not UTF-8 text (byte 0xe9); save it as UTF-8"


def test_top_level_list(tmp_path):
    (message,) = problems(tmp_path, "- a\n- b\n")
    assert message.startswith("case.yaml:1: the top level is a list;")


def test_malformed_json_names_the_line(tmp_path):
    (message,) = problems(tmp_path, '{"case": {"id": "j"},\n "patient": ', name="case.json")
    assert message == "case.json:2: invalid JSON: Expecting value (column 13)"


def test_json_errors_have_lines_too(tmp_path):
    text = '{"case": {"id": "j"},\n "patient": {"sex": "f"},\n "primary_cancers": [{"site": "breast"}]}'
    assert problems(tmp_path, text, name="case.json") == [
        "case.json:2: patient.sex: 'f' is not allowed; expected 'female', 'male', 'other' or 'unknown'"
    ]


def test_bad_case_writes_nothing_and_others_still_convert(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("good-1", "bad-1").replace("sex: female", "sex: f"))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", "-q", str(bad), str(good), "-o", str(out)])
    assert result.exit_code == EXIT_INVALID_CASE
    assert sorted(p.name for p in out.iterdir()) == ["good-1.json"]
    assert f"Error: {bad}:4: patient.sex: 'f' is not allowed" in result.stderr
    assert re.search(
        r"^1 of 2 case\(s\) converted in [0-9.]+s \([0-9]+/s\); 1 failed, 0 warning\(s\)\.$",
        result.stderr,
        re.M,
    )


def test_same_case_id_twice_in_one_run(tmp_path):
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text(GOOD)
    second.write_text(GOOD)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", "-q", str(first), str(second), "-o", str(out)])
    assert result.exit_code == EXIT_INVALID_CASE
    assert (
        f"Error: {second}: case id 'good-1' is already used by {first} in this run; give each case its own case.id"
        in result.stderr
    )
    assert [p.name for p in out.iterdir()] == ["good-1.json"]
