"""Hostile files and filesystems: planted links, a full disk, a read-only filesystem, no permission.

No link is ever written through or read from inside the outbox, every output goes through the
one atomic writer, and every failure to write is `Error: PATH: ...` with exit code 9, never a
traceback. Faults are injected in-process (ENOSPC, EROFS, EACCES where the writer calls the OS);
no filesystem is filled or mounted. Servers are scripted fakes on 127.0.0.1.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.hostile_peer import HostilePeer, Reply

from fhir_adapter import writer
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE, EXIT_OUTPUT

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
PRECIOUS = b"precious: not to be touched\n"


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "case.json"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def accepting_server(request) -> Reply:
    """A server that accepts any transaction: one 201 per entry sent."""
    sent = json.loads(request.body).get("entry", []) if request.body else []
    entries = [
        {
            "response": {
                "status": "201 Created",
                "location": f"{e['resource']['resourceType']}/{e['resource']['id']}/_history/1",
            }
        }
        for e in sent
    ]
    body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
    return Reply(200, FHIR_JSON, json.dumps(body).encode())


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_bytes(PRECIOUS)
    return path


# ---- the outbox: no link followed ----


def test_a_lock_file_planted_as_a_link_is_not_followed(bundle_file, tmp_path):
    target = victim(tmp_path)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / ".lock").symlink_to(target)
    with HostilePeer(accepting_server) as peer:
        result = CliRunner().invoke(
            main, ["push", str(bundle_file), "--server", peer.base_url, "--outbox", str(outbox)]
        )
        assert peer.requests == []
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "the outbox's lock file is a symbolic link; not followed" in result.stderr
    assert target.read_bytes() == PRECIOUS


def test_a_link_planted_in_pending_is_set_aside_never_read_or_sent(bundle_file, tmp_path):
    secret = tmp_path / "elsewhere" / "secret.json"
    secret.parent.mkdir()
    bundle = json.loads(bundle_file.read_text())
    bundle["entry"][0]["resource"]["note"] = "SECRET-FROM-ELSEWHERE"
    secret.write_text(json.dumps(bundle))
    outbox = tmp_path / "outbox"
    (outbox / "pending").mkdir(parents=True)
    (outbox / "pending" / "planted.json").symlink_to(secret)
    with HostilePeer(accepting_server) as peer:
        result = CliRunner().invoke(
            main, ["push", "--resume", "--server", peer.base_url, "--outbox", str(outbox)]
        )
        sent = b"".join(r.body for r in peer.requests)
    assert b"SECRET-FROM-ELSEWHERE" not in sent
    assert result.exit_code == EXIT_INVALID_CASE, result.output
    assert "a symbolic link, not a bundle file; not followed" in result.stderr
    assert (outbox / "damaged" / "planted.json").is_symlink()  # kept, as a link, for the user to see
    assert secret.read_text() == json.dumps(bundle)


def test_an_outbox_that_is_a_link_is_refused_unless_allowed(bundle_file, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outbox = tmp_path / "outbox"
    outbox.symlink_to(elsewhere)
    with HostilePeer(accepting_server) as peer:
        args = ["push", "-q", str(bundle_file), "--server", peer.base_url, "--outbox", str(outbox)]
        refused = CliRunner().invoke(main, args)
        assert list(elsewhere.iterdir()) == [] and peer.requests == []
        allowed = CliRunner().invoke(main, [*args, "--allow-outbox-symlink"])
    assert refused.exit_code == EXIT_CONFIG, refused.output
    assert "the outbox is a symbolic link to" in refused.stderr and "--allow-outbox-symlink" in refused.stderr
    assert allowed.exit_code == 0, allowed.output
    assert len(list((elsewhere / "sent").glob("*.json"))) == 1


def test_an_outbox_folder_that_is_a_link_is_refused(bundle_file, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "sent").symlink_to(elsewhere)
    result = CliRunner().invoke(
        main, ["push", str(bundle_file), "--server", "http://127.0.0.1:9/fhir", "--outbox", str(outbox)]
    )
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "the outbox folder is a symbolic link" in result.stderr
    (elsewhere / "keep.json").write_text("{}")
    pruned = CliRunner().invoke(main, ["push", "--prune", "0", "--outbox", str(outbox)])
    assert pruned.exit_code == EXIT_CONFIG, pruned.output
    assert (elsewhere / "keep.json").exists()  # --prune deletes nothing through the link


def test_a_report_through_a_link_replaces_the_link_not_its_target(bundle_file, tmp_path):
    target = victim(tmp_path)
    report = tmp_path / "report.json"
    report.symlink_to(target)
    with HostilePeer(accepting_server) as peer:
        result = CliRunner().invoke(
            main,
            ["push", "-q", str(bundle_file), "--server", peer.base_url, "--outbox", str(tmp_path / "ob"),
             "--report", str(report)],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == PRECIOUS
    assert not report.is_symlink() and json.loads(report.read_text())["summary"]["sent"] == 1


def test_an_ndjson_partial_file_planted_as_a_link_is_not_written_through(tmp_path):
    target = victim(tmp_path)
    out = tmp_path / "bulk"
    out.mkdir()
    (out / ".Patient.ndjson.partial").symlink_to(target)
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLE), "--format", "ndjson", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == PRECIOUS
    assert not (out / "Patient.ndjson").is_symlink()
    assert json.loads((out / "Patient.ndjson").read_text().splitlines()[0])["resourceType"] == "Patient"


# ---- draft -o: through the atomic writer ----

REPORT = "A 45-year-old woman had invasive ductal carcinoma of the breast."
LLM_ANSWER = {
    "cases": [
        {
            "case": {"patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]},
            "evidence": {"patient.sex": "woman", "primary_cancers[0].site": "carcinoma of the breast"},
        }
    ]
}


@pytest.fixture
def llm():
    reply = {"choices": [{"message": {"role": "assistant", "content": json.dumps(LLM_ANSWER)}}]}
    with HostilePeer(Reply(200, {"Content-Type": "application/json"}, json.dumps(reply).encode())) as peer:
        yield peer.base_url


def draft(llm_url: str, report: Path, *args: str):
    return CliRunner().invoke(main, ["draft", str(report), "--llm-url", llm_url, *args])


def test_draft_o_through_a_link_replaces_the_link_not_its_target(llm, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text(REPORT)
    target = victim(tmp_path)
    out = tmp_path / "case.yaml"
    out.symlink_to(target)
    result = draft(llm, report, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == PRECIOUS
    assert not out.is_symlink() and "primary_cancers:" in out.read_text()


def test_draft_o_into_a_directory_that_does_not_exist_yet(llm, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text(REPORT)
    out = tmp_path / "newdir" / "x.yaml"
    result = draft(llm, report, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.is_file() and (tmp_path / "newdir" / "x.evidence.json").is_file()


# ---- a full disk, a read-only filesystem, no permission: exit 9, never a traceback ----


def _raiser(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def test_template_o_on_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(writer.os, "write", _raiser(errno.ENOSPC))
    target = tmp_path / "cases.xlsx"
    result = CliRunner().invoke(main, ["template", "--format", "xlsx", "-o", str(target)])
    assert result.exit_code == EXIT_OUTPUT, result.output
    assert f"Error: {target}: cannot write the file: No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["template", "-o", "{out}/t.csv"],
        ["convert", "-q", str(EXAMPLE), "-o", "{out}/c.json"],
        ["convert", "-q", str(EXAMPLE), "-o", "{out}/dir/"],
    ],
    ids=["template", "convert-file", "convert-dir"],
)
def test_a_read_only_filesystem_is_a_sentence(tmp_path, monkeypatch, command):
    # On a read-only filesystem both the write and the clean-up after it fail (unlink: EROFS too).
    monkeypatch.setattr(writer.os, "open", _raiser(errno.EROFS))
    monkeypatch.setattr(writer.os, "unlink", _raiser(errno.EROFS))
    args = [a.replace("{out}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_OUTPUT, result.output
    assert "cannot write the file: Read-only file system" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_permission_denied_making_a_directory_is_a_sentence(llm, tmp_path, monkeypatch):
    report = tmp_path / "report.txt"
    report.write_text(REPORT)
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name.startswith("denied"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    runs = {
        "template": ["template", "--layout", "linked", "-o", str(tmp_path / "denied-t")],
        "draft": ["draft", str(report), "--llm-url", llm, "-o", str(tmp_path / "denied-d") + "/"],
        "draft-file": ["draft", str(report), "--llm-url", llm, "-o", str(tmp_path / "denied-f" / "x.yaml")],
        "convert": ["convert", "-q", str(EXAMPLE), "-o", str(tmp_path / "denied-c") + "/"],
        "summary": ["summary", str(EXAMPLE), "-o", str(tmp_path / "denied-s")],
    }
    for name, args in runs.items():
        result = CliRunner().invoke(main, args)
        assert result.exit_code == EXIT_OUTPUT, (name, result.output)
        assert "Permission denied" in result.stderr, name
        assert result.exception is None or isinstance(result.exception, SystemExit), name


# ---- what a file supplies is shown safely, and odd shapes are no traceback ----


def test_a_bundle_file_whose_identifier_is_not_an_object_is_pushed(tmp_path):
    bundle = {"resourceType": "Bundle", "type": "transaction", "identifier": "case-x",
              "entry": [{"resource": {"resourceType": "Patient", "id": "p1"},
                         "request": {"method": "PUT", "url": "Patient/p1"}}]}  # fmt: skip
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(bundle))
    with HostilePeer(accepting_server) as peer:
        result = CliRunner().invoke(
            main, ["push", str(path), "--server", peer.base_url, "--outbox", str(tmp_path / "ob")]
        )
        assert len(peer.requests) == 1
    assert result.exit_code == 0, result.output
    # No case id: the outbox names it by the file and a digest of its content.
    assert [p.name.split("~")[0] for p in (tmp_path / "ob" / "sent").glob("*.json")] == ["odd"]


def test_control_characters_in_a_file_name_are_escaped(tmp_path):
    path = tmp_path / "x\x1b[2J\rcase-1: sent.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    result = CliRunner().invoke(
        main, ["push", str(path), "--server", "http://127.0.0.1:9/fhir", "--outbox", str(tmp_path / "ob")]
    )
    assert result.exit_code != 0
    assert "not a transaction Bundle" in result.stderr
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert "x\\x1b[2J\\rcase-1: sent.json" in result.stderr
