"""Clinical depth: markers, staging, treatment detail, time as reports give it, certainty, outcome,
provenance (issue 7). Every resource that claims an mCODE profile is checked by the validator."""

from __future__ import annotations

import json

import pytest
from test_mcode_profiles import validate

from fhir_adapter.bundle import build_bundle
from fhir_adapter.case import Case
from fhir_adapter.mapping.common import (
    MCODE as PROFILE_MCODE,
)
from fhir_adapter.mapping.common import (
    PROFILE_RADIOTHERAPY,
    PROFILE_TNM_STAGE_GROUP,
    PROFILE_TNM_T,
    PROFILE_TUMOR_MARKER,
)
from fhir_adapter.mapping.staging import parse_stage

DEPTH = {
    "case": {
        "id": "depth-1",
        "source": {
            "citation": "A. Author. A case. J Case Rep. 2024.",
            "doi": "10.1000/abc",
            "published": "2024-04-15",
        },
    },
    "patient": {
        "sex": "female",
        "menopausal_status": "postmenopausal",
        "ecog": 1,
        "comorbidities": ["diabetes mellitus"],
        "germline": [{"gene": "BRCA2", "result": "negative"}],
        "vital_status": {
            "deceased": True,
            "relative": {"to": "scalp", "after": "2 years"},
            "cause": "liver failure",
        },
    },
    "primary_cancers": [
        {
            "id": "breast",
            "site": "breast",
            "laterality": "left",
            "histology": "invasive ductal carcinoma",
            "age": 52,
            "date": "2015",
            "stage": "pT2N1aM0, stage IIB",
            "grade": "G3",
            "size_mm": [30, 10],
            "markers": [
                {"name": "Ki-67", "percent": 30},
                {"name": "estrogen receptor", "result": "positive", "percent": 90, "allred": 8},
            ],
        }
    ],
    "metastases": [
        {
            "id": "scalp",
            "site": "scalp",
            "relative": {"to": "breast", "after": "3 years"},
            "certainty": "provisional",
            "markers": [
                {"name": "GATA3", "result": "positive", "specimen": "punch biopsy of the scalp nodule"}
            ],
        },
        {"id": "chest", "site": "chest wall", "kind": "local-recurrence", "timing": "a 5-year history"},
    ],
    "procedures": [
        {
            "id": "rt",
            "name": "radiotherapy",
            "body_site": "scalp",
            "dose_gy": 30,
            "fractions": 10,
            "intent": "palliative",
            "treats": ["scalp"],
            "relative": {"to": "scalp", "after": "2 months"},
        },
        {
            "name": "axillary lymph node dissection",
            "nodes_examined": 13,
            "nodes_positive": 13,
            "treats": ["breast"],
        },
    ],
    "medications": [
        {
            "id": "cmf",
            "name": "CMF",
            "cycles": 6,
            "intent": "adjuvant",
            "response": "progressive",
            "treats": ["breast"],
        },
        {
            "name": "capecitabine",
            "line": 2,
            "dose": "1000 mg",
            "route": "oral",
            "frequency": "twice daily",
            "status": "stopped",
            "status_reason": "toxicity",
            "between": ["2018", "2019"],
        },
    ],
    "disease_status": [{"status": "stable", "relative": {"to": "rt", "after": "1 year"}}],
}


@pytest.fixture(scope="module")
def depth(terminology):
    conversion = build_bundle(Case.model_validate(DEPTH), terminology)
    return conversion, [e["resource"] for e in conversion.bundle["entry"]]


def with_profile(resources, url):
    return [r for r in resources if url in r.get("meta", {}).get("profile", [])]


def test_parse_stage():
    assert parse_stage("cT4bN3M0") == parse_stage("cT4b N3 M0")
    parsed = parse_stage("cT4bN3M0")
    assert (parsed.t, parsed.n, parsed.m, parsed.group) == ("cT4b", "cN3", "cM0", None)
    parsed = parse_stage("pT2N1a, stage IIB")
    assert (parsed.t, parsed.n, parsed.m, parsed.group) == ("pT2", "pN1a", None, "IIB")
    assert parse_stage("pT2N1aM0").m == "cM0"  # AJCC has no pM0
    assert parse_stage("de novo stage IV").group == "IV"
    assert parse_stage("ypT1cN0").t == "ypT1c"
    assert parse_stage("IIIA").group == "IIIA"
    nothing = parse_stage("locally advanced")
    assert (nothing.group, nothing.t, nothing.n, nothing.m) == (None, None, None, None)
    assert nothing.unread == ("locally advanced",)


