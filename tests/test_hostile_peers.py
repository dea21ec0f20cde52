"""Hostile FHIR servers, $import endpoints and LLM endpoints: no leak, no hang, no traceback.

Each peer is a scripted fake on 127.0.0.1 (tests/support/hostile_peer.py) that answers as a test
says: a byte a second, a connection dropped after the headers, a gzip bomb, a redirect loop,
malformed JSON, control characters in its messages, a 500. Every test is bounded in time (the
peer stops trickling after 30 s, so a regression fails instead of hanging).
"""

from __future__ import annotations

import base64
import gzip
import json
import time
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.hostile_peer import HostilePeer, Reply

from fhir_adapter.cli import main
from fhir_adapter.client import ClientSettings, FhirClient, RetryPolicy
from fhir_adapter.draft.llm import LlmSettings, llm_drafts
from fhir_adapter.errors import (
    EXIT_CONFIG,
    EXIT_SERVER_REJECTED,
    EXIT_SERVER_UNAVAILABLE,
    AdapterError,
    ServerResponseError,
    ServerUnavailableError,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05, total_timeout=5)


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "case.json"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def entries_in(bundle_file: Path) -> int:
    return len(json.loads(bundle_file.read_text())["entry"])


def key_of(bundle_file: Path) -> str:
    return json.loads(bundle_file.read_text())["identifier"]["value"]


def transaction_response(bundle_file: Path) -> bytes:
    """A server's answer storing every entry of the bundle at the id it was sent to."""
    sent = json.loads(bundle_file.read_text())["entry"]
    entries = [
        {"response": {"status": "201 Created", "location": f"{e['request']['url']}/_history/1"}} for e in sent
    ]
    return json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": entries}).encode()


def push(server: str, bundle_file: Path, outbox: Path, *extra: str, env: dict | None = None):
    return CliRunner().invoke(
        main, ["push", "-q", str(bundle_file), "--server", server, "--outbox", str(outbox), *extra], env=env
    )


def pending_error(outbox: Path, bundle_file: Path) -> dict:
    key = key_of(bundle_file)
    assert (outbox / "pending" / f"{key}.json").exists()
    return json.loads((outbox / "pending" / f"{key}.error.json").read_text())


# ---- every network wait ends by its deadline, whatever the peer does ----


def test_a_server_trickling_its_answer_a_byte_at_a_time_ends_by_max_time(bundle_file, tmp_path):
    body = transaction_response(bundle_file)
    with HostilePeer(Reply(200, FHIR_JSON, body, trickle=0.2)) as peer:
        started = time.monotonic()
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--timeout", "1", "--max-time", "2")
        elapsed = time.monotonic() - started
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "had sent" in result.stderr and "not all of it" in result.stderr
    assert "within the 2s allowed for one request (--max-time)" in result.stderr
    assert elapsed < 8, elapsed  # the read timeout (1 s) alone never fires: a byte comes every 0.2 s
    assert pending_error(tmp_path / "ob", bundle_file)["status"] == "unavailable"


def test_a_server_trickling_its_headers_ends_by_max_time(bundle_file, tmp_path):
    with HostilePeer(
        Reply(200, {**FHIR_JSON, "X-Padding": "x" * 400}, b"{}", trickle=0.1, trickle_head=True)
    ) as peer:
        started = time.monotonic()
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--timeout", "1", "--max-time", "1.5")
        elapsed = time.monotonic() - started
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "no whole answer within the 1.5s allowed for one request (--max-time)" in result.stderr
    assert elapsed < 8, elapsed


def test_the_llm_timeout_holds_against_a_trickling_endpoint():
    reply = {"choices": [{"message": {"content": json.dumps({"cases": []})}}]}
    with HostilePeer(
        Reply(200, {"Content-Type": "application/json"}, json.dumps(reply).encode(), trickle=0.2)
    ) as peer:
        started = time.monotonic()
        with pytest.raises(
            ServerUnavailableError, match="within the 1.5s allowed for one request .the LLM timeout."
        ):
            llm_drafts("A woman had breast cancer.", LlmSettings(url=peer.base_url, timeout=1.5))
        elapsed = time.monotonic() - started
    assert elapsed < 8, elapsed


