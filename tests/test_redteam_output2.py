"""Outputs attacked a second time: what other tools' FHIR gives back, de-identified case files, pages.

Each test compares the output fact by fact with its input, for an input shape the first tests
did not try.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from fhir_adapter.cli import main

PRIMARY_PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"


def run(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def patient(**extra: object) -> dict:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:other-tool:mrn", "value": "A-1"}],
        "gender": "female",
        **extra,
    }


def primary(**extra: object) -> dict:
    """A breast primary as another tool writes it (its mCODE profile, no role identifier of ours)."""
    return {
        "resourceType": "Condition",
        "id": "c1",
        "meta": {"profile": [PRIMARY_PROFILE]},
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "254837009"}],
            "text": "breast cancer",
        },
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2018-03-16",
        **extra,
    }


def export(tmp_path: Path, resources: list[dict]) -> tuple[dict, list[str], str]:
    """The case read from resources as NDJSON, the lines listing what it left out, and the file's text."""
    tmp_path.mkdir(exist_ok=True)
    source = tmp_path / "in.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    out = tmp_path / "cases"
    result = run("export", source, "-o", out)
    assert result.exit_code == 0, result.stderr
    (path,) = sorted(out.glob("*.yaml"))
    unplaced = [
        line.split("not read into the case: ", 1)[1]
        for line in result.stderr.splitlines()
        if "not read into the case: " in line
    ]
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text), unplaced, text


def test_a_death_with_a_time_and_zone_keeps_its_date_as_written(tmp_path):
    # FHIR dateTime with a time must have a zone; the day is the one written where it happened,
    # never moved to UTC (23:30 at -05:00 is 04:30 the next day in UTC).
    case, unplaced, _ = export(tmp_path, [patient(deceasedDateTime="2019-03-04T23:30:00-05:00"), primary()])
    assert case["patient"]["vital_status"] == {"deceased": True, "date": "2019-03-04"}
    assert not [line for line in unplaced if "deceasedDateTime" in line]


def er_marker(**extra: object) -> dict:
    """An ER result as another tool writes it (LOINC 85337-4, as mCODE's ER example; positive)."""
    return {
        "resourceType": "Observation",
        "id": "er1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85337-4"}]},
        "subject": {"reference": "Patient/p1"},
        "focus": [{"reference": "Condition/c1"}],
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA6576-8"}]},
        **extra,
    }


def test_resources_the_record_withdraws_are_listed_never_read_as_facts(tmp_path):
    lung = {"coding": [{"system": "http://snomed.info/sct", "code": "93880001"}], "text": "lung cancer"}
    refuted = primary(
        id="c2",
        code=lung,
        verificationStatus={
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "refuted"}
            ]
        },
    )
    in_error = primary(id="c3", code=lung, onsetDateTime="2019-01-01")
    in_error["verificationStatus"] = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": "entered-in-error",
            }
        ]
    }
    wrong_result = er_marker(id="er2", status="entered-in-error")
    case, unplaced, text = export(tmp_path, [patient(), primary(), refuted, in_error, wrong_result])
    (only,) = case["primary_cancers"]
    assert only["site"] == "breast cancer" and only["date"] == "2018-03-16"
    assert "receptors" not in only  # the one ER result was entered in error
    for line in (
        "Condition/c2 verificationStatus: 'refuted'",
        "Condition/c3 verificationStatus: 'entered-in-error'",
        "Observation/er2 status: 'entered-in-error'",
    ):
        assert any(u.startswith(line) for u in unplaced), line
        assert line in text, line


def test_a_cancelled_observation_is_no_result(tmp_path):
    case, unplaced, _ = export(tmp_path, [patient(), primary(), er_marker(status="cancelled")])
    assert "receptors" not in case["primary_cancers"][0]
    assert any(u.startswith("Observation/er1 status: 'cancelled'") for u in unplaced)
    case, _, _ = export(tmp_path / "final", [patient(), primary(), er_marker()])
    assert case["primary_cancers"][0]["receptors"] == {"er": "positive"}


