"""The Bulk Data manifest written beside NDJSON output, and the OperationOutcome file of failed cases."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter.batch import Result
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE
from fhir_adapter.sinks import NdjsonSink

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# FHIR instant: a full date and time with seconds and a zone.
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def test_manifest_lists_every_file_with_its_count_and_the_failed_cases(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    for example in EXAMPLES.glob("*.yaml"):
        (cases / example.name).write_text(example.read_text())
    (cases / "broken.yaml").write_text(
        "case: {id: broken}\npatient: {sex: f}\nprimary_cancers: [{site: breast}]\n"
    )
    out = tmp_path / "bulk"
    result = CliRunner().invoke(main, ["convert", "-q", str(cases), "--format", "ndjson", "-o", str(out)])
    assert result.exit_code == EXIT_INVALID_CASE

    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest) == ["transactionTime", "request", "requiresAccessToken", "output", "error"]
    assert INSTANT.match(manifest["transactionTime"])
    assert manifest["requiresAccessToken"] is False
    types = [item["type"] for item in manifest["output"]]
    assert types == sorted(types) and "Patient" in types
    assert sorted(out.glob("*.ndjson")) == sorted(out / item["url"] for item in manifest["output"])
    for item in manifest["output"]:
        lines = (out / item["url"]).read_text().splitlines()
        assert item["count"] == len(lines) > 0
        assert {json.loads(line)["resourceType"] for line in lines} == {item["type"]}

    assert manifest["error"] == [
        {"type": "OperationOutcome", "url": "errors/OperationOutcome.ndjson", "count": 1}
    ]
    outcomes = [
        json.loads(line) for line in (out / "errors/OperationOutcome.ndjson").read_text().splitlines()
    ]
    assert len(outcomes) == 1 and outcomes[0]["resourceType"] == "OperationOutcome"
    issue = outcomes[0]["issue"][0]
    assert issue["severity"] == "error" and issue["code"] == "invalid"
    assert "broken.yaml" in issue["diagnostics"] and "sex" in issue["diagnostics"]
    # The failed case left no line in the output files.
    assert sum(item["count"] for item in manifest["output"] if item["type"] == "Patient") == len(
        list(EXAMPLES.glob("*.yaml"))
    )


def test_a_clean_run_has_an_empty_error_list_and_no_error_file(tmp_path):
    out = tmp_path / "bulk"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLES), "--format", "ndjson", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["error"] == []
    assert not (out / "errors").exists()


def result_with(case_id: str, *lines: tuple[str, bytes]) -> Result:
    return Result(f"{case_id}.yaml", case_id=case_id, resources=list(lines))


def test_the_manifest_is_deterministic_given_the_start_time(tmp_path):
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    manifests = []
    for name in ("a", "b"):
        sink = NdjsonSink(tmp_path / name, now=when)
        (tmp_path / name).mkdir()
        sink.write(result_with("c1", ("Patient", b'{"resourceType":"Patient","id":"p1"}\n')))
        sink.write(result_with("c2", ("Patient", b'{"resourceType":"Patient","id":"p2"}\n')))
        sink.close()
        manifests.append((tmp_path / name / "manifest.json").read_bytes())
    assert manifests[0] == manifests[1]
    manifest = json.loads(manifests[0])
    assert manifest["transactionTime"] == "2026-01-02T03:04:05.678Z"
    assert manifest["output"] == [{"type": "Patient", "url": "Patient.ndjson", "count": 2}]


def test_an_interrupted_run_leaves_partial_files_and_no_manifest(tmp_path):
    sink = NdjsonSink(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        try:
            sink.write(result_with("c1", ("Patient", b'{"resourceType":"Patient","id":"p1"}\n')))
            raise KeyboardInterrupt
        finally:
            sink.close()
    assert not (tmp_path / "manifest.json").exists()
    assert not (tmp_path / "Patient.ndjson").exists()
    assert (tmp_path / ".Patient.ndjson.partial").read_bytes().count(b"\n") == 1
