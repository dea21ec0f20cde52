"""Per-mapper tests: minimal and maximal cases, and every combination of optional fields."""

from __future__ import annotations

import itertools
import json

import pytest

from fhir_adapter.bundle import build_bundle
from fhir_adapter.case import Case
from fhir_adapter.errors import MappingError
from fhir_adapter.mapping.common import (
    EXT_CONDITION_RELATED,
    EXT_HISTOLOGY,
    EXT_LATERALITY,
    PROFILE_CANCER_PATIENT,
    PROFILE_DISEASE_STATUS,
    PROFILE_PRIMARY,
    PROFILE_SECONDARY,
    PROFILE_SURGICAL,
    PROFILE_TUMOR_MARKER,
)

MINIMAL = {
    "case": {"id": "min-1"},
    "patient": {"sex": "female"},
    "primary_cancers": [{"site": "breast"}],
}

MAXIMAL = {
    "case": {
        "id": "max-1",
        "id_system": "https://registry.example.org/cases",
        "source": {
            "citation": "A case report.",
            "doi": "10.1000/xyz123",
            "url": "https://example.org/a",
            "pmid": "123",
        },
        "summary": "Everything at once.",
    },
    "patient": {
        "sex": "female",
        "age_at_diagnosis": 50,
        "ethnicity": "Chinese",
        "nationality": "Chinese",
        "vital_status": {"deceased": True, "date": "2021-05"},
    },
    "primary_cancers": [
        {
            "id": "left-breast",
            "site": "breast",
            "site_detail": "upper outer quadrant of breast",
            "laterality": "left",
            "histology": "invasive ductal carcinoma",
            "receptors": {"er": "positive", "pr": "negative", "her2": "negative"},
            "stage": "IIA",
            "date": "2015-06-01",
            "clinical_status": "recurrence",
            "note": "Recurred in 2019.",
        },
        {
            "id": "right-breast",
            "site": "breast",
            "laterality": "bilateral",
            "histology": "invasive lobular carcinoma",
            "receptors": {"er": "positive"},
            "date": "2016",
        },
    ],
    "metastases": [
        {
            "id": "scalp",
            "site": "scalp",
            "primary": "left-breast",
            "date": "2019-03",
            "confirmed_by": ["histopathology", "imaging"],
            "misdiagnosis": "sebaceous cyst",
            "note": "Nodule.",
        },
        {"id": "spine", "site": "vertebra", "primary": "right-breast", "primary_side": "left", "age": 55},
        {"id": "bone", "site": "bone", "primary": "right-breast", "date": "2019"},
    ],
    "procedures": [
        {
            "id": "mastectomy",
            "name": "modified radical mastectomy",
            "date": "2015-07",
            "body_site": "breast",
            "laterality": "left",
            "treats": ["left-breast"],
        },
        {
            "id": "excision",
            "name": "excision of scalp lesion",
            "age": 54,
            "body_site": "scalp",
            "treats": "scalp",
        },
        {"name": "radiotherapy", "status": "completed", "treats": ["spine"]},
    ],
    "medications": [
        {
            "id": "tam",
            "name": "tamoxifen",
            "date": "2015-09",
            "end_date": "2019-02",
            "status": "stopped",
            "treats": ["left-breast"],
        },
        {"name": "chemotherapy", "age": 54, "treats": ["scalp", "bone"]},
    ],
    "disease_status": [
        {"status": "progressive", "date": "2019-03", "about": "left-breast", "evidence": ["imaging"]},
        {
            "status": "stable",
            "age": 56,
            "about": "right-breast",
            "evidence": ["histopathology", "clinical examination"],
        },
    ],
}


def resources(bundle):
    return [e["resource"] for e in bundle["entry"]]


def by_profile(bundle, profile):
    return [r for r in resources(bundle) if profile in r.get("meta", {}).get("profile", [])]


def test_minimal_case(terminology):
    conversion = build_bundle(Case.model_validate(MINIMAL), terminology)
    kinds = [r["resourceType"] for r in resources(conversion.bundle)]
    assert kinds == ["Patient", "Condition"]
    patient, condition = resources(conversion.bundle)
    assert patient["meta"]["profile"] == [PROFILE_CANCER_PATIENT]
    assert patient["identifier"] == [{"system": "urn:fhir-adapter:case-id", "value": "min-1"}]
    assert patient["name"][0]["extension"][0]["valueCode"] == "masked"
    assert "birthDate" not in patient and "deceasedBoolean" not in patient
    assert condition["meta"]["profile"] == [PROFILE_PRIMARY]
    assert condition["subject"]["reference"] == f"urn:uuid:{patient['id']}"
    assert not any(k.startswith("onset") for k in condition)  # no date was given, none is invented