def test_bulk_timeout_holds_against_a_trickling_status_url(tmp_path):
    directory = tmp_path / "bulk"
    directory.mkdir()
    (directory / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"p1"}\n')

    def answer(request):
        if request.method == "POST":
            return Reply(202, {"Content-Location": "/fhir/$import-poll/1"}, b"")
        if request.method == "DELETE":
            return Reply(202, {}, b"")
        return Reply(200, FHIR_JSON, b'{"output": []}' + b" " * 400, trickle=0.1)

    with HostilePeer(answer) as peer:
        started = time.monotonic()
        result = CliRunner().invoke(
            main,
            ["push", "--bulk", str(directory), "--server", peer.base_url, "--bulk-timeout", "1.5",
             "--poll-max-wait", "0.05", "--max-time", "60"],
        )  # fmt: skip
        elapsed = time.monotonic() - started
        methods = [r.method for r in peer.requests]
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "s left of --bulk-timeout" in result.stderr
    assert "cancelled" in result.stderr and methods[-1] == "DELETE"
    assert elapsed < 8, elapsed


# ---- failures that used to be tracebacks ----


def test_a_redirect_loop_is_a_sentence_not_a_traceback(bundle_file):
    def answer(request):
        target = "/fhir/b" if request.path.startswith("/fhir/a") else "/fhir/a"
        return Reply(302, {"Location": target}, b"")

    with HostilePeer(answer) as peer:
        result = CliRunner().invoke(main, ["verify", str(bundle_file), "--server", peer.base_url + "/a"])
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "a redirect loop, not followed further" in result.stderr
    assert "Traceback" not in result.output


def test_too_many_redirects_is_a_sentence(bundle_file):
    def answer(request):
        n = int(request.path.rsplit("/", 1)[-1]) if request.path.rsplit("/", 1)[-1].isdigit() else 0
        return Reply(302, {"Location": f"/fhir/hop/{n + 1}"}, b"")

    with HostilePeer(answer) as peer:
        client = FhirClient(ClientSettings(base_url=peer.base_url, retry=FAST))
        with pytest.raises(ServerResponseError, match="redirected more than 10 times"):
            client.read("Patient", "x")
        assert len(peer.requests) == 11


def test_a_connection_dropped_after_the_headers_is_not_could_not_connect(bundle_file, tmp_path):
    body = transaction_response(bundle_file)
    with HostilePeer(Reply(200, FHIR_JSON, body, close_after=10)) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "1")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert (
        "the server answered HTTP 200, then the connection broke after 10 byte(s) of its answer"
        in result.stderr
    )
    assert "could not connect" not in result.stderr
    assert pending_error(tmp_path / "ob", bundle_file)["status"] == "unavailable"


def test_a_connection_closed_without_an_answer_says_it_connected(bundle_file, tmp_path):
    with HostilePeer(Reply(raw=b"")) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "1")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "connected, but the server closed the connection without an answer" in result.stderr
    assert "could not connect" not in result.stderr


