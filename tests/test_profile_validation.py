"""`fhir-adapter validate`: HAPI FHIR's own validator checks the output against mCODE 4.0.0.

The validator (tools/hapi-validator, built by its install.sh) runs in one JVM for the whole
session. Skipped only where Java or the validator is not installed, and never in CI
(FHIR_ADAPTER_REQUIRE_HAPI_VALIDATOR=1). The Node checker's fallback is tested here too.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter import profiles
from fhir_adapter.bundle import build_bundle
from fhir_adapter.case import Case
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE, ConfigError
from fhir_adapter.profiles import find_hapi, find_node, open_validator

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
GOLDEN = sorted(EXAMPLES.glob("*.bundle.json"))
LATERALITY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"


def _require(what: str, env: str, exc: Exception):
    if os.environ.get(env) == "1":
        pytest.fail(f"{what} is required here but unavailable: {exc}")
    pytest.skip(f"{what} is not installed: {exc}")


@pytest.fixture(scope="session")
def hapi():
    """One HAPI validator JVM for every test of this module."""
    try:
        install = find_hapi()
    except ConfigError as exc:
        _require("the HAPI validator", "FHIR_ADAPTER_REQUIRE_HAPI_VALIDATOR", exc)
    with profiles.HapiValidator(install) as validator:
        yield validator


@pytest.fixture(scope="session")
def node_checker():
    try:
        return find_node()
    except ConfigError as exc:
        _require("the Node mCODE checker", "FHIR_ADAPTER_REQUIRE_MCODE_VALIDATOR", exc)


def run(*args: str, **kw):
    return CliRunner().invoke(main, list(args), **kw)


class _Shared:
    """The session's validator, lent to one CLI run: closing it leaves the JVM running."""

    def __init__(self, validator):
        self._validator = validator

    def __getattr__(self, name):
        return getattr(self._validator, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@pytest.fixture
def shared_cli(hapi, monkeypatch):
    """CLI runs in this test reuse the session's JVM (the run that counts JVMs starts its own)."""
    monkeypatch.setattr(profiles, "open_validator", lambda engine, home: _Shared(hapi))


def errors_of(validator, paths) -> list[str]:
    return [
        f"{f.file}:{f.line or ''} {f.resource} {f.path}: {f.message}"
        for checked in validator.check([str(p) for p in paths])
        for f in checked.findings
        if f.is_error
    ]


def golden(name: str = "yu-2024-case-1") -> dict:
    return json.loads((EXAMPLES / f"{name}.bundle.json").read_text())


def write(tmp_path: Path, name: str, doc: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_every_golden_bundle_and_example_conforms(hapi, tmp_path, terminology):
    """The golden bundles (which the spreadsheet examples give too, test_tables), the examples as
    Bulk NDJSON, and the maximal test cases: no error from HAPI."""
    from test_clinical_depth import DEPTH
    from test_mappers import MAXIMAL

    result = run("convert", "-q", str(EXAMPLES), "--format", "ndjson", "-o", str(tmp_path / "ndjson"))
    assert result.exit_code == 0, result.stderr
    (tmp_path / "bundle").mkdir()
    for name, case in (("maximal", MAXIMAL), ("depth", DEPTH)):
        write(
            tmp_path / "bundle", f"{name}.json", build_bundle(Case.model_validate(case), terminology).bundle
        )

    paths = [
        *GOLDEN,
        *sorted((tmp_path / "bundle").glob("*.json")),
        *sorted((tmp_path / "ndjson").glob("*.ndjson")),
    ]
    checked = list(hapi.check(map(str, paths)))
    assert sum(c.resources for c in checked) > 250
    assert {c.file for c in checked} >= {str(p) for p in GOLDEN}
    assert [
        f"{f.file}:{f.line or ''} {f.resource} {f.path}: {f.message}"
        for c in checked
        for f in c.findings
        if f.is_error
    ] == []


def test_a_broken_resource_fails_at_its_fhirpath(hapi, tmp_path):
    bundle = golden()
    patient = bundle["entry"][0]["resource"]
    patient["gender"] = "femme"
    path = write(tmp_path, "broken.json", bundle)
    findings = [f for c in hapi.check([str(path)]) for f in c.findings if f.is_error]
    own = [f for f in findings if f.resource == f"Patient/{patient['id']}"]
    assert own, "a gender outside its required value set must be an error"
    assert {(f.entry, f.path, f.location) for f in own} == {
        (0, "Patient.gender", "Bundle.entry[0].resource.gender")
    }
    assert any("'femme'" in f.message and "AdministrativeGender" in f.message for f in own)
    # Elsewhere only the references that demand an mCODE CancerPatient, which this one no longer is.
    assert all(
        f.message_id == "Reference_REF_CantMatchChoice" and f.message.endswith("mcode-cancer-patient")
        for f in findings
        if f not in own
    )


def test_a_missing_required_element_is_named(hapi, tmp_path):
    bundle = golden()
    del bundle["entry"][0]["resource"]["gender"]
    path = write(tmp_path, "no-gender.json", bundle)
    errors = errors_of(hapi, [path])
    assert any("Patient.gender: minimum required = 1" in e and "mcode-cancer-patient" in e for e in errors), (
        errors
    )
    # The resources that must point at an mCODE CancerPatient now point at one that is not.
    assert any(
        "among choices: http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-patient" in e
        for e in errors
    )


def test_a_required_mcode_binding_the_node_checker_skips_is_checked(hapi, node_checker, tmp_path):
    """mCODE binds the laterality qualifier `required` to its own value set of SNOMED CT codes.
    The Node checker does not check CodeableConcept bindings; HAPI does, offline."""
    bundle = golden("bjms-eyelid-masquerade")
    condition = next(
        e["resource"]
        for e in bundle["entry"]
        if any(
            x["url"] == LATERALITY
            for site in e["resource"].get("bodySite", [])
            for x in site.get("extension", [])
        )
    )
    qualifier = condition["bodySite"][0]["extension"][0]
    assert qualifier["url"] == LATERALITY
    qualifier["valueCodeableConcept"]["coding"][0] = {"system": "http://snomed.info/sct", "code": "66459002"}
    path = write(tmp_path, "laterality.json", bundle)

    node = subprocess.run([*node_checker, str(path)], capture_output=True, text=True, timeout=300)
    assert json.loads(node.stdout)["errors"] == []  # the gap this validator closes

    findings = [f for c in hapi.check([str(path)]) for f in c.findings if f.is_error]
    own = [f for f in findings if f.resource == f"Condition/{condition['id']}"]
    assert [f.path for f in own] == ["Condition.bodySite[0].extension[0].value.ofType(CodeableConcept)"]
    # The metastases name this primary, which no longer meets mCODE PrimaryCancerCondition.
    assert all(f.message.endswith("mcode-primary-cancer-condition") for f in findings if f not in own)
    findings = own
    assert "Laterality Qualifier Value Set" in findings[0].message
    assert "66459002" in findings[0].message


def test_what_cannot_be_checked_offline_is_a_warning_that_says_why(hapi):
    findings = [
        f for c in hapi.check([str(EXAMPLES / "abdulraheem-2023-scalp.bundle.json")]) for f in c.findings
    ]
    offline = [f for f in findings if f.not_checked]
    assert offline and all(f.severity == "warning" for f in offline)
    reasons = " ".join(f.not_checked for f in offline)
    assert "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race" in reasons  # US Core is not loaded
    assert "http://hl7.org/fhir/us/core/ValueSet/us-core-problem-or-health-concern" in reasons
    assert "http://snomed.info/sct" in reasons  # SNOMED CT is-a filters cannot be expanded


def test_a_reference_target_that_breaks_its_profile_stays_an_error(hapi, tmp_path):
    """A tumor marker test must point at an mCODE HumanSpecimen. In the golden bundle the specimen
    fails that profile only on checks that need US Core, so the reference is a warning; a specimen
    with a real fault makes it an error, with the specimen's own errors as details."""
    cascades = [
        f
        for c in hapi.check([str(EXAMPLES / "abdulraheem-2023-scalp.bundle.json")])
        for f in c.findings
        if f.message_id == "Reference_REF_CantMatchChoice" and "mcode-human-specimen" in f.message
    ]
    assert cascades and all(f.severity == "warning" and "checked offline" in f.not_checked for f in cascades)

    bundle = golden("abdulraheem-2023-scalp")
    specimen = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Specimen")
    specimen["status"] = "misplaced"
    path = write(tmp_path, "specimen.json", bundle)
    errors = [f for c in hapi.check([str(path)]) for f in c.findings if f.is_error]
    assert {f.path for f in errors if f.resource == f"Specimen/{specimen['id']}"} == {"Specimen.status"}
    cascade = [f for f in errors if f.message_id == "Reference_REF_CantMatchChoice"]
    assert cascade and all(f.resource.startswith("Observation/") for f in cascade), errors
    assert any("Specimen.status" in d and "misplaced" in d for d in cascade[0].details), cascade[0].details


def test_ndjson_lines_are_named_by_line(hapi, tmp_path):
    lines = [json.dumps(e["resource"]) for e in golden()["entry"]]
    broken = json.loads(lines[0])
    broken["gender"] = "femme"
    lines[0] = json.dumps(broken)
    path = tmp_path / "Patient.ndjson"
    path.write_text("\n".join(lines) + "\n")
    checked = list(hapi.check([str(path)]))
    assert [c.line for c in checked] == list(range(1, len(lines) + 1))
    errors = [f for c in checked for f in c.findings if f.is_error]
    assert {(f.line, f.resource, f.path) for f in errors} == {
        (1, f"Patient/{broken['id']}", "Patient.gender")
    }


def test_a_run_left_early_leaves_the_jvm_in_step(hapi, tmp_path):
    """Answers still owed when a caller stops reading are dropped, not handed to the next check."""
    broken = golden()
    broken["entry"][0]["resource"]["gender"] = "femme"
    bad = write(tmp_path, "bad.json", broken)
    early = hapi.check(map(str, GOLDEN[:3]))
    assert next(early).file == str(GOLDEN[0])
    early.close()
    errors = errors_of(hapi, [bad])
    assert any("Patient.gender" in e for e in errors), errors


def test_unreadable_inputs_are_findings_not_crashes(hapi, tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text('{"hello": 1}')
    checked = list(hapi.check([str(tmp_path / "a.json"), str(tmp_path / "b.json")]))
    assert [f.message.split(":")[0] for c in checked for f in c.findings] == [
        "not JSON",
        "not a FHIR resource (no resourceType)",
    ]


def test_cli_one_jvm_for_the_whole_run_and_exit_codes(tmp_path, monkeypatch, hapi):
    broken = golden()
    broken["entry"][0]["resource"]["gender"] = "femme"
    bad = write(tmp_path, "bad.json", broken)
    starts = []
    popen = subprocess.Popen

    def counting(command, *args, **kw):
        starts.append(command)
        return popen(command, *args, **kw)

    monkeypatch.setattr(profiles.subprocess, "Popen", counting)
    result = run("validate", "--format", "json", *map(str, GOLDEN), str(bad))
    assert len(starts) == 1 and "-jar" in starts[0]
    assert result.exit_code == EXIT_INVALID_CASE, result.stderr
    report = json.loads(result.stdout)
    assert report["engine"] == "hapi" and report["files"] == len(GOLDEN) + 1
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert report["errors"] == len(errors) and report["notCheckedOffline"] > 0
    # The two findings on the gender itself, and the reference that demands an mCODE CancerPatient.
    assert {(f["file"], f["path"]) for f in errors} == {
        (str(bad), "Patient.gender"),
        (str(bad), "Observation.subject"),
    }


def test_cli_text_names_file_resource_and_element(tmp_path, shared_cli):
    broken = golden()
    broken["entry"][0]["resource"]["gender"] = "femme"
    bad = write(tmp_path, "bad.json", broken)
    text = run("validate", str(bad))
    assert text.exit_code == EXIT_INVALID_CASE
    patient = broken["entry"][0]["resource"]["id"]
    assert f"{bad}: Patient/{patient} (entry 0): error: Patient.gender: Unknown code" in text.stdout
    assert f"1 file(s), {len(broken['entry'])} resource(s): 3 error(s)" in text.stderr


def test_cli_good_files_exit_0(shared_cli):
    result = run("validate", "-q", *map(str, GOLDEN))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert f"{len(GOLDEN)} file(s)" in result.stderr and " 0 error(s)" in result.stderr


def test_without_hapi_the_node_checker_runs_and_says_what_it_skips(tmp_path, node_checker):
    result = run("validate", "--validator-home", str(tmp_path), str(GOLDEN[0]))
    assert result.exit_code == 0, result.stderr
    note = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert note and "the Node checker ran instead" in note[0]
    assert "skips terminology bindings on CodeableConcept and Coding" in note[0]
    assert "install it with: bash tools/hapi-validator/install.sh" in note[0]


def test_the_node_fallback_still_finds_errors(tmp_path, node_checker):
    bundle = golden()
    del bundle["entry"][0]["resource"]["gender"]
    path = write(tmp_path, "b.json", bundle)
    lines = tmp_path / "Patient.ndjson"
    lines.write_text(json.dumps(bundle["entry"][0]["resource"]) + "\n")
    with open_validator("node") as validator:
        found = [
            (f.file, f.line, f.resource, f.is_error)
            for c in validator.check([str(path), str(lines)])
            for f in c.findings
        ]
    patient = "Patient/" + bundle["entry"][0]["resource"]["id"]
    assert (str(path), None, patient, True) in found
    assert (str(lines), 1, patient, True) in found


def test_engine_hapi_without_the_validator_is_a_config_error(tmp_path):
    result = run("validate", "--engine", "hapi", "--validator-home", str(tmp_path), str(GOLDEN[0]))
    assert result.exit_code == EXIT_CONFIG
    assert "install it with: bash tools/hapi-validator/install.sh" in result.stderr or "Java" in result.stderr


def test_a_missing_file_is_a_config_error(tmp_path):
    result = run("validate", "--engine", "node", str(tmp_path / "nothing.json"))
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr.endswith("nothing.json: no such file\n")
