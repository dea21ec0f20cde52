"""Push internals that need no server: case-field hints, read-back comparison, location parsing."""

from __future__ import annotations

from test_golden import CASES

from fhir_adapter.bundle import build_bundle
from fhir_adapter.casefile import load_case
from fhir_adapter.client import parse_location
from fhir_adapter.push import Item, _hints, differences, normalise_sent


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
