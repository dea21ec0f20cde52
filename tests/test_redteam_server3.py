"""A third set of attacks on what lands on a server: corrections, ordering, identity and resume.

Each attack runs against a server on 127.0.0.1 that a test starts and stops (the Bulk Data stub
of tests/support/bulk_import_stub.py, which also takes transactions, or a scripted peer of
tests/support/hostile_peer.py), bounded in the number of answers and in time. The question each
asks: after the sequence, does the server hold exactly the current case, and can no older version
of a case land after a newer one?
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.bulk_import_stub import BulkImportStub
from support.convert_run import cli as run
from support.convert_run import convert_case as convert
from support.fhir_server import free_port
from support.hostile_peer import HostilePeer, Reply, Request

from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE, EXIT_SERVER_REJECTED, EXIT_SERVER_UNAVAILABLE
from fhir_adapter.push import Outbox

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASE_1 = (EXAMPLES / "yu-2024-case-1.yaml").read_text()
# The same case with its bone metastasis struck out (and the treatments no longer naming it).
CORRECTED_1 = CASE_1.replace("  - id: bone\n    site: bone\n    age: 45\n    primary: breast\n", "").replace(
    "treats: [breast, scalp, bone]", "treats: [breast, scalp]"
)


def held_ndjson(directory: Path) -> dict[str, dict]:
    return {
        f"{r['resourceType']}/{r['id']}": r
        for f in directory.glob("*.ndjson")
        for r in map(json.loads, f.read_text().splitlines())
    }


def bone_ids(resources: dict[str, dict]) -> list[str]:
    return sorted(ref for ref, r in resources.items() if "bone" in json.dumps(r.get("bodySite", "")).lower())


# ---- an older bundle waiting in the outbox must not land after a newer import of its case ----


def test_a_bulk_import_retires_an_older_bundle_of_its_case_waiting_in_the_outbox(tmp_path):
    # A push of case 1 failed (the server was down), so its bundle waits in pending/. The case is
    # then corrected and imported with push --bulk. The next push --resume sent the waiting, older
    # bundle over the import: the struck-out metastasis was back on the server, the older version won.
    old = convert(tmp_path, "old", CASE_1)
    corrected = convert(tmp_path, "corrected", CORRECTED_1, "--format", "ndjson")
    outbox = tmp_path / "outbox"
    down = f"http://127.0.0.1:{free_port()}/fhir"
    failed = run("push", str(old), "--server", down, "--max-time", "1", "--outbox", str(outbox))
    assert failed.exit_code == EXIT_SERVER_UNAVAILABLE, failed.output
    assert (outbox / "pending" / "yu-2024-case-1.json").exists()
    with BulkImportStub(style="manifest", polls_before_done=0) as stub:
        imported = run(
            "push", "--bulk", str(corrected), "--server", stub.base_url, "--poll-max-wait", "0.05",
            "--outbox", str(outbox),
        )  # fmt: skip
        assert imported.exit_code == 0, imported.output
        assert "yu-2024-case-1: an older bundle of this case was waiting in" in imported.output
        assert not (outbox / "pending" / "yu-2024-case-1.json").exists()
        assert not (outbox / "pending" / "yu-2024-case-1.error.json").exists()
        assert (outbox / "superseded" / "yu-2024-case-1.json").exists()  # kept, never sent
        resumed = run("push", "--resume", "--server", stub.base_url, "--outbox", str(outbox))
        assert resumed.exit_code == 0, resumed.output
        assert not stub.put  # nothing older was sent
        assert stub.resources.keys() == held_ndjson(corrected).keys()
        assert bone_ids(stub.resources) == []


def test_a_bulk_import_with_no_outbox_makes_none(tmp_path, monkeypatch):
    # Retiring what waits in the outbox must not make an outbox where there was none.
    monkeypatch.chdir(tmp_path)
    corrected = convert(tmp_path, "corrected", CORRECTED_1, "--format", "ndjson")
    with BulkImportStub(style="manifest", polls_before_done=0) as stub:
        imported = run("push", "--bulk", str(corrected), "--server", stub.base_url, "--poll-max-wait", "0.05")
        assert imported.exit_code == 0, imported.output
    assert not (tmp_path / "fhir-adapter-outbox").exists()


@pytest.mark.parametrize("fails", ["search", "job"])
def test_a_waiting_bundle_is_retired_only_when_the_import_landed_whole(tmp_path, fails):
    # A job that failed stored nothing known: the waiting bundle is all the outbox has of the case,
    # so it stays, and the message says it is older than the import that was tried. When only the
    # removal of what the correction dropped failed (a search refused), every resource of the newer
    # version is on the server: the older bundle is retired as after a whole import.
    old = convert(tmp_path, "old", CASE_1)
    corrected = convert(tmp_path, "corrected", CORRECTED_1, "--format", "ndjson")
    outbox = tmp_path / "outbox"
    down = f"http://127.0.0.1:{free_port()}/fhir"
    assert run("push", str(old), "--server", down, "--max-time", "1", "--outbox", str(outbox)).exit_code == 6
    with BulkImportStub(style="manifest", polls_before_done=0) as stub:
        if fails == "search":
            stub.search_status = 400
        else:
            stub.fail_next = "the disk is full"
        imported = run(
            "push", "--bulk", str(corrected), "--server", stub.base_url, "--poll-max-wait", "0.05",
            "--outbox", str(outbox),
        )  # fmt: skip
        assert imported.exit_code != 0, imported.output
    waiting = (outbox / "pending" / "yu-2024-case-1.json").exists()
    if fails == "job":
        assert waiting and "yu-2024-case-1: an older bundle of this case waits in" in imported.output
    else:
        assert not waiting and (outbox / "superseded" / "yu-2024-case-1.json").exists()
        assert "an older bundle of this case was waiting in the outbox" in imported.output


def test_a_bulk_import_waits_for_no_push_of_its_outbox(tmp_path):
    # The import holds the outbox's lock: a push sending from the same outbox at the same time
    # could land an older bundle of an imported case after the import.
    old = convert(tmp_path, "old", CASE_1)
    corrected = convert(tmp_path, "corrected", CORRECTED_1, "--format", "ndjson")
    outbox = Outbox(tmp_path / "outbox")
    down = f"http://127.0.0.1:{free_port()}/fhir"
    assert (
        run("push", str(old), "--server", down, "--max-time", "1", "--outbox", str(outbox.root)).exit_code
        == 6
    )
    with BulkImportStub(style="manifest", polls_before_done=0) as stub, outbox.lock():
        imported = run(
            "push", "--bulk", str(corrected), "--server", stub.base_url, "--poll-max-wait", "0.05",
            "--outbox", str(outbox.root),
        )  # fmt: skip
        assert imported.exit_code == EXIT_CONFIG, imported.output
        assert "another push" in imported.output and not stub.kickoffs


# ---- a server that keeps no ids a client gives ----

NO_CLIENT_IDS = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "processing",
            "diagnostics": "HAPI-0959: No resource exists on this server resource with ID[0b1c2d], and"
            " client-assigned IDs are not enabled.",
        }
    ],
}


@pytest.mark.parametrize("status", [404, 405])
def test_a_server_that_keeps_no_client_ids_is_told_with_the_fix(tmp_path, status):
    # HAPI FHIR with client_id_strategy NOT_ALLOWED answers a PUT to a new id 404 (HAPI-0959). The
    # case was "rejected" with the server's words only, and told to be sent again with --resume,
    # which can never work; the message now says why and what server push needs.
    bundle = convert(tmp_path, "case", CASE_1)

    def answer(request: Request) -> Reply:
        return Reply(status, {"Content-Type": "application/fhir+json"}, json.dumps(NO_CLIENT_IDS).encode())

    with HostilePeer(answer) as peer:
        result = run("push", str(bundle), "--server", peer.base_url, "--outbox", str(tmp_path / "ob"))
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert "yu-2024-case-1: rejected: the server rejected the transaction with HTTP" in result.output
    assert "does not store resources at the ids a client gives" in result.output
    assert "push needs a server that keeps client-assigned ids" in result.output


# ---- two versions of one case in one run ----


def test_two_differing_bundles_of_one_case_in_one_run_send_neither(tmp_path):
    # `push old/ new/` with both versions of a case: the first named was sent and the second
    # refused, so the older version could land over the newer one (and delete what it added).
    # Now neither is sent, nothing of the case is left for --resume, and both are named.
    (tmp_path / "old").mkdir(), (tmp_path / "new").mkdir()
    old = convert(tmp_path / "old", "case", CASE_1)
    new = convert(tmp_path / "new", "case", CORRECTED_1)
    outbox = tmp_path / "outbox"
    with BulkImportStub() as stub:
        result = run("push", str(old), str(new), "--server", stub.base_url, "--outbox", str(outbox))
        assert result.exit_code == EXIT_INVALID_CASE, result.output
        assert not stub.put and not stub.resources
        assert f"{new}: the same case as {old}, earlier in this run, with other contents" in result.output
        assert f"{old}: the same case as {new}, later in this run, with other contents" in result.output
        assert "0 of 2 bundle(s) sent" in result.output
        assert list((outbox / "pending").glob("*.json")) == []
        resumed = run("push", "--resume", "--server", stub.base_url, "--outbox", str(outbox))
        assert resumed.exit_code == 0 and not stub.put


def test_the_same_bundle_twice_in_one_run_is_sent_once(tmp_path):
    # The same file named twice (a directory and a glob that overlap) says the same thing twice:
    # it is sent once, and the second naming is reported.
    bundle = convert(tmp_path, "case", CASE_1)
    copy = tmp_path / "copy.json"
    copy.write_bytes(bundle.read_bytes())
    with BulkImportStub() as stub:
        result = run(
            "push", str(bundle), str(copy), "--server", stub.base_url, "--outbox", str(tmp_path / "ob")
        )
        assert result.exit_code == EXIT_INVALID_CASE, result.output
        assert (
            "1 of 2 bundle(s) sent" in result.output
            and "and the same bundle; it is not sent twice" in result.output
        )
        assert stub.resources


# ---- a search that lags behind the writes ----


def test_a_correction_removes_what_the_last_push_sent_even_when_the_search_misses_it(tmp_path):
    # Servers whose search runs on an index updated after the write (or that answer a _tag search
    # they do not support with an empty page) list nothing right after a push. A correction pushed
    # then found nothing to delete: the struck-out metastasis stayed beside the corrected case,
    # and the push said "sent". The copy in sent/ of the last bundle of the case names what it
    # stored; what it has and the correction has not is deleted too.
    first = convert(tmp_path, "first", CASE_1)
    corrected = convert(tmp_path, "corrected", CORRECTED_1)
    outbox = tmp_path / "outbox"
    with BulkImportStub() as stub:
        stub.search_lags = True
        assert run("push", str(first), "--server", stub.base_url, "--outbox", str(outbox)).exit_code == 0
        assert bone_ids(stub.resources)
        result = run("push", str(corrected), "--server", stub.base_url, "--outbox", str(outbox))
        assert result.exit_code == 0, result.output
        sent = {
            f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in json.loads(corrected.read_text())["entry"]
        }
        assert set(stub.resources) == sent
        assert bone_ids(stub.resources) == [] and stub.deleted
        assert "deleted, no longer in the case" in result.output
        # Pushed again: nothing left to delete, and what is already gone is no error.
        again = run("push", str(corrected), "--server", stub.base_url, "--outbox", str(outbox))
        assert again.exit_code == 0 and "deleted" not in again.output


def test_a_sent_copy_naming_what_is_no_resource_id_deletes_nothing_by_it(tmp_path):
    # The copy in sent/ is a file on disk: an entry whose id is no FHIR id (an edit, another tool)
    # must not go into a DELETE URL, where `x?_tag=a` would be a conditional delete.
    first = convert(tmp_path, "first", CASE_1)
    outbox = tmp_path / "outbox"
    with BulkImportStub() as stub:
        assert run("push", str(first), "--server", stub.base_url, "--outbox", str(outbox)).exit_code == 0
        copy = outbox / "sent" / "yu-2024-case-1.json"
        planted = json.loads(copy.read_text())
        planted["entry"].append(
            {
                "resource": {"resourceType": "Observation", "id": "x?_tag=a"},
                "request": {"method": "PUT", "url": "x"},
            }
        )
        copy.write_text(json.dumps(planted))
        result = run("push", str(first), "--server", stub.base_url, "--outbox", str(outbox))
        assert result.exit_code == 0, result.output
        assert not stub.deleted


def test_a_delete_that_finds_nothing_is_not_told_as_deleted(tmp_path):
    # A push after a push --bulk of the corrected case: the copy in sent/ still names the struck-out
    # metastasis, which the import already deleted. Its DELETE is answered 404: nothing was deleted,
    # and the push must not say it deleted it.
    first = convert(tmp_path, "first", CASE_1)
    corrected = convert(tmp_path, "corrected", CORRECTED_1)
    corrected_ndjson = convert(tmp_path, "corrected-ndjson", CORRECTED_1, "--format", "ndjson")
    outbox = str(tmp_path / "outbox")
    with BulkImportStub(style="manifest", polls_before_done=0) as stub:
        assert run("push", str(first), "--server", stub.base_url, "--outbox", outbox).exit_code == 0
        imported = run(
            "push", "--bulk", str(corrected_ndjson), "--server", stub.base_url, "--poll-max-wait", "0.05",
            "--outbox", outbox,
        )  # fmt: skip
        assert imported.exit_code == 0 and "deleted" in imported.output, imported.output
        deleted = list(stub.deleted)
        result = run("push", str(corrected), "--server", stub.base_url, "--outbox", outbox)
        assert result.exit_code == 0, result.output
        assert stub.deleted == deleted and "deleted" not in result.output
        assert "yu-2024-case-1: sent (" in result.output
