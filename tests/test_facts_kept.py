"""Facts a case states reach the output, and nothing the case does not state is made up (issue 13)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from fhir_adapter.bundle import build_bundle
from fhir_adapter.case import Case
from fhir_adapter.errors import MappingError
from fhir_adapter.ids import NAMESPACE
from fhir_adapter.mapping.common import EXT_LATERALITY
from fhir_adapter.terminology import load_terminology

MAPS = Path(__file__).resolve().parents[1] / "mappings"
BASE = {
    "case": {"id": "k-1"},
    "patient": {"sex": "female"},
    "primary_cancers": [{"id": "b", "site": "breast"}],
}


def convert(data, terminology, **kw):
    conversion = build_bundle(Case.model_validate(data), terminology, **kw)
    return conversion, [e["resource"] for e in conversion.bundle["entry"]]


def of_type(resources, kind):
    return [r for r in resources if r["resourceType"] == kind]


def codes(cc):
    return {(c["system"].rsplit("/", 1)[-1], c["code"]) for c in cc.get("coding", [])}


def maps_with(tmp_path: Path, file: str, entries: list[dict]) -> Path:
    """A copy of the shipped maps with entries added to one file (created if missing)."""
    folder = tmp_path / "maps"
    shutil.copytree(MAPS, folder, ignore=shutil.ignore_patterns("*.md", "*.py", "__pycache__"))
    path = folder / file
    doc = yaml.safe_load(path.read_text()) if path.exists() else {"domain": path.stem, "entries": []}
    doc["entries"].extend(entries)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def test_in_situ_histology_never_gets_the_invasive_code(terminology):
    data = {**BASE, "primary_cancers": [{"site": "breast", "histology": "ductal carcinoma in situ"}]}
    conversion, resources = convert(data, terminology)
    condition = of_type(resources, "Condition")[0]
    assert ("sct", "372137005") not in codes(condition["code"])  # primary malignant neoplasm of breast
    assert not any(code.startswith("C50") for _, code in codes(condition["code"]))
    # Coded from the in-situ map when it has the site; else text, with a warning.
    in_situ = terminology.lookup("in_situ_cancers", "breast")
    if in_situ is None:
        assert condition["code"] == {"text": "breast"}
        assert any("in_situ_cancers.yaml" in w for w in conversion.warnings)


def test_in_situ_by_abbreviation_alone(terminology):
    data = {**BASE, "primary_cancers": [{"site": "breast", "histology": "DCIS"}]}
    _, resources = convert(data, terminology)
    assert ("sct", "372137005") not in codes(of_type(resources, "Condition")[0]["code"])


def test_a_precise_site_codes_its_condition_from_its_parent(tmp_path):
    folder = maps_with(tmp_path, "body_sites.yaml", [{"terms": ["test frontal scalp"], "parent": "scalp"}])
    terminology = load_terminology(folder)
    data = {**BASE, "metastases": [{"site": "test frontal scalp"}]}
    conversion, resources = convert(data, terminology)
    metastasis = of_type(resources, "Condition")[1]
    assert ("icd-10-cm", "C79.2") in codes(metastasis["code"])  # scalp -> skin
    assert metastasis["bodySite"][0]["text"] == "test frontal scalp"  # the precise words stay


def test_site_detail_of_a_metastasis_goes_to_body_site(terminology):
    data = {**BASE, "metastases": [{"site": "scalp", "site_detail": "occipital scalp"}]}
    _, resources = convert(data, terminology)
    metastasis = of_type(resources, "Condition")[1]
    assert ("icd-10-cm", "C79.2") in codes(metastasis["code"])
    assert metastasis["bodySite"][0]["text"] == "occipital scalp"


def test_procedure_uses_its_laterality_variant(tmp_path):
    entry = {
        "terms": ["test sided mastectomy"],
        "kind": "surgery",
        "codings": [],
        "variants": [
            {
                "when": {"laterality": "left"},
                "codings": [
                    # A made-up code with a concept id's partition (00) and check digit (the map loader checks both).
                    {
                        "system": "http://snomed.info/sct",
                        "code": "9999005",
                        "display": "x",
                        "verified": "test",
                    }
                ],
            }
        ],
    }
    terminology = load_terminology(maps_with(tmp_path, "procedures.yaml", [entry]))
    data = {**BASE, "procedures": [{"name": "test sided mastectomy", "laterality": "left"}]}
    _, resources = convert(data, terminology)
    (procedure,) = of_type(resources, "Procedure")
    assert ("sct", "9999005") in codes(procedure["code"])
    assert "note" not in procedure  # the code says the side


def test_procedure_side_without_site_is_kept(terminology):
    data = {**BASE, "procedures": [{"name": "biopsy", "laterality": "right"}]}
    _, resources = convert(data, terminology)
    (procedure,) = of_type(resources, "Procedure")
    assert {"text": "Side: right."} in procedure["note"]


def test_procedure_side_with_site_is_a_laterality_qualifier(terminology):
    data = {**BASE, "procedures": [{"name": "biopsy", "laterality": "right", "body_site": "breast"}]}
    _, resources = convert(data, terminology)
    (procedure,) = of_type(resources, "Procedure")
    assert procedure["bodySite"][0]["extension"][0]["url"] == EXT_LATERALITY


def test_an_age_beside_a_date_is_kept(terminology):
    data = {
        **BASE,
        "patient": {"sex": "female", "age_at_diagnosis": 45},
        "primary_cancers": [{"site": "breast", "date": "2015-06"}],
        "metastases": [{"site": "bone", "date": "2017", "age": 47}],
    }
    _, resources = convert(data, terminology)
    primary, metastasis = of_type(resources, "Condition")
    assert primary["onsetDateTime"] == "2015-06" and {"text": "At age 45."} in primary["note"]
    assert metastasis["onsetDateTime"] == "2017" and {"text": "At age 47."} in metastasis["note"]


def test_a_known_term_without_a_code_warns(terminology):
    data = {**BASE, "medications": [{"name": "chemotherapy"}]}
    conversion, _ = convert(data, terminology)
    assert [(u.term, u.reason) for u in conversion.uncoded] == [("chemotherapy", "no verified code")]
    assert any("'chemotherapy' is in mappings/medications.yaml but has no verified code" in w
               for w in conversion.warnings)  # fmt: skip


def test_evidence_terms_not_in_the_map_warn(terminology):
    data = {**BASE, "metastases": [{"site": "bone", "confirmed_by": ["quasi-scan"]}]}
    conversion, resources = convert(data, terminology)
    assert ("quasi-scan", "not in the map") in [(u.term, u.reason) for u in conversion.uncoded]
    assert {"text": "Confirmed by: quasi-scan."} in of_type(resources, "Condition")[1]["note"]


def test_no_invented_defaults(terminology):
    data = {
        **BASE,
        "metastases": [{"site": "bone"}],
        "procedures": [{"name": "mastectomy"}],
        "medications": [{"name": "tamoxifen"}],
    }
    _, resources = convert(data, terminology)
    primary, metastasis = of_type(resources, "Condition")
    for condition in (primary, metastasis):
        assert "verificationStatus" not in condition  # not every diagnosis is confirmed
        # Unknown clinical status stays unknown: left out, never 'active' (a data-absent-reason alone
        # breaks the required binding to condition-clinical, which HAPI's validator refuses).
        assert "clinicalStatus" not in condition
    (statement,) = of_type(resources, "MedicationStatement")
    assert statement["status"] == "unknown"
    assert "reasonReference" not in statement
    assert "reasonReference" not in of_type(resources, "Procedure")[0]


def test_stated_values_are_used(terminology):
    data = {
        **BASE,
        "primary_cancers": [
            {"id": "b", "site": "breast", "certainty": "provisional", "clinical_status": "active"}
        ],
        "metastases": [{"site": "bone", "confirmed_by": ["imaging"]}],
        "medications": [{"name": "tamoxifen", "status": "completed", "treats": ["b"]}],
    }
    _, resources = convert(data, terminology)
    primary, metastasis = of_type(resources, "Condition")
    assert primary["verificationStatus"]["coding"][0]["code"] == "provisional"
    assert primary["clinicalStatus"]["coding"][0]["code"] == "active"
    assert metastasis["verificationStatus"]["coding"][0]["code"] == "confirmed"  # confirmed_by says so
    (statement,) = of_type(resources, "MedicationStatement")
    assert statement["status"] == "completed" and statement["reasonReference"]


def test_ids_depend_on_the_identifier_system(terminology):
    _, default = convert(BASE, terminology)
    _, other = convert({**BASE, "case": {"id": "k-1", "id_system": "https://a.example/ids"}}, terminology)
    _, third = convert(BASE, terminology, id_system="https://b.example/ids")
    ids = [{r["id"] for r in rs} for rs in (default, other, third)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    # Under the default system the ids are those issued before systems were part of them.
    assert default[0]["id"] == str(uuid.uuid5(NAMESPACE, "k-1|patient"))


def test_age_zero_is_refused():
    with pytest.raises(ValidationError, match="greater than 0"):
        Case.model_validate({**BASE, "primary_cancers": [{"site": "breast", "age": 0}]})


def test_refuted_misdiagnosis_is_an_encounter_diagnosis(terminology):
    data = {**BASE, "metastases": [{"site": "scalp", "misdiagnosis": "sebaceous cyst"}]}
    _, resources = convert(data, terminology)
    refuted = of_type(resources, "Condition")[-1]
    assert refuted["verificationStatus"]["coding"][0]["code"] == "refuted"
    assert "clinicalStatus" not in refuted  # con-5
    assert refuted["category"][0]["coding"][0]["code"] == "encounter-diagnosis"  # con-3 is for problem lists


def test_every_resource_names_its_role_in_the_case(terminology):
    data = {
        **BASE,
        "primary_cancers": [{"id": "b", "site": "breast", "laterality": "bilateral"}],
        "procedures": [{"id": "op", "name": "mastectomy", "treats": ["b"]}],
    }
    conversion, resources = convert(data, terminology)
    roles = {
        r["id"]: i["value"]
        for r in resources
        for i in r.get("identifier", [])
        if i["system"] == "urn:fhir-adapter:case-id"
    }
    assert roles[of_type(resources, "Patient")[0]["id"]] == "k-1"
    conditions = of_type(resources, "Condition")
    assert [roles[c["id"]] for c in conditions] == ["k-1/primary/b/left", "k-1/primary/b/right"]
    assert roles[of_type(resources, "Procedure")[0]["id"]] == "k-1/procedure/op"
    # the role is what the resource id is made from
    assert conditions[0]["id"] == str(uuid.uuid5(NAMESPACE, "k-1|primary/b/left"))


def test_the_source_page_and_the_summary_reach_the_output(terminology):
    source = {"doi": "10.1000/abc", "url": "https://journal.example.org/a/1", "citation": "A. Case. 2024."}
    data = {**BASE, "case": {"id": "k-1", "source": source, "summary": "A woman with a scalp nodule."}}
    _, resources = convert(data, terminology)
    (document,) = of_type(resources, "DocumentReference")
    urls = [c["attachment"].get("url") for c in document["content"]]
    assert urls == ["https://doi.org/10.1000/abc", "https://journal.example.org/a/1"]
    (impression,) = of_type(resources, "ClinicalImpression")
    assert impression["summary"] == "A woman with a scalp nodule."
    assert impression["subject"] == of_type(resources, "Condition")[0]["subject"]


def test_age_at_first_diagnosis_is_a_fact_of_its_own(terminology):
    data = {**BASE, "patient": {"sex": "female", "age_at_diagnosis": 52}}
    _, resources = convert(data, terminology)
    (age,) = [
        r
        for r in of_type(resources, "Observation")
        if r["code"].get("text") == "Age at diagnosis" and "focus" not in r
    ]
    assert age["valueQuantity"]["value"] == 52 and age["valueQuantity"]["code"] == "a"


def test_the_report_timing_words_in_a_note_are_told_from_the_note(terminology):
    data = {
        **BASE,
        "metastases": [
            {"id": "m1", "site": "scalp", "age": 50, "timing": "a two-month history"},
            {"id": "m2", "site": "bone", "age": 50, "note": "A two-month history."},
        ],
        "medications": [
            {"name": "tamoxifen", "between": [2015, 2017], "end_date": 2018, "timing": "at age 50 or so"}
        ],
    }
    _, resources = convert(data, terminology)
    m1, m2 = of_type(resources, "Condition")[1:]
    assert m1["note"] == [{"text": "Timing: a two-month history"}]
    assert m2["note"] == [{"text": "A two-month history."}]
    (statement,) = of_type(resources, "MedicationStatement")
    assert statement["effectivePeriod"] == {"end": "2018"}
    lines = [n["text"] for n in statement["note"]]
    assert lines == ["Between 2015 and 2017.", "Timing: at age 50 or so"]


def test_what_a_deceased_patient_vital_status_says_is_kept(terminology):
    vital = {"deceased": True, "between": [2019, 2020], "last_known": "2019-03", "follow_up": "14 months"}
    _, resources = convert({**BASE, "patient": {"sex": "female", "vital_status": vital}}, terminology)
    (death,) = [
        r
        for r in of_type(resources, "Observation")
        if r["id"] == str(uuid.uuid5(NAMESPACE, "k-1|patient/death"))
    ]
    assert death["effectivePeriod"] == {"start": "2019", "end": "2020"}
    assert [n["text"] for n in death["note"]] == [
        "The patient died.",
        "Last known alive: 2019-03.",
        "Follow-up: 14 months.",
    ]


def test_a_relative_time_names_one_item_when_two_are_described_alike(terminology):
    data = {
        **BASE,
        "metastases": [
            {"id": "s1", "site": "scalp", "date": 2016},
            {"id": "s2", "site": "scalp", "date": 2017},
            {"id": "liver", "site": "liver", "relative": {"to": "s2", "after": "1 year"}},
        ],
        "medications": [{"name": "tamoxifen", "relative": {"to": "liver", "after": "2 months"}}],
    }
    _, resources = convert(data, terminology)
    liver = of_type(resources, "Condition")[3]
    assert liver["onsetDateTime"] == "2018"
    assert {"text": "1 year after the finding of the scalp metastasis 's2'."} in liver["note"]
    (statement,) = of_type(resources, "MedicationStatement")
    assert {"text": "2 months after the finding of the liver metastasis."} in statement["note"]


def test_uncoded_evidence_terms_stay_whole_and_a_recurrence_keeps_its_site(terminology):
    data = {
        **BASE,
        "metastases": [
            {"site": "scalp", "confirmed_by": ["clinical photo, dermoscopy", "gut feeling"]},
            {"site": "chest wall", "site_detail": "left chest wall scar", "kind": "local-recurrence"},
        ],
        "disease_status": [{"status": "stable", "evidence": ["tumour board, consensus"]}],
    }
    _, resources = convert(data, terminology)
    scalp, chest = of_type(resources, "Condition")[1:]
    assert [n["text"] for n in scalp["note"]] == [
        "Confirmed by: clinical photo, dermoscopy.",
        "Confirmed by: gut feeling.",
    ]
    assert chest["bodySite"][0]["text"] == "left chest wall scar"
    assert {"text": "Site: chest wall."} in chest["note"]
    status = [
        r
        for r in of_type(resources, "Observation")
        if r.get("valueCodeableConcept", {}).get("text") == "stable"
    ]
    assert status[0]["note"] == [{"text": "Evidence: tumour board, consensus."}]


def test_radiotherapy_details_the_extensions_cannot_hold_are_kept(terminology):
    data = {
        **BASE,
        "procedures": [
            {"name": "radiotherapy", "modality": "gamma knife rays", "technique": "IMRT"},
            {"name": "radiotherapy", "technique": "IMRT"},
            {"name": "brachy-something", "dose_gy": 12.5, "fractions": 3, "modality": "photons"},
        ],
    }
    conversion, resources = convert(data, terminology)
    first, second, third = of_type(resources, "Procedure")
    assert {"text": "Modality: gamma knife rays."} in first["note"]
    assert {"text": "Technique: IMRT."} in first["note"]
    assert second["note"] == [{"text": "Technique: IMRT."}]
    lines = [n["text"] for n in third["note"]]
    assert lines == ["Dose: 12.5 Gy.", "Fractions: 3.", "Modality: photons."]
    assert any("'brachy-something' is not a radiotherapy" in w for w in conversion.warnings)


def test_a_stage_given_field_by_field_keeps_its_words_and_its_group(terminology):
    staging = [
        {"group": "IIIZ", "text": "stage three-zed"},
        {"t": "cT2", "n": "cN1", "text": "T2 N1 on CT"},
    ]
    data = {**BASE, "primary_cancers": [{"id": "b", "site": "breast", "staging": staging}]}
    _, resources = convert(data, terminology)
    groups = [
        r
        for r in of_type(resources, "Observation")
        if "hasMember" in r or "stage" in r["code"].get("text", "")
    ]
    first = groups[0]
    assert first["valueCodeableConcept"]["text"] == "IIIZ"
    assert {"text": "Stage as stated: stage three-zed."} in first["note"]
    second = [r for r in of_type(resources, "Observation") if "hasMember" in r][0]
    assert {"text": "Stage as stated: T2 N1 on CT."} in second["note"]


def test_a_regimen_keeps_the_name_the_case_gives_it(terminology):
    if terminology.lookup("regimens", "ddAC-T") is None:
        pytest.skip("the shipped maps have no ddAC-T")
    data = {**BASE, "medications": [{"name": "ddAC-T", "cycles": 4}]}
    _, resources = convert(data, terminology)
    statements = of_type(resources, "MedicationStatement")
    assert len(statements) == 3
    assert all({"text": "Part of the ddAC-T regimen."} in s["note"] for s in statements)


def test_the_report_timing_words_are_kept_as_written(terminology):
    data = {**BASE, "metastases": [{"site": "scalp", "timing": "a few months later."}]}
    _, resources = convert(data, terminology)
    assert of_type(resources, "Condition")[1]["onsetString"] == "a few months later."


def test_times_in_a_loop_of_relative_times_do_not_depend_on_mapping_order(terminology):
    # a stated date, and two items each timed from the other (a loop that states one relation
    # twice): each is worked out from the chain that starts at it, whichever is mapped first
    data = {
        **BASE,
        "metastases": [
            {"id": "m1", "site": "scalp", "relative": {"to": "m2", "after": "1 year"}},
            {"id": "m2", "site": "bone", "date": 2010, "relative": {"to": "m1", "before": "1 year"}},
        ],
        "medications": [{"id": "d", "name": "tamoxifen", "relative": {"to": "m1", "after": "1 year"}}],
    }
    _, resources = convert(data, terminology)
    m1, m2 = of_type(resources, "Condition")[1:]
    assert m1["onsetDateTime"] == "2011" and m2["onsetDateTime"] == "2010"
    (statement,) = of_type(resources, "MedicationStatement")
    assert statement["effectiveDateTime"] == "2012"
    swapped = {**data, "metastases": data["metastases"][::-1]}
    _, resources = convert(swapped, terminology)
    m2, m1 = of_type(resources, "Condition")[1:]
    assert m1["onsetDateTime"] == "2011" and m2["onsetDateTime"] == "2010"


def test_a_time_counted_from_a_primary_uses_the_age_its_condition_shows(terminology):
    # the first primary is dated and its age is the patient's age at diagnosis: an item two
    # years after it is two years older, as its Condition's "At age 40." says
    data = {
        **BASE,
        "patient": {"sex": "female", "age_at_diagnosis": 40},
        "primary_cancers": [{"id": "b", "site": "breast", "date": "2015-06"}],
        "metastases": [{"site": "scalp", "relative": {"to": "b", "after": "2 years"}}],
    }
    _, resources = convert(data, terminology)
    primary, scalp = of_type(resources, "Condition")[:2]
    assert primary["onsetDateTime"] == "2015-06" and {"text": "At age 40."} in primary["note"]
    assert scalp["onsetDateTime"] == "2017" and {"text": "At age 42."} in scalp["note"]


def test_an_allred_score_and_an_h_score_without_a_result_are_both_kept(terminology):
    data = {
        **BASE,
        "primary_cancers": [{"site": "breast", "markers": [{"name": "ER", "allred": 7, "h_score": 210}]}],
    }
    _, resources = convert(data, terminology)
    (marker,) = [r for r in of_type(resources, "Observation") if "component" in r]
    assert marker["valueQuantity"]["value"] == 7 and marker["code"] == {"text": "ER (Allred score)"}
    assert marker["component"] == [{"code": {"text": "H-score"}, "valueInteger": 210}]


def test_a_category_without_its_prefix_is_coded_with_it_and_kept_as_stated(terminology):
    staging = [{"type": "pathological", "t": "T2", "n": "pN1"}]
    data = {**BASE, "primary_cancers": [{"site": "breast", "staging": staging}]}
    _, resources = convert(data, terminology)
    values = [r["valueCodeableConcept"] for r in of_type(resources, "Observation") if "hasMember" not in r]
    assert [v["text"] for v in values] == ["T2", "pN1"]
    if terminology.lookup("staging", "pT2") is not None:
        assert values[0]["coding"] == [c.as_fhir() for c in terminology.lookup("staging", "pT2").codings]


def test_ages_keep_every_digit_and_gain_no_float_noise(terminology):
    data = {
        **BASE,
        "primary_cancers": [{"id": "b", "site": "breast", "age": 7.88}],
        "metastases": [
            {"site": "scalp", "date": 2015, "age": 45.123456},
            {"site": "bone", "relative": {"to": "b", "after": "1 year"}},
        ],
    }
    _, resources = convert(data, terminology)
    scalp, bone = of_type(resources, "Condition")[1:]
    assert {"text": "At age 45.123456."} in scalp["note"]
    assert bone["onsetAge"]["value"] == 8.88


# --- Issue 17: facts that came out wrong ------------------------------------------------------


def stage_observations(resources):
    return {
        r["code"]["text"]: r
        for r in resources
        if any("mcode-tnm" in p for p in r.get("meta", {}).get("profile", []))
    }


@pytest.mark.parametrize(
    ("stage", "group_code", "kind", "members"),
    [
        ("pT2N1M0 (IIB)", "1222769001", "pathological", 3),  # a group in brackets after TNM
        ("stage 2B", "1222769001", "clinical", 0),  # Arabic numerals, as the map lists them
        ("3C (Pathological)", "1222806003", "pathological", 0),  # what a MEF staging row says
        ("cT2 cN0 cM0, stage IIA (Clinical)", "1222766008", "clinical", 3),
        ("stage-IIIA (T3 N2a M0)", "1222802001", "clinical", 3),  # as a draft writes it
    ],
)
def test_a_stage_text_is_read_whole(terminology, stage, group_code, kind, members):
    data = {**BASE, "primary_cancers": [{"site": "breast", "stage": stage}]}
    conversion, resources = convert(data, terminology)
    group = stage_observations(resources)[f"{kind} stage group"]
    assert ("sct", group_code) in codes(group["valueCodeableConcept"])
    assert group["valueCodeableConcept"]["text"] == stage
    assert len(group.get("hasMember", [])) == members
    assert not [w for w in conversion.warnings if "stage" in w]


def test_a_group_written_with_the_word_stage_is_not_doubled(terminology):
    data = {**BASE, "primary_cancers": [{"site": "breast", "staging": [{"group": "stage IV"}]}]}
    _, resources = convert(data, terminology)
    primary = of_type(resources, "Condition")[0]
    assert primary["stage"][0]["summary"] == {"text": "stage IV"}
    group = stage_observations(resources)["clinical stage group"]
    assert ("sct", "1222837003") in codes(group["valueCodeableConcept"])  # stage IV


@pytest.mark.parametrize(
    ("stage", "unread"),
    [
        ("locally advanced", "'locally advanced' is"),
        ("pT2N1M0 (IIB) with skin ulceration", "'skin ulceration' is"),
        ("stage IIB/IIIA", "'stage IIB and IIIA (two values for one part)' is"),
    ],
)
def test_stage_words_that_do_not_parse_warn_and_fail_under_strict(terminology, stage, unread):
    data = {**BASE, "primary_cancers": [{"site": "breast", "stage": stage}]}
    conversion, resources = convert(data, terminology)
    (warning,) = [w for w in conversion.warnings if "was not read whole" in w]
    assert warning.startswith(f"primary_cancers[0].stage: the stage '{stage}' was not read whole: {unread}")
    # The words are kept: on the Condition and as the stage group's value text.
    assert of_type(resources, "Condition")[0]["stage"][0]["summary"] == {"text": stage}
    with pytest.raises(MappingError, match="was not read whole"):
        convert(data, terminology, strict=True)


def test_a_staging_row_of_words_only_is_read_like_a_stage_text(terminology):
    data = {**BASE, "primary_cancers": [{"site": "breast", "staging": [{"text": "3C (Pathological)"}]}]}
    _, resources = convert(data, terminology)
    group = stage_observations(resources)["pathological stage group"]
    assert ("sct", "1222806003") in codes(group["valueCodeableConcept"])


def markers_of(resources):
    return [r for r in resources if "mcode-tumor-marker-test" in json.dumps(r.get("meta", {}))]


def test_a_marker_has_its_own_time_or_none(terminology):
    # The scalp nodules were found in 2022-09 at 47; the IHC panel states no time of its own.
    data = {
        **BASE,
        "primary_cancers": [
            {"id": "b", "site": "breast", "date": "2015", "age": 40, "receptors": {"er": "positive"}}
        ],
        "metastases": [
            {
                "site": "scalp",
                "date": "2022-09",
                "age": 47,
                "markers": [
                    {"name": "GATA3", "result": "positive"},
                    {"name": "CK7", "result": "positive", "date": "2022-10-03"},
                    {"name": "p63", "result": "negative", "date": "2022-10"},
                ],
            }
        ],
    }
    _, resources = convert(data, terminology)
    er, gata3, ck7, p63 = markers_of(resources)
    for untimed in (er, gata3):
        assert not [k for k in untimed if k.startswith("effective")], untimed
        assert "note" not in untimed  # no "At age ..." copied from the cancer
    assert ck7["effectiveDateTime"] == "2022-10-03"
    assert p63["effectivePeriod"] == {"start": "2022-10", "end": "2022-10"}  # us-core-1 wants a day


def test_receptors_of_a_bilateral_primary_name_both_sides(terminology):
    data = {
        **BASE,
        "primary_cancers": [
            {"id": "b", "site": "breast", "laterality": "bilateral", "receptors": {"er": "positive"}}
        ],
    }
    _, resources = convert(data, terminology)
    left, right = of_type(resources, "Condition")
    (er,) = markers_of(resources)
    assert er["focus"] == [{"reference": f"urn:uuid:{left['id']}"}, {"reference": f"urn:uuid:{right['id']}"}]
    related = [e["valueCodeableConcept"] for e in er["extension"] if e["url"].endswith("related-condition")]
    assert related == [left["code"], right["code"]]
    assert {"C50.912", "C50.911"} <= {c for cc in related for _, c in codes(cc)}


def test_one_specimen_per_stated_specimen(terminology):
    punch = "punch biopsy of the largest scalp lesion"
    data = {
        **BASE,
        "metastases": [
            {
                "id": "scalp",
                "site": "scalp",
                "markers": [
                    {"name": "GATA3", "result": "positive", "specimen": punch},
                    {"name": "CK7", "result": "positive", "specimen": punch},
                    {"name": "p63", "result": "negative", "specimen": punch.upper()},
                    {"name": "ER", "result": "positive", "specimen": "excision specimen"},
                ],
            }
        ],
    }
    _, resources = convert(data, terminology)
    specimens = of_type(resources, "Specimen")
    assert [s["type"]["text"] for s in specimens] == [punch, "excision specimen"]
    refs = [m["specimen"]["reference"] for m in markers_of(resources)]
    assert refs[:3] == [f"urn:uuid:{specimens[0]['id']}"] * 3
    assert refs[3] == f"urn:uuid:{specimens[1]['id']}"


@pytest.mark.parametrize("site", ["orbit", "liver", "bone of skull", "pelvic bone", "spine"])
def test_a_site_detail_the_map_does_not_know_keeps_the_site_code(terminology, site):
    data = {**BASE, "metastases": [{"site": site, "site_detail": "posterior third of the lesion bed"}]}
    conversion, resources = convert(data, terminology)
    metastasis = of_type(resources, "Condition")[1]
    site_codes = {c.code for c in terminology.ancestors("body_sites", site)[0].codings}
    assert site_codes and {c for _, c in codes(metastasis["bodySite"][0])} == site_codes
    assert metastasis["bodySite"][0]["text"] == "posterior third of the lesion bed"
    (warning,) = [w for w in conversion.warnings if w.startswith("metastases[0].site_detail")]
    assert f"bodySite carries the code of '{site}'" in warning


def death_of(resources):
    return next(
        r for r in of_type(resources, "Observation") if "The patient died." in json.dumps(r.get("note"))
    )


def test_a_death_stated_as_an_interval_is_not_labelled_age_at_death(terminology):
    data = {
        **BASE,
        "primary_cancers": [{"id": "b", "site": "breast", "date": "2015"}],
        "patient": {
            "sex": "female",
            "vital_status": {"deceased": True, "relative": {"to": "b", "after": "2 years"}},
        },
    }
    _, resources = convert(data, terminology)
    death = death_of(resources)
    assert death["code"] == {"text": "Death"}
    assert death["valueString"] == "2 years after the diagnosis of the primary cancer 'b' (breast)"
    assert death["effectiveDateTime"] == "2017"
    assert "age at death" not in json.dumps(death).lower()


def test_an_age_at_death_is_coded_as_such(terminology):
    data = {**BASE, "patient": {"sex": "female", "vital_status": {"deceased": True, "age": 61}}}
    _, resources = convert(data, terminology)
    death = death_of(resources)
    assert codes(death["code"]) == {("loinc.org", "39016-1")}
    assert death["valueQuantity"]["value"] == 61 and death["valueQuantity"]["code"] == "a"


def test_ecog_carries_its_loinc_interpretation(terminology):
    for grade, answer in ((0, "LA9622-7"), (2, "LA9624-3"), (5, "LA9627-6")):
        _, resources = convert({**BASE, "patient": {"sex": "female", "ecog": grade}}, terminology)
        (ecog,) = [r for r in resources if "mcode-ecog" in json.dumps(r.get("meta", {}))]
        assert ecog["valueInteger"] == grade
        assert codes(ecog["interpretation"][0]) == {("loinc.org", answer)}


def test_an_age_at_diagnosis_beside_a_date_is_structured(terminology):
    data = {
        **BASE,
        "patient": {"sex": "female", "age_at_diagnosis": 45},
        "primary_cancers": [{"id": "b", "site": "breast", "laterality": "bilateral", "date": "2015-06"}],
    }
    _, resources = convert(data, terminology)
    left, right = of_type(resources, "Condition")
    assert left["onsetDateTime"] == "2015-06" and {"text": "At age 45."} in left["note"]
    # (the patient's own age at first diagnosis is an Observation with no focus)
    (age,) = [
        r
        for r in of_type(resources, "Observation")
        if ("sct", "423493009") in codes(r["code"]) and "focus" in r
    ]
    assert age["valueQuantity"] == {
        "value": 45,
        "unit": "years",
        "system": "http://unitsofmeasure.org",
        "code": "a",
    }
    assert age["focus"] == [{"reference": f"urn:uuid:{c['id']}"} for c in (left, right)]
    assert age["effectiveDateTime"] == "2015-06"  # when the age was that age
    # An age alone is the onset itself: no second Observation says it again.
    _, alone = convert({**BASE, "primary_cancers": [{"site": "breast", "age": 45}]}, terminology)
    assert of_type(alone, "Condition")[0]["onsetAge"]["value"] == 45
    assert not [r for r in of_type(alone, "Observation") if ("sct", "423493009") in codes(r["code"])]


def refusal(data) -> str:
    with pytest.raises(ValidationError) as info:
        Case.model_validate(data)
    return str(info.value)


def test_a_diagnosis_in_the_future_is_refused():
    message = refusal({**BASE, "primary_cancers": [{"site": "breast", "date": "2099"}]})
    assert "primary_cancers[0].date: 2099 is in the future; check the date" in message
    # A planned treatment may lie ahead.
    Case.model_validate(
        {**BASE, "medications": [{"name": "tamoxifen", "status": "intended", "date": "2099"}]}
    )


def test_a_death_before_the_diagnosis_is_refused():
    dated = {
        **BASE,
        "patient": {"sex": "female", "vital_status": {"deceased": True, "date": "2014"}},
        "primary_cancers": [{"site": "breast", "date": "2016-03"}],
    }
    assert (
        "patient.vital_status.date: 2014 is before the diagnosis of primary_cancers[0] (2016-03)"
        in refusal(dated)
    )
    relative = {
        **BASE,
        "patient": {
            "sex": "female",
            "vital_status": {"deceased": True, "relative": {"to": "b", "before": "1 year"}},
        },
        "primary_cancers": [{"id": "b", "site": "breast"}],
    }
    assert (
        "patient.vital_status.relative: death 1 year before the diagnosis of primary_cancers[0]"
        in refusal(relative)
    )
    treated_after = {
        **BASE,
        "patient": {"sex": "female", "vital_status": {"deceased": True, "date": "2018-05"}},
        "procedures": [{"name": "mastectomy", "between": ["2019", "2020"]}],
    }
    assert "is before the date of procedures[0] (2019)" in refusal(treated_after)


def test_a_loop_of_relative_times_is_refused_when_it_contradicts_itself(terminology):
    data = {
        **BASE,
        "primary_cancers": [{"id": "b", "site": "breast", "relative": {"to": "s", "after": "1 year"}}],
        "metastases": [{"id": "s", "site": "scalp", "relative": {"to": "b", "after": "2 years"}}],
    }
    assert (
        "primary_cancers[0].relative: the relative times form a loop that contradicts itself"
        " (b 1 year after s, s 2 years after b)" in refusal(data)
    )
    # One relation stated twice (as a draft may write it) is a loop that times nothing: a warning,
    # an error under --strict.
    data["primary_cancers"][0]["relative"] = {"to": "s", "before": "24 months"}
    conversion, _ = convert(data, terminology)
    assert (
        "primary_cancers[0].relative: the relative times form a loop (b 24 months before s,"
        " s 2 years after b); it states one relation twice" in " ".join(conversion.warnings)
    )
    with pytest.raises(MappingError, match="form a loop"):
        convert(data, terminology, strict=True)


def test_a_mef_staging_row_keeps_its_group_and_type(terminology, tmp_path):
    """An mCODE Extraction Framework staging row '3C', 'Pathological' gives a pathological IIIC."""
    from fhir_adapter.batch import convert_stream, iter_sources
    from fhir_adapter.convert import ConvertOptions

    mef = Path(__file__).resolve().parent / "data" / "tables" / "mef"
    for table in mef.glob("*.csv"):
        (tmp_path / table.name).write_text(table.read_text())
    (tmp_path / "staging.csv").write_text(
        "mrn,conditionId,stageGroup,t,n,m,type,stagingSystem,stagingCodeSystem,effectiveDate\n"
        "mef-1,mef-1-breast,3C,,,,Pathological,,,2019-03-20\n"
    )
    results = {
        r.case_id: r
        for r in convert_stream(iter_sources([str(tmp_path / "*.csv")]), terminology, ConvertOptions())
    }
    resources = [e["resource"] for e in json.loads(results["mef-1"].bundle_json)["entry"]]
    group = stage_observations(resources)["pathological stage group"]
    assert ("sct", "1222806003") in codes(group["valueCodeableConcept"])  # stage IIIC
    assert not [w for w in results["mef-1"].warnings if "was not read whole" in w]