@pytest.mark.parametrize(
    "server", ["http://[::1", "http://[::1]:99999/fhir", "http://host:port/fhir", "http://exa mple.org\x00/"]
)
def test_a_server_url_that_cannot_be_used_is_a_config_error(bundle_file, tmp_path, server):
    result = push(server, bundle_file, tmp_path / "ob")
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "not a URL that can be used" in result.stderr or "not an http(s) URL" in result.stderr
    assert "\x00" not in result.stderr


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"resourceType": "Bundle", "type": "transaction-response", "entry": "ENTRIES"},
            "the transaction-response's entry is not a list",
        ),
        (
            {"resourceType": "Bundle", "type": "transaction-response", "entry": ["ENTRY_STRINGS"]},
            "reports entries that did not succeed (#1 (no response)",
        ),
        (
            {"resourceType": "Bundle", "type": "transaction-response", "entry": ["RESPONSE_STRINGS"]},
            "reports entries that did not succeed (#1 (no response)",
        ),
        (
            {"resourceType": "Bundle", "type": "transaction-response", "entry": ["STATUS_NUMBERS"]},
            "reports entries that did not succeed (#1 (no status)",
        ),
        ({"resourceType": ["Bundle"], "type": {}}, "with ['Bundle'], not a transaction-response Bundle"),
    ],
    ids=["entry-a-string", "entries-strings", "response-a-string", "status-a-number", "resourceType-a-list"],
)
def test_malformed_transaction_responses_are_sentences(bundle_file, tmp_path, answer, expected):
    n = entries_in(bundle_file)
    text = json.dumps(answer)
    text = text.replace('"ENTRIES"', '"nope"').replace('"ENTRY_STRINGS"', ", ".join(['"x"'] * n))
    text = text.replace('"RESPONSE_STRINGS"', ", ".join(['{"response": "201 Created"}'] * n))
    text = text.replace('"STATUS_NUMBERS"', ", ".join(['{"response": {"status": 201}}'] * n))
    with HostilePeer(Reply(200, FHIR_JSON, text.encode())) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "2")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "outcome",
    [
        {"resourceType": "OperationOutcome", "issue": "the server is unhappy"},
        {"resourceType": "OperationOutcome", "issue": ["the server is unhappy"]},
        {
            "resourceType": "OperationOutcome",
            "issue": [{"diagnostics": {"text": "x"}, "expression": "the server is unhappy"}],
        },
    ],
    ids=["issue-a-string", "issues-strings", "expression-a-string"],
)
def test_a_malformed_operation_outcome_is_shown_not_a_traceback(bundle_file, tmp_path, outcome):
    with HostilePeer(Reply(400, FHIR_JSON, json.dumps(outcome).encode())) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob")
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert "the server is unhappy" in result.stderr
    assert pending_error(tmp_path / "ob", bundle_file)["status"] == "rejected"


def test_a_deeply_nested_answer_is_not_json_not_a_recursion_error(bundle_file, tmp_path):
    deep = b'{"resourceType": "Bundle", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with HostilePeer(Reply(200, FHIR_JSON, deep)) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "2")
        read = CliRunner().invoke(main, ["verify", str(bundle_file), "--server", peer.base_url])
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "with a body that is not JSON" in result.stderr
    assert read.exit_code == EXIT_SERVER_UNAVAILABLE, read.output
    assert "RecursionError" not in result.output + read.output


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that inflates to 1 GiB of spaces."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    parts = [packer.compress(b'{"resourceType": "Bundle", "x": "')]
    parts += [packer.compress(block) for _ in range(1024)]
    parts.append(packer.compress(b'"}') + packer.flush())
    return b"".join(parts)


def test_a_gzip_bomb_is_cut_at_the_answer_cap(bundle_file, tmp_path, gzip_bomb):
    assert len(gzip_bomb) < 1_100_000
    headers = {**FHIR_JSON, "Content-Encoding": "gzip"}
    with HostilePeer(Reply(200, headers, gzip_bomb)) as peer:
        started = time.monotonic()
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "20")
        elapsed = time.monotonic() - started
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "is larger than 64 MiB once decoded; not read further" in result.stderr
    assert elapsed < 15, elapsed
    assert len(peer.requests) == 1  # the same answer again would change nothing: not retried


def test_an_answer_under_the_cap_is_read_whole_and_gzip_is_understood(bundle_file):
    body = gzip.compress(transaction_response(bundle_file))
    with HostilePeer(Reply(201, {**FHIR_JSON, "Content-Encoding": "gzip"}, body)) as peer:
        client = FhirClient(ClientSettings(base_url=peer.base_url, retry=FAST))
        result = client.transaction(bundle_file.read_bytes(), expected_entries=entries_in(bundle_file))
    assert len(result.entries) == entries_in(bundle_file)


# ---- silent or misleading ----


def test_verify_says_an_html_page_with_200_is_not_a_resource_not_not_found(bundle_file):
    page = b"<html><body>Welcome</body></html>"
    with HostilePeer(Reply(200, {"Content-Type": "text/html"}, page)) as peer:
        result = CliRunner().invoke(main, ["verify", str(bundle_file), "--server", peer.base_url])
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "not found" not in result.stderr
    assert "with a body that is not JSON (text/html: '<html><body>Welcome</body></html>')" in result.stderr