def test_maximal_case(terminology):
    conversion = build_bundle(Case.model_validate(MAXIMAL), terminology)
    bundle = conversion.bundle
    patient = resources(bundle)[0]
    assert patient["deceasedDateTime"] == "2021-05"
    assert patient["identifier"][0]["system"] == "https://registry.example.org/cases"
    primaries = by_profile(bundle, PROFILE_PRIMARY)
    assert len(primaries) == 3  # one, plus a bilateral one split into left and right
    sides = [
        ext["valueCodeableConcept"]["coding"][0]["code"]
        for p in primaries
        for ext in p["bodySite"][0].get("extension", [])
        if ext["url"] == EXT_LATERALITY
    ]
    assert len(sides) == 3
    assert primaries[0]["onsetDateTime"] == "2015-06-01"
    (stage,) = primaries[0]["stage"]
    assert stage["summary"] == {"text": "IIA"}
    (group_ref,) = stage["assessment"]  # the TNM stage group Observation the text was read into
    group = next(r for r in resources(bundle) if f"urn:uuid:{r['id']}" == group_ref["reference"])
    assert group["valueCodeableConcept"]["text"] == "IIA"
    assert all(p["extension"][0]["url"] == EXT_HISTOLOGY for p in primaries)

    secondaries = by_profile(bundle, PROFILE_SECONDARY)
    assert len(secondaries) == 3
    related = [
        e["valueReference"]["reference"]
        for s in secondaries
        for e in s.get("extension", [])
        if e["url"] == EXT_CONDITION_RELATED
    ]
    ids = {p["id"] for p in primaries}
    # scalp and spine name their primary (spine its side too); bone comes from a bilateral primary
    # whose side the source does not give, so it names none.
    assert len(related) == 2 and {r.removeprefix("urn:uuid:") for r in related} <= ids
    refuted = [
        r
        for r in resources(bundle)
        if r.get("verificationStatus", {}).get("coding", [{}])[0].get("code") == "refuted"
    ]
    assert [r["code"]["text"] for r in refuted] == ["sebaceous cyst"]
    assert "clinicalStatus" not in refuted[0]  # con-5

    surgical = by_profile(bundle, PROFILE_SURGICAL)
    assert {p["code"]["text"] for p in surgical} >= {"modified radical mastectomy"}
    markers = by_profile(bundle, PROFILE_TUMOR_MARKER)
    assert len(markers) == 4  # ER, PR, HER2 of the first primary; ER once for the bilateral one
    # Receptors state no time of their own: the diagnosis date is not when they were measured.
    assert not any(k.startswith("effective") for m in markers for k in m)
    statuses = by_profile(bundle, PROFILE_DISEASE_STATUS)
    assert len(statuses) == 2
    assert statuses[0]["effectiveDateTime"] == "2019-03"
    meds = [r for r in resources(bundle) if r["resourceType"] == "MedicationStatement"]
    assert meds[0]["effectivePeriod"] == {"start": "2015-09", "end": "2019-02"}
    assert meds[1]["note"] == [{"text": "Started at age 54."}]
    # mCODE 4.0.0 has no MedicationStatement profile to claim; the case tag is its only meta.
    assert "profile" not in meds[0]["meta"]


def test_bilateral_primary_without_side_names_no_single_related_primary(terminology):
    data = {
        **MINIMAL,
        "primary_cancers": [{"site": "breast", "laterality": "bilateral"}],
        "metastases": [{"site": "bone"}],
    }
    bundle = build_bundle(Case.model_validate(data), terminology).bundle
    (secondary,) = by_profile(bundle, PROFILE_SECONDARY)
    assert "extension" not in secondary
    assert "does not say from which side" in secondary["note"][0]["text"]


def test_unmapped_term_is_text_with_a_warning(terminology):
    data = {**MINIMAL, "primary_cancers": [{"site": "breast", "histology": "quasi-glandular blastoma"}]}
    conversion = build_bundle(Case.model_validate(data), terminology)
    condition = resources(conversion.bundle)[1]
    assert condition["extension"][0]["valueCodeableConcept"] == {"text": "quasi-glandular blastoma"}
    assert conversion.warnings == [
        "primary_cancers[0].histology: 'quasi-glandular blastoma' is not in mappings/histology.yaml;"
        " it is kept as text only. Add it there with a verified code to code it"
    ]


