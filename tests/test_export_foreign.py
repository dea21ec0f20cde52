"""fhir-adapter export of mCODE that other tools wrote: the mCODE 4.0.0 package's own examples.

The examples are read at test time from the package tools/hapi-server/build.sh fetches (never
copied into the repository). Each test asserts what the example's JSON says, field by field,
that what has no place in the case is listed, and that the case read back converts again.
"""

from __future__ import annotations

import copy
import json
import tarfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support import hapi_server

from fhir_adapter.cli import main

PACKAGE = hapi_server.PACKAGES / "hl7.fhir.us.mcode-4.0.0.tgz"


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def examples() -> dict[str, dict]:
    """The package's example resources by file name (Bundle-...json, Condition-...json)."""
    if not PACKAGE.exists():
        why = f"{PACKAGE.relative_to(hapi_server.REPO_ROOT)} is missing; {hapi_server.BUILD_HINT}"
        if hapi_server.required():
            pytest.fail(why)
        pytest.skip(why)
    out = {}
    with tarfile.open(PACKAGE) as tar:
        for member in tar.getmembers():
            if (
                member.isfile()
                and member.name.startswith("package/example/")
                and member.name.endswith(".json")
            ):
                handle = tar.extractfile(member)
                assert handle is not None
                out[Path(member.name).name] = json.loads(handle.read())
    return out


def export(tmp_path: Path, name: str, resources: list[dict]) -> tuple[dict, list[str], Path]:
    """Export resources as one NDJSON file: the case, the lines listing what was not read, the case file."""
    source = tmp_path / f"{name}.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    out = tmp_path / f"{name}-cases"
    result = run("export", source, "-o", out)
    assert result.exit_code == 0, result.stderr
    (path,) = sorted(out.glob("*.yaml"))
    unplaced = [
        line.split("not read into the case: ", 1)[1]
        for line in result.stderr.splitlines()
        if "not read into the case: " in line
    ]
    return yaml.safe_load(path.read_text(encoding="utf-8")), unplaced, path


def converts(tmp_path: Path, path: Path) -> None:
    """The case file read back is a valid case: `fhir-adapter convert` makes its bundle without error."""
    (tmp_path / "again").mkdir()
    result = run("convert", path, "-o", tmp_path / "again")
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "again").glob("*.json"))) == 1


def listed(unplaced: list[str], resource: str, *words: str) -> bool:
    return any(line.startswith(resource) and all(w in line for w in words) for line in unplaced)


def test_jenny_m_bundle_is_read_as_far_as_the_case_model_goes(examples, tmp_path):
    bundle = examples["Bundle-mcode-patient-bundle-jenny-m.json"]
    source = tmp_path / "jenny-m.json"
    source.write_text(json.dumps(bundle), encoding="utf-8")
    out = tmp_path / "cases"
    result = run("export", source, "-o", out, "--evidence")
    assert result.exit_code == 0, result.stderr
    (path,) = sorted(out.glob("*.yaml"))
    case = yaml.safe_load(path.read_text(encoding="utf-8"))

    # The Patient: the case id is its identifier (MRN1234 in http://hospital.example.org).
    assert case["case"] == {"id": "MRN1234", "id_system": "http://hospital.example.org"}
    assert case["patient"] == {"sex": "female", "ethnicity": "White", "ecog": 0}

    (primary,) = case["primary_cancers"]
    # SNOMED 353431000119107 is not in the maps: the code's display is kept as the term.
    assert primary["site"] == "Primary malignant neoplasm of female left breast"
    assert primary["histology"] == "invasive ductal carcinoma"  # SNOMED 82711006 through histology.yaml
    assert primary["date"] == "2018-03-16"
    assert primary["clinical_status"] == "remission"
    assert primary["certainty"] == "confirmed"
    assert primary["receptors"] == {"er": "positive", "pr": "negative", "her2": "negative"}
    assert primary["markers"] == [
        {
            "name": "Oncotype DX Breast Recurrence Score Assay",
            "result": "47 Recurrence score",
            "date": "2018-04-12",
        }
    ]
    # The clinical stage group the Condition's stage.assessment names (its T, N and M members
    # are not in the Bundle).
    assert primary["staging"] == [{"system": "AJCC 8th edition", "group": "stage IIB", "date": "2018-03-16"}]

    surgery, radiotherapy, biopsy = case["procedures"]
    assert surgery == {
        "name": "partial mastectomy",
        "body_site": "breast",
        "laterality": "left",
        "treats": ["primary-1"],
        "intent": "curative",
        "date": "2018-04-01",
    }
    assert radiotherapy["name"] == "radiotherapy"
    assert radiotherapy["body_site"] == "chest wall"
    assert (radiotherapy["dose_gy"], radiotherapy["fractions"]) == (60, 30)  # 6000 cGy in 30
    assert (radiotherapy["modality"], radiotherapy["technique"]) == ("photons", "VMAT")
    assert radiotherapy["date"] == "2018-08-15"
    assert biopsy["name"] == "ultrasound-guided breast biopsy" and biopsy["date"] == "2018-03-06"

    names = [m["name"] for m in case["medications"]]
    assert names == ["cyclophosphamide", "doxorubicin", "paclitaxel", "anastrozole"]
    anastrozole = case["medications"][3]
    assert anastrozole["date"] == "2018-09-30"  # dosageInstruction boundsPeriod.start
    assert (anastrozole["dose"], anastrozole["route"], anastrozole["status"]) == ("1 mg", "oral", "active")
    assert case["disease_status"] == [{"status": "responding", "evidence": ["imaging"], "date": "2018-11-01"}]

    text = path.read_text(encoding="utf-8")
    for line in (
        "Patient/cancer-patient-jenny-m birthDate:",
        "Patient/cancer-patient-jenny-m name:",
        "Observation/genomic-variant-jenny-m:",
        "FamilyMemberHistory/family-member-history-aunt-jenny-m:",
        "Organization/us-core-organization-physician-services-inc:",
        "Procedure/radiotherapy-treatment-summary-chest-wall-jenny-m performedPeriod.end: 2018-10-25",
        "Procedure/radiotherapy-treatment-summary-chest-wall-jenny-m extension[dose-delivered-to-volume]:",
        "Procedure/us-core-procedure-mammogram-jenny-m:",
        # The Condition's stage.summary (IIIC) and the group its assessment names (IIB) differ.
        "Condition/primary-cancer-condition-jenny-m stage.summary: 'stage IIIC'",
        "Observation/tnm-clinical-stage-group-jenny-m hasMember: Observation/tnm-pathologic-primary-tumor-category"
        "-jenny-m is not among the resources read",
        "Observation/tnm-clinical-primary-tumor-category-jenny-m: a T, N or M category that no stage group",
    ):
        assert line in text, line
        assert line in result.stderr, line

    evidence = json.loads((out / "MRN1234.evidence.json").read_text(encoding="utf-8"))
    assert (
        evidence["primary_cancers[0].receptors.er"]["resource"] == "Observation/tumor-marker-test-er-jenny-m"
    )
    assert evidence["procedures[1].dose_gy"]["element"] == "extension[dose].totalDoseDelivered"
    converts(tmp_path, path)


