"""A fourth set of attacks on what lands on a server: fake servers that lie, stall and redirect.

Each attack is a scripted peer on 127.0.0.1 (tests/support/hostile_peer.py) bounded in answers
and in time. The question each asks: does push believe an answer the server gave that cannot be
true, and does anything pending get lost by believing it?
"""

from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

import pytest
from support.convert_run import cli as run
from support.convert_run import convert_case as convert
from support.fhir_server import free_port
from support.hostile_peer import HostilePeer, Reply, Request

from fhir_adapter.bulk import BulkSettings, bulk_import
from fhir_adapter.client import ClientSettings, FhirClient
from fhir_adapter.errors import EXIT_SERVER_REJECTED, EXIT_SERVER_UNAVAILABLE, ServerUnavailableError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASE_1 = (EXAMPLES / "yu-2024-case-1.yaml").read_text()
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def outcome(text: str, severity: str = "information") -> dict:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": "informational",
                                                           "diagnostics": text}]}  # fmt: skip


# ---- push --bulk: a server that says it imported files it never fetched ----


def test_an_import_the_server_says_is_done_without_fetching_the_files_did_not_land(tmp_path):
    # The local file server knows what the server fetched. A server that answered "done" to every
    # job without fetching a byte was believed: exit 0, the resources the directory no longer has
    # deleted, and the case's older bundle waiting in the outbox retired to superseded/, although
    # nothing of the import was on the server.
    old = convert(tmp_path, "old", CASE_1)
    imported_dir = convert(tmp_path, "new", CASE_1, "--format", "ndjson")
    outbox = tmp_path / "outbox"
    down = f"http://127.0.0.1:{free_port()}/fhir"
    failed = run("push", str(old), "--server", down, "--max-time", "1", "--outbox", str(outbox))
    assert failed.exit_code == EXIT_SERVER_UNAVAILABLE, failed.output

    def liar(request: Request) -> Reply:
        if request.method == "POST" and "$import" in request.path:
            return Reply(202, {"Content-Location": "/fhir/$import-poll-status?_jobId=1"})
        return Reply(200, FHIR_JSON, json.dumps(outcome("Job complete; all resources stored")).encode())

    with HostilePeer(liar) as peer:
        result = run(
            "push", "--bulk", str(imported_dir), "--server", peer.base_url, "--poll-max-wait", "0.01",
            "--outbox", str(outbox),
        )  # fmt: skip
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert "never fetched" in result.output and "Patient.ndjson" in result.output
    assert sum(r.method == "POST" for r in peer.requests) == 1  # no later round was kicked off
    assert not peer.searches  # nothing deleted on its word
    assert (outbox / "pending" / "yu-2024-case-1.json").exists()  # the older bundle is not retired
    assert not (outbox / "superseded").exists()


# ---- push: a transaction-response whose entries say two things at once ----


def answering(change) -> HostilePeer:
    """A peer that answers each transaction with every entry stored where it was sent, then `change`d."""

    def answer(request: Request) -> Reply:
        sent = json.loads(request.body)["entry"]
        entries = [
            {"response": {"status": "200 OK", "location": f"{e['request']['url']}/_history/2"}} for e in sent
        ]
        change(entries)
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(200, FHIR_JSON, json.dumps(body).encode())

    return HostilePeer(answer)


def _error_outcome(entries: list[dict]) -> None:
    entries[1]["response"]["outcome"] = outcome("HAPI-0550: the resource was not stored", "error")


def _fatal_outcome(entries: list[dict]) -> None:
    entries[-1]["response"]["outcome"] = outcome("the database rolled back", "fatal")


def test_an_entry_answered_200_with_an_error_outcome_is_not_counted_as_stored(tmp_path):
    # FHIR gives a transaction entry's outcome for hints and warnings. An entry answered "200 OK"
    # whose outcome is an error or a fatal issue says both that it was stored and that it was not:
    # push counted it as sent and moved the bundle to sent/.
    bundle = convert(tmp_path, "case", CASE_1)
    for change, said in ((_error_outcome, "error: HAPI-0550"), (_fatal_outcome, "fatal: the database")):
        outbox = tmp_path / change.__name__
        with answering(change) as peer:
            result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
        assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
        assert "reports entries as done whose outcome says they failed" in result.output
        assert said in result.output
        assert (outbox / "pending" / "yu-2024-case-1.json").exists()
        assert not list((outbox / "sent").glob("*.json"))
    # Hints and warnings are what an outcome is for: the bundle is sent.
    outbox = tmp_path / "warning"
    with answering(
        lambda entries: entries[1]["response"].update(outcome=outcome("a hint", "warning"))
    ) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
    assert result.exit_code == 0, result.output