def test_control_characters_in_a_server_message_are_escaped(bundle_file, tmp_path):
    key = key_of(bundle_file)
    fake = f"\r\x1b[2K{key}: sent (13 201 Created)\n{key}: sent\x1b]0;owned\x07\u202e"
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": fake}],
    }
    with HostilePeer(Reply(400, FHIR_JSON, json.dumps(outcome).encode())) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob")
    assert result.exit_code == EXIT_SERVER_REJECTED
    for char in ("\x1b", "\r", "\x07", "\u202e"):
        assert char not in result.stderr
    assert not any(line.startswith(f"{key}: sent") for line in result.stderr.splitlines())
    assert "\\x1b[2K" in result.stderr and f"\\n{key}: sent" in result.stderr


def test_a_500_is_retried_then_left_pending_with_exit_6(bundle_file, tmp_path):
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "fatal", "code": "exception", "diagnostics": "database is down"}],
    }
    with HostilePeer(Reply(500, FHIR_JSON, json.dumps(outcome).encode())) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "1")
        cli_posts = len(peer.requests)
        peer.requests.clear()
        client = FhirClient(ClientSettings(base_url=peer.base_url, retry=FAST))
        with pytest.raises(
            ServerUnavailableError,
            match=r"HTTP 500; gave up after 6 attempt.*the server said: database is down",
        ):
            client.transaction(bundle_file.read_bytes())
        library_posts = len(peer.requests)
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "HTTP 500; " in result.stderr and "the server said: database is down" in result.stderr
    assert "rejected" not in result.stderr
    assert cli_posts >= 2  # retried within --max-time
    assert library_posts == FAST.max_attempts
    assert pending_error(tmp_path / "ob", bundle_file)["status"] == "unavailable"


def test_a_501_is_not_retried_but_is_not_a_rejection(bundle_file, tmp_path):
    with HostilePeer(Reply(501, {}, b"")) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob")
        assert len(peer.requests) == 1
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "the server failed with HTTP 501, which no retry changes" in result.stderr


# ---- secrets and trust ----


def test_a_password_in_the_server_url_is_used_but_never_shown_or_stored(bundle_file, tmp_path):
    report = tmp_path / "report.json"
    with HostilePeer(Reply(503, {}, b"")) as peer:
        server = peer.base_url.replace("http://", "http://reg%40user:s3cret-pw@")
        result = push(server, bundle_file, tmp_path / "ob", "--max-time", "0.5", "--report", str(report))
        sent_auth = {r.headers.get("authorization") for r in peer.requests}
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert sent_auth == {"Basic " + base64.b64encode(b"reg@user:s3cret-pw").decode()}
    stored = [report, *(tmp_path / "ob").rglob("*.json")]
    assert "s3cret-pw" not in result.output
    for path in stored:
        assert "s3cret-pw" not in path.read_text(), path


def test_a_password_in_a_bad_server_url_is_not_echoed(bundle_file, tmp_path):
    result = push("ftp://user:s3cret-pw@127.0.0.1/fhir", bundle_file, tmp_path / "ob")
    assert result.exit_code == EXIT_CONFIG
    assert "s3cret-pw" not in result.output and "ftp://***@127.0.0.1/fhir" in result.stderr


def test_a_token_over_plain_http_to_another_machine_is_refused(bundle_file, tmp_path):
    env = {"FHIR_ADAPTER_TOKEN": "t0ken"}
    result = push("http://fhir.example.org/fhir", bundle_file, tmp_path / "ob", env=env)
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "a token or password would go over plain http to fhir.example.org" in result.stderr
    assert "--allow-plain-http-auth" in result.stderr
    assert not (tmp_path / "ob").exists()  # refused before anything was written or sent


