"""ndjson_lines cuts the serialised text at each reference instead of running a regex over it.

The reference here is the rewrite it replaced, a regex over the same text; the two must give the
same bytes on mapped bundles and on bundles made to sit at the edges of the cut.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import orjson
import pytest

from fhir_adapter.bundle import build_bundle
from fhir_adapter.casefile import load_case
from fhir_adapter.sinks import ndjson_lines
from fhir_adapter.terminology import load_terminology

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from synthetic import CaseGenerator  # noqa: E402

_URN_REFERENCE = re.compile(rb'"reference":"urn:uuid:[0-9a-fA-F-]{36}"')


def regex_lines(bundle: dict) -> list[tuple[str, bytes]]:
    """The rewrite as a regex pass: each matched reference to an entry's fullUrl becomes Type/id."""
    resources = [entry["resource"] for entry in bundle["entry"]]
    targets = {
        f'"reference":"{entry["fullUrl"]}"'.encode(): f'"reference":"{r["resourceType"]}/{r["id"]}"'.encode()
        for entry, r in zip(bundle["entry"], resources, strict=True)
        if entry.get("fullUrl")
    }
    joined = b"\n".join(orjson.dumps(r) for r in resources)
    joined = _URN_REFERENCE.sub(lambda m: targets.get(m[0], m[0]), joined)
    return [(r["resourceType"], line + b"\n") for r, line in zip(resources, joined.split(b"\n"), strict=True)]


@pytest.fixture(scope="module")
def terminology():
    return load_terminology()


def test_same_lines_as_the_regex_on_mapped_cases(terminology, tmp_path):
    from fhir_adapter.casefile import parse_case, read_case_text

    gen = CaseGenerator(11, terminology)
    bundles = [
        build_bundle(parse_case(read_case_text(f"c{i}.json", orjson.dumps(gen.case(i)))), terminology).bundle
        for i in range(150)
    ]
    bundles += [
        build_bundle(load_case(p), terminology).bundle for p in sorted((REPO / "examples").glob("*.yaml"))
    ]
    rewritten = 0
    for bundle in bundles:
        lines = ndjson_lines(bundle)
        assert lines == regex_lines(bundle)
        rewritten += sum(line.count(b'"reference":"') for _, line in lines)
    assert rewritten > 1000


UUID_A = "6e0b1b9e-7a49-5d1f-9c1e-3b1e6f0f2a11"
UUID_B = "A9C1F0DE-1111-5222-8333-444455556666"  # upper case: the regex took it too


@pytest.mark.parametrize(
    "full_url, value",
    [
        (f"urn:uuid:{UUID_A}", f"urn:uuid:{UUID_A}"),  # rewritten
        (f"urn:uuid:{UUID_B}", f"urn:uuid:{UUID_B}"),  # rewritten, upper case
        (f"urn:uuid:{UUID_A}", f"urn:uuid:{UUID_A}x"),  # longer than a uuid: kept
        (f"urn:uuid:{UUID_A}", f"urn:uuid:{UUID_A[:-1]}"),  # shorter: kept
        (f"urn:uuid:{UUID_A}", "urn:uuid:"),  # the marker and nothing: kept
        ("urn:uuid:" + "g" * 36, "urn:uuid:" + "g" * 36),  # not hexadecimal: the regex kept it
        ("urn:uuid:" + "-" * 36, "urn:uuid:" + "-" * 36),  # hyphens only: the regex took it
        ("http://example.org/Patient/1", "http://example.org/Patient/1"),  # not a urn: kept
        (None, f"urn:uuid:{UUID_A}"),  # an entry without fullUrl: nothing to rewrite to
    ],
)
def test_same_lines_as_the_regex_at_the_edges(full_url, value):
    target = {"resourceType": "Patient", "id": "p1"}
    other = {
        "resourceType": "Observation",
        "id": "o1",
        "subject": {"reference": value},
        "focus": [{"reference": value}, {"reference": f"urn:uuid:{UUID_A}"}],
        "note": [{"text": f'"reference":"{value}"'}],
    }
    first = {"resource": target} if full_url is None else {"fullUrl": full_url, "resource": target}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [first, {"resource": other}]}
    assert ndjson_lines(bundle) == regex_lines(bundle)


def test_a_reference_at_the_very_end_of_the_text():
    # The last characters of the joined text are a reference: the cut's last piece is its uuid and quote
    # and what closes the object.
    patient = {"resourceType": "Patient", "id": "p1"}
    last = {"resourceType": "Observation", "id": "o1", "subject": {"reference": f"urn:uuid:{UUID_A}"}}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{UUID_A}", "resource": patient}, {"resource": last}],
    }
    lines = ndjson_lines(bundle)
    assert lines == regex_lines(bundle)
    assert lines[1][1].endswith(b'"subject":{"reference":"Patient/p1"}}\n')


def test_two_entries_with_one_full_url_and_references_met_twice():
    # The regex took the last entry of a fullUrl given twice; a reference met again, to an entry or
    # to none, is rewritten (or kept) the same way each time.
    first = {"resourceType": "Patient", "id": "p1"}
    second = {"resourceType": "Group", "id": "g1"}
    outside = "urn:uuid:00000000-0000-5000-8000-000000000000"
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "subject": {"reference": f"urn:uuid:{UUID_A}"},
        "focus": [{"reference": outside}, {"reference": f"urn:uuid:{UUID_A}"}, {"reference": outside}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{UUID_A}", "resource": first},
            {"fullUrl": f"urn:uuid:{UUID_A}", "resource": second},
            {"resource": obs},
        ],
    }
    lines = ndjson_lines(bundle)
    assert lines == regex_lines(bundle)
    assert lines[2][1].count(b'"reference":"Group/g1"') == 2
    assert lines[2][1].count(outside.encode()) == 2