def test_a_primary_cancer_with_its_body_site_and_stage_summary(examples, tmp_path):
    case, unplaced, path = export(
        tmp_path,
        "eve",
        [
            examples["Patient-cancer-patient-eve-anyperson.json"],
            examples["Condition-primary-cancer-condition-breast.json"],
        ],
    )
    (primary,) = case["primary_cancers"]
    # bodySite SNOMED 80248007 'Left breast structure': the map's 'left breast', as site and side.
    assert (primary["site"], primary["laterality"]) == ("breast", "left")
    assert primary["histology"] == "lobular carcinoma in situ"  # SNOMED 77284006
    assert primary["stage"] == "stage IIIC"  # stage.summary SNOMED 1222806003, no assessment
    assert primary["date"] == "2019-04-01"
    assert case["patient"]["sex"] == "female"
    assert listed(unplaced, "Patient/cancer-patient-eve-anyperson birthDate")
    converts(tmp_path, path)


def test_lung_cancer_with_brain_metastasis_stage_marker_surgery_and_orders(examples, tmp_path):
    names = [
        "Patient-cancer-patient-john-anyperson.json",
        "Condition-primary-cancer-condition-nsclc.json",
        "Condition-secondary-cancer-condition-brain-mets.json",
        "Observation-tnm-clinical-stage-group-3c.json",
        "Observation-tnm-clinical-primary-tumor-category-cT3.json",
        "Observation-tnm-clinical-regional-nodes-category-cN3.json",
        "Observation-tnm-clinical-distant-metastases-category-cM0.json",
        "Observation-tumor-marker-test-egf.json",
        "Procedure-cancer-related-surgical-procedure-lobectomy.json",
        "MedicationRequest-cancer-related-medication-request-cisplatin-stopped.json",
        "MedicationRequest-cancer-related-medication-request-gefitinib.json",
        "Observation-cancer-disease-status-improved.json",
        "Condition-john-anyperson-chf.json",
    ]
    case, unplaced, path = export(tmp_path, "john", [examples[n] for n in names])
    (primary,) = case["primary_cancers"]
    assert (primary["site"], primary["laterality"]) == ("lung", "left")  # bodySite + laterality qualifier
    assert primary["histology"] == "adenocarcinoma"
    assert primary["staging"] == [
        {
            "system": "AJCC 8th edition",
            "group": "stage IIIC",
            "t": "cT3",
            "n": "cN3",
            "m": "cM0",
            "date": "2019-04-01",
        }
    ]
    # EGFR (LOINC 39004-7) is not in the maps: its display is the marker's name.
    assert primary["markers"] == [
        {
            "name": "Epidermal growth factor receptor Ag [Presence] in Tissue",
            "result": "positive",
            "date": "2019-04-01",
        }
    ]
    (metastasis,) = case["metastases"]
    assert (metastasis["site"], metastasis["date"]) == ("brain", "2019-05-01")  # SNOMED 94225005
    (lobectomy,) = case["procedures"]
    assert lobectomy["laterality"] == "left" and lobectomy["date"] == "2019-03-01"
    assert lobectomy["treats"] == ["primary-1"]
    stopped, gefitinib = case["medications"]
    assert (stopped["status"], stopped["status_reason"]) == ("stopped", "Treatment not tolerated")
    assert gefitinib["date"] == "2019-04-30" and gefitinib["dose"] == "250 mg"
    assert case["disease_status"][0]["status"] == "responding"
    # A Condition neither profiled nor coded as a cancer is listed, not guessed at.
    assert listed(unplaced, "Condition/john-anyperson-chf", "has no place")
    assert listed(unplaced, "MedicationRequest/cancer-related-medication-request-gefitinib reasonCode")
    assert listed(unplaced, "MedicationRequest/cancer-related-medication-request-gefitinib authoredOn")
    converts(tmp_path, path)