def test_a_token_with_a_line_break_is_refused_and_never_echoed(bundle_file, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-part-1\nX-Injected: s3cret-part-2\n")
    with HostilePeer(Reply(200, FHIR_JSON, b"{}")) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--token-file", str(token))
        assert peer.requests == []
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "the token holds a line break" in result.stderr
    assert "s3cret" not in result.output


def test_a_token_over_plain_http_to_this_machine_is_fine(bundle_file, tmp_path):
    body = transaction_response(bundle_file)
    with HostilePeer(Reply(200, FHIR_JSON, body)) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", env={"FHIR_ADAPTER_TOKEN": "t0ken"})
        assert peer.requests[0].headers["authorization"] == "Bearer t0ken"
    assert result.exit_code == 0, result.output


def test_an_llm_redirect_is_not_followed_and_the_key_goes_nowhere_else():
    with HostilePeer(Reply(200, {}, b"{}")) as elsewhere:
        target = f"http://localhost:{elsewhere.port}/steal"
        with HostilePeer(Reply(302, {"Location": target}, b"")) as peer:
            with pytest.raises(
                ServerResponseError,
                match="a redirect to http://localhost:.*not followed, since the key would go with it",
            ):
                llm_drafts(
                    "A woman had breast cancer.", LlmSettings(url=peer.base_url, key="sk-secret", timeout=5)
                )
            assert peer.requests[0].headers["authorization"] == "Bearer sk-secret"
        assert elsewhere.requests == []


def test_an_llm_key_over_plain_http_to_another_machine_is_refused():
    from fhir_adapter.errors import ConfigError

    with pytest.raises(ConfigError, match="over plain http to llm.example.org"):
        llm_drafts("A woman.", LlmSettings(url="http://llm.example.org/v1/chat/completions", key="sk-1"))


@pytest.mark.parametrize(
    "content",
    [{"cases": []}, 42, None, [{"type": "image"}], True],
    ids=["object", "number", "null", "parts-without-text", "bool"],
)
def test_llm_content_that_is_not_text_is_a_sentence(content):
    reply = {"choices": [{"message": {"role": "assistant", "content": content}}]}
    answer = Reply(200, {"Content-Type": "application/json"}, json.dumps(reply).encode())
    expected = r"choices\[0\]\.message\.content is .*, not text"
    with HostilePeer(answer) as peer, pytest.raises(ServerResponseError, match=expected):
        llm_drafts("A woman had breast cancer.", LlmSettings(url=peer.base_url, timeout=5))


def test_llm_content_as_text_parts_is_read():
    answer = {"cases": []}
    parts = [
        {"type": "text", "text": json.dumps(answer)[:5]},
        {"type": "text", "text": json.dumps(answer)[5:]},
    ]
    reply = {"choices": [{"message": {"content": parts}}]}
    with HostilePeer(Reply(200, {"Content-Type": "application/json"}, json.dumps(reply).encode())) as peer:
        assert llm_drafts("A woman had breast cancer.", LlmSettings(url=peer.base_url, timeout=5)) == []


def test_an_llm_endpoint_answering_500_is_retried_like_a_fhir_server():
    with HostilePeer(Reply(500, {}, b"")) as peer:
        with pytest.raises(ServerUnavailableError, match="answered HTTP 500 at every attempt"):
            llm_drafts("A woman.", LlmSettings(url=peer.base_url, timeout=5, retry=FAST))
        assert len(peer.requests) == FAST.max_attempts


def test_an_llm_case_with_an_empty_key_is_a_sentence():
    # Found by benchmarks/fuzz_server.py (seed 2003804): an empty key made the check raise IndexError.
    answer = {"cases": [{"case": {"": ""}, "evidence": {"patient.sex": "woman"}}]}
    reply = {"choices": [{"message": {"content": json.dumps(answer)}}]}
    answered = Reply(200, {"Content-Type": "application/json"}, json.dumps(reply).encode())
    with HostilePeer(answered) as peer, pytest.raises(AdapterError, match="draft: the LLM's case 1"):
        llm_drafts("A woman had breast cancer.", LlmSettings(url=peer.base_url, timeout=5))


@pytest.mark.parametrize("depth", [100_000, 900, 65])
def test_an_llm_answer_nested_too_deep_is_a_sentence(depth):
    content = '{"cases": [{"case": {"x": ' + "[" * depth + "]" * depth + "}}]}"
    reply = {"choices": [{"message": {"content": content}}]}
    answered = Reply(200, {"Content-Type": "application/json"}, json.dumps(reply).encode())
    with (
        HostilePeer(answered) as peer,
        pytest.raises(AdapterError, match="is not a JSON object|nests deeper than 64"),
    ):
        llm_drafts("A woman had breast cancer.", LlmSettings(url=peer.base_url, timeout=5))
