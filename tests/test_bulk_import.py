"""push --bulk against a spec-following $import stub on 127.0.0.1 (tests/support/bulk_import_stub.py)."""

from __future__ import annotations

import functools
import json
import shutil
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.bulk_import_stub import BulkImportStub

from fhir_adapter.bulk import BulkSettings, bulk_import, read_directory, serve_files
from fhir_adapter.cli import main
from fhir_adapter.client import ClientSettings, FhirClient
from fhir_adapter.errors import EXIT_CONFIG, EXIT_SERVER_REJECTED, EXIT_SERVER_UNAVAILABLE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def bulk_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bulk") / "bulk"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLES), "--format", "ndjson", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def lines_in(directory: Path) -> dict[str, dict]:
    out = {}
    for f in directory.glob("*.ndjson"):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            out[f"{r['resourceType']}/{r['id']}"] = r
    return out


def push_bulk(directory: Path, server: str, *extra: str):
    # A short cap on the pause between status requests keeps the tests quick.
    extra = extra if "--poll-max-wait" in extra else ("--poll-max-wait", "0.05", *extra)
    return CliRunner().invoke(main, ["push", "--bulk", str(directory), "--server", server, *extra])


def test_push_bulk_imports_every_resource(bulk_dir, tmp_path):
    with BulkImportStub(style="manifest", polls_before_done=2) as stub:
        report = tmp_path / "report.json"
        result = push_bulk(bulk_dir, stub.base_url, "--report", str(report))
        assert result.exit_code == 0, result.output
        assert stub.resources == lines_in(bulk_dir) and len(stub.resources) > 10

    # One kick-off per round: a type goes after the types its resources reference.
    inputs = []
    for kickoff in stub.kickoffs:
        assert kickoff["headers"]["Prefer"] == "respond-async"
        assert kickoff["headers"]["Content-Type"].startswith("application/fhir+json")
        params = json.loads(kickoff["body"])
        assert params["resourceType"] == "Parameters"
        names = [p["name"] for p in params["parameter"]]
        assert names[:3] == ["inputFormat", "inputSource", "storageDetail"] and set(names[3:]) == {"input"}
        assert params["parameter"][0] == {"name": "inputFormat", "valueCode": "application/fhir+ndjson"}
        inputs.append(
            [
                {part["name"]: next(v for k, v in part.items() if k != "name") for part in p["part"]}
                for p in params["parameter"][3:]
            ]
        )
    rounds = [[i["type"] for i in round_inputs] for round_inputs in inputs]
    assert rounds[0] == ["Patient"] and rounds[-1] == ["Provenance"]
    assert rounds.index(["Observation"]) > max(
        n for n, types in enumerate(rounds) if {"Condition", "Specimen", "MedicationStatement"} & set(types)
    )
    inputs = [i for round_inputs in inputs for i in round_inputs]
    manifest = json.loads((bulk_dir / "manifest.json").read_text())
    assert sorted(i["type"] for i in inputs) == sorted(o["type"] for o in manifest["output"])
    assert all(
        i["url"].startswith("http://127.0.0.1:") and i["url"].endswith(f"/{i['type']}.ndjson") for i in inputs
    )

    data = json.loads(report.read_text())
    assert data["http_status"] == 200 and data["error"] == []
    assert data["fetched"] == {o["url"]: 1 for o in manifest["output"]}
    assert sum(item["count"] for item in data["output"]) == len(lines_in(bulk_dir))
    assert data["polls"] >= 3 * len(rounds)  # in each round, at least two 202s before the 200
    patients = len(list(EXAMPLES.glob("*.yaml")))
    assert f"Patient: {patients} (Patient.ndjson, fetched 1 time(s))" in result.output
    # The local file server is gone once the command returns.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(inputs[0]["url"], timeout=2)