def test_markers_keep_their_numbers(depth):
    _, resources = depth
    markers = with_profile(resources, PROFILE_TUMOR_MARKER)
    ki67 = next(m for m in markers if m["code"]["text"] == "Ki-67")
    assert ki67["valueQuantity"] == {
        "value": 30,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    er = next(m for m in markers if m["code"]["text"] == "estrogen receptor")
    assert er["valueCodeableConcept"]["text"] == "positive"
    assert {"code": {"text": "Allred score"}, "valueInteger": 8} in er["component"]
    assert any(c.get("valueQuantity", {}).get("value") == 90 for c in er["component"])


def test_a_metastasis_marker_is_on_the_metastasis(depth):
    _, resources = depth
    scalp = next(
        r for r in resources if r["resourceType"] == "Condition" and r["bodySite"][0]["text"] == "scalp"
    )
    gata3 = next(m for m in with_profile(resources, PROFILE_TUMOR_MARKER) if m["code"]["text"] == "GATA3")
    assert gata3["focus"] == [{"reference": f"urn:uuid:{scalp['id']}"}]
    (specimen,) = [r for r in resources if r["resourceType"] == "Specimen"]
    assert specimen["type"]["text"] == "punch biopsy of the scalp nodule"
    assert gata3["specimen"] == {"reference": f"urn:uuid:{specimen['id']}"}


def test_stage_text_becomes_tnm_observations(depth):
    _, resources = depth
    (group,) = with_profile(resources, PROFILE_TNM_STAGE_GROUP)
    (t,) = with_profile(resources, PROFILE_TNM_T)
    assert group["code"]["text"] == "pathological stage group"
    assert t["valueCodeableConcept"]["text"] == "pT2"
    assert len(group["hasMember"]) == 3  # pT2, pN1a, pM0
    assert group["valueCodeableConcept"]["text"] == "pT2N1aM0, stage IIB"


def test_grade_and_size(depth):
    _, resources = depth
    (grade,) = with_profile(resources, PROFILE_MCODE + "mcode-histologic-grade")
    assert grade["valueCodeableConcept"]["text"] == "G3"
    # mCODE TumorSize focuses an mCODE Tumor (a BodyStructure), which names the cancer it is.
    (size,) = with_profile(resources, PROFILE_MCODE + "mcode-tumor-size")
    assert [c["valueQuantity"]["value"] for c in size["component"]] == [30, 10]
    assert [c["code"]["coding"][0]["code"] for c in size["component"]] == ["33728-7", "33729-5"]
    (tumour,) = with_profile(resources, PROFILE_MCODE + "mcode-tumor")
    assert tumour["resourceType"] == "BodyStructure"
    assert size["focus"][0]["reference"] == f"urn:uuid:{tumour['id']}"


def test_relative_times_resolve_only_where_exact(depth):
    _, resources = depth
    conditions = {
        r["bodySite"][0]["text"]: r for r in resources if r["resourceType"] == "Condition" and "bodySite" in r
    }
    scalp = conditions["scalp"]
    # breast: 2015 and age 52; three years later is 2018 and age 55.
    assert scalp["onsetDateTime"] == "2018"
    assert {"text": "At age 55."} in scalp["note"]
    assert any("3 years after the diagnosis" in n["text"] for n in scalp["note"])
    (rt,) = with_profile(resources, PROFILE_RADIOTHERAPY)
    # Two months after a year is not a month: the relation stays text.
    assert "performedPeriod" in rt and "start" not in rt["performedPeriod"]
    assert any("2 months after" in n["text"] for n in rt["note"])
    chest = conditions["chest wall"]
    assert chest["onsetString"] == "A 5-year history"


def test_radiotherapy_course_summary(depth):
    _, resources = depth
    (rt,) = with_profile(resources, PROFILE_RADIOTHERAPY)
    dose = next(e for e in rt["extension"] if e["url"].endswith("dose-delivered-to-volume"))
    parts = {p["url"]: p for p in dose["extension"]}
    assert parts["totalDoseDelivered"]["valueQuantity"]["value"] == 3000  # 30 Gy in cGy
    assert parts["fractionsDelivered"]["valueUnsignedInt"] == 10
    (volume,) = [
        r for r in resources if r["resourceType"] == "BodyStructure" and "mcode-tumor" not in str(r["meta"])
    ]
    assert parts["volume"]["valueReference"] == {"reference": f"urn:uuid:{volume['id']}"}


def test_treatment_detail(depth):
    _, resources = depth
    statements = [r for r in resources if r["resourceType"] == "MedicationStatement"]
    cape = next(s for s in statements if s["medicationCodeableConcept"]["text"] == "capecitabine")
    assert cape["dosage"][0]["text"] == "1000 mg, oral, twice daily"
    assert cape["statusReason"] == [{"text": "toxicity"}]
    assert cape["effectivePeriod"] == {"start": "2018", "end": "2019"}
    assert {"text": "Line of therapy: 2."} in cape["note"]
    nodes = next(
        r for r in resources if r["resourceType"] == "Procedure" and "dissection" in r["code"]["text"]
    )
    assert {"text": "Lymph nodes: 13 of 13 positive."} in nodes["note"]


def test_response_to_a_treatment_is_part_of_it(depth, terminology):
    _, resources = depth
    responses = [r for r in resources if r["resourceType"] == "Observation" and "partOf" in r]
    assert len(responses) == 1
    if terminology.lookup("regimens", "CMF") is None:
        cmf = next(r for r in resources if r.get("medicationCodeableConcept", {}).get("text") == "CMF")
        assert responses[0]["partOf"] == [{"reference": f"urn:uuid:{cmf['id']}"}]


def test_patient_details_and_death(depth):
    _, resources = depth
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    ecog = next(o for o in observations if o.get("valueInteger") == 1 and "ecog" in json.dumps(o.get("meta")))
    assert ecog["code"]["coding"][0]["code"] == "89247-1"
    death = next(o for o in observations if "The patient died." in json.dumps(o.get("note", [])))
    # Two years after the scalp metastasis (2018) is 2020; the scalp age (55) plus two is 57.
    assert death["effectiveDateTime"] == "2020"
    assert death["valueQuantity"]["value"] == 57
    assert {"text": "Cause of death: liver failure."} in death["note"]
    patient = resources[0]
    assert patient["deceasedDateTime"] == "2020"
    comorbidity = [
        r for r in resources if r["resourceType"] == "Condition" and r["code"]["text"] == "diabetes mellitus"
    ]
    assert len(comorbidity) == 1


def test_provenance_is_dated_by_the_publication(depth, terminology):
    _, resources = depth
    (document,) = [r for r in resources if r["resourceType"] == "DocumentReference"]
    assert document["identifier"] == [{"system": "https://doi.org", "value": "10.1000/abc"}]
    assert document["content"][0]["attachment"]["url"] == "https://doi.org/10.1000/abc"
    (provenance,) = [r for r in resources if r["resourceType"] == "Provenance"]
    assert provenance["recorded"] == "2024-04-15T00:00:00Z"
    assert len(provenance["target"]) == len(resources) - 2  # everything but the document and itself
    # A year alone is not an instant: no Provenance, rather than an invented day.
    data = {**DEPTH, "case": {"id": "d2", "source": {"doi": "10.1000/abc", "published": "2024"}}}
    again = build_bundle(Case.model_validate(data), terminology)
    assert not [e for e in again.bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]


def test_output_is_deterministic(terminology):
    one = build_bundle(Case.model_validate(DEPTH), terminology).bundle
    two = build_bundle(Case.model_validate(DEPTH), terminology).bundle
    assert json.dumps(one) == json.dumps(two)


def test_depth_case_conforms_to_mcode(tmp_path, terminology):
    bundle = build_bundle(Case.model_validate(DEPTH), terminology, bundle_type="collection").bundle
    path = tmp_path / "depth.json"
    path.write_text(json.dumps(bundle))
    result = validate([path])
    assert result["errors"] == []
    checked = {p for e in bundle["entry"] for p in e["resource"].get("meta", {}).get("profile", [])}
    assert PROFILE_RADIOTHERAPY in checked and PROFILE_TNM_STAGE_GROUP in checked
