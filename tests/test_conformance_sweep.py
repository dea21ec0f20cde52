"""A bounded sample of the conformance sweep (benchmarks/sweep_conformance.py) through HAPI's validator.

Gold case files, examples and synthetic cases are converted and checked against mCODE 4.0.0 in one
JVM: no error may appear. The full sweep is the benchmark script; this sample keeps the suite fast.
Skipped only where Java or the validator is not installed, and never in CI
(FHIR_ADAPTER_REQUIRE_HAPI_VALIDATOR=1). Faults the sweep found are pinned here too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from fhir_adapter import profiles
from fhir_adapter.bundle import build_bundle
from fhir_adapter.case import Case
from fhir_adapter.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import sweep_conformance  # noqa: E402


@pytest.fixture(scope="module")
def hapi():
    """One HAPI validator JVM for this module."""
    try:
        install = profiles.find_hapi()
    except ConfigError as exc:
        if os.environ.get("FHIR_ADAPTER_REQUIRE_HAPI_VALIDATOR") == "1":
            pytest.fail(f"the HAPI validator is required here but unavailable: {exc}")
        pytest.skip(f"the HAPI validator is not installed: {exc}")
    with profiles.HapiValidator(install) as validator:
        yield validator


def _errors(validator, tmp_path: Path, bundles: dict[str, dict]) -> list[str]:
    paths = []
    for name, bundle in bundles.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bundle))
        paths.append(str(path))
    return [
        f"{Path(c.file).stem} {f.resource}: {f.path}: {f.message}"
        for c in validator.check(paths)
        for f in c.findings
        if f.is_error
    ]


def test_a_sample_of_the_sweep_has_no_error(hapi, tmp_path):
    sweep = sweep_conformance.Sweep()
    sources = list(sweep_conformance.case_sources(synthetic=8, seed=7, every=24))
    bundles = sweep_conformance.convert_all(tmp_path, sources, sweep)
    assert set(sweep.cases) == {"gold", "examples", "synthetic"} and not sweep.failed
    sweep_conformance.validate_all(bundles, sweep, hapi, keep=3)
    errors = {k: sweep.examples[k] for k in sweep.findings if k[0] in ("error", "fatal")}
    assert sweep.resources > 100
    assert errors == {}


def _marker_case(marker: dict) -> Case:
    return Case.model_validate(
        {
            "case": {"id": "score-only"},
            "patient": {"sex": "female"},
            "primary_cancers": [{"id": "b", "site": "breast", "markers": [marker]}],
        }
    )


def _markers(bundle: dict) -> list[dict]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if "mcode-tumor-marker-test" in json.dumps(e["resource"].get("meta", {}))
    ]


def test_a_score_without_a_result_is_a_quantity_under_a_text_code(terminology):
    # TumorMarkerTest allows Quantity, CodeableConcept, string or Ratio: an integer value broke it
    # (gold sajc-2017-pancreas), and the ER presence test's LOINC code named a test of another scale.
    bundle = build_bundle(_marker_case({"name": "ER", "allred": 8}), terminology).bundle
    (marker,) = _markers(bundle)
    assert "valueInteger" not in marker
    assert marker["valueQuantity"] == {
        "value": 8,
        "unit": "Allred score",
        "system": "http://unitsofmeasure.org",
        "code": "1",
    }
    assert marker["code"] == {"text": "ER (Allred score)"}


def test_score_only_markers_conform_to_tumor_marker_test(hapi, terminology, tmp_path):
    bundles = {
        name: build_bundle(_marker_case(marker), terminology).bundle
        for name, marker in {
            "allred": {"name": "ER", "allred": 8},
            "h-score": {"name": "PR", "h_score": 210},
            "both": {"name": "ER", "allred": 7, "h_score": 200},
        }.items()
    }
    assert _errors(hapi, tmp_path, bundles) == []


RT_CASE = {
    "case": {"id": "rt-sites"},
    "patient": {"sex": "female"},
    "primary_cancers": [{"id": "b", "site": "breast", "laterality": "right"}],
    "procedures": [
        {"name": "radiotherapy", "body_site": "right breast", "treats": ["b"], "dose_gy": 50},
        {"name": "radiotherapy", "body_site": "upper outer quadrant of breast", "laterality": "right"},
        {"name": "radiotherapy", "body_site": "lumbar vertebra", "treats": ["b"]},
        {"name": "mastectomy", "body_site": "right breast", "treats": ["b"]},
    ],
}


def _procedures(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]


def test_a_radiotherapy_site_is_coded_from_the_treatment_location_value_set(terminology):
    # RadiotherapyCourseSummary binds bodySite (extensible) to RadiotherapyTreatmentLocationVS, which
    # holds 'Breast structure' and a laterality qualifier, not 'Right breast structure' or a quadrant.
    rt_breast, rt_quadrant, rt_spine, surgery = _procedures(
        build_bundle(Case.model_validate(RT_CASE), terminology).bundle
    )
    (site,) = rt_breast["bodySite"]
    assert [c["code"] for c in site["coding"]] == ["76752008"] and site["text"] == "right breast"
    assert site["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "24028007"
    (site,) = rt_quadrant["bodySite"]
    assert [c["code"] for c in site["coding"]] == ["76752008"] and site[
        "text"
    ] == "upper outer quadrant of breast"
    assert [c["code"] for c in rt_spine["bodySite"][0]["coding"]] == ["73903008"]  # in the value set itself
    # A surgical procedure's bodySite is not bound to that value set: the precise code stays.
    assert [c["code"] for c in surgery["bodySite"][0]["coding"]] == ["73056007"]


def test_a_radiotherapy_volume_is_located_from_the_treatment_location_value_set(terminology):
    # RadiotherapyVolume: location and locationQualifier bound (extensible) to the treatment location
    # value set and its qualifier value set (which holds the laterality qualifiers).
    bundle = build_bundle(Case.model_validate(RT_CASE), terminology).bundle
    (volume,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "BodyStructure"]
    assert [c["code"] for c in volume["location"]["coding"]] == ["76752008"]
    assert volume["location"]["text"] == "right breast"
    assert [q["coding"][0]["code"] for q in volume["locationQualifier"]] == ["24028007"]


def test_radiotherapy_sites_meet_the_treatment_location_binding(hapi, terminology, tmp_path):
    path = tmp_path / "rt.json"
    path.write_text(json.dumps(build_bundle(Case.model_validate(RT_CASE), terminology).bundle))
    off = [
        f"{f.path}: {f.message}"
        for c in hapi.check([str(path)])
        for f in c.findings
        if "radiotherapy-treatment-location" in f.message
    ]
    assert off == []


def test_a_percentage_is_coded_under_the_test_of_the_percentage_of_stained_cells(terminology):
    # ER and PR percentages were written under the presence tests' LOINC codes (85337-4, 85339-0),
    # tests of another scale (example abdulraheem-2023-scalp); they belong under 85329-1 and 85325-9.
    markers = [
        {"name": "ER", "percent": 90},
        {"name": "PR", "result": "positive", "percent": 30},
        {"name": "Ki-67", "percent": 20},
        {"name": "PD-L1 22C3", "percent": 5},
    ]
    case = {
        "case": {"id": "percent"},
        "patient": {"sex": "female"},
        "primary_cancers": [{"id": "b", "site": "breast", "markers": markers}],
    }
    er, pr, ki67, pdl1 = _markers(build_bundle(Case.model_validate(case), terminology).bundle)
    assert [c["code"] for c in er["code"]["coding"]] == ["85329-1"] and er["valueQuantity"]["value"] == 90
    assert [c["code"] for c in pr["code"]["coding"]] == ["85339-0"]  # the result stays under its test
    (component,) = pr["component"]
    assert [c["code"] for c in component["code"]["coding"]] == ["85325-9"]
    assert [c["code"] for c in ki67["code"]["coding"]] == ["85330-9"]  # a percentage test itself
    # No verified percentage test for this marker: its presence code is not put on a number.
    assert pdl1["code"] == {"text": "PD-L1 22C3 (% of cells)"}


def test_a_percent_that_names_no_term_stops_the_map_at_start_up():
    from fhir_adapter.errors import MappingError
    from fhir_adapter.terminology import load_map_text

    text = """domain: observations
description: test
entries:
  - terms: [ER]
    kind: test
    percent: ER percentage
    codings: []
"""
    with pytest.raises(MappingError, match="percent 'ER percentage' is no term of"):
        load_map_text("observations.yaml", text)


def test_scores_and_percentages_under_text_codes_read_back(terminology):
    # The reader (fhir-adapter export) takes the new forms back: a score as a Quantity of UCUM '1'
    # and a percentage under '<name> (% of cells)'.
    from test_roundtrip import round_trip

    markers = [
        {"name": "ER", "allred": 8},
        {"name": "AR", "h_score": 0},
        {"name": "PD-L1 22C3", "percent": 5},
        {"name": "PR", "percent": 40, "allred": 6},
    ]
    case = {
        "case": {"id": "read-back"},
        "patient": {"sex": "female"},
        "primary_cancers": [{"id": "b", "site": "breast", "markers": markers}],
    }
    round_trip(Case.model_validate(case), terminology)