def test_hapi_style_report_is_shown(bulk_dir):
    with BulkImportStub(style="hapi", polls_before_done=0) as stub:
        result = push_bulk(bulk_dir, stub.base_url)
    assert result.exit_code == 0, result.output
    assert "the server reports: Import complete." in result.output
    assert stub.resources == lines_in(bulk_dir)


@pytest.mark.parametrize("style", ["manifest", "hapi"])
def test_a_dangling_reference_is_reported_and_fails_the_command(bulk_dir, tmp_path, style):
    broken = tmp_path / "broken"
    shutil.copytree(bulk_dir, broken)
    with open(broken / "Procedure.ndjson", "a") as fh:
        fh.write(
            '{"resourceType":"Procedure","id":"x1","status":"completed","subject":{"reference":"Patient/nobody"}}\n'
        )
    (broken / "manifest.json").unlink()  # without a manifest, every <Type>.ndjson is sent
    with BulkImportStub(style=style, polls_before_done=0) as stub:
        result = push_bulk(broken, stub.base_url)
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert "Procedure/x1: reference Patient/nobody does not resolve" in result.output
    # The rounds after the failed one are not sent: their references would not resolve.
    assert "not sent: Observation, Provenance (after a round that did not import whole)" in result.output
    if style == "manifest":  # only the proposal's answer counts resources
        total = len(lines_in(bulk_dir)) + 1
        before = sum(
            1 for ref in lines_in(bulk_dir) if ref.split("/")[0] not in ("Observation", "Provenance")
        )
        assert f"the server imported {before} of {total} resource(s)" in result.output


def test_a_failed_job_and_a_server_without_import(bulk_dir):
    with BulkImportStub(polls_before_done=0) as stub:
        stub.fail_next = "disk full"
        result = push_bulk(bulk_dir, stub.base_url)
        assert result.exit_code == EXIT_SERVER_REJECTED
        assert "Error: $import failed: HTTP 500" in result.output and "disk full" in result.output
        result = push_bulk(bulk_dir, stub.base_url.replace("/fhir", "/other"))
        assert result.exit_code == EXIT_SERVER_REJECTED
        assert "HTTP 404, expected 202 Accepted" in result.output and "support $import" in result.output


def test_timeout_cancels_the_job(bulk_dir):
    with BulkImportStub(polls_before_done=10_000) as stub:
        result = push_bulk(bulk_dir, stub.base_url, "--bulk-timeout", "0.3", "--poll-max-wait", "0.05")
        assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
        assert "still running after 0s" in result.output and "cancelled" in result.output
        (job,) = stub.jobs.values()
        assert job.cancelled


def test_status_url_on_another_server_is_not_followed(bulk_dir):
    with BulkImportStub() as stub:
        stub.status_base = stub.base_url.replace("127.0.0.1", "localhost")
        result = push_bulk(bulk_dir, stub.base_url)
    assert result.exit_code == EXIT_SERVER_REJECTED
    assert "not following it with our credentials" in result.output


def test_files_already_served_elsewhere(bulk_dir):
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(bulk_dir))
    handler.log_message = lambda *a: None
    files = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    try:
        with BulkImportStub(polls_before_done=0) as stub:
            url = f"http://127.0.0.1:{files.server_address[1]}/"
            result = push_bulk(bulk_dir, stub.base_url, "--files-url", url)
            assert result.exit_code == 0, result.output
            params = json.loads(stub.kickoffs[0]["body"])
            assert params["parameter"][1] == {"name": "inputSource", "valueUri": url}
            assert stub.resources == lines_in(bulk_dir)
    finally:
        files.shutdown()
        files.server_close()


def test_polling_honours_retry_after_up_to_the_cap(bulk_dir):
    waits: list[float] = []
    with BulkImportStub(polls_before_done=3, retry_after="120") as stub:
        client = FhirClient(ClientSettings(base_url=stub.base_url))
        result = bulk_import(client, bulk_dir, BulkSettings(max_poll_wait=0.01), sleep=waits.append)
    assert result.ok and result.polls >= 4  # more if the job was still running at the fourth
    # HAPI asks for 120 s between polls; the cap keeps a run from idling that long.
    assert len(waits) == result.polls and all(w == 0.01 for w in waits)


