"""NDJSON output a server can $import: every reference between a case's resources is Type/id."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.sinks import ndjson_lines

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
sys.path.insert(0, str(REPO / "benchmarks"))

from synthetic import write_cases  # noqa: E402

TYPE_ID = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")


def references(node, path="$"):
    """Every (path, value) of a `reference` element anywhere in a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield path, value
            else:
                yield from references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from references(value, f"{path}[{i}]")


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    """The examples and 60 seeded synthetic cases in one tree."""
    root = tmp_path_factory.mktemp("cases")
    for example in EXAMPLES.glob("*.yaml"):
        shutil.copy(example, root / example.name)
    write_cases(root / "synthetic", 60, seed=7)
    return root


def convert(cases: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(
        main, ["convert", "-q", str(cases), "--format", "ndjson", "-o", str(out), *extra]
    )
    assert result.exit_code == 0, result.output


def test_every_reference_is_type_id_of_a_resource_in_the_output(cases, tmp_path):
    out = tmp_path / "bulk"
    convert(cases, out)
    resources = {}
    for f in out.glob("*.ndjson"):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            assert f.stem == r["resourceType"]
            resources[(r["resourceType"], r["id"])] = r
    assert len(resources) > 600
    seen = 0
    for (rtype, rid), r in resources.items():
        for path, value in references(r):
            seen += 1
            match = TYPE_ID.match(value)
            assert match, f"{rtype}/{rid} {path}: {value!r} is not Type/id"
            assert (match.group(1), match.group(2)) in resources, f"{rtype}/{rid} {path}: {value} dangles"
    # Nothing was dropped: the bundles hold exactly as many references.
    bundles = tmp_path / "bundles"
    result = CliRunner().invoke(main, ["convert", "-q", str(cases), "-o", str(bundles)])
    assert result.exit_code == 0, result.output
    in_bundles = sum(
        1
        for b in bundles.glob("*.json")
        for e in json.loads(b.read_text())["entry"]
        for _ in references(e["resource"])
    )
    assert seen == in_bundles > 0


def test_parallel_output_is_byte_identical(cases, tmp_path):
    convert(cases, tmp_path / "one")
    convert(cases, tmp_path / "two", "--jobs", "2")
    one = sorted(p.name for p in (tmp_path / "one").glob("*.ndjson"))
    assert one == sorted(p.name for p in (tmp_path / "two").glob("*.ndjson"))
    for name in one:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    m1, m2 = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("one", "two"))
    m1.pop("transactionTime"), m2.pop("transactionTime")
    assert m1 == m2


def bundle(*entries):
    return {"resourceType": "Bundle", "type": "collection", "entry": list(entries)}


def test_only_references_to_the_same_bundle_are_rewritten():
    patient = {"resourceType": "Patient", "id": "6e0b1b9e-7a49-5d1f-9c1e-3b1e6f0f2a11"}
    outside = "urn:uuid:00000000-0000-5000-8000-000000000000"
    condition = {
        "resourceType": "Condition",
        "id": "a9c1f0de-1111-5222-8333-444455556666",
        "subject": {"reference": f"urn:uuid:{patient['id']}"},
        "evidence": [{"detail": [{"reference": outside}, {"reference": "Observation/x1"}]}],
        # Text that looks like a reference, inside a string, stays as it was written.
        "note": [{"text": f'copied "reference":"urn:uuid:{patient["id"]}" from a report'}],
    }
    lines = ndjson_lines(
        bundle(
            {"fullUrl": f"urn:uuid:{patient['id']}", "resource": patient},
            {"fullUrl": f"urn:uuid:{condition['id']}", "resource": condition},
        )
    )
    assert [t for t, _ in lines] == ["Patient", "Condition"]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for _, line in lines)
    out = orjson.loads(lines[1][1])
    assert out["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert out["evidence"][0]["detail"] == [{"reference": outside}, {"reference": "Observation/x1"}]
    assert out["note"] == condition["note"]
    # The input bundle itself is untouched (it may still be written as a Bundle).
    assert condition["subject"]["reference"].startswith("urn:uuid:")


def test_a_new_resource_type_is_handled_without_a_list_of_types():
    target = {"resourceType": "Specimen", "id": "0c7e7a52-9d7e-5b55-8f0a-111122223333"}
    provenance = {
        "resourceType": "Provenance",
        "id": "5d0f1e2c-3b4a-5c6d-8e7f-aaaabbbbcccc",
        "target": [{"reference": f"urn:uuid:{target['id']}"}],
    }
    lines = ndjson_lines(
        bundle(
            {"fullUrl": f"urn:uuid:{target['id']}", "resource": target},
            {"fullUrl": f"urn:uuid:{provenance['id']}", "resource": provenance},
        )
    )
    assert orjson.loads(lines[1][1])["target"] == [{"reference": f"Specimen/{target['id']}"}]