# ---- credentials: a token that expires in the middle of a run ----


def test_a_token_expiring_mid_run_leaves_the_rest_pending_with_the_fix_named(tmp_path, monkeypatch):
    # The first bundle lands; then the token expires and the server answers 401 with a
    # WWW-Authenticate saying so. The later bundle must wait in pending/, and its line must say
    # that the credentials, not the case, need fixing (it said only "HTTP 401: expired", and the
    # closing line asked to fix the case). With a new token, push --resume sends it.
    first = convert(tmp_path, "c1", CASE_1)
    second = convert(tmp_path, "c2", (EXAMPLES / "yu-2024-case-2.yaml").read_text())
    outbox = tmp_path / "outbox"
    expired = {"at": None}

    def answer(request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer fresh" and expired["at"] is not None:
            return Reply(
                401,
                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="token expired"'},
                json.dumps(outcome("expired", "error")).encode(),
            )
        if request.method == "GET":
            body = {"resourceType": "Bundle", "type": "searchset", "entry": []}
            return Reply(200, FHIR_JSON, json.dumps(body).encode())
        expired["at"] = expired["at"] or len(peer.requests)
        sent = json.loads(request.body)["entry"]
        entries = [{"response": {"status": "201 Created", "location": e["request"]["url"]}} for e in sent]
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(200, FHIR_JSON, json.dumps(body).encode())

    monkeypatch.setenv("FHIR_ADAPTER_TOKEN", "old")
    with HostilePeer(answer, answer_searches=False) as peer:
        result = run("push", str(first), str(second), "--server", peer.base_url, "--outbox", str(outbox))
        assert result.exit_code == EXIT_SERVER_REJECTED, result.output
        assert "yu-2024-case-1: sent" in result.output
        assert "yu-2024-case-2: rejected" in result.output
        assert "the server did not accept the credentials given" in result.output
        assert 'error_description="token expired"' in result.output and "--token-file" in result.output
        assert (outbox / "pending" / "yu-2024-case-2.json").exists()
        monkeypatch.setenv("FHIR_ADAPTER_TOKEN", "fresh")
        resumed = run("push", "--resume", "--server", peer.base_url, "--outbox", str(outbox))
        assert resumed.exit_code == 0, resumed.output
        assert "yu-2024-case-2: sent" in resumed.output
    assert not list((outbox / "pending").glob("*.json"))


def test_a_401_without_credentials_names_how_to_give_them(tmp_path, monkeypatch):
    for name in ("FHIR_ADAPTER_TOKEN", "FHIR_ADAPTER_BASIC_AUTH"):
        monkeypatch.delenv(name, raising=False)
    bundle = convert(tmp_path, "case", CASE_1)
    with HostilePeer(
        Reply(401, {"WWW-Authenticate": 'Basic realm="registry"'}), answer_searches=False
    ) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(tmp_path / "outbox"))
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert "the server asks for credentials" in result.output and 'realm="registry"' in result.output
    assert "FHIR_ADAPTER_BASIC_AUTH" in result.output


# ---- push --bulk: Ctrl-C while the server works ----


def test_ctrl_c_while_an_import_runs_cancels_the_job(tmp_path):
    # The files are served by this command: once it ends, the server's job can fetch nothing more.
    # Ctrl-C while waiting used to leave the job running at the server (a DELETE went out only
    # when --bulk-timeout passed); it is cancelled now, and the interrupt goes on.
    directory = convert(tmp_path, "bulk", CASE_1, "--format", "ndjson")

    def answer(request: Request) -> Reply:
        if request.method == "POST":
            return Reply(202, {"Content-Location": "/fhir/$import-poll-status?_jobId=7"})
        return Reply(202, {"X-Progress": "still reading", "Retry-After": "1"})

    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            raise KeyboardInterrupt

    said: list[str] = []
    with HostilePeer(answer) as peer:
        client = FhirClient(ClientSettings(base_url=peer.base_url))
        with pytest.raises(KeyboardInterrupt):
            bulk_import(
                client, directory, BulkSettings(max_poll_wait=0.01), sleep=sleep, progress=said.append
            )
    cancels = [r for r in peer.requests if r.method == "DELETE"]
    assert [r.path for r in cancels] == ["/fhir/$import-poll-status?_jobId=7"]
    assert any("asked the server to cancel the import" in line for line in said)


