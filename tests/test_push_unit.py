"""Push internals that need no server: case-field hints, read-back comparison, location parsing."""

from __future__ import annotations

from test_golden import CASES

from fhir_adapter.bundle import build_bundle
from fhir_adapter.casefile import load_case
from fhir_adapter.client import parse_location
from fhir_adapter.push import Item, _hints, differences, normalise_sent, outbox_key


def item_for(terminology, case_path):
    conversion = build_bundle(load_case(case_path), terminology)
    return Item(conversion.case_id, str(case_path), conversion.bundle, conversion.origins)


def test_rejected_element_is_traced_to_the_case_field(terminology):
    item = item_for(terminology, CASES[0])
    entry = item.bundle["entry"][1]["resource"]
    hints = _hints(item, [{"expression": ["Bundle.entry[1].resource.code"]}])
    assert hints == [f"Bundle.entry[1].resource.code: Condition/{entry['id']} made from primary_cancers[0]"]


def test_expression_by_type_lists_every_candidate(terminology):
    item = item_for(terminology, CASES[0])
    hints = _hints(item, [{"expression": ["MedicationStatement.status"]}])
    assert hints and all("made from medications[" in h for h in hints)


def test_location_formats_of_different_servers():
    assert parse_location("Patient/abc/_history/2") == ("Patient", "abc", "2")
    assert parse_location("http://127.0.0.1:8080/fhir/Patient/abc/_history/1") == ("Patient", "abc", "1")
    assert parse_location("https://hapi.fhir.org/baseR4/Condition/x-1") == ("Condition", "x-1", None)
    assert parse_location(None) == (None, None, None)


def test_read_back_ignores_what_the_server_assigns_and_resolves_urns(terminology):
    item = item_for(terminology, CASES[0])
    condition = item.bundle["entry"][1]["resource"]
    sent = normalise_sent(item.bundle, condition)
    assert sent["subject"]["reference"].startswith("Patient/")
    stored = {**sent, "meta": {**sent["meta"], "versionId": "3", "lastUpdated": "2026-01-01T00:00:00Z"}}
    assert differences(sent, stored) == []
    stored["onsetDateTime"] = "2015-01-01"
    assert differences(sent, stored) == ['onsetDateTime: added by the server ("2015-01-01")']


def test_an_identifier_that_equals_a_full_url_is_not_taken_for_a_reference(terminology):
    item = item_for(terminology, CASES[0])
    patient = item.bundle["entry"][0]["resource"]
    resource = {
        "resourceType": "BodyStructure",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{patient['id']}"}],
        "patient": {"reference": f"urn:uuid:{patient['id']}"},
    }
    sent = normalise_sent(item.bundle, resource)
    assert sent["identifier"][0]["value"] == f"urn:uuid:{patient['id']}"
    assert sent["patient"]["reference"] == f"Patient/{patient['id']}"


def test_outbox_names_are_one_per_case_and_never_shared():
    def bundle(system=None, value=None, bundle_id=None, entries=()):
        out = {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}
        if value is not None:
            out["identifier"] = {"system": system, "value": value}
        if bundle_id is not None:
            out["id"] = bundle_id
        return out

    default = "urn:fhir-adapter:case-id"
    assert outbox_key(bundle(default, "case-1"), "f") == "case-1"  # as before, for the common case
    a = outbox_key(bundle("https://a.example", "case-1"), "f")
    b = outbox_key(bundle("https://b.example", "case-1"), "f")
    assert len({a, b, "case-1"}) == 3 and a.startswith("case-1~")
    # A plain name never holds "~", and none ends like the error file beside a waiting bundle.
    assert not outbox_key(bundle(default, "biopsy.error"), "f").endswith(".error")
    assert outbox_key(bundle(default, "case-1"), "f") != outbox_key(bundle(bundle_id="case-1"), "f")
    # Without id or identifier: by content, so two different bundles of one file never share.
    one = outbox_key(bundle(entries=[{"resource": {"resourceType": "Patient", "id": "p1"}}]), "file")
    two = outbox_key(bundle(entries=[{"resource": {"resourceType": "Patient", "id": "p2"}}]), "file")
    assert one != two and one.startswith("file~")
    # A case id no file name can carry whole still names its own file.
    assert outbox_key(bundle(default, "a/b"), "f") != outbox_key(bundle(default, "a_b"), "f")
