"""Bundles read for push and verify: one JSON document or NDJSON, streamed, bad lines named."""

import io
import json

import pytest

from fhir_adapter.bundlefiles import iter_bundles
from fhir_adapter.errors import ConfigError


def bundle(n: int) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "identifier": {"system": "urn:fhir-adapter:case-id", "value": f"case-{n}"},
        "entry": [],
    }


def test_a_pretty_printed_bundle_is_one_document(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(bundle(1), indent=2))
    items = list(iter_bundles([str(path)]))
    assert [i.key for i in items] == ["case-1"]
    assert items[0].source == str(path)


def test_ndjson_is_read_lazily_and_a_bad_line_is_named_by_number(tmp_path):
    path = tmp_path / "many.json"
    lines = [
        json.dumps(bundle(1)),
        "",
        json.dumps(bundle(2)),
        '{"resourceType": "Bundle", ',
        json.dumps(bundle(4)),
    ]
    path.write_text("\n".join(lines) + "\n")
    got = iter_bundles([str(path)])
    # The bundles before the bad line come out before it is read: nothing is held whole.
    assert next(got).key == "case-1"
    assert next(got).key == "case-2"
    with pytest.raises(ConfigError) as err:
        next(got)
    assert str(err.value).startswith(f"{path}:4: not a JSON Bundle")


def test_a_line_that_is_not_a_bundle_is_named(tmp_path):
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(bundle(1)) + "\n" + json.dumps({"resourceType": "Patient"}) + "\n")
    with pytest.raises(ConfigError) as err:
        list(iter_bundles([str(path)]))
    assert str(err.value) == f"{path}:2: not a FHIR Bundle (resourceType is not Bundle)"


def test_a_file_of_one_line_that_is_not_a_bundle_is_named_without_a_line(tmp_path):
    path = tmp_path / "patient.json"
    path.write_text(json.dumps({"resourceType": "Patient"}))
    with pytest.raises(ConfigError) as err:
        list(iter_bundles([str(path)]))
    assert str(err.value) == f"{path}: not a FHIR Bundle (resourceType is not Bundle)"


def test_stdin_gives_ndjson_bundles_in_order():
    stdin = io.BytesIO(b"\n".join(json.dumps(bundle(n)).encode() for n in range(3)))
    assert [i.key for i in iter_bundles(["-"], stdin=stdin)] == ["case-0", "case-1", "case-2"]


def test_empty_and_broken_files_are_errors(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("\n \n")
    with pytest.raises(ConfigError, match="empty.json: the file is empty"):
        list(iter_bundles([str(empty)]))
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "resourceType": "Bundle",\n')
    with pytest.raises(ConfigError, match="broken.json: not a JSON Bundle or NDJSON of Bundles"):
        list(iter_bundles([str(broken)]))
