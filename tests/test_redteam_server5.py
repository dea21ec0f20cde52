"""A fifth set of attacks on what lands on a server, thought of as sequences and state.

Each attack is a scripted peer on 127.0.0.1 (tests/support/hostile_peer.py), bounded in answers
and in time. The questions: does a run told to stop go on sending, does an answer the server
gave in an odd but readable form leave a stored bundle waiting forever, and does a count or a
URL the server or the user gave in an unusual spelling let part of a case go unseen?
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.convert_run import cli as run
from support.convert_run import convert_case as convert
from support.hostile_peer import HostilePeer, Reply, Request

from fhir_adapter.client import ClientSettings, FhirClient
from fhir_adapter.errors import EXIT_CONFIG, EXIT_SERVER_UNAVAILABLE, ConfigError
from fhir_adapter.push import normalise_sent

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CASE_1 = (EXAMPLES / "yu-2024-case-1.yaml").read_text()
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def stored_where_sent(request: Request) -> dict:
    """A transaction-response storing every entry of the request at its own id."""
    sent = json.loads(request.body)["entry"]
    entries = [
        {"response": {"status": "200 OK", "location": f"{e['request']['url']}/_history/1"}} for e in sent
    ]
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


def many_cases(tmp_path: Path, n: int) -> list[Path]:
    cases = tmp_path / "cases"
    cases.mkdir()
    for i in range(n):
        (cases / f"c{i:02d}.yaml").write_text(CASE_1.replace("id: yu-2024-case-1", f"id: case-{i:02d}", 1))
    out = tmp_path / "bundles"
    result = run("convert", "-q", str(cases), "-o", str(out))
    assert result.exit_code == 0, result.output
    return sorted(out.glob("*.json"))


# ---- Ctrl-C in the middle of a push with several workers ----


def test_ctrl_c_stops_a_push_with_workers_and_the_rest_wait_in_pending(tmp_path):
    # With --workers, a window of up to 256 bundles was handed to the thread pool at once. Ctrl-C
    # ended the loop reading the answers, but the pool's exit waited for every bundle handed to
    # it: the run went on posting until the window was empty ("Aborted!" came after all 20 here,
    # and with a slow server it would be minutes). Now the bundles not begun are not sent; those
    # in flight end and are recorded, and the rest wait in pending/ for --resume.
    bundles = many_cases(tmp_path, 20)
    outbox = tmp_path / "outbox"

    def slow(request: Request) -> Reply:
        time.sleep(0.5)
        return Reply(200, FHIR_JSON, json.dumps(stored_where_sent(request)).encode())

    with HostilePeer(slow) as peer:
        process = subprocess.Popen(
            [sys.executable, "-m", "fhir_adapter.cli", "push", *map(str, bundles), "--server", peer.base_url,
             "--workers", "2", "--outbox", str(outbox)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(peer.requests) < 4 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()[1]
        process.send_signal(signal.SIGINT)
        stopped_at = len(peer.requests)
        _, stderr = process.communicate(timeout=60)
        posted = len(peer.requests)
    assert process.returncode == 1, stderr
    assert "Aborted!" in stderr
    # At most the two in flight when Ctrl-C came, and one each worker had just taken up, went on.
    assert posted <= stopped_at + 4, f"{posted - stopped_at} transactions posted after Ctrl-C"
    sent = {p.name for p in (outbox / "sent").glob("*.json")}
    waiting = {p.name for p in (outbox / "pending").glob("*.json") if not p.name.endswith(".error.json")}
    assert len(sent) == posted and not sent & waiting
    assert sent | waiting == {p.name for p in bundles}  # nothing lost, nothing in neither
    with HostilePeer(lambda r: Reply(200, FHIR_JSON, json.dumps(stored_where_sent(r)).encode())) as peer:
        resumed = run("push", "--resume", "--server", peer.base_url, "--outbox", str(outbox))
        assert resumed.exit_code == 0, resumed.output
        assert len(peer.requests) == len(waiting)
    assert not list((outbox / "pending").glob("*.json"))


def test_a_caller_that_stops_reading_results_stops_the_sending(tmp_path):
    # The library's send_all is a generator: a caller that stops reading it (an error writing its
    # report, a break) must not leave the pool sending the rest of the window behind its back.
    from fhir_adapter.push import Item, Outbox, outbox_key, send_all

    bundles = many_cases(tmp_path, 12)
    items = []
    for path in bundles:
        bundle = json.loads(path.read_text())
        items.append(Item(outbox_key(bundle, path.stem), str(path), bundle))
    outbox = Outbox(tmp_path / "outbox")

    def slow(request: Request) -> Reply:
        time.sleep(0.2)
        return Reply(200, FHIR_JSON, json.dumps(stored_where_sent(request)).encode())

    with HostilePeer(slow) as peer:
        client = FhirClient(ClientSettings(base_url=peer.base_url))
        results = send_all(client, outbox, items, workers=2)
        first = next(results)
        assert first.status == "sent"
        results.close()  # the caller is done
        time.sleep(1.0)
        posted = len(peer.requests)
    # The two in flight, and the one each worker took up as it finished: never the whole window.
    assert posted <= 4, f"{posted} of 12 transactions posted for a caller that read one answer"
    waiting = [p for p in (outbox.pending).glob("*.json") if not p.name.endswith(".error.json")]
    assert len(waiting) + len(list(outbox.sent.glob("*.json"))) == 12


# ---- answers in an encoding JSON on the network should not have ----


def _answered(body: bytes, content_type: str) -> HostilePeer:
    def answer(request: Request) -> Reply:
        text = json.dumps(stored_where_sent(request))
        return Reply(200, {"Content-Type": content_type}, body(text) if callable(body) else body)

    return HostilePeer(answer)


@pytest.mark.parametrize(
    ("name", "encode", "content_type"),
    [
        ("utf-8 with a byte order mark", lambda t: b"\xef\xbb\xbf" + t.encode(), "application/fhir+json"),
        ("utf-16 with its mark", lambda t: t.encode("utf-16"), "application/fhir+json"),
        ("utf-16le by charset", lambda t: t.encode("utf-16-le"), "application/fhir+json; charset=UTF-16LE"),
        ("utf-16 by charset, no mark", lambda t: t.encode("utf-16-be"), 'application/json; charset="utf-16"'),
    ],
)
def test_an_answer_with_a_byte_order_mark_or_in_utf16_is_read(tmp_path, name, encode, content_type):
    # RFC 8259 lets a parser skip a byte order mark, and a server that says its charset is UTF-16
    # sent UTF-16. Such a transaction-response was "a body that is not JSON": the bundle the
    # server had stored stayed waiting (exit 6), and every resend ended the same way.
    bundle = convert(tmp_path, "case", CASE_1)
    outbox = tmp_path / "outbox"
    with _answered(encode, content_type) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
    assert result.exit_code != EXIT_SERVER_UNAVAILABLE or "not JSON" not in result.output, result.output
    assert "yu-2024-case-1: sent" in result.output, result.output
    assert (outbox / "sent" / "yu-2024-case-1.json").exists()


def test_an_answer_that_is_not_what_its_encoding_says_is_still_not_json(tmp_path):
    bundle = convert(tmp_path, "case", CASE_1)
    for body, content_type in (
        (b"\xff\xfe{", "application/fhir+json"),  # a UTF-16 mark and half a character
        (b'{"resourceType": "Bundle"', "application/fhir+json; charset=utf-16"),
        (b"\xef\xbb\xbf<html>ok</html>", "text/html"),
    ):
        outbox = tmp_path / f"outbox{len(body)}"
        with _answered(body, content_type) as peer:
            result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
        assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
        assert "not JSON" in result.output
        assert (outbox / "pending" / "yu-2024-case-1.json").exists()


# ---- a search whose total is a number written as text ----


def test_a_total_written_as_text_still_holds_the_pages_to_it(tmp_path):
    # `total` is an unsignedInt; a server writing "5" still says five resources carry the case's
    # tag. Read as no total, pages listing two of them passed as the whole answer, the bundle was
    # sent, and the three never listed (resources the corrected case no longer has) stayed.
    bundle = convert(tmp_path, "case", CASE_1)
    ident = json.loads(bundle.read_text())["identifier"]
    tag = {"system": ident["system"], "code": ident["value"]}
    listed = [
        {"resource": {"resourceType": "Observation", "id": f"old-{i}", "meta": {"tag": [tag]}}, "search": {"mode": "match"}}
        for i in range(2)
    ]  # fmt: skip

    def answer(request: Request) -> Reply:
        if request.method == "GET":
            total = "5" if request.path.startswith("/fhir/Observation") else "0"
            page = {"resourceType": "Bundle", "type": "searchset", "total": total,
                    "entry": listed if total == "5" else []}  # fmt: skip
            return Reply(200, FHIR_JSON, json.dumps(page).encode())
        return Reply(200, FHIR_JSON, json.dumps(stored_where_sent(request)).encode())

    outbox = tmp_path / "outbox"
    with HostilePeer(answer, answer_searches=False) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
        posts = [r for r in peer.requests if r.method == "POST"]
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "the server says 5 resource(s) match, but its pages list 2" in result.output
    assert not posts  # nothing sent on a count that does not add up
    assert (outbox / "pending" / "yu-2024-case-1.json").exists()


def test_a_total_written_as_text_that_adds_up_is_read(tmp_path):
    bundle = convert(tmp_path, "case", CASE_1)
    ident = json.loads(bundle.read_text())["identifier"]
    tag = {"system": ident["system"], "code": ident["value"]}
    stale = {"resource": {"resourceType": "Observation", "id": "old-1", "meta": {"tag": [tag]}}}

    def answer(request: Request) -> Reply:
        if request.method == "GET":
            mine = request.path.startswith("/fhir/Observation")
            page = {"resourceType": "Bundle", "type": "searchset", "total": "1" if mine else " 0 ",
                    "entry": [stale] if mine else []}  # fmt: skip
            return Reply(200, FHIR_JSON, json.dumps(page).encode())
        return Reply(200, FHIR_JSON, json.dumps(stored_where_sent(request)).encode())

    with HostilePeer(answer, answer_searches=False) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(tmp_path / "outbox"))
        posted = [json.loads(r.body) for r in peer.requests if r.method == "POST"]
    assert result.exit_code == 0, result.output
    assert [e["request"]["url"] for e in posted[0]["entry"] if e["request"]["method"] == "DELETE"] == [
        "Observation/old-1"
    ]


# ---- a --server with a query or a fragment ----


@pytest.mark.parametrize("suffix", ["?tenant=a", "#section", "?"])
def test_a_server_url_with_a_query_or_fragment_is_refused_before_anything_is_written(tmp_path, suffix):
    # Every request URL is the base and a path after it: `base?tenant=a` made the search for what
    # a corrected case no longer has `base?tenant=a/Observation?_tag=...` (a search of something
    # else), and `base#section` dropped the path from every request, so searches went to the base.
    bundle = convert(tmp_path, "case", CASE_1)
    outbox = tmp_path / "outbox"
    with HostilePeer(lambda r: Reply(200, FHIR_JSON, json.dumps(stored_where_sent(r)).encode())) as peer:
        result = run("push", str(bundle), "--server", peer.base_url + suffix, "--outbox", str(outbox))
        assert result.exit_code == EXIT_CONFIG, result.output
        assert "a FHIR base URL has no query or fragment" in result.output
        assert not peer.requests and not peer.searches
    assert not outbox.exists()
    with pytest.raises(ConfigError):
        FhirClient(ClientSettings(base_url="http://127.0.0.1:9/fhir?x=1"))


# ---- the public HAPI test server by name: where it would go, without any network ----


def test_the_public_hapi_server_is_refused_in_every_way_it_can_be_named(tmp_path, monkeypatch):
    # No request may leave: the client is replaced by one that fails the test if it is used.
    import fhir_adapter.client as client_module

    def no_network(*args, **kwargs):
        raise AssertionError("a request was attempted")

    monkeypatch.setattr(client_module.HttpClient, "request", no_network)
    monkeypatch.delenv("FHIR_ADAPTER_SERVER", raising=False)
    bundle = convert(tmp_path, "case", CASE_1)
    for args in ([], ["--server", "hapi.fhir.org/baseR4"], ["--server", "http://hapi.fhir.org/baseR4"],
                 ["--server", "https://HAPI.fhir.org:443/baseR4/"]):  # fmt: skip
        outbox = tmp_path / f"outbox{len(args)}{len(args[-1]) if args else 0}"
        result = run("push", str(bundle), *args, "--outbox", str(outbox))
        assert result.exit_code == EXIT_CONFIG, (args, result.output)
        assert "is a public test server" in result.output
        assert not outbox.exists()
    # The default goes to the public HAPI R4 base, and only with --allow-public-server.
    monkeypatch.setenv("FHIR_ADAPTER_SERVER", "")
    result = run("push", str(bundle), "--outbox", str(tmp_path / "o"))
    assert "https://hapi.fhir.org/baseR4 is a public test server" in result.output
    # Without a scheme it is no URL to send to, even when public servers are allowed.
    result = run("push", str(bundle), "--server", "hapi.fhir.org/baseR4", "--allow-public-server",
                 "--outbox", str(tmp_path / "o2"))  # fmt: skip
    assert result.exit_code == EXIT_CONFIG and "not an http(s) URL" in result.output
    assert not os.path.exists(tmp_path / "o2")


# ---- a correction of a case whose last push may have landed without an answer ----


def test_a_correction_deletes_what_an_unanswered_push_before_it_may_have_stored(tmp_path):
    # A server whose search lags behind its writes lists nothing of the case. Version 1 adds a
    # liver metastasis; its transaction reaches the server, which stores it, but the answer is
    # lost, so the bundle waits in pending/. Then the liver turns out to be wrong: version 2 (the
    # first version again) replaces the waiting bundle. Its push deleted what the search listed
    # (nothing) and what the copy in sent/ of version 0 has and version 2 lacks (nothing): the
    # liver metastasis version 1 stored stayed on the server, with "sent". The outbox now keeps
    # the resources of a waiting bundle it replaces, until a push of the case lands.
    liver = "  - id: liver\n    site: liver\n    primary: breast\n"
    assert CASE_1.count("metastases:\n") == 1
    v0 = convert(tmp_path, "v0", CASE_1)
    v1 = convert(tmp_path, "v1", CASE_1.replace("metastases:\n", "metastases:\n" + liver, 1))
    added = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in json.loads(v1.read_text())["entry"]
    }
    added -= {
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in json.loads(v0.read_text())["entry"]
    }
    assert added
    outbox = tmp_path / "outbox"

    def stores(request: Request) -> Reply:
        return Reply(200, FHIR_JSON, json.dumps(stored_where_sent(request)).encode())

    with HostilePeer(stores) as peer:
        assert run("push", str(v0), "--server", peer.base_url, "--outbox", str(outbox)).exit_code == 0
    with HostilePeer(lambda r: Reply(200, FHIR_JSON, b'{"resourceType": "Bun', close_after=5)) as peer:
        lost = run("push", str(v1), "--server", peer.base_url, "--outbox", str(outbox), "--max-time", "1")
        assert lost.exit_code == EXIT_SERVER_UNAVAILABLE, lost.output
        assert peer.requests  # the transaction reached the server
    with HostilePeer(stores) as peer:
        result = run("push", str(v0), "--server", peer.base_url, "--outbox", str(outbox))
        assert result.exit_code == 0, result.output
        (posted,) = [json.loads(r.body) for r in peer.requests if r.method == "POST"]
    deleted = {e["request"]["url"] for e in posted["entry"] if e["request"]["method"] == "DELETE"}
    assert deleted == added
    # Once that push landed, the next one deletes nothing more.
    with HostilePeer(stores) as peer:
        assert run("push", str(v0), "--server", peer.base_url, "--outbox", str(outbox)).exit_code == 0
        (posted,) = [json.loads(r.body) for r in peer.requests if r.method == "POST"]
    assert all(e["request"]["method"] == "PUT" for e in posted["entry"])


# ---- headers of an answer that say two things ----


def test_an_answer_with_two_differing_content_lengths_is_the_servers_fault_not_the_settings(tmp_path):
    # urllib3 refuses an answer whose Content-Length is given twice with other values. That was
    # told as "a header of the request is not valid HTTP (a token or password with a line break
    # in it?)", a settings error (exit 7): the user was sent to their token for the server's
    # fault. It is now an answer that is not valid HTTP, retried, then left pending (exit 6).
    bundle = convert(tmp_path, "case", CASE_1)
    body = b'{"resourceType": "Bundle", "type": "transaction-response", "entry": []}'
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Length: {len(body) + 9}\r\n"
    raw = (head + "Content-Type: application/fhir+json\r\nConnection: close\r\n\r\n").encode() + body
    outbox = tmp_path / "outbox"
    with HostilePeer(Reply(raw=raw)) as peer:
        result = run(
            "push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox), "--max-time", "2"
        )
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "the server's answer has headers that are not valid HTTP" in result.output
    assert "Content-Length contained multiple unmatching values" in result.output
    assert "token or password" not in result.output
    assert (outbox / "pending" / "yu-2024-case-1.json").exists()
    # A header of the request that is not valid HTTP is still the settings' fault.
    client = FhirClient(ClientSettings(base_url="http://127.0.0.1:9/fhir", token="abc\r\nX-Evil: 1"))
    with pytest.raises(ConfigError, match="a header of the request is not valid HTTP"):
        client.read("Patient", "x")


# ---- two commands on one outbox at once ----


def test_prune_waits_for_no_push_and_deletes_nothing_while_one_runs(tmp_path):
    # A push of a correction reads the case's copy in sent/ to know what to delete (a server whose
    # search lags lists nothing). `push --prune 0` while a push held the outbox deleted those
    # copies under it; it now takes the outbox's lock, and says who holds it (exit 7).
    from fhir_adapter.push import Outbox

    bundle = convert(tmp_path, "case", CASE_1)
    outbox = tmp_path / "outbox"
    with HostilePeer(lambda r: Reply(200, FHIR_JSON, json.dumps(stored_where_sent(r)).encode())) as peer:
        assert run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox)).exit_code == 0
    copy = outbox / "sent" / "yu-2024-case-1.json"
    assert copy.exists()
    with Outbox(outbox).lock():  # a push holding the outbox
        result = run("push", "--prune", "0", "--outbox", str(outbox))
        assert result.exit_code == EXIT_CONFIG, result.output
        assert "another push" in result.output and str(os.getpid()) in result.output
        assert copy.exists()
    result = run("push", "--prune", "0", "--outbox", str(outbox))
    assert result.exit_code == 0, result.output
    assert not copy.exists()
    # An outbox that does not exist is not made by a prune.
    assert run("push", "--prune", "0", "--outbox", str(tmp_path / "none")).exit_code == 0
    assert not (tmp_path / "none").exists()


# ---- a server that keeps ids of its own ----


def test_where_a_server_put_resources_under_ids_of_its_own_is_kept_in_the_report(tmp_path):
    # A server that assigns its own ids even to a PUT: the bundle is not counted as sent
    # (misplaced, exit 6). The report and the error file beside the waiting bundle said only the
    # first five as text; where the server put each resource was nowhere the user keeps.
    bundle = convert(tmp_path, "case", CASE_1)

    def own_ids(request: Request) -> Reply:
        sent = json.loads(request.body)["entry"]
        entries = [
            {
                "response": {
                    "status": "201 Created",
                    "location": f"{e['resource']['resourceType']}/{n + 1000}/_history/1",
                }
            }
            for n, e in enumerate(sent)
        ]
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Reply(200, FHIR_JSON, json.dumps(body).encode())

    outbox, report = tmp_path / "outbox", tmp_path / "report.json"
    with HostilePeer(own_ids) as peer:
        result = run(
            "push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox), "--report", str(report)
        )
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    sent = json.loads(bundle.read_text())["entry"]
    expected = [(e["resource"]["resourceType"], str(n + 1000)) for n, e in enumerate(sent)]
    for kept in (
        json.loads(report.read_text())["cases"][0],
        json.loads((outbox / "pending" / "yu-2024-case-1.error.json").read_text()),
    ):
        assert kept["status"] == "misplaced"
        assert [(r["resourceType"], r["id"]) for r in kept["resources"]] == expected


# ---- a server that says it stored what it does not have ----


def test_push_verify_keeps_pending_a_bundle_the_server_said_it_stored_and_does_not_have(tmp_path):
    # Something answers every transaction "200 OK" and stores nothing (a gateway's canned answer,
    # a write the server lost). `push --verify` read nothing back and exited 8, but the bundle
    # had moved to sent/: "1 of 1 sent", and push --resume found nothing to send. Now a resource
    # the answer said was stored and the read-back does not find keeps the bundle waiting (exit 6),
    # and push --resume sends it once the server stores it.
    bundle = convert(tmp_path, "case", CASE_1)
    outbox = tmp_path / "outbox"
    stored: dict[str, bytes] = {}
    keeps = {"on": False}

    def answer(request: Request) -> Reply:
        if request.method == "GET":
            path = request.path.split("/fhir/", 1)[1]
            if path in stored:
                return Reply(200, FHIR_JSON, stored[path])
            return Reply(404, FHIR_JSON, b'{"resourceType": "OperationOutcome", "issue": []}')
        if keeps["on"]:
            sent = json.loads(request.body)
            for e in sent["entry"]:  # stored as a server stores it: urn:uuid references resolved
                stored[e["request"]["url"]] = json.dumps(normalise_sent(sent, e["resource"])).encode()
        return Reply(200, FHIR_JSON, json.dumps(stored_where_sent(request)).encode())

    with HostilePeer(answer) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox), "--verify")
        assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
        assert (
            "the server answered that it stored the transaction, but 9 of the 9 resource(s)" in result.output
        )
        assert "0 of 1 bundle(s) sent" in result.output
        assert (outbox / "pending" / "yu-2024-case-1.json").exists()
        assert not (outbox / "sent" / "yu-2024-case-1.json").exists()
        keeps["on"] = True
        resumed = run("push", "--resume", "--server", peer.base_url, "--outbox", str(outbox), "--verify")
        assert resumed.exit_code == 0, resumed.output
    assert (outbox / "sent" / "yu-2024-case-1.json").exists()
    assert not list((outbox / "pending").glob("*.json"))


# ---- an outbox that cannot record what the server accepted ----


def test_an_outbox_that_cannot_record_an_accepted_bundle_says_the_server_has_it(tmp_path, monkeypatch):
    # sent/ on a read-only filesystem (EROFS injected where the bundle moves there): the server has
    # stored the case, and the bundle stays in pending/. The message said only "cannot write the
    # file"; it now says the server accepted the case, where the bundle is, and the fix.
    import errno
    import importlib

    push_module = importlib.import_module("fhir_adapter.push")  # the package exports a push() too

    bundle = convert(tmp_path, "case", CASE_1)
    outbox = tmp_path / "outbox"
    replace = os.replace

    def read_only_sent(src, dst):
        if "/sent/" in str(dst):
            raise OSError(errno.EROFS, "Read-only file system")
        return replace(src, dst)

    monkeypatch.setattr(push_module.os, "replace", read_only_sent)
    with HostilePeer(lambda r: Reply(200, FHIR_JSON, json.dumps(stored_where_sent(r)).encode())) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(outbox))
        assert len(peer.requests) == 1
    assert result.exit_code == 9, result.output
    assert "cannot write the file: Read-only file system" in result.output
    assert "The server accepted case yu-2024-case-1: its bundle stays in" in result.output
    assert "push --resume moves it to sent/" in result.output
    assert (outbox / "pending" / "yu-2024-case-1.json").exists()
    monkeypatch.undo()
    with HostilePeer(lambda r: Reply(200, FHIR_JSON, json.dumps(stored_where_sent(r)).encode())) as peer:
        resumed = run("push", "--resume", "--server", peer.base_url, "--outbox", str(outbox))
    assert resumed.exit_code == 0, resumed.output
    assert (outbox / "sent" / "yu-2024-case-1.json").exists()
