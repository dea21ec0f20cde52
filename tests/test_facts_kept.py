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
                    {"system": "http://snomed.info/sct", "code": "999999", "display": "x", "verified": "test"}
                ],
            }
        ],
    }
    terminology = load_terminology(maps_with(tmp_path, "procedures.yaml", [entry]))
    data = {**BASE, "procedures": [{"name": "test sided mastectomy", "laterality": "left"}]}
    _, resources = convert(data, terminology)
    (procedure,) = of_type(resources, "Procedure")
    assert ("sct", "999999") in codes(procedure["code"])
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
    (age,) = [r for r in of_type(resources, "Observation") if ("sct", "423493009") in codes(r["code"])]
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
