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
from fhir_adapter.errors import EXIT_OK, EXIT_SERVER_UNAVAILABLE, ServerUnavailableError

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
