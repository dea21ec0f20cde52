"""Attacks on the way back: FHIR read into case files (export), compared (verify --patient) and de-identified.

Each test hands the reader FHIR a person or a program could have made (a resource given twice, an
element added by hand, a search answer holding an error, a name in a note) and checks that nothing
is lost, changed or invented without a word. Servers are scripted peers on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from support.hostile_peer import HostilePeer, Reply

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE, EXIT_SERVER_UNAVAILABLE, EXIT_VERIFY, InvalidCaseError
from fhir_adapter.export.read import read_case
from fhir_adapter.export.sources import read_file

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "examples" / "yu-2024-case-1.bundle.json"
KEY = "a secret of twenty bytes or more"


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def example() -> dict:
    return orjson.loads(BUNDLE.read_bytes())


def by_role(bundle: dict, role: str) -> dict:
    """The resource of the example whose identifier names `role` (`patient` for the Patient)."""
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if role == "patient" and resource["resourceType"] == "Patient":
            return resource
        if any(i.get("value", "").endswith("/" + role) for i in resource.get("identifier") or []):
            return resource
    raise AssertionError(role)


def reading(bundle: dict, tmp_path: Path, terminology):
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))
    (found,) = list(read_file(str(path)))
    return read_case(found.resources, terminology, source=str(path), full_urls=found.full_urls)


# Elements of the case's own resources that no reader looks at.


def test_elements_added_to_the_case_s_own_resources_are_listed_not_dropped(tmp_path, terminology):
    bundle = example()
    patient = by_role(bundle, "patient")
    patient["birthDate"] = "1970-02"
    patient["_birthDate"] = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "1970-02-03T23:30:00-05:00",
            }
        ]
    }
    primary = by_role(bundle, "primary/breast")
    primary["abatementDateTime"] = "2020-01-01"
    status = by_role(bundle, "disease-status/disease-status-1")
    status["interpretation"] = [{"text": "worse"}]
    status["hasMember"] = [{"reference": f"Observation/{status['id']}"}]  # a loop onto itself
    drug = by_role(bundle, "medication/medication-1")
    drug["reasonReference"] = [{"reference": "Condition/not-in-the-bundle"}]

    result = reading(bundle, tmp_path, terminology)
    unplaced = "\n".join(result.unplaced)
    for element in (
        f"Patient/{patient['id']} birthDate: has no place",
        f"Patient/{patient['id']} _birthDate.extension[http://hl7.org/fhir/StructureDefinition/patient-birthTime]",
        f"Condition/{primary['id']} abatementDateTime: has no place",
        f"Observation/{status['id']} interpretation: has no place",
        f"Observation/{status['id']} hasMember: has no place",
        f"MedicationStatement/{drug['id']} reasonReference: has no place",
    ):
        assert element in unplaced, element
    # The medication treats only what its references name: nothing is invented for the dangling one.
    assert "treats" not in result.case["medications"][0]

    # Our own bundle comes back with nothing listed: the check compares with what the mapping writes.
    assert reading(example(), tmp_path, terminology).unplaced == []


def test_a_resource_of_a_misspelt_type_is_said(tmp_path, terminology):
    bundle = example()
    metastasis = by_role(bundle, "metastasis/scalp")
    metastasis["resourceType"] = "Conditon"
    result = reading(bundle, tmp_path, terminology)
    assert any(line.startswith(f"Conditon/{metastasis['id']} resourceType:") for line in result.unplaced)


# The same resource, or the same item of the case, given twice.


def test_one_resource_given_twice_with_other_content_fails_the_case_named(tmp_path, terminology):
    bundle = example()
    twice = copy.deepcopy(
        next(e for e in bundle["entry"] if e["resource"] is by_role(bundle, "metastasis/scalp"))
    )
    bundle["entry"].append(copy.deepcopy(twice))  # the same content again: read once, no error
    assert reading(bundle, tmp_path, terminology).case == reading(example(), tmp_path, terminology).case

    twice["resource"]["onsetAge"] = {
        "value": 61,
        "unit": "a",
        "system": "http://unitsofmeasure.org",
        "code": "a",
    }
    bundle["entry"].append(twice)
    with pytest.raises(InvalidCaseError) as caught:
        reading(bundle, tmp_path, terminology)
    message = str(caught.value)
    assert f"Condition/{twice['resource']['id']} is given twice with different content (onsetAge" in message


def test_two_resources_for_one_item_of_the_case_fail_it_named(tmp_path, terminology):
    bundle = example()
    first = by_role(bundle, "metastasis/scalp")
    second = copy.deepcopy(first)
    second["id"] = "another-copy"
    second["onsetAge"] = {"value": 61, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}
    bundle["entry"].append({"fullUrl": "urn:uuid:another-copy", "resource": second})
    path = tmp_path / "two.json"
    path.write_bytes(orjson.dumps(bundle))
    result = run("export", path)
    assert result.exit_code == EXIT_INVALID_CASE, result.stderr
    assert (
        f"Condition/{first['id']} and Condition/another-copy both carry the identifier of role metastasis/scalp"
        in result.stderr
    )
    assert "61" not in result.stdout


# A server's search answers.


def _searchset(resources: list[dict], outcome: dict | None = None) -> bytes:
    entries = [{"resource": r, "search": {"mode": "match"}} for r in resources]
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    return json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries}).encode()


def _server(resources: list[dict], outcome: dict | None = None):
    """A peer answering Patient/ID/$everything with `resources`, and the complementary searches with none."""

    def answer(request):
        if "$everything" in request.path:
            return Reply(body=_searchset(resources, outcome))
        return Reply(body=_searchset([]))

    return HostilePeer(answer)


def _resources(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"]]


def _outcome(severity: str) -> dict:
    issue = {"severity": severity, "code": "too-costly", "diagnostics": "results cut at 3 of 9"}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def test_an_error_in_a_search_answer_stops_the_patient_and_a_warning_is_said(tmp_path):
    bundle = example()
    patient_id = by_role(bundle, "patient")["id"]
    with _server(_resources(bundle), _outcome("error")) as peer:
        result = run("export", "--server", peer.base_url, "--patient", patient_id)
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.stderr
    assert "holds an OperationOutcome error (too-costly results cut at 3 of 9)" in result.stderr
    assert result.stdout == ""

    with _server(_resources(bundle), _outcome("warning")) as peer:
        result = run("export", "--server", peer.base_url, "--patient", patient_id)
    assert result.exit_code == 0, result.stderr
    assert "the server says of its search (warning): too-costly results cut at 3 of 9" in result.stderr


def test_a_resource_listed_twice_with_other_content_by_a_server_is_not_picked_silently():
    bundle = example()
    patient_id = by_role(bundle, "patient")["id"]
    resources = _resources(bundle)
    changed = copy.deepcopy(by_role(bundle, "metastasis/scalp"))
    changed["note"] = [{"text": "a later version"}]
    with _server([*resources, changed]) as peer:
        result = run("export", "--server", peer.base_url, "--patient", patient_id)
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.stderr
    assert f"listed Condition/{changed['id']} twice with different content" in result.stderr


# verify --patient: "matches" only when the server holds exactly the case.


def test_verify_says_what_the_server_holds_beyond_the_case(tmp_path):
    bundle = example()
    patient = by_role(bundle, "patient")
    resources = _resources(bundle)
    with _server(resources) as peer:
        same = run("verify", BUNDLE, "--patient", patient["id"], "--server", peer.base_url)
    assert same.exit_code == 0, same.stderr
    assert "matches" in same.stderr

    lab = {
        "resourceType": "Observation",
        "id": "lab-of-someone",
        "status": "final",
        "code": {"text": "haemoglobin"},
        "subject": {"reference": f"Patient/{patient['id']}"},
        "valueQuantity": {"value": 9.1, "unit": "g/dL"},
    }
    with _server([*resources, lab]) as peer:
        extra = run("verify", BUNDLE, "--patient", patient["id"], "--server", peer.base_url)
    assert extra.exit_code == EXIT_VERIFY
    assert "1 difference(s)" in extra.stderr
    assert (
        "the server holds what has no place in the case, and the case file does not: Observation/lab-of-someone"
        in (extra.stderr)
    )

    added = copy.deepcopy(resources)
    by_role({"entry": [{"resource": r} for r in added]}, "primary/breast")["abatementDateTime"] = "2020"
    with _server(added) as peer:
        changed = run("verify", BUNDLE, "--patient", patient["id"], "--server", peer.base_url)
    assert changed.exit_code == EXIT_VERIFY
    assert "abatementDateTime: has no place in the case format" in changed.stderr

    other = copy.deepcopy(patient)
    other["id"] = "someone-else"
    with _server([other, *resources[1:]]) as peer:  # a 200 with another patient's Patient
        wrong = run("verify", BUNDLE, "--patient", patient["id"], "--server", peer.base_url)
    assert wrong.exit_code == 6  # the server's fault, not the case file's
    assert "matches" not in wrong.stderr
    assert "holds no Patient/" in wrong.stderr and "but Patient/someone-else" in wrong.stderr


# export --deidentify: what the Patient resource says identifies the patient, wherever it is repeated.

NAME, FAMILY = "Zebediah", "Quuxworth"
PHONE = "0161 496 0000"
MRN = "K7Q2-ZX"
STREET = "14 Larkspur Rise"


def test_deidentified_export_leaks_no_name_identifier_or_contact_the_patient_resource_gives(tmp_path):
    bundle = example()
    patient = by_role(bundle, "patient")
    patient["name"] = [{"given": [NAME], "family": FAMILY}]
    patient["telecom"] = [{"system": "phone", "value": PHONE}]
    patient["identifier"].append({"system": "https://hospital.example/mrn", "value": MRN})
    patient["address"] = [{"line": [STREET], "city": "Grantchester"}]
    patient["contact"] = [{"name": {"text": "Ottoline Brae"}}]
    planted = f"Seen by {NAME} {FAMILY} ({MRN}), {STREET}, Grantchester; ask Ottoline on {PHONE}"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in ("Condition", "Observation", "MedicationStatement"):
            resource.setdefault("note", []).append({"text": planted})
        resource["text"] = {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{planted}</div>',
        }
        resource.setdefault("extension", []).append({"url": "https://x.example/said", "valueString": planted})
        resource["contained"] = [
            {
                "resourceType": "RelatedPerson",
                "id": "r",
                "patient": {"reference": "#"},
                "name": [{"text": planted}],
            }
        ]
    by_role(bundle, "primary/breast")["code"]["text"] = f"breast cancer ({FAMILY})"
    by_role(bundle, "medication/medication-1")["medicationCodeableConcept"]["text"] = f"{NAME}'s chemotherapy"
    source = tmp_path / f"{FAMILY}.json"
    source.write_bytes(orjson.dumps(bundle))
    out = tmp_path / "shared"
    result = run("export", source, "-o", out, "--deidentify", env={"FHIR_ADAPTER_DEID_KEY": KEY})
    assert result.exit_code == 0, result.stderr
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert written
    found = []
    for path in written:
        text = path.name + "\n" + path.read_text(encoding="utf-8")
        for secret in (NAME, FAMILY, PHONE, MRN, STREET, "Grantchester", "Ottoline", "yu-2024-case-1"):
            if secret.casefold() in text.casefold():
                found.append((path.name, secret))
    messages = result.stderr + result.stdout
    found += [("messages", s) for s in (NAME, FAMILY, PHONE, MRN, "Ottoline") if s in messages]
    assert found == []
    assert re.search(r"removed metastases\[0\]\.note: a name, identifier, contact or address", result.stderr)


# summary: a page made from hostile FHIR runs nothing and loads nothing, even with scripts on.


def test_a_summary_page_of_hostile_fhir_runs_no_script_and_loads_nothing(browser, tmp_path):
    from fhir_adapter.summary import write_summaries
    from fhir_adapter.terminology import load_terminology

    with HostilePeer(Reply(body=b"x")) as peer:
        there = f"{peer.base_url}/x"
        payload = (
            f"<script>document.title='ran'</script><img src='{there}' onerror=\"document.title='ran'\">"
            f"<svg onload=\"document.title='ran'\"><image href='{there}'/></svg>"
            f"<style>body{{background:url({there})}}</style><a href=\"javascript:document.title='ran'\">x</a>"
            f"<iframe src='{there}'></iframe><link rel=stylesheet href='{there}'>\u202egnp.exe"
        )
        bundle = example()
        for entry in bundle["entry"]:
            resource = entry["resource"]
            div = f'<div xmlns="http://www.w3.org/1999/xhtml">{payload}</div>'
            resource["text"] = {"status": "generated", "div": div}
            if resource["resourceType"] in ("Condition", "Observation", "MedicationStatement"):
                resource.setdefault("note", []).append({"text": payload})
            if isinstance(resource.get("code"), dict):
                resource["code"]["text"] = payload
        by_role(bundle, "medication/medication-1")["medicationCodeableConcept"]["text"] = payload
        hostile_id = {
            "system": "https://x.example/ids",
            "value": "x\"'><script>document.title='ran'</script>",
        }
        by_role(bundle, "patient")["identifier"].append(hostile_id)
        source = tmp_path / "hostile.json"
        source.write_bytes(orjson.dumps(bundle))
        out = tmp_path / "pages"
        run_ = write_summaries([str(source)], out, load_terminology())
        assert not run_.errors, run_.errors
        for page in [*run_.pages, run_.index]:
            visit = browser.open(page, scripts=True)
            try:
                browser.collect(visit)
                assert visit.requests == [visit.url]
                assert browser.evaluate(visit, "document.title") != "ran"
                assert browser.evaluate(visit, "document.scripts.length") == 0
                active = "img, iframe, link, image, object, embed, a[href^='javascript']"
                assert browser.evaluate(visit, f"document.querySelectorAll({json.dumps(active)}).length") == 0
            finally:
                browser.close_page(visit)
        page = run_.pages[0].read_text(encoding="utf-8")
        assert "&lt;script&gt;document.title=" in page  # shown as text, not obeyed
        assert "\u202e" not in page and "\\u202e" in page
        assert peer.requests == []


# NDJSON directories.


def test_a_directory_of_ndjson_bundles_is_read_as_bundles_and_nothing_of_no_patient_goes_unsaid(tmp_path):
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    one, two = (
        orjson.loads((ROOT / "examples" / f"yu-2024-case-{n}.bundle.json").read_bytes()) for n in (1, 2)
    )
    (bundles / "convert-stdout.ndjson").write_bytes(orjson.dumps(one) + b"\n" + orjson.dumps(two) + b"\n")
    result = run("export", bundles, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.yaml")) == [
        "yu-2024-case-1.yaml",
        "yu-2024-case-2.yaml",
    ]

    bulk = tmp_path / "bulk"
    made = run("convert", "-q", ROOT / "examples" / "yu-2024-case-1.yaml", "--format", "ndjson", "-o", bulk)
    assert made.exit_code == 0, made.stderr
    mixed = bulk / "Medication.ndjson"
    lines = [orjson.dumps({"resourceType": "Medication", "id": "nobody-s", "code": {"text": "a drug"}})]
    lines.append(orjson.dumps(two))  # a Bundle among resources
    mixed.write_bytes(b"\n".join(lines) + b"\n")
    result = run("export", bulk, "-o", tmp_path / "out2")
    assert result.exit_code == EXIT_INVALID_CASE, result.stderr
    assert "Medication/nobody-s belongs to no patient; not read" in result.stderr
    assert f"{mixed}:2: a Bundle among resources of a line each; not read" in result.stderr
    assert [p.name for p in (tmp_path / "out2").glob("*.yaml")] == ["yu-2024-case-1.yaml"]


def test_a_narrative_a_server_generates_is_no_difference_but_one_written_by_hand_is_listed(
    tmp_path, terminology
):
    bundle = example()
    status = by_role(bundle, "disease-status/disease-status-1")
    status["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">progressive</div>',
    }
    assert reading(bundle, tmp_path, terminology).unplaced == []
    status["text"]["status"] = "additional"
    assert reading(bundle, tmp_path, terminology).unplaced == [
        f"Observation/{status['id']} text: has no place in the case format"
    ]


def test_what_the_patient_resource_identifies_is_found_as_whole_words_in_any_case():
    from fhir_adapter.export.deidentify import identifying_strings, known_pattern, scan

    patient = {
        "resourceType": "Patient",
        "identifier": [{"value": "42"}, {"value": "MRN-1"}],
        "name": [{"given": ["Li"], "family": "O'Brien-Smith"}],
        "contact": [{"telecom": [{"system": "email", "value": "kin@example.org"}]}],
    }
    known = known_pattern(identifying_strings([patient]))
    assert scan("seen by o'brien-smith", known) == [
        "a name, identifier, contact or address the Patient's resources give"
    ]
    assert scan("Dr LI said", known)[0].startswith("a name")
    assert scan("write to KIN@example.org", known)[0].startswith("a name")
    assert scan("aged 42, lipid profile normal", known) == []  # a two-character id, a word holding a name
