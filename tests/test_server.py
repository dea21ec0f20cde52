"""Integration: push to real FHIR R4 servers on 127.0.0.1 (sekmet-fhir and HAPI FHIR), with faults from a test proxy.

The tests of what a server stores run against both servers (the `server` fixture); the fault
tests go through a proxy in front of sekmet-fhir, the quicker one to start.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from support.fault_proxy import FaultProxy
from support.fhir_server import free_port

from fhir_adapter.cli import main
from fhir_adapter.client import ClientSettings, FhirClient, RetryPolicy
from fhir_adapter.errors import EXIT_SERVER_REJECTED, EXIT_SERVER_UNAVAILABLE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = pytest.mark.integration


# HAPI FHIR answers a repeated search from its cache for a minute unless told not to.
NO_CACHE = {"Cache-Control": "no-cache"}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def count(base_url: str, resource_type: str, **params: str) -> int:
    response = requests.get(
        f"{base_url}/{resource_type}", params={**params, "_summary": "count"}, headers=NO_CACHE, timeout=10
    )
    response.raise_for_status()
    return response.json()["total"]


def bundle_of(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture
def converted(tmp_path, example_cases) -> list[Path]:
    out = tmp_path / "bundles"
    result = run("convert", "-q", *map(str, example_cases), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return sorted(out.glob("*.json"))


def test_examples_post_and_read_back_equal(server, converted, tmp_path):
    report = tmp_path / "report.json"
    outbox = tmp_path / "outbox"
    result = run(
        "push", *map(str, converted), "--server", server.base_url,
        "--outbox", str(outbox), "--report", str(report), "--verify",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["summary"]["sent"] == len(converted)
    for case, path in zip(data["cases"], converted, strict=True):
        sent = bundle_of(path)
        assert case["status"] == "sent"
        # Every resource has a status and the id we gave it.
        assert [r["id"] for r in case["resources"]] == [e["resource"]["id"] for e in sent["entry"]]
        assert all(r["status"].split()[0] in ("200", "201") for r in case["resources"])
        assert "differences" not in case
    assert list((outbox / "pending").glob("*")) == []
    assert len(list((outbox / "sent").glob("*.json"))) == len(converted)
    # verify, on its own, finds every resource as it was sent.
    result = run("verify", *map(str, converted), "--server", server.base_url)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count(": matches") == len(converted)


def test_the_quick_start_answer(server, tmp_path):
    """What README's Quick start shows push printing for yu-2024-case-1, first and second time."""
    # A system of its own gives ids of its own: the resources are new on this session's server.
    out = tmp_path / "yu.json"
    system = f"https://quick-start.example/{server.kind}"
    result = run(
        "convert", "-q", str(EXAMPLES / "yu-2024-case-1.yaml"), "--id-system", system, "-o", str(out)
    )
    assert result.exit_code == 0, result.stderr
    assert len(bundle_of(out)["entry"]) == 8
    args = ["--server", server.base_url, "--outbox", str(tmp_path / "outbox")]
    first = run("push", str(out), *args)
    assert first.exit_code == 0, first.stderr
    assert "yu-2024-case-1~" in first.stderr and ": sent (8 201 Created)" in first.stderr
    again = run("push", str(out), *args)
    assert again.exit_code == 0, again.stderr
    assert ": sent (8 200 OK)" in again.stderr


def test_posting_twice_creates_no_duplicates(server, converted, tmp_path):
    args = ["--server", server.base_url, "--outbox", str(tmp_path / "outbox")]
    assert run("push", *map(str, converted), *args).exit_code == 0
    types = {e["resource"]["resourceType"] for path in converted for e in bundle_of(path)["entry"]}
    before = {t: count(server.base_url, t) for t in sorted(types)}
    result = run("push", *map(str, converted), *args)
    assert result.exit_code == 0, result.stderr
    after = {t: count(server.base_url, t) for t in before}
    assert after == before
    for path in converted:
        value = bundle_of(path)["identifier"]["value"]
        assert count(server.base_url, "Patient", identifier=f"urn:fhir-adapter:case-id|{value}") == 1


