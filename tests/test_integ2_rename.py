"""A case renamed (`push --replaces OLD_ID`) or withdrawn (`withdraw CASE_ID`) leaves the server exact.

Against the real servers the suite starts (sekmet-fhir and HAPI FHIR on 127.0.0.1): the old case's
resources go in the new case's own transaction, a re-run deletes nothing more, and a withdrawn case
leaves nothing with its tag. Against a fake server on 127.0.0.1 whose search index lags (it lists
nothing), which no real server here shows on demand: what the outbox's sent/ copy says the old case
had is deleted all the same, in the same transaction as the new case.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_CONFIG, EXIT_SERVER_UNAVAILABLE
from fhir_adapter.push import CASE_RESOURCE_TYPES, REPLACES_SYSTEM

pytestmark = pytest.mark.integration

SYSTEM = "urn:fhir-adapter:case-id"
CASE = """\
case: {{id: {case_id}}}
patient: {{sex: female}}
primary_cancers:
  - {{id: breast, site: breast, histology: invasive ductal carcinoma, date: 2015}}
procedures:
  - {{id: mastectomy, name: mastectomy, date: 2015}}
"""


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def convert(tmp_path: Path, case_id: str, name: str) -> dict:
    case = tmp_path / f"{name}.yaml"
    case.write_text(CASE.format(case_id=case_id))
    out = tmp_path / f"{name}.json"
    result = run("convert", "-q", str(case), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return json.loads(out.read_text())


def tagged_everywhere(base_url: str, case_id: str) -> list[str]:
    out = []
    for rtype in CASE_RESOURCE_TYPES:
        answer = requests.get(
            f"{base_url}/{rtype}",
            params={"_tag": f"{SYSTEM}|{case_id}", "_count": "500"},
            headers={"Cache-Control": "no-cache"},
            timeout=30,
        )
        answer.raise_for_status()
        out += [f"{rtype}/{e['resource']['id']}" for e in answer.json().get("entry") or []]
    return sorted(out)


def ids_of(bundle: dict) -> list[str]:
    return sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"])


def test_a_renamed_case_replaces_the_old_one_in_one_push(server, tmp_path):
    old_id, new_id = f"case-07-{server.kind}", f"case-7-{server.kind}"
    old = convert(tmp_path, old_id, "old")
    new = convert(tmp_path, new_id, "new")
    args = ["--server", server.base_url, "--outbox", str(tmp_path / "outbox")]
    assert run("push", str(tmp_path / "old.json"), *args).exit_code == 0
    assert tagged_everywhere(server.base_url, old_id) == ids_of(old)

    result = run("push", str(tmp_path / "new.json"), "--replaces", old_id, *args)
    assert result.exit_code == 0, result.stderr
    assert f"{len(old['entry'])} deleted" in result.stderr
    assert tagged_everywhere(server.base_url, old_id) == []
    assert tagged_everywhere(server.base_url, new_id) == ids_of(new)
    for ref in ids_of(old):
        assert requests.get(f"{server.base_url}/{ref}", timeout=30).status_code in (404, 410), ref
    # The old case's last bundle is kept, to send back if the wrong id was named.
    kept = json.loads((tmp_path / "outbox" / "superseded" / f"{old_id}.sent.json").read_text())
    assert ids_of(kept) == ids_of(old)

    # Run again (a script that always passes --replaces): nothing more is deleted, nothing lost.
    again = run("push", str(tmp_path / "new.json"), "--replaces", old_id, *args)
    assert again.exit_code == 0, again.stderr
    assert "deleted" not in again.stderr
    assert tagged_everywhere(server.base_url, new_id) == ids_of(new)


def test_withdraw_lists_deletes_and_then_finds_nothing(server, tmp_path):
    case_id = f"withdrawn-{server.kind}"
    bundle = convert(tmp_path, case_id, "c")
    args = ["--server", server.base_url, "--outbox", str(tmp_path / "outbox")]
    assert run("push", str(tmp_path / "c.json"), *args).exit_code == 0
    n = len(bundle["entry"])

    dry = run("withdraw", case_id, "--dry-run", *args)
    assert dry.exit_code == 0, dry.stderr
    assert f"{case_id}: {n} resource(s) would be deleted (--dry-run: nothing was)" in dry.stderr
    for ref in ids_of(bundle):
        assert f"  {ref}\n" in dry.stderr
    assert tagged_everywhere(server.base_url, case_id) == ids_of(bundle)

    done = run("withdraw", case_id, *args)
    assert done.exit_code == 0, done.stderr
    assert f"{case_id}: {n} resource(s) deleted" in done.stderr
    assert tagged_everywhere(server.base_url, case_id) == []

    again = run("withdraw", case_id, *args)
    assert again.exit_code == 0, again.stderr
    assert f"{case_id}: nothing on the server carries this case's tag" in again.stderr


def test_withdraw_sets_aside_a_bundle_of_the_case_still_waiting(fhir_server, tmp_path):
    case_id = "withdrawn-while-waiting"
    convert(tmp_path, case_id, "c")
    outbox = tmp_path / "outbox"
    dead = "http://127.0.0.1:9/fhir"
    result = run(
        "push", str(tmp_path / "c.json"), "--server", dead, "--outbox", str(outbox), "--max-time", "0.5"
    )
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    assert (outbox / "pending" / f"{case_id}.json").exists()
    done = run("withdraw", case_id, "--server", fhir_server.base_url, "--outbox", str(outbox))
    assert done.exit_code == 0, done.stderr
    assert "moved to" in done.stderr
    assert not (outbox / "pending" / f"{case_id}.json").exists()
    assert (outbox / "superseded" / f"{case_id}.json").exists()
    resumed = run("push", "--resume", "--server", fhir_server.base_url, "--outbox", str(outbox))
    assert resumed.exit_code == 0, resumed.stderr
    assert tagged_everywhere(fhir_server.base_url, case_id) == []


def test_replaces_survives_a_failed_send_and_is_done_by_resume(fhir_server, tmp_path):
    old_id, new_id = "renamed-old-resumed", "renamed-new-resumed"
    old = convert(tmp_path, old_id, "old")
    convert(tmp_path, new_id, "new")
    outbox = tmp_path / "outbox"
    args = ["--server", fhir_server.base_url, "--outbox", str(outbox)]
    assert run("push", str(tmp_path / "old.json"), *args).exit_code == 0
    failed = run(
        "push", str(tmp_path / "new.json"), "--replaces", old_id,
        "--server", "http://127.0.0.1:9/fhir", "--outbox", str(outbox), "--max-time", "0.5",
    )  # fmt: skip
    assert failed.exit_code == EXIT_SERVER_UNAVAILABLE
    waiting = json.loads((outbox / "pending" / f"{new_id}.json").read_text())
    assert {"system": REPLACES_SYSTEM, "code": old_id} in waiting["meta"]["tag"]
    resumed = run("push", "--resume", *args)
    assert resumed.exit_code == 0, resumed.stderr
    assert f"{len(old['entry'])} deleted" in resumed.stderr
    assert tagged_everywhere(fhir_server.base_url, old_id) == []


def test_replaces_is_refused_where_it_cannot_mean_one_case(tmp_path):
    convert(tmp_path, "only-one", "a")
    convert(tmp_path, "another", "b")
    both = run("push", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--replaces", "x")
    assert both.exit_code == 2
    assert "--replaces OLD_ID goes with one bundle file" in both.stderr
    itself = run(
        "push", str(tmp_path / "a.json"), "--replaces", "only-one",
        "--server", "http://127.0.0.1:9/fhir", "--outbox", str(tmp_path / "outbox"),
    )  # fmt: skip
    assert itself.exit_code == EXIT_CONFIG
    assert "that is this bundle's own case id" in itself.stderr
    assert not (tmp_path / "outbox" / "pending" / "only-one.json").exists()


class LaggingServer:
    """A FHIR server stand-in on 127.0.0.1 whose search index lags its writes: every search
    answers an empty searchset, as a real server's may for a while after a write. It keeps every
    transaction it is sent, and answers each entry as done."""

    def __init__(self) -> None:
        self.transactions: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._answer({"resourceType": "Bundle", "type": "searchset", "total": 0})

            def do_POST(self):  # noqa: N802
                bundle = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.transactions.append(bundle)
                entries = []
                for e in bundle["entry"]:
                    if e["request"]["method"] == "DELETE":
                        entries.append({"response": {"status": "204 No Content"}})
                    else:
                        url = e["request"]["url"]
                        entries.append({"response": {"status": "200 OK", "location": f"{url}/_history/1"}})
                self._answer({"resourceType": "Bundle", "type": "transaction-response", "entry": entries})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}/fhir"

    def __enter__(self) -> LaggingServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_lagging_search_index_does_not_keep_the_renamed_case(tmp_path):
    old = convert(tmp_path, "lag-old", "old")
    new = convert(tmp_path, "lag-new", "new")
    with LaggingServer() as fake:
        args = ["--server", fake.base_url, "--outbox", str(tmp_path / "outbox")]
        assert run("push", str(tmp_path / "old.json"), *args).exit_code == 0
        result = run("push", str(tmp_path / "new.json"), "--replaces", "lag-old", *args)
        assert result.exit_code == 0, result.stderr
        sent = fake.transactions[-1]
    puts = sorted(e["request"]["url"] for e in sent["entry"] if e["request"]["method"] == "PUT")
    deletes = sorted(e["request"]["url"] for e in sent["entry"] if e["request"]["method"] == "DELETE")
    # One transaction: the new case stored and the old one deleted, or neither.
    assert puts == ids_of(new)
    assert deletes == ids_of(old)


def test_a_rename_sets_aside_the_old_case_still_waiting(fhir_server, tmp_path):
    convert(tmp_path, "waiting-old", "old")
    new = convert(tmp_path, "waiting-new", "new")
    outbox = tmp_path / "outbox"
    dead = ["--server", "http://127.0.0.1:9/fhir", "--outbox", str(outbox), "--max-time", "0.5"]
    assert run("push", str(tmp_path / "old.json"), *dead).exit_code == EXIT_SERVER_UNAVAILABLE
    args = ["--server", fhir_server.base_url, "--outbox", str(outbox)]
    result = run("push", str(tmp_path / "new.json"), "--replaces", "waiting-old", *args)
    assert result.exit_code == 0, result.stderr
    assert (outbox / "superseded" / "waiting-old.json").exists()
    # --resume now has nothing of the old case to send back.
    resumed = run("push", "--resume", *args)
    assert resumed.exit_code == 0, resumed.stderr
    assert tagged_everywhere(fhir_server.base_url, "waiting-old") == []
    assert tagged_everywhere(fhir_server.base_url, "waiting-new") == ids_of(new)


def test_a_rename_read_from_stdin_is_sent(fhir_server, tmp_path):
    old = convert(tmp_path, "stdin-old", "old")
    new = convert(tmp_path, "stdin-new", "new")
    args = ["--server", fhir_server.base_url, "--outbox", str(tmp_path / "outbox")]
    assert run("push", str(tmp_path / "old.json"), *args).exit_code == 0
    result = CliRunner().invoke(
        main, ["push", "-", "--replaces", "stdin-old", *args], input=(tmp_path / "new.json").read_text()
    )
    assert result.exit_code == 0, result.stderr
    assert f"{len(old['entry'])} deleted" in result.stderr
    assert tagged_everywhere(fhir_server.base_url, "stdin-new") == ids_of(new)