# ---- the search for what a corrected case no longer has: pages that hide what they hold ----


def _tagged(bundle: Path, rtype: str, rid: str) -> dict:
    ident = json.loads(bundle.read_text())["identifier"]
    tag = {"system": ident["system"], "code": ident["value"]}
    return {
        "resource": {"resourceType": rtype, "id": rid, "meta": {"tag": [tag]}},
        "search": {"mode": "match"},
    }


def _link_not_a_list(base: str, bundle: Path) -> dict:
    # One link as an object, not a list of links: read as "no next page", so page 2 went unread.
    return {"entry": [], "link": {"relation": "next", "url": f"{base}/Observation?page=2"}}


def _entry_not_a_list(base: str, bundle: Path) -> dict:
    return {"entry": _tagged(bundle, "Observation", "stale-1")}


def _total_above_what_is_listed(base: str, bundle: Path) -> dict:
    # total 3, one listed, no next link: two the case may no longer have are not shown.
    return {"total": 3, "entry": [_tagged(bundle, "Observation", "stale-1")]}


def _an_error_outcome(base: str, bundle: Path) -> dict:
    # No match, and an OperationOutcome saying the search could not be done as asked.
    failed = outcome("HAPI-0524: unknown search parameter _tag", "error")
    return {"entry": [{"resource": failed, "search": {"mode": "outcome"}}]}


@pytest.mark.parametrize(
    "page", [_link_not_a_list, _entry_not_a_list, _total_above_what_is_listed, _an_error_outcome]
)
def test_a_search_whose_pages_hide_what_they_hold_sends_nothing(tmp_path, page):
    # Each of these searches was read as complete: the bundle was sent and counted as exact,
    # though resources the case no longer has could be left beside it.
    bundle = convert(tmp_path, "case", CASE_1)
    outbox = tmp_path / "outbox"

    def answer(request: Request) -> Reply:
        if request.method == "GET" and request.path.startswith("/fhir/Observation?_tag="):
            body = {"resourceType": "Bundle", "type": "searchset", **page(peer.base_url, bundle)}
            return Reply(200, FHIR_JSON, json.dumps(body).encode())
        if request.method == "GET":
            body = {"resourceType": "Bundle", "type": "searchset", "entry": []}
            return Reply(200, FHIR_JSON, json.dumps(body).encode())
        return Reply(500, FHIR_JSON, json.dumps(outcome("no transaction expected", "error")).encode())

    with HostilePeer(answer, answer_searches=False) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
        posted = [r for r in peer.requests if r.method == "POST"]
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "cannot be told, so nothing was sent" in result.output
    assert not posted
    assert (outbox / "pending" / "yu-2024-case-1.json").exists()


# ---- push: an answer that says the transaction is not done yet ----


def test_a_transaction_answered_202_accepted_is_not_counted_as_stored(tmp_path):
    # 202 says the request was accepted for processing, not that it was processed: whatever body
    # comes with it, what the server will store cannot be told yet. A 202 carrying a
    # transaction-response was counted as sent and the bundle moved to sent/.
    bundle = convert(tmp_path, "case", CASE_1)
    outbox = tmp_path / "outbox"

    def answer(request: Request) -> Reply:
        sent = json.loads(request.body)["entry"]
        entries = [{"response": {"status": "201 Created", "location": e["request"]["url"]}} for e in sent]
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(202, FHIR_JSON, json.dumps(body).encode())

    with HostilePeer(answer) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "HTTP 202" in result.output and "not that it was done" in result.output
    assert (outbox / "pending" / "yu-2024-case-1.json").exists()
    assert not list((outbox / "sent").glob("*.json"))