def test_convert_post_then_corrected_case_updates(server, tmp_path):
    case = tmp_path / "corrected.yaml"
    case.write_text(
        f"case: {{id: correction-test-{server.kind}}}\n"
        "patient: {sex: female}\n"
        "primary_cancers:\n  - {id: breast, site: breast, histology: invasive ductal carcinoma, date: 2015}\n"
        "metastases:\n  - {id: met, site: bone, date: 2017}\n"
    )
    args = ["--server", server.base_url, "--outbox", str(tmp_path / "outbox")]
    result = run("convert", str(case), "--post", *args)
    assert result.exit_code == 0, result.stderr
    assert f"correction-test-{server.kind}: sent (" in result.stderr
    patient = requests.get(
        f"{server.base_url}/Patient",
        params={"identifier": f"urn:fhir-adapter:case-id|correction-test-{server.kind}"},
        headers=NO_CACHE,
        timeout=10,
    ).json()["entry"][0]["resource"]
    conditions = requests.get(
        f"{server.base_url}/Condition",
        params={"subject": f"Patient/{patient['id']}"},
        headers=NO_CACHE,
        timeout=10,
    ).json()
    metastasis = next(
        e["resource"] for e in conditions["entry"] if "secondary" in e["resource"]["meta"]["profile"][0]
    )
    assert metastasis["onsetDateTime"] == "2017"

    # The report had the year wrong: correct it and post again.
    case.write_text(case.read_text().replace("date: 2017", "date: 2018-04"))
    result = run("convert", "-q", str(case), "--post", *args)
    assert result.exit_code == 0, result.stderr
    stored = requests.get(f"{server.base_url}/Condition/{metastasis['id']}", timeout=10).json()
    assert stored["onsetDateTime"] == "2018-04"
    assert stored["meta"]["versionId"] == "2"
    assert count(server.base_url, "Condition", subject=f"Patient/{patient['id']}") == len(conditions["entry"])


def test_rejected_transaction_stores_nothing_and_says_why(server, converted, tmp_path):
    text = converted[0].read_text()
    for entry in bundle_of(converted[0])["entry"]:  # new ids, so nothing collides with other tests
        text = text.replace(entry["resource"]["id"], "rej-" + entry["resource"]["id"][4:])
    bundle = json.loads(text)
    bundle["identifier"]["value"] = "rejected-test"
    patient_id = bundle["entry"][0]["resource"]["id"]
    condition = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    del condition["subject"]  # Condition.subject is 1..1: the server must refuse the whole transaction
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(bundle))
    outbox = tmp_path / "outbox"
    result = run("push", str(path), "--server", server.base_url, "--outbox", str(outbox))
    assert result.exit_code == EXIT_SERVER_REJECTED
    # sekmet answers 400; HAPI FHIR's request validation 422 (Unprocessable Entity).
    status = {"sekmet": 400, "hapi": 422}[server.kind]
    assert f"rejected-test: rejected: the server rejected the transaction with HTTP {status}" in result.stderr
    assert "Condition.subject" in result.stderr
    assert requests.get(f"{server.base_url}/Patient/{patient_id}", timeout=10).status_code == 404
    # Kept, with its error, for a later run.
    assert (outbox / "pending" / "rejected-test.json").exists()
    error = json.loads((outbox / "pending" / "rejected-test.error.json").read_text())
    assert error["status"] == "rejected"
    assert any(
        "Condition.subject" in " ".join([*i["expression"], i["diagnostics"] or ""])
        for i in error["issues"]
        if i["severity"] == "error"
    )


def test_server_down_loses_nothing_and_resume_completes(fhir_server, converted, tmp_path):
    outbox = tmp_path / "outbox"
    dead = f"http://127.0.0.1:{free_port()}/fhir"
    result = run("push", *map(str, converted), "--server", dead, "--outbox", str(outbox), "--max-time", "1")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    assert "could not connect; no server answered" in result.stderr
    assert "server asked" not in result.stderr
    assert "fhir-adapter push --resume" in result.stderr
    pending = sorted(
        p.name for p in (outbox / "pending").glob("*.json") if not p.name.endswith(".error.json")
    )
    assert len(pending) == len(converted)

    result = run("push", "--resume", "--server", fhir_server.base_url, "--outbox", str(outbox))
    assert result.exit_code == 0, result.stderr
    assert list((outbox / "pending").glob("*")) == []
    assert f"{len(converted)} of {len(converted)} bundle(s) sent" in result.stderr


def _client(base_url: str, **retry) -> FhirClient:
    policy = RetryPolicy(**{"base_delay": 0.05, "max_delay": 0.2, "total_timeout": 20.0, **retry})
    return FhirClient(ClientSettings(base_url=base_url, retry=policy, read_timeout=10))


def test_503_then_success_is_retried(fhir_server, converted):
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.fail_next(503, times=2, method="POST")
        result = _client(proxy.base_url).transaction(converted[0].read_bytes())
        statuses = [r.status for r in proxy.requests if r.method == "POST"]
    assert result.attempts == 3
    assert statuses == [503, 503, 200]