def test_every_element_of_another_tools_resource_is_read_or_listed(tmp_path):
    # A note, a contained resource, an abatement, a marker's method, components and a period:
    # each was dropped without a word.
    condition = primary(
        note=[{"text": "Found by the patient herself."}, {"text": "Family history of breast cancer."}],
        contained=[{"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}}],
        abatementDateTime="2020-02-01",
    )
    marker = {
        **er_marker(id="ki67"),
        "code": {"text": "Ki-67"},
        "valueQuantity": {"value": 30, "unit": "%", "code": "%", "system": "http://unitsofmeasure.org"},
        "method": {"text": "IHC"},
        "note": [{"text": "hot spots counted"}],
        "component": [{"code": {"text": "area"}, "valueString": "hot spot"}],
        "performer": [{"reference": "Practitioner/x"}],
    }
    marker.pop("valueCodeableConcept")
    marker["meta"] = {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"]}
    case, unplaced, text = export(tmp_path, [patient(maritalStatus={"text": "married"}), condition, marker])
    (item,) = case["primary_cancers"]
    assert item["note"] == "Found by the patient herself.\nFamily history of breast cancer."
    assert item["markers"] == [{"name": "Ki-67", "percent": 30, "method": "IHC", "note": "hot spots counted"}]
    for line in (
        "Condition/c1 contained: has no place",
        "Condition/c1 abatementDateTime: has no place",
        "Observation/ki67 component: has no place",
        "Patient/p1 maritalStatus: has no place",
    ):
        assert any(u.startswith(line) for u in unplaced), line
        assert line in text, line
    # Who recorded or did it is no fact of the case (the Practitioner itself is listed when sent).
    assert not [u for u in unplaced if "performer" in u]
    # Nothing read is listed as well.
    assert not [u for u in unplaced if u.split(": ")[0].split(" ")[-1] in ("note", "method", "code")]


def test_ndjson_written_again_leaves_no_file_of_the_earlier_run(tmp_path):
    # A consumer reads the directory's *.ndjson; an earlier run's files of types (and errors) this
    # run does not write would be read as this run's, their references to patients gone.
    examples = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("case:\n  id: bad-1\npatient:\n  sex: nobody\n", encoding="utf-8")
    out = tmp_path / "bulk"
    first = run("convert", *examples, bad, "--format", "ndjson", "-o", out)
    assert first.exit_code != 0  # the bad case failed; the others were written
    assert {"Procedure.ndjson", "MedicationStatement.ndjson"} <= {p.name for p in out.glob("*.ndjson")}
    assert (out / "errors" / "OperationOutcome.ndjson").exists()
    (out / "Notes.txt").write_text("mine", encoding="utf-8")
    small = tmp_path / "small.yaml"
    small.write_text(
        "case:\n  id: tiny-1\npatient:\n  sex: female\nprimary_cancers:\n- site: breast\n", encoding="utf-8"
    )
    second = run("convert", small, "--format", "ndjson", "-o", out)
    assert second.exit_code == 0, second.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = {entry["url"] for entry in manifest["output"]}
    assert {p.name for p in out.glob("*.ndjson")} == listed == {"Patient.ndjson", "Condition.ndjson"}
    assert not (out / "errors" / "OperationOutcome.ndjson").exists()
    assert (out / "Notes.txt").read_text(encoding="utf-8") == "mine"  # not a file of ours
    for entry in manifest["output"]:
        lines = (out / entry["url"]).read_text(encoding="utf-8").splitlines()
        assert len(lines) == entry["count"]


def test_a_deidentified_export_says_nothing_that_names_the_patient(tmp_path):
    # A Patient without an identifier: its resource id (here the patient's name and birth year)
    # becomes the case id, and the warning saying so named it on stderr.
    them = patient(id="jane-doe-1970")
    them.pop("identifier")
    condition = primary(
        subject={"reference": "Patient/jane-doe-1970"},
        note=[{"text": "Seen by Dr. Smith at St Mary Hospital."}, {"text": "Palpable lump."}],
    )
    source = tmp_path / "jane.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in (them, condition)), encoding="utf-8")
    key = {"FHIR_ADAPTER_DEID_KEY": "a secret of sixteen bytes or more"}
    result = run("export", source, "-o", tmp_path / "shared", "--deidentify", env=key)
    assert result.exit_code == 0, result.stderr
    (path,) = (tmp_path / "shared").glob("*.yaml")
    written = path.read_text(encoding="utf-8")
    for said in (written, result.stderr):
        for word in ("jane", "1970", "Smith", "St Mary", "jane.ndjson"):
            assert word.casefold() not in said.casefold(), (word, said)
    assert "1 warning(s) not shown" in result.stderr
    case = yaml.safe_load(written)
    assert "note" not in case["primary_cancers"][0]  # the note named a doctor and a hospital
    assert case["case"]["id"].startswith("p-")


def test_a_case_with_no_primary_read_says_which_conditions_were_left_out_and_why(tmp_path):
    # A Synthea-like transaction: urn:uuid references, a cancer coded with a SNOMED CT code the
    # maps do not hold (254637007, non-small cell lung cancer) and no mCODE profile. The case
    # cannot be made; the error said only that primary_cancers was empty.
    them = patient(id="11111111-1111-1111-1111-111111111111")
    cancer = {
        "resourceType": "Condition",
        "id": "22222222-2222-2222-2222-222222222222",
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "254637007"}],
            "text": "Non-small cell lung cancer (disorder)",
        },
        "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
        "onsetDateTime": "2010-05-03T14:23:11-04:00",
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for r in (them, cancer)
        ],
    }
    source = tmp_path / "synthea.json"
    source.write_text(json.dumps(bundle), encoding="utf-8")
    result = run("export", source)
    assert result.exit_code != 0
    assert "none of the 1 Condition(s) was read as a primary cancer" in result.stderr
    assert (
        "Condition/22222222-2222-2222-2222-222222222222: Condition 'Non-small cell lung cancer (disorder)'"
        " has no place in the case format"
    ) in result.stderr
    (tmp_path / "none.json").write_text(
        json.dumps({**bundle, "entry": bundle["entry"][:1]}), encoding="utf-8"
    )
    result = run("export", tmp_path / "none.json")
    assert "no Condition among the resources; a case needs its primary cancer" in result.stderr


