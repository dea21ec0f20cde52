"""Fake servers that lie about what they hold: each attack is a scripted peer on 127.0.0.1.

Before each transaction, push searches the server for the resources carrying the case's tag, so
that those a corrected case no longer has are deleted in the same transaction. These peers answer
those searches wrongly (paging that never ends, a next link that is not a URL, an id that would
turn a DELETE into a conditional one) and the bulk `$import` status wrongly. Every test is bounded:
the peer stops after at most a few hundred answers, and the client's deadlines hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.hostile_peer import HostilePeer, Reply, Request

from fhir_adapter.bulk import BulkSettings, bulk_import
from fhir_adapter.cli import main
from fhir_adapter.client import ClientSettings, FhirClient
from fhir_adapter.errors import EXIT_INVALID_CASE, EXIT_OK, EXIT_SERVER_UNAVAILABLE, ServerUnavailableError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "case.json"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def push(server: str, bundle_file: Path, outbox: Path, *extra: str):
    return CliRunner().invoke(
        main, ["push", "-q", str(bundle_file), "--server", server, "--outbox", str(outbox), *extra]
    )


def searchset(entries: list[dict], next_url: str | None = None) -> Reply:
    body: dict = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    if next_url is not None:
        body["link"] = [{"relation": "next", "url": next_url}]
    return Reply(200, FHIR_JSON, json.dumps(body).encode())


def stores_everything(request: Request) -> Reply:
    """A transaction-response that stores every entry where it was sent."""
    sent = json.loads(request.body)["entry"]
    entries = [
        {"response": {"status": "200 OK", "location": f"{e['request']['url']}/_history/2"}} for e in sent
    ]
    body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
    return Reply(200, FHIR_JSON, json.dumps(body).encode())


def tagged(bundle_file: Path, rtype: str, rid: object) -> dict:
    ident = json.loads(bundle_file.read_text())["identifier"]
    tag = {"system": ident["system"], "code": ident["value"]}
    return {"resource": {"resourceType": rtype, "id": rid, "meta": {"tag": [tag]}}}


def transactions(peer: HostilePeer) -> list[Request]:
    return [r for r in peer.requests if r.method == "POST"]


# ---- the search for what a corrected case no longer has ----


@pytest.mark.parametrize(
    "next_url",
    ["http://127.0.0.1:99999/fhir/Patient?page=2", "http://[::1/fhir/Patient?page=2"],
    ids=["port-out-of-range", "broken-ipv6"],
)
def test_a_next_link_that_is_not_a_url_is_a_sentence_and_nothing_is_sent(bundle_file, tmp_path, next_url):
    # Both raised ValueError from urllib out of push (a traceback, the whole run gone).
    def answer(request: Request) -> Reply:
        return searchset([], next_url) if request.method == "GET" else stores_everything(request)

    with HostilePeer(answer, answer_searches=False) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "5")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "the next page is on another server" in result.stderr
    assert "cannot be told, so nothing was sent" in result.stderr
    assert transactions(peer) == []
    key = json.loads(bundle_file.read_text())["identifier"]["value"]
    assert (tmp_path / "ob" / "pending" / f"{key}.json").exists()


def test_search_paging_that_never_ends_fails_the_case_instead_of_reading_part(bundle_file, tmp_path):
    # Every page links to a new one. The search used to stop quietly after 100 pages and send the
    # bundle as if the pages read were all there were: a stale resource on page 101 stayed on
    # the server, and push said "sent" with exit 0.
    served = {"n": 0}

    def answer(request: Request) -> Reply:
        if request.method != "GET":
            return stores_everything(request)
        served["n"] += 1
        rtype = request.path.split("/fhir/", 1)[1].split("?", 1)[0]
        return searchset([], f"/fhir/{rtype}?page={served['n']}")

    with HostilePeer(answer, answer_searches=False) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "5")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "more than 100 pages; stopped" in result.stderr
    assert "nothing was sent" in result.stderr
    assert transactions(peer) == []
    assert served["n"] <= 1000  # bounded: at most 100 pages of each of the 10 types searched


def test_a_next_link_back_to_a_page_already_read_ends_the_paging(bundle_file, tmp_path):
    # A server whose paging loops between two pages: both are read once, then the search ends.
    stale = tagged(bundle_file, "Procedure", "old-surgery")

    def answer(request: Request) -> Reply:
        if request.method != "GET":
            return stores_everything(request)
        if request.path.startswith("/fhir/Procedure"):
            if "page=2" in request.path:
                return searchset([stale], "/fhir/Procedure?page=1")
            return searchset([], "/fhir/Procedure?page=2")
        return searchset([])

    with HostilePeer(answer, answer_searches=False) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "5")
    assert result.exit_code == EXIT_OK, result.output
    (posted,) = transactions(peer)
    deletes = [e["request"] for e in json.loads(posted.body)["entry"] if e["request"]["method"] == "DELETE"]
    assert deletes == [{"method": "DELETE", "url": "Procedure/old-surgery"}]
    assert sum(r.path.startswith("/fhir/Procedure") for r in peer.requests) == 3


@pytest.mark.parametrize("rid", ["x?_tag=a", "", "../Patient/other", "a" * 65, 42])
def test_a_listed_id_that_is_not_a_fhir_id_never_reaches_a_delete(bundle_file, tmp_path, rid):
    # "Observation/x?_tag=a" used to be sent as a DELETE entry: a conditional delete of every
    # Observation tagged "a", whoever's they are.
    def answer(request: Request) -> Reply:
        if request.method != "GET":
            return stores_everything(request)
        if request.path.startswith("/fhir/Observation"):
            return searchset([tagged(bundle_file, "Observation", rid)])
        return searchset([])

    with HostilePeer(answer, answer_searches=False) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "5")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "is not a FHIR id" in result.stderr
    assert transactions(peer) == []


# ---- the bulk $import status URL ----


@pytest.fixture(scope="module")
def bulk_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bulk") / "bulk"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLE), "--format", "ndjson", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def import_peer(status: Callable[[int], Reply]) -> HostilePeer:
    """A $import endpoint: 202 with a status URL to the kick-off, then `status(n)` for poll n."""
    polls = {"n": 0}

    def answer(request: Request) -> Reply:
        if request.method == "POST":
            return Reply(202, {"Content-Location": "/fhir/$import-poll-status?_jobId=1"})
        if request.method == "DELETE":
            return Reply(202)
        polls["n"] += 1
        return status(polls["n"])

    return HostilePeer(answer)


@pytest.mark.parametrize(
    "final",
    [
        Reply(200, {"Content-Type": "text/html"}, b"<html>Done!</html>"),
        Reply(200, FHIR_JSON, b""),
        Reply(200, FHIR_JSON, b"{}"),
        Reply(200, FHIR_JSON, b'{"resourceType": "Bundle", "type": "searchset"}'),
        Reply(200, FHIR_JSON, b'{"output": "all of it"}'),
    ],
    ids=["html", "empty", "empty-object", "a-bundle", "output-a-string"],
)
def test_a_200_status_that_is_no_completion_report_is_not_an_import(bulk_dir, final):
    # Each of these answers used to end `push --bulk` with exit 0, every round after it sent as
    # though the resources it references were on the server.
    with import_peer(lambda n: Reply(202, {"Retry-After": "1"}) if n == 1 else final) as peer:
        result = CliRunner().invoke(
            main, ["push", "--bulk", str(bulk_dir), "--server", peer.base_url, "--poll-max-wait", "0.01"]
        )
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "neither the import's completion report nor an OperationOutcome" in result.output
    assert sum(r.method == "POST" for r in peer.requests) == 1  # no later round was kicked off


def test_retry_after_zero_does_not_make_the_polling_a_busy_loop(bulk_dir):
    # "Retry-After: 0" on every status answer made the client poll with no pause at all until
    # --bulk-timeout (an hour by default): thousands of requests a second.
    waits: list[float] = []
    with import_peer(lambda n: Reply(202, {"Retry-After": "0"})) as peer:
        client = FhirClient(ClientSettings(base_url=peer.base_url))
        clock = iter(range(0, 10_000)).__next__  # one second a call: the run ends by its timeout
        with pytest.raises(ServerUnavailableError, match="still running"):
            bulk_import(client, bulk_dir, BulkSettings(timeout=20), sleep=waits.append, clock=clock)
    assert waits and min(waits) >= BulkSettings().first_poll


# ---- what push agrees to send: only what a resend cannot double ----


def altered(bundle_file: Path, tmp_path: Path, change: Callable[[dict], None]) -> Path:
    bundle = json.loads(bundle_file.read_text())
    change(bundle["entry"][1])
    out = tmp_path / "altered.json"
    out.write_text(json.dumps(bundle))
    return out


def _post(entry: dict) -> None:
    entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}


def _conditional(entry: dict) -> None:
    entry["request"]["url"] = f"{entry['resource']['resourceType']}?identifier=x"


def _elsewhere(entry: dict) -> None:
    entry["request"]["url"] = "Patient/someone-else"


def _no_id(entry: dict) -> None:
    del entry["resource"]["id"]


def _no_request(entry: dict) -> None:
    del entry["request"]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (_post, "is 'POST' 'Condition', not PUT Condition/"),
        (_conditional, "is 'PUT' 'Condition?identifier=x', not PUT Condition/"),
        (_elsewhere, "is 'PUT' 'Patient/someone-else', not PUT Condition/"),
        (_no_id, "entry 2 (Condition) has no valid id (None)"),
        (_no_request, "is None None, not PUT Condition/"),
    ],
    ids=["post", "conditional-url", "url-of-another-resource", "no-id", "no-request"],
)
def test_an_entry_a_resend_could_apply_twice_is_refused_before_anything_is_sent(
    bundle_file, tmp_path, change, said
):
    # A POST entry was sent as it was: a retry after an answer lost once the server had committed
    # stores the resource twice. An entry without an id raised KeyError out of push.
    path = altered(bundle_file, tmp_path, change)
    with HostilePeer(stores_everything) as peer:
        result = push(peer.base_url, path, tmp_path / "ob")
    assert result.exit_code == EXIT_INVALID_CASE, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert said in result.stderr
    assert peer.requests == [] and peer.searches == []
    assert not (tmp_path / "ob" / "pending").exists()
    assert "they wait in" not in result.stderr
    assert "1 invalid, not queued" in result.stderr


def test_a_bundle_that_is_not_a_transaction_exits_3_and_is_not_said_to_wait(tmp_path):
    # It used to exit 1, a code the documentation does not list, and to close with "1 not sent;
    # they wait in .../pending", where nothing was written.
    path = tmp_path / "collection.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    with HostilePeer(stores_everything) as peer:
        result = push(peer.base_url, path, tmp_path / "ob")
    assert result.exit_code == EXIT_INVALID_CASE, result.output
    assert "not a transaction Bundle (type 'collection')" in result.stderr
    assert "they wait in" not in result.stderr
    assert peer.requests == []


# ---- where the server says it stored each resource ----


@pytest.mark.parametrize(
    "location",
    ["{url}_copy/_history/1", "urn:uuid:0f1e7c2a-9d3b-5a4e-8c61-3f2b7d9e4a10", "{url}/_history/1/junk"],
    ids=["id-with-an-underscore", "a-urn", "trailing-junk"],
)
def test_a_location_that_names_no_type_and_id_is_not_counted_as_sent(bundle_file, tmp_path, location):
    # Such locations were skipped by the check that the server kept the ids sent: "sent", exit 0,
    # with the resources somewhere the case's ids do not find.
    def answer(request: Request) -> Reply:
        sent = json.loads(request.body)["entry"]
        entries = [
            {"response": {"status": "201 Created", "location": location.format(url=e["request"]["url"])}}
            for e in sent
        ]
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(200, FHIR_JSON, json.dumps(body).encode())

    with HostilePeer(answer) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "misplaced" in result.stderr and "which names no Type/id" in result.stderr
    key = json.loads(bundle_file.read_text())["identifier"]["value"]
    assert (tmp_path / "ob" / "pending" / f"{key}.json").exists()


def test_an_update_answered_without_a_location_is_taken_at_its_word(bundle_file, tmp_path):
    def answer(request: Request) -> Reply:
        sent = json.loads(request.body)["entry"]
        entries = [{"response": {"status": "200 OK"}} for _ in sent]
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(200, FHIR_JSON, json.dumps(body).encode())

    with HostilePeer(answer) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob")
    assert result.exit_code == EXIT_OK, result.output


def test_a_resent_delete_answered_404_counts_as_done(bundle_file, tmp_path):
    # The server commits the correction (the stale Procedure deleted), the connection drops before
    # the answer, and on the resend it answers the DELETE entry "404 Not Found" (nothing there to
    # delete), as some servers do. The case used to be left pending with exit 6, its data right.
    stale = tagged(bundle_file, "Procedure", "old-surgery")
    posts = {"n": 0}

    def answer(request: Request) -> Reply:
        if request.method == "GET":
            return searchset([stale] if request.path.startswith("/fhir/Procedure") else [])
        posts["n"] += 1
        if posts["n"] == 1:
            return Reply(200, FHIR_JSON, b'{"resourceType": "Bundle", "ty', close_after=10)
        sent = json.loads(request.body)["entry"]
        entries = [
            {"response": {"status": "404 Not Found"}}
            if e["request"]["method"] == "DELETE"
            else {"response": {"status": "200 OK", "location": f"{e['request']['url']}/_history/2"}}
            for e in sent
        ]
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(200, FHIR_JSON, json.dumps(body).encode())

    with HostilePeer(answer, answer_searches=False) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob", "--max-time", "10")
    assert result.exit_code == EXIT_OK, result.output
    assert posts["n"] == 2


def test_a_404_for_an_entry_that_is_no_delete_is_still_a_failure(bundle_file, tmp_path):
    def answer(request: Request) -> Reply:
        sent = json.loads(request.body)["entry"]
        entries = [{"response": {"status": "404 Not Found"}} for _ in sent]
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(200, FHIR_JSON, json.dumps(body).encode())

    with HostilePeer(answer) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "entries that did not succeed" in result.stderr


def test_several_failures_exit_with_the_first_ones_code(bundle_file, tmp_path):
    # The documented rule ("the exit code is that of the first failure"); push gave the largest.
    first = tmp_path / "a-collection.json"
    first.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
    with HostilePeer(Reply(501, FHIR_JSON, json.dumps(outcome).encode())) as peer:
        result = CliRunner().invoke(
            main,
            [
                "push",
                "-q",
                str(first),
                str(bundle_file),
                "--server",
                peer.base_url,
                "--outbox",
                str(tmp_path / "ob"),
            ],
        )
    assert "0 of 2 bundle(s) sent" in result.stderr
    assert result.exit_code == EXIT_INVALID_CASE, result.output


@pytest.mark.parametrize("rid", [None, "../Observation/someone-else"], ids=["no-id", "a-path"])
def test_verify_of_an_entry_without_a_fhir_id_is_a_sentence_and_reads_nothing(bundle_file, tmp_path, rid):
    # No id raised KeyError out of verify; "../Observation/x" was read as GET Observation/x.
    def change(entry: dict) -> None:
        entry["resource"]["id"] = rid

    path = altered(bundle_file, tmp_path, change)
    with HostilePeer(Reply(404)) as peer:
        result = CliRunner().invoke(main, ["verify", str(path), "--server", peer.base_url])
    assert result.exit_code == EXIT_INVALID_CASE, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "entry 2 of the Bundle holds no resource with a type and a FHIR id" in result.stderr
    assert peer.requests == [] and peer.searches == []


def test_answers_in_another_order_are_told_as_such_not_as_other_ids(bundle_file, tmp_path):
    # The answer's entries were read as "stored Patient/a as Condition/b", with the advice to
    # use a server that keeps client-assigned ids; the server had kept them, in another order.
    def answer(request: Request) -> Reply:
        sent = json.loads(request.body)["entry"]
        entries = [
            {"response": {"status": "200 OK", "location": f"{e['request']['url']}/_history/2"}}
            for e in reversed(sent)
        ]
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(200, FHIR_JSON, json.dumps(body).encode())

    with HostilePeer(answer) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob")
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "not in the order they were sent" in result.stderr
    assert "client-assigned ids" not in result.stderr
    key = json.loads(bundle_file.read_text())["identifier"]["value"]
    assert (tmp_path / "ob" / "pending" / f"{key}.json").exists()


def test_a_whole_transaction_failed_404_for_a_delete_is_not_blamed_on_ids(bundle_file, tmp_path):
    # A server that fails a whole transaction when one of its DELETEs finds nothing answers 404:
    # the hint was only that the server keeps no client-assigned ids, which sent users astray.
    stale = tagged(bundle_file, "Procedure", "old-surgery")
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}

    def answer(request: Request) -> Reply:
        if request.method == "GET":
            return searchset([stale] if request.path.startswith("/fhir/Procedure") else [])
        return Reply(404, FHIR_JSON, json.dumps(outcome).encode())

    with HostilePeer(answer, answer_searches=False) as peer:
        result = push(peer.base_url, bundle_file, tmp_path / "ob")
    assert result.exit_code != EXIT_OK, result.output
    assert "Procedure/old-surgery" in result.stderr
    assert "fails a whole transaction for a DELETE that finds nothing" in result.stderr
    assert "client_id_strategy" in result.stderr  # the other reading is still given