def test_medication_administrations_and_the_patients_death(examples, tmp_path):
    patient = copy.deepcopy(examples["Patient-cancer-patient-brian-l.json"])
    patient["deceasedDateTime"] = "2024-06-01"  # added here: no example Patient has died
    names = [
        "Condition-primary-cancer-condition-brian-l.json",
        "MedicationAdministration-cancer-related-medication-admin-vincristine-brian-l.json",
    ]
    case, _, path = export(tmp_path, "brian", [patient, *(examples[n] for n in names)])
    assert case["patient"]["vital_status"] == {"deceased": True, "date": "2024-06-01"}
    (vincristine,) = case["medications"]
    assert vincristine["name"] == "vincristine"
    assert (vincristine["status"], vincristine["date"]) == ("completed", "2024-01-09")
    assert (vincristine["dose"], vincristine["route"]) == ("2 mg", "intravenous")
    assert vincristine["treats"] == ["primary-1"]
    converts(tmp_path, path)


def test_another_tools_marker_on_our_case_is_placed_by_its_focus(examples, tmp_path):
    result = run(
        "convert", "-q", Path(__file__).parents[1] / "examples" / "yu-2024-case-1.yaml", "-o", tmp_path
    )
    assert result.exit_code == 0, result.stderr
    bundle = json.loads((tmp_path / "yu-2024-case-1.json").read_text(encoding="utf-8"))
    resources = [e["resource"] for e in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    primary = next(
        r for r in resources if "mcode-primary-cancer-condition" in str(r.get("meta", {}).get("profile"))
    )
    before, _, _ = export(tmp_path, "ours", resources)
    marker = copy.deepcopy(examples["Observation-tumor-marker-test-oncotype-dx-jenny-m.json"])
    marker["subject"] = {"reference": f"Patient/{patient['id']}"}
    marker["focus"] = [{"reference": f"Condition/{primary['id']}"}]
    after, unplaced, _ = export(tmp_path, "ours-and-theirs", [*resources, marker])
    added = {
        "name": "Oncotype DX Breast Recurrence Score Assay",
        "result": "47 Recurrence score",
        "date": "2018-04-12",
    }
    assert after["primary_cancers"][0]["markers"] == [*before["primary_cancers"][0].get("markers", []), added]
    after["primary_cancers"][0]["markers"].pop()
    if not after["primary_cancers"][0]["markers"]:
        del after["primary_cancers"][0]["markers"]
    assert after == before
    # Our Patient's elements are ours; the marker found its place, all but its interpretation.
    assert unplaced == [
        "Observation/tumor-marker-test-oncotype-dx-jenny-m interpretation: has no place in the case format"
    ]


def test_a_marker_on_a_cancer_not_read_is_listed_once_with_its_reason(examples, tmp_path):
    marker = copy.deepcopy(examples["Observation-tumor-marker-test-er-jenny-m.json"])
    marker["focus"] = [{"reference": "Condition/not-sent"}]
    names = ["Patient-cancer-patient-jenny-m.json", "Condition-primary-cancer-condition-jenny-m.json"]
    case, unplaced, _ = export(tmp_path, "jenny", [*(examples[n] for n in names), marker])
    assert "receptors" not in case["primary_cancers"][0]
    lines = [line for line in unplaced if line.startswith("Observation/tumor-marker-test-er-jenny-m")]
    assert lines == [
        "Observation/tumor-marker-test-er-jenny-m focus: names no cancer read here; the marker cannot be placed"
    ]


def test_an_identifier_that_cannot_be_a_case_id_gives_way_to_the_resource_id(examples, tmp_path):
    patient = copy.deepcopy(examples["Patient-cancer-patient-eve-anyperson.json"])
    patient["identifier"] = [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN 45/6"}]
    case, unplaced, _ = export(
        tmp_path, "eve", [patient, examples["Condition-primary-cancer-condition-breast.json"]]
    )
    assert case["case"]["id"] == "cancer-patient-eve-anyperson"
    assert listed(unplaced, "Patient/cancer-patient-eve-anyperson identifier")