def test_a_drug_contained_in_its_order_is_read(tmp_path):
    # Order systems send the drug as a Medication contained in the MedicationRequest, named '#med1';
    # the request was listed whole as having no place ('no drug name').
    order = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "med1",
                # RxNorm 10324, as mappings/medications.yaml holds it for tamoxifen.
                "code": {
                    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "10324"}]
                },
            }
        ],
        "medicationReference": {"reference": "#med1"},
        "subject": {"reference": "Patient/p1"},
        "reasonReference": [{"reference": "Condition/c1"}],
    }
    case, unplaced, _ = export(tmp_path, [patient(), primary(), order])
    assert case["medications"] == [{"name": "tamoxifen", "status": "active", "treats": ["primary-1"]}]
    assert not [u for u in unplaced if u.startswith("MedicationRequest/m1")]
    # A second contained resource, one no reader takes, is listed.
    order["contained"].append({"resourceType": "Substance", "id": "s1", "code": {"text": "x"}})
    _, unplaced, _ = export(tmp_path / "two", [patient(), primary(), order])
    assert "MedicationRequest/m1 contained: has no place in the case format" in unplaced


def test_a_result_in_words_or_a_whole_number_stays_the_result(tmp_path):
    # Text stays text: an ER result given as valueString, another marker's as valueString or
    # valueInteger, were listed as 'no result the case can hold'.
    er = er_marker(valueString="Positive, strong, 95% of cells")
    er.pop("valueCodeableConcept")
    profile = {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"]}
    words = {
        **er_marker(id="ck7"),
        "meta": profile,
        "code": {"text": "CK7"},
        "valueString": "diffusely positive",
    }
    words.pop("valueCodeableConcept")
    count = {
        **er_marker(id="mitoses"),
        "meta": profile,
        "code": {"text": "mitoses per 10 HPF"},
        "valueInteger": 12,
    }
    count.pop("valueCodeableConcept")
    case, unplaced, _ = export(tmp_path, [patient(), primary(), er, words, count])
    (item,) = case["primary_cancers"]
    assert item["receptors"] == {"er": "Positive, strong, 95% of cells"}
    assert item["markers"] == [
        {"name": "CK7", "result": "diffusely positive"},
        {"name": "mitoses per 10 HPF", "result": "12"},
    ]
    assert not [u for u in unplaced if u.startswith("Observation/")]


def test_a_case_that_contradicts_itself_is_named_in_one_plain_line(tmp_path):
    source = tmp_path / "early.ndjson"
    resources = [patient(deceasedDateTime="2015-06-01T10:00:00-04:00"), primary()]
    source.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    result = run("export", source)
    assert result.exit_code != 0
    # Not 'early.ndjson: : Value error, patient...': a rule across fields names no field of its own.
    assert (
        f"Error: {source}: patient.vital_status.date: 2015-06-01 is before the diagnosis of"
        " primary_cancers[0] (2018-03-16); check both dates"
    ) in result.stderr


def _us_core(url: str, words: str) -> dict:
    return {"url": url, "extension": [{"url": "text", "valueString": words}]}


def test_the_summary_header_shows_race_and_ethnicity_and_nothing_else_with_a_text_part():
    from fhir_adapter.summary.extract import summarise

    core = "http://hl7.org/fhir/us/core/StructureDefinition/"
    them = patient(
        extension=[
            _us_core(core + "us-core-race", "White"),
            _us_core(core + "us-core-ethnicity", "Not Hispanic or Latino"),
            # Another tool's complex extension that has a 'text' part too.
            _us_core("http://example.org/fhir/StructureDefinition/religion", "Quaker"),
        ]
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
            for r in (them, primary())
        ],
    }
    summary = summarise(bundle, source_name="t")
    # It showed only the last extension with a text part: 'Quaker', and neither race nor ethnicity.
    assert summary.ethnicity == "White; Not Hispanic or Latino"


