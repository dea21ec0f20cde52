"""A terminologist's audit of the maps: every code has the form its system gives its codes, and
every code bound by mCODE to a value set that lists its codes is listed there with our display.

The mechanical part is `tools/audit_codes.py` (run it for the full report); these tests keep the
parts of it that can fail.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from fhir_adapter.errors import MappingError
from fhir_adapter.terminology import _verhoeff, code_shape, load_map_text, load_terminology

REPO = Path(__file__).resolve().parents[1]
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"


def _audit_module():
    spec = importlib.util.spec_from_file_location("audit_codes", REPO / "tools" / "audit_codes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_codes"] = module
    spec.loader.exec_module(module)
    return module


audit_codes = _audit_module()


def _one_entry_map(system: str, code: str, display: str = "a display", kind: str | None = None) -> str:
    kind_line = f"    kind: {kind}\n" if kind else ""
    return (
        "domain: tests\nentries:\n  - terms: [a term]\n" + kind_line + "    codings:\n"
        f"      - system: {system}\n        code: '{code}'\n        display: {display}\n"
        "        verified: https://example.org/where\n"
    )


def _with_check_digit(stem: str) -> str:
    """`stem` followed by the one digit that makes it pass the Verhoeff check."""
    return next(stem + d for d in "0123456789" if _verhoeff(stem + d))


# --- The form of a code --------------------------------------------------------------------------
# SNOMED CT: the check digit alone let a description id through (the digits before the check digit
# say which kind of id it is; 00 and 10 are concepts). 41695006 is Scalp structure; the same number
# with partition 01 and its own check digit is a description id, never a concept.


def test_a_snomed_description_id_is_refused_though_its_check_digit_is_right():
    description_id = _with_check_digit("4169501")
    assert _verhoeff(description_id)
    assert code_shape(SNOMED, "41695006") is None
    assert code_shape(SNOMED, description_id) is not None
    with pytest.raises(MappingError) as info:
        load_map_text("tests.yaml", _one_entry_map(SNOMED, description_id))
    assert f"tests.yaml: entry 1 ('a term'): code '{description_id}' is no SNOMED CT code" in str(info.value)
    assert "partition" in str(info.value)


@pytest.mark.parametrize("stem", ["4169502", "1100000011"])
def test_relationship_ids_and_long_description_ids_are_refused(stem):
    assert code_shape(SNOMED, _with_check_digit(stem)) is not None


def test_long_form_concept_ids_of_an_extension_pass():
    # Partition 10: a concept of a namespace (an extension's concept id), item 1, namespace 1000000, partition 10, check digit.
    assert code_shape(SNOMED, _with_check_digit("1100000010")) is None


# LOINC: the shape check took any last digit after the dash; a mistyped check digit went through.


@pytest.mark.parametrize("good", ["85337-4", "85339-0", "48676-1", "21889-1", "97509-4", "8302-2"])
def test_loinc_codes_with_their_check_digit_pass(good):
    assert code_shape(LOINC, good) is None


@pytest.mark.parametrize("typo", ["85337-5", "85339-9", "48676-7", "8302-3"])
def test_a_loinc_code_with_a_wrong_check_digit_is_refused(typo):
    assert code_shape(LOINC, typo) is not None
    with pytest.raises(MappingError) as info:
        load_map_text("tests.yaml", _one_entry_map(LOINC, typo))
    assert "mod 10 check digit" in str(info.value)


# ICD-O-3: no shape was checked, so a morphology typed with a dash or without its behaviour loaded.


@pytest.mark.parametrize("good", ["8500/3", "8500/2", "8000/6", "8720/0", "C50.4", "C44"])
def test_icd_o_3_morphology_and_topography_codes_pass(good):
    assert code_shape(ICDO3, good) is None


@pytest.mark.parametrize("bad", ["8500-3", "85003", "8500/", "8500/4", "850/3", "M8500/3", "C50.41"])
def test_an_icd_o_3_code_of_no_icd_o_3_form_is_refused(bad):
    assert code_shape(ICDO3, bad) is not None
    with pytest.raises(MappingError):
        load_map_text("tests.yaml", _one_entry_map(ICDO3, bad))


# --- The shipped maps against the mCODE 4.0.0 package ----------------------------------------------


@pytest.fixture(scope="module")
def value_sets():
    found = audit_codes.find_mcode_package(REPO)
    if found is None:
        if os.environ.get("FHIR_ADAPTER_REQUIRE_MCODE_VALIDATOR") == "1":
            pytest.fail("the mCODE package is missing: npm install --prefix tools/mcode-validate")
        pytest.skip("the mCODE package is not installed (npm install --prefix tools/mcode-validate)")
    return audit_codes.read_value_sets(found)


def test_every_shipped_code_passes_the_audit(value_sets):
    findings = audit_codes.audit(load_terminology(), value_sets)
    faults = [f.line() for f in findings if f.level == "fault"]
    assert faults == []


def test_the_audit_reads_every_value_set_it_names(value_sets):
    named = {vs for ids in audit_codes.BINDINGS.values() for vs in ids[0]}
    assert named <= set(value_sets)


def test_every_documented_exception_is_still_needed(value_sets):
    """An exception leaves the list once the code it excuses is gone or fits its value set."""
    findings = audit_codes.audit(load_terminology(), value_sets)
    used = {(f.domain, f.code) for f in findings if f.level == "exception"}
    assert set(audit_codes.OUTSIDE_ON_PURPOSE) == used


def _faults(value_sets, domain: str, text: str) -> list[str]:
    _, index = load_map_text(f"{domain}.yaml", text)
    fake = audit_codes.MapsView({domain: index})
    return [f.message for f in audit_codes.audit(fake, value_sets) if f.level == "fault"]


def _map(domain: str, system: str, code: str, display: str, kind: str | None = None) -> str:
    return _one_entry_map(system, code, display, kind).replace("domain: tests", f"domain: {domain}")


def test_the_audit_catches_a_code_outside_an_enumerated_value_set(value_sets):
    # 24028007 Right (qualifier value) is in LateralityQualifierVS; 1234007 is in no value set.
    assert (
        _faults(value_sets, "laterality", _map("laterality", SNOMED, "24028007", "Right (qualifier value)"))
        == []
    )
    faults = _faults(
        value_sets, "laterality", _map("laterality", SNOMED, "1234007", "Right (qualifier value)")
    )
    assert any("not in mcode-laterality-qualifier-vs" in f for f in faults)


def test_the_audit_catches_a_display_other_than_the_value_set_s(value_sets):
    faults = _faults(
        value_sets, "laterality", _map("laterality", SNOMED, "24028007", "Left (qualifier value)")
    )
    assert any("display 'Left (qualifier value)'" in f and "'Right (qualifier value)'" in f for f in faults)


def test_the_audit_catches_an_icd_10_cm_code_outside_the_secondary_cancer_value_set(value_sets):
    # C50.911 is a primary breast cancer code, not one of SecondaryCancerDisorderVS's.
    text = _map("secondary_cancers", "http://hl7.org/fhir/sid/icd-10-cm", "C50.911", "x")
    assert any(
        "not in mcode-secondary-cancer-disorder-vs" in f
        for f in _faults(value_sets, "secondary_cancers", text)
    )


def test_the_audit_catches_a_code_its_value_set_excludes(value_sets):
    # PrimaryMalignantNeoplasmDisorderVS excludes is-a 128462008 Secondary malignant neoplastic disease.
    text = _map("primary_cancers", SNOMED, "128462008", "Secondary malignant neoplastic disease (disorder)")
    assert any(
        "excluded from mcode-primary-cancer-disorder-vs" in f
        for f in _faults(value_sets, "primary_cancers", text)
    )


def test_the_audit_catches_a_snomed_code_of_the_wrong_hierarchy(value_sets):
    # Body sites must be body structures (CancerBodyLocationVS: is-a 123037004 Body structure).
    text = _map("body_sites", SNOMED, "41695006", "Scalp structure (disorder)", kind="skin")
    assert any("semantic tag 'disorder'" in f for f in _faults(value_sets, "body_sites", text))


def test_the_audit_catches_a_histology_behaviour_other_than_its_kind(value_sets):
    text = _map("histology", ICDO3, "8500/2", "Intraductal carcinoma, noninfiltrating, NOS", kind="malignant")
    assert any("behaviour /2" in f for f in _faults(value_sets, "histology", text))


def test_the_audit_catches_a_system_url_spelt_otherwise(value_sets):
    text = _map("body_sites", "https://snomed.info/sct", "41695006", "Scalp structure (body structure)")
    assert any("system 'https://snomed.info/sct'" in f for f in _faults(value_sets, "body_sites", text))


def test_the_audit_catches_a_loinc_answer_where_a_test_code_goes_and_the_reverse(value_sets):
    # LA6576-8 Positive is an answer: no Observation.code. 85337-4 (ER presence) is a test: no value.
    test_as_answer = _map("observations", LOINC, "LA6576-8", "Positive", kind="test")
    assert any(
        "LOINC test code is expected" in f for f in _faults(value_sets, "observations", test_as_answer)
    )
    answer_as_test = _map("observations", LOINC, "85337-4", "Positive", kind="result")
    assert any("LOINC answer (LA) code" in f for f in _faults(value_sets, "observations", answer_as_test))


# The framework tables (mef.py) check their codes with the same code_shape: a description id in
# a condition row is refused naming the cell.


def test_a_framework_table_s_description_id_is_refused_naming_the_cell(tmp_path):
    from support.convert_run import run
    from test_redteam_input2 import _mef

    description_id = _with_check_digit("25470501")  # 254705009's digits, partition 01
    patients = _mef(
        tmp_path,
        condition=f"mef-2,mef-2-x,http://snomed.info/sct,{description_id},,problem-list-item,2021-01-01,,,,,\n",
    )
    code, errors, _ = run("-q", str(patients), "-o", f"{tmp_path / 'out'}/")
    root = patients.parent
    assert code == 3
    assert errors == [
        f"Error: {root / 'condition.csv'}, row 5, column 'code' (D): '{description_id}' is no SNOMED CT code"
        " (SNOMED CT codes are 6 to 18 digits, the last a check digit, the two before it the partition of a"
        " concept id (00 or 10; a description id has 01 or 11, a relationship id 02 or 12)); check the code"
        " and its code system column"
    ]


# The mapper that warns of a marker both present and absent knew the result codes from a table of
# codes written in the mapper; it now reads them from the maps' 'positive', 'weakly positive' and
# 'negative' entries, so a user map that codes 'positive' otherwise is followed.


def test_a_contradiction_between_results_follows_the_codes_the_maps_give_them(tmp_path):
    from support.convert_run import run, write

    overlay = tmp_path / "maps"
    overlay.mkdir()
    (overlay / "observations.yaml").write_text(
        "domain: observations\nentries:\n  - terms: [positive, pos, detected]\n    text: Positive\n"
        "    kind: result\n    codings:\n      - system: http://snomed.info/sct\n        code: '52101004'\n"
        "        display: Present (qualifier value)\n        verified: https://example.org/local-map\n"
    )
    case = write(
        tmp_path,
        "markers.yaml",
        "case: {id: markers}\npatient: {sex: female}\nprimary_cancers:\n  - id: breast\n    site: breast\n"
        "    markers:\n      - {name: PR, result: positive}\n      - {name: PR, result: negative}\n",
    )
    code, errors, warnings = run("--mappings", str(overlay), str(case), "-o", str(tmp_path / "out.json"))
    assert (code, errors) == (0, [])
    assert any("PR is 'positive' and 'negative' on one cancer" in w for w in warnings), warnings