def test_unmapped_term_under_strict_is_an_error(terminology):
    data = {**MINIMAL, "primary_cancers": [{"site": "breast", "histology": "quasi-glandular blastoma"}]}
    with pytest.raises(
        MappingError, match=r"case 'min-1': primary_cancers\[0\].histology: 'quasi-glandular blastoma'"
    ):
        build_bundle(Case.model_validate(data), terminology, strict=True)


def test_procedure_without_time_uses_data_absent_reason(terminology):
    data = {**MINIMAL, "procedures": [{"name": "mastectomy"}]}
    bundle = build_bundle(Case.model_validate(data), terminology).bundle
    (procedure,) = [r for r in resources(bundle) if r["resourceType"] == "Procedure"]
    assert procedure["_performedDateTime"]["extension"][0]["valueCode"] == "unknown"  # us-core-7
    # The case names no cancer it treated: none is assumed, even with one primary.
    assert "reasonReference" not in procedure


OPTIONAL_PRIMARY = {
    "laterality": ["left", "bilateral"],
    "histology": ["invasive ductal carcinoma"],
    "receptors": [{"er": "positive", "her2": "equivocal"}],
    "date": ["2015", "2015-06-03"],
    "age": [44.5],
    "stage": ["IV"],
}
OPTIONAL_METASTASIS = {
    "date": ["2016-01"],
    "age": [46],
    "confirmed_by": ["biopsy"],
    "misdiagnosis": ["lipoma"],
    "laterality": ["right"],
}


def _combinations(options):
    keys = list(options)
    for mask in itertools.product([False, True], repeat=len(keys)):
        chosen = [k for k, on in zip(keys, mask, strict=True) if on]
        for values in itertools.product(*(options[k] for k in chosen)):
            yield dict(zip(chosen, values, strict=True))


def test_every_combination_of_optional_fields_maps_and_validates(terminology):
    count = 0
    for primary_opts in _combinations(OPTIONAL_PRIMARY):
        if "date" in primary_opts and "age" in primary_opts:
            continue
        for met_opts in _combinations(OPTIONAL_METASTASIS):
            data = {
                **MINIMAL,
                "primary_cancers": [{"id": "p", "site": "breast", **primary_opts}],
                "metastases": [{"site": "bone", **met_opts}],
            }
            try:
                case = Case.model_validate(data)
            except ValueError:
                continue  # e.g. a chronology the model rightly refuses
            build_bundle(case, terminology)  # validates every resource with fhir.resources
            count += 1
    assert count > 500


def test_an_er_intensity_of_2_plus_is_not_equivocal(terminology):
    data = {**MINIMAL, "primary_cancers": [{"site": "breast", "markers": [{"name": "ER", "result": "2+"}]}]}
    bundle = build_bundle(Case.model_validate(data), terminology).bundle
    (er,) = by_profile(bundle, PROFILE_TUMOR_MARKER)
    value = er["valueCodeableConcept"]
    assert value["text"] == "2+"
    assert [(c["code"], c["display"]) for c in value["coding"]] == [("LA11842-4", "2+")]
    assert "quivocal" not in json.dumps(er)


@pytest.mark.parametrize(
    ("name", "surgical"),
    [
        ("punch biopsy", True),  # 68660007, in mCODE's surgical value set (2021 expansion)
        ("excisional biopsy", True),
        ("core needle biopsy", False),  # 129249002 is no descendant of 'Surgical procedure'
        ("sentinel lymph node biopsy", False),
        ("skin biopsy", False),
        ("orbital biopsy", False),
        ("mastectomy", True),
    ],
)
def test_the_surgical_profile_is_claimed_only_for_codes_of_its_value_set(terminology, name, surgical):
    data = {
        **MINIMAL,
        "primary_cancers": [{"id": "b", "site": "breast"}],
        "procedures": [{"name": name, "treats": ["b"]}],
    }
    bundle = build_bundle(Case.model_validate(data), terminology).bundle
    (procedure,) = [r for r in resources(bundle) if r["resourceType"] == "Procedure"]
    assert (PROFILE_SURGICAL in procedure.get("meta", {}).get("profile", [])) is surgical
    assert procedure["reasonReference"]  # the treated cancer is named either way