def test_the_file_server_serves_only_the_listed_files(bulk_dir):
    files = read_directory(bulk_dir)
    with serve_files(bulk_dir, files) as (base, fetched):
        assert (
            urllib.request.urlopen(base + "Patient.ndjson", timeout=5).read()
            == (bulk_dir / "Patient.ndjson").read_bytes()
        )
        for path in ("manifest.json", "../Patient.ndjson"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + path, timeout=5)
            assert err.value.code == 404
        wrong_token = base.rsplit("/", 2)[0] + "/guess/Patient.ndjson"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(wrong_token, timeout=5)
        assert fetched == {"Patient.ndjson": 1}


def test_bad_directories(tmp_path):
    result = push_bulk(tmp_path / "missing", "http://127.0.0.1:9/fhir", "--verify")
    assert result.exit_code == EXIT_CONFIG and "no --resume or --verify" in result.output
    result = push_bulk(tmp_path / "missing", "http://127.0.0.1:9/fhir")
    assert result.exit_code == EXIT_CONFIG and "needs a directory of NDJSON files" in result.output
    (tmp_path / "empty").mkdir()
    result = push_bulk(tmp_path / "empty", "http://127.0.0.1:9/fhir")
    assert result.exit_code == EXIT_CONFIG and "no NDJSON resources to import" in result.output
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "manifest.json").write_text(
        json.dumps({"output": [{"type": "Patient", "url": "/etc/passwd"}]})
    )
    result = push_bulk(tmp_path / "evil", "http://127.0.0.1:9/fhir")
    assert result.exit_code == EXIT_CONFIG and "is not a file name inside the directory" in result.output


@pytest.mark.integration
def test_push_bulk_to_hapi_imports_every_resource(hapi_server, tmp_path):
    """A real $import: HAPI FHIR fetches the NDJSON from our file server on 127.0.0.1."""
    system = "https://bulk-import.example/hapi"  # ids of their own on the session's server
    out = tmp_path / "bulk"
    result = CliRunner().invoke(
        main, ["convert", "-q", str(EXAMPLES), "--format", "ndjson", "-o", str(out), "--id-system", system]
    )
    assert result.exit_code == 0, result.output
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        ["push", "--bulk", str(out), "--server", hapi_server.base_url, "--report", str(report),
         "--poll-max-wait", "1", "--bulk-timeout", "600"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["http_status"] == 200 and data["error"] == []
    assert data["polls"] >= 1  # 202 Accepted, then polled to the end
    manifest = json.loads((out / "manifest.json").read_text())
    # HAPI FHIR fetches each file twice (all were fetched, none other).
    assert set(data["fetched"]) == {o["url"] for o in manifest["output"]}
    assert all(n >= 1 for n in data["fetched"].values())
    sent = lines_in(out)
    by_type: dict[str, set[str]] = {}
    for ref in sent:
        rtype, rid = ref.split("/")
        by_type.setdefault(rtype, set()).add(rid)
    for rtype, ids in by_type.items():
        stored = set()
        url = f"{hapi_server.base_url}/{rtype}?_count=500"
        while url:  # every resource of the type; those tagged with this test's system are its own
            # HAPI FHIR answers a repeated search from its cache for a minute unless told not to.
            request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
            with urllib.request.urlopen(request, timeout=60) as answer:
                page = json.loads(answer.read())
            for entry in page.get("entry") or []:
                tags = entry["resource"].get("meta", {}).get("tag") or []
                if any(t.get("system") == system for t in tags):
                    stored.add(entry["resource"]["id"])
            url = next((link["url"] for link in page.get("link") or [] if link["relation"] == "next"), None)
        assert stored == ids, rtype