def test_a_summary_page_is_named_by_the_case_id_export_gives_never_the_last_identifier(tmp_path):
    from fhir_adapter.summary.extract import summarise

    them = patient(
        identifier=[
            {"system": "http://hospital.example.org/mrn", "value": "MRN-4711"},
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-12-3456"},
        ]
    )
    resources = [them, primary()]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }
    assert summarise(bundle, source_name="t").case_id == "MRN-4711"  # it was the social security number
    case, _, _ = export(tmp_path, resources)
    assert case["case"]["id"] == "MRN-4711"


def test_an_order_withdrawn_or_not_yet_signed_keeps_what_it_says(tmp_path):
    # R4 medicationrequest-status: 'cancelled' is withdrawn before any administration, 'draft' is not yet
    # actionable. Both were read as a drug of unknown status, as if it might have been given.
    def order(status: str) -> dict:
        return {
            "resourceType": "MedicationRequest",
            "id": f"m-{status}",
            "status": status,
            "intent": "order",
            # RxNorm 10324, as mappings/medications.yaml holds it for tamoxifen.
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "10324"}]
            },
            "subject": {"reference": "Patient/p1"},
        }

    for status, expected in (("cancelled", "not-taken"), ("draft", "intended")):
        case, unplaced, _ = export(tmp_path / status, [patient(), primary(), order(status)])
        assert [m["status"] for m in case["medications"]] == [expected], status
        assert not [u for u in unplaced if u.startswith(f"MedicationRequest/m-{status} status")]