def test_429_retry_after_is_honoured(fhir_server, converted):
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.throttle_next(retry_after="1", method="POST")
        started = time.monotonic()
        result = _client(proxy.base_url).transaction(converted[0].read_bytes())
        waited = time.monotonic() - started
        posts = [r for r in proxy.requests if r.method == "POST"]
    assert result.attempts == 2
    assert [r.status for r in posts] == [429, 200]
    # The client's own backoff here is at most 0.05 s: only the server's Retry-After explains a 1 s gap.
    assert posts[1].received_at - posts[0].received_at >= 1.0
    assert waited >= 1.0


def test_lost_response_retry_creates_no_duplicate(fhir_server, converted):
    bundle = bundle_of(converted[-1])
    patient_id = bundle["entry"][0]["resource"]["id"]
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.lose_response_next(method="POST")
        result = _client(proxy.base_url).transaction(converted[-1].read_bytes())
        actions = [r.action for r in proxy.requests if r.method == "POST"]
        upstream = [r.upstream_status for r in proxy.requests if r.method == "POST"]
    assert result.attempts == 2
    # The first answer really was lost after the server had committed the transaction.
    assert actions == ["lose_response", "forward"]
    assert upstream == [200, 200]
    assert count(fhir_server.base_url, "Patient", _id=patient_id) == 1
    ids = [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    assert count(fhir_server.base_url, "Condition", _id=",".join(ids)) == len(ids)


def test_retries_stop_at_the_bound(fhir_server, converted):
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.fail_next(503, times=50, method="POST")
        client = _client(proxy.base_url, max_attempts=3)
        with pytest.raises(Exception) as info:
            client.transaction(converted[0].read_bytes())
        posts = [r for r in proxy.requests if r.method == "POST"]
    assert "HTTP 503; gave up after 3 attempt(s)" in str(info.value)
    assert len(posts) == 3


def test_no_retry_on_other_4xx(fhir_server, converted):
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.fail_next(400, times=1, method="POST")
        with pytest.raises(Exception) as info:
            _client(proxy.base_url).transaction(converted[0].read_bytes())
        posts = [r for r in proxy.requests if r.method == "POST"]
    assert "HTTP 400" in str(info.value)
    assert len(posts) == 1


def test_workers_send_a_directory_concurrently_without_duplicates(server, converted, tmp_path):
    result = run(
        "push", str(converted[0].parent), "--server", server.base_url,
        "--outbox", str(tmp_path / "outbox"), "--workers", "4",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    for path in converted:
        value = bundle_of(path)["identifier"]["value"]
        assert count(server.base_url, "Patient", identifier=f"urn:fhir-adapter:case-id|{value}") == 1


def test_verify_reports_a_changed_resource(server, converted, tmp_path):
    args = ["--server", server.base_url, "--outbox", str(tmp_path / "outbox")]
    assert run("push", str(converted[0]), *args).exit_code == 0
    bundle = bundle_of(converted[0])
    patient = bundle["entry"][0]["resource"]
    changed = {**patient, "gender": "unknown"}
    requests.put(
        f"{server.base_url}/Patient/{patient['id']}",
        data=json.dumps(changed),
        headers={"Content-Type": "application/fhir+json"},
        timeout=10,
    ).raise_for_status()
    result = run("verify", str(converted[0]), "--server", server.base_url)
    assert result.exit_code == 8
    assert f'Patient/{patient["id"]}: gender: sent "female", stored "unknown"' in result.stderr
    assert run("push", str(converted[0]), *args).exit_code == 0
    assert run("verify", str(converted[0]), "--server", server.base_url).exit_code == 0


def test_same_case_id_in_two_collections_does_not_overwrite(server, tmp_path):
    case = tmp_path / "shared-id.yaml"
    case.write_text("case: {id: shared-case-1}\npatient: {sex: female}\nprimary_cancers: [{site: breast}]\n")
    args = ["--server", server.base_url, "--outbox", str(tmp_path / "outbox")]
    first = run("convert", str(case), "--post", "--id-system", "https://registry-a.example/cases", *args)
    second = run("convert", str(case), "--post", "--id-system", "https://registry-b.example/cases", *args)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    assert "default identifier system" not in first.stderr
    for system in ("https://registry-a.example/cases", "https://registry-b.example/cases"):
        assert count(server.base_url, "Patient", identifier=f"{system}|shared-case-1") == 1
    # Posting under the default system says that it is the default.
    third = run("convert", str(case), "--post", *args)
    assert third.exit_code == 0, third.stderr
    assert "the case ids use the default identifier system" in third.stderr
