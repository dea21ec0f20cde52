"""Integration: server answers that are wrong. Each gives a clear message and the bundle stays pending.

The faults come from the test proxy (tests/support/fault_proxy.py) in front of the real local
server, or from a listener that never answers (tests/support/silent_server.py); all on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fault_proxy import FaultProxy
from support.silent_server import SilentServer

from fhir_adapter.cli import main
from fhir_adapter.client import ClientSettings, FhirClient, RetryPolicy
from fhir_adapter.errors import EXIT_SERVER_UNAVAILABLE, ServerResponseError, ServerUnavailableError

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml"


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "case.json"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def push_through(base_url: str, bundle_file: Path, outbox: Path, *extra: str):
    return CliRunner().invoke(
        main, ["push", str(bundle_file), "--server", base_url, "--outbox", str(outbox), *extra]
    )


def assert_still_pending(outbox: Path, bundle_file: Path) -> dict:
    key = json.loads(bundle_file.read_text())["identifier"]["value"]
    assert (outbox / "pending" / f"{key}.json").read_bytes() == bundle_file.read_bytes()
    assert not (outbox / "sent" / f"{key}.json").exists()
    return json.loads((outbox / "pending" / f"{key}.error.json").read_text())


def transaction_response(n: int, status: str = "201 Created") -> bytes:
    entries = [{"response": {"status": status, "location": f"Patient/p{i}/_history/1"}} for i in range(n)]
    return json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": entries}).encode()


def entries_in(bundle_file: Path) -> int:
    return len(json.loads(bundle_file.read_text())["entry"])


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (
            {"Content-Type": "text/html"},
            b"<html><body>Welcome to nginx</body></html>",
            "with a body that is not JSON (text/html: '<html><body>Welcome to nginx</body></html>');"
            " is --server the FHIR base URL?",
        ),
        ({"Content-Type": "application/fhir+json"}, b"", "with a body that is not JSON"),
        (
            {"Content-Type": "application/fhir+json"},
            b'{"resourceType": "Bundle", "type": "searchset", "entry": []}',
            "with a Bundle of type 'searchset', not a transaction-response Bundle",
        ),
        (
            {"Content-Type": "application/fhir+json"},
            b'{"resourceType": "CapabilityStatement"}',
            "with CapabilityStatement, not a transaction-response Bundle",
        ),
        (
            {"Content-Type": "application/fhir+json"},
            transaction_response(1),
            "the transaction-response has 1 entry for the {n} sent; what the server stored cannot be told",
        ),
    ],
    ids=["html", "empty-body", "searchset", "other-resource", "fewer-entries"],
)
def test_a_200_that_is_not_a_whole_transaction_response(
    fhir_server, bundle_file, tmp_path, headers, body, expected
):
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.fail_next(200, headers=headers, body=body, method="POST")
        result = push_through(proxy.base_url, bundle_file, tmp_path / "outbox")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    assert expected.format(n=entries_in(bundle_file)) in result.stderr
    error = assert_still_pending(tmp_path / "outbox", bundle_file)
    assert error["status"] == "unavailable"
    # and the next run sends it
    result = CliRunner().invoke(
        main, ["push", "--resume", "--server", fhir_server.base_url, "--outbox", str(tmp_path / "outbox")]
    )
    assert result.exit_code == 0, result.stderr


def test_entries_that_failed_inside_a_200(fhir_server, bundle_file, tmp_path):
    body = transaction_response(entries_in(bundle_file), status="400 Bad Request")
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.fail_next(200, headers={"Content-Type": "application/fhir+json"}, body=body, method="POST")
        result = push_through(proxy.base_url, bundle_file, tmp_path / "outbox")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    assert "reports entries that did not succeed (#1 400 Bad Request, #2 400 Bad Request" in result.stderr
    assert_still_pending(tmp_path / "outbox", bundle_file)


def test_a_redirect_is_not_followed_with_case_data(fhir_server, bundle_file, tmp_path):
    with FaultProxy(fhir_server.base_url) as elsewhere, FaultProxy(fhir_server.base_url) as proxy:
        target = f"http://localhost:{elsewhere.port}/fhir"
        proxy.fail_next(307, headers={"Location": target}, body=b"", method="POST")
        result = push_through(proxy.base_url, bundle_file, tmp_path / "outbox")
        reached = list(elsewhere.requests)
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    assert f"the server answered HTTP 307, a redirect to {target}; case data is not sent on" in result.stderr
    assert reached == []  # the bundle went nowhere else
    assert_still_pending(tmp_path / "outbox", bundle_file)


def test_the_authorization_header_does_not_follow_a_redirect_to_another_host(fhir_server):
    with FaultProxy(fhir_server.base_url) as elsewhere, FaultProxy(fhir_server.base_url) as proxy:
        # Same machine, another host name: requests drops Authorization when the host changes.
        proxy.fail_next(
            302,
            headers={"Location": f"http://localhost:{elsewhere.port}/fhir/metadata"},
            body=b"",
            method="GET",
        )
        client = FhirClient(ClientSettings(base_url=proxy.base_url, token="s3cret-token"))
        response, _ = client.request("GET", "metadata")
        asked = proxy.requests[0].headers
        followed = elsewhere.requests[0].headers
    assert response.status_code == 200
    assert asked["Authorization"] == "Bearer s3cret-token"
    assert "Authorization" not in followed and "authorization" not in {k.lower() for k in followed}


def test_a_server_that_never_answers_times_out(bundle_file, tmp_path):
    with SilentServer() as silent:
        started = time.monotonic()
        result = push_through(
            silent.base_url, bundle_file, tmp_path / "outbox", "--timeout", "0.3", "--max-time", "2"
        )
        elapsed = time.monotonic() - started
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    assert "connected, but the server sent no answer within 0.3s (read timeout, --timeout)" in result.stderr
    assert "server asked" not in result.stderr
    assert silent.accepted >= 1
    assert elapsed < 10
    assert_still_pending(tmp_path / "outbox", bundle_file)


@pytest.mark.parametrize("retry_after", ["999999999", "9" * 40, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_gives_up_at_once_with_the_reason(fhir_server, bundle_file, tmp_path, retry_after):
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.throttle_next(retry_after=retry_after, method="POST")
        started = time.monotonic()
        result = push_through(proxy.base_url, bundle_file, tmp_path / "outbox", "--max-time", "20")
        elapsed = time.monotonic() - started
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    assert "HTTP 429; the server asked to wait " in result.stderr
    assert "(Retry-After) (waited at most 60s), longer than the " in result.stderr
    assert elapsed < 5
    assert_still_pending(tmp_path / "outbox", bundle_file)


def test_a_huge_retry_after_is_capped_when_there_is_time(fhir_server, bundle_file):
    slept: list[float] = []
    with FaultProxy(fhir_server.base_url) as proxy:
        proxy.throttle_next(retry_after="86400", method="POST")
        policy = RetryPolicy(total_timeout=600, max_retry_after=60)
        client = FhirClient(ClientSettings(base_url=proxy.base_url, retry=policy), sleep=slept.append)
        result = client.transaction(bundle_file.read_bytes(), expected_entries=entries_in(bundle_file))
    assert slept == [60]
    assert result.attempts == 2


def test_no_server_at_all_says_so():
    client = FhirClient(
        ClientSettings(
            base_url="http://127.0.0.1:9/fhir",
            retry=RetryPolicy(max_attempts=50, base_delay=5, max_delay=5, total_timeout=0.5),
        ),
        sleep=lambda s: None,
    )
    with pytest.raises(ServerUnavailableError) as info:
        client.transaction(b"{}")
    message = str(info.value)
    assert "could not connect; no server answered" in message
    assert "no time left for another attempt within the 0.5s allowed" in message or "gave up after" in message
    assert "server asked" not in message
    assert not isinstance(info.value, ServerResponseError)