# ---- push --bulk: a kick-off redirected ----


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_an_import_kick_off_redirected_is_not_sent_on_and_names_the_target(tmp_path, status):
    # A redirect of the kick-off was told as "HTTP 307, expected 202 Accepted" (exit 5, a
    # rejection) without where it pointed. As for a transaction, the request is not sent on to
    # another address (the credentials would go with it), and the message names the target.
    directory = convert(tmp_path, "bulk", CASE_1, "--format", "ndjson")
    target = "http://127.0.0.1:9/elsewhere/$import"
    with HostilePeer(Reply(status, {"Location": target})) as peer:
        result = run("push", "--bulk", str(directory), "--server", peer.base_url, "--poll-max-wait", "0.01")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert f"a redirect to {target}" in result.output and "--server" in result.output
    assert [r.method for r in peer.requests] == ["POST"]


def test_a_status_url_failing_at_every_retry_cancels_the_job_whose_files_go_away(tmp_path):
    # The status URL answers 503 at every retry mid-poll: push --bulk gives up (exit 6), and with
    # it goes the file server the job reads from. The job was left running; it is cancelled now.
    directory = convert(tmp_path, "bulk", CASE_1, "--format", "ndjson")
    polls = {"n": 0}

    def answer(request: Request) -> Reply:
        if request.method == "POST":
            return Reply(202, {"Content-Location": "/fhir/$import-poll-status?_jobId=3"})
        if request.method == "DELETE":
            return Reply(202)
        polls["n"] += 1
        return Reply(202) if polls["n"] == 1 else Reply(503, {"Retry-After": "0"})

    with HostilePeer(answer) as peer:
        result = run(
            "push", "--bulk", str(directory), "--server", peer.base_url, "--poll-max-wait", "0.01",
            "--max-time", "3",
        )  # fmt: skip
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "the import was cancelled" in result.output
    assert [r.path for r in peer.requests if r.method == "DELETE"] == ["/fhir/$import-poll-status?_jobId=3"]


def test_retry_after_as_an_http_date_is_honoured_while_polling(tmp_path):
    # HTTP allows Retry-After as a date. The status polling read only seconds, so a server asking
    # for 20 s by date was polled after 1, 2, 4 ... s.
    directory = convert(tmp_path, "bulk", CASE_1, "--format", "ndjson")
    polls = {"n": 0}

    def answer(request: Request) -> Reply:
        if request.method == "POST" and "$import" in request.path:
            return Reply(202, {"Content-Location": "/fhir/$import-poll-status?_jobId=1"})
        if request.method == "DELETE":
            return Reply(202)
        polls["n"] += 1
        return Reply(202, {"Retry-After": email.utils.formatdate(time.time() + 20, usegmt=True)})

    pauses: list[float] = []
    with HostilePeer(answer) as peer:
        client = FhirClient(ClientSettings(base_url=peer.base_url))
        clock = iter(range(0, 10_000)).__next__  # a second a call: over by --bulk-timeout after some polls
        with pytest.raises(ServerUnavailableError, match="still running"):
            bulk_import(client, directory, BulkSettings(timeout=30), sleep=pauses.append, clock=clock)
    assert len(pauses) > 2 and min(pauses[1:3]) >= 15, pauses  # later ones end by --bulk-timeout


def test_a_server_refusing_deletes_says_what_stays(tmp_path):
    # A server that lets the credentials update but not delete answers 403 to a correction's
    # transaction, which deletes what the case no longer has. The message said only "HTTP 403":
    # it names the resources that stay on the server now, and the bundle waits in pending/.
    bundle = convert(tmp_path, "case", CASE_1)
    outbox = tmp_path / "outbox"

    def answer(request: Request) -> Reply:
        if request.method == "GET" and request.path.startswith("/fhir/Observation?_tag="):
            body = {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [_tagged(bundle, "Observation", "gone-1")],
            }
            return Reply(200, FHIR_JSON, json.dumps(body).encode())
        if request.method == "GET":
            return Reply(200, FHIR_JSON, json.dumps({"resourceType": "Bundle", "type": "searchset"}).encode())
        if any(e["request"]["method"] == "DELETE" for e in json.loads(request.body)["entry"]):
            return Reply(403, FHIR_JSON, json.dumps(outcome("delete not permitted", "error")).encode())
        return Reply(500)

    with HostilePeer(answer, answer_searches=False) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert "deletes 1 resource(s) the case no longer has (Observation/gone-1)" in result.output
    assert "update but not delete" in result.output
    assert (outbox / "pending" / "yu-2024-case-1.json").exists()
