"""Integration: crash safety of push and of every file written, on 127.0.0.1.

- kill -9 in the middle of pushing 500 bundles (sekmet-fhir; 100 to HAPI FHIR, which validates
  each against mCODE), then `push --resume`: every resource exactly once;
- two pushes on one outbox at once: no bundle sent twice, none lost;
- a truncated or corrupted outbox file is reported and set aside, not sent, not deleted;
- a full disk (ENOSPC, injected in-process where the writer calls os.write: no filesystem is
  filled or mounted) while writing the outbox or -o output: a clear error, no half-written file;
- sent/ is pruned on request; every file is created with the same mode (0666 less the umask).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from support.fault_proxy import FaultProxy
from support.fhir_server import start_server

from fhir_adapter import writer
from fhir_adapter.batch import convert_stream, iter_sources
from fhir_adapter.cli import main
from fhir_adapter.convert import ConvertOptions
from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE, EXIT_OUTPUT
from fhir_adapter.terminology import load_terminology

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from synthetic import write_cases  # noqa: E402

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def make_bundles(directory: Path, count: int, seed: int, id_system: str | None = None) -> list[Path]:
    """`count` transaction bundles of synthetic cases, one file each (under id_system if given)."""
    write_cases(directory / "cases", count, seed=seed, fmt="json")
    out = directory / "bundles"
    out.mkdir()
    terminology = load_terminology()
    paths = []
    options = ConvertOptions(id_system=id_system) if id_system else ConvertOptions()
    for result in convert_stream(iter_sources([str(directory / "cases")]), terminology, options):
        assert result.ok, result.error
        path = out / f"{result.case_id}.json"
        path.write_bytes(result.bundle_json)
        paths.append(path)
    assert len(paths) == count
    return paths


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fhir_adapter.cli", *args]


def search_all(base_url: str, resource_type: str) -> list[dict]:
    """Every resource of a type, by search, following the next links."""
    found = []
    url, params = f"{base_url}/{resource_type}", {"_count": "500"}
    while url:
        # HAPI FHIR answers a repeated search from its cache for a minute unless told not to.
        page = requests.get(url, params=params, headers={"Cache-Control": "no-cache"}, timeout=30).json()
        found += [e["resource"] for e in page.get("entry") or []]
        url = next((link["url"] for link in page.get("link") or [] if link["relation"] == "next"), None)
        params = None
    return found


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """A server of its own, so counts per type are this module's alone."""
    with start_server(tmp_path_factory.mktemp("crash-server")) as handle:
        yield handle


# Bundles per server: HAPI FHIR validates every transaction against mCODE, so it gets fewer.
KILL_9_BUNDLES = {"sekmet": 500, "hapi": 100}


def test_kill_9_mid_push_then_resume_stores_every_resource_exactly_once(server, tmp_path):
    total = KILL_9_BUNDLES[server.kind]
    # A system of this test's own: its cases are counted apart from what other tests stored.
    system = f"https://kill-9.example/{server.kind}/{tmp_path.name}"
    bundles = make_bundles(tmp_path, total, seed=8, id_system=system)
    outbox = tmp_path / "outbox"
    args = ["--server", server.base_url, "--outbox", str(outbox)]
    proc = subprocess.Popen(
        cli("push", str(bundles[0].parent), "--workers", "2", *args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while (
        len(files_in(outbox / "sent")) < total // 10 and time.monotonic() < deadline and proc.poll() is None
    ):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    sent = set(files_in(outbox / "sent"))
    pending = {n for n in files_in(outbox / "pending") if not n.endswith(".error.json")}
    assert total // 10 <= len(sent) < total, "the push was not killed in the middle"
    # Nothing lost at the kill: each bundle is pending, sent, or (killed between the two) both.
    keys = {f"{json.loads(p.read_bytes())['identifier']['value']}~" for p in bundles}
    assert {n.split("~")[0] + "~" for n in sent | pending} == keys
    assert len(sent | pending) == total

    resumed = subprocess.run(
        cli("push", "--resume", "--workers", "2", *args), capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    assert files_in(outbox / "pending") == []
    assert len(files_in(outbox / "sent")) == total

    expected: Counter[str] = Counter()
    identifiers: Counter[tuple[str, str]] = Counter()
    for path in bundles:
        for entry in json.loads(path.read_bytes())["entry"]:
            expected[entry["resource"]["resourceType"]] += 1
    for resource_type, n in expected.items():
        # Every resource of this test's cases: those tagged with its system (HAPI has no search
        # for a tag's system alone, so all of the type are read).
        stored = [
            r
            for r in search_all(server.base_url, resource_type)
            if any(t.get("system") == system for t in (r.get("meta") or {}).get("tag") or [])
        ]
        assert len(stored) == n, f"{resource_type}: {len(stored)} stored, {n} sent"
        assert len({r["id"] for r in stored}) == n
        for resource in stored:
            for ident in resource.get("identifier") or []:
                identifiers[(resource_type, f"{ident.get('system')}|{ident['value']}")] += 1
    assert len([k for k in identifiers if k[0] == "Patient"]) == total  # every patient's case identifier
    assert {k: v for k, v in identifiers.items() if v != 1} == {}
    # and by a search per identifier, for a sample of the cases
    for path in islice(bundles, 0, total, 25):
        value = json.loads(path.read_bytes())["identifier"]["value"]
        found = requests.get(
            f"{server.base_url}/Patient",
            params={"identifier": f"{system}|{value}", "_summary": "count"},
            headers={"Cache-Control": "no-cache"},
            timeout=30,
        ).json()["total"]
        assert found == 1


def _pending(outbox: Path, bundles: list[Path]) -> None:
    (outbox / "pending").mkdir(parents=True)
    for path in bundles:
        (outbox / "pending" / path.name).write_bytes(path.read_bytes())


def test_two_pushes_on_one_outbox_send_each_bundle_once(fresh_server, tmp_path):
    bundles = make_bundles(tmp_path, 40, seed=9)
    outbox = tmp_path / "outbox"
    _pending(outbox, bundles)
    with FaultProxy(fresh_server.base_url) as proxy:
        args = ["push", "--resume", "--server", proxy.base_url, "--outbox", str(outbox)]
        first = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not any(r.method == "POST" for r in proxy.requests) and time.monotonic() < deadline:
            time.sleep(0.01)
        second = subprocess.run(cli(*args), capture_output=True, text=True, timeout=60)
        first_err = first.communicate(timeout=60)[1]
        posted = Counter(r.json()["identifier"]["value"] for r in proxy.requests if r.method == "POST")
    assert first.returncode == 0, first_err
    assert second.returncode == EXIT_CONFIG
    assert f"{outbox}: another push (process {first.pid}) is sending from this outbox" in second.stderr
    assert posted == Counter({json.loads(p.read_bytes())["identifier"]["value"]: 1 for p in bundles})
    assert set(files_in(outbox / "sent")) == {p.name for p in bundles}


def test_damaged_outbox_files_are_set_aside_not_sent_not_deleted(fresh_server, tmp_path):
    bundles = make_bundles(tmp_path, 3, seed=10)
    outbox = tmp_path / "outbox"
    _pending(outbox, bundles)
    good = bundles[0].read_bytes()
    (outbox / "pending" / "cut-short.json").write_bytes(good[: len(good) // 2])
    (outbox / "pending" / "garbage.json").write_bytes(b"\x00\xff not json")
    (outbox / "pending" / "not-a-bundle.json").write_bytes(b'{"resourceType": "Patient", "id": "x"}')
    with FaultProxy(fresh_server.base_url) as proxy:
        result = CliRunner().invoke(
            main, ["push", "--resume", "--server", proxy.base_url, "--outbox", str(outbox)]
        )
        posted = [r.json()["identifier"]["value"] for r in proxy.requests if r.method == "POST"]
    assert result.exit_code == EXIT_INVALID_CASE
    for name, why in [
        ("cut-short", "not readable JSON"),
        ("garbage", "not readable JSON"),
        ("not-a-bundle", "not a FHIR Bundle"),
    ]:
        assert f"{name}: invalid: {outbox / 'pending' / name}.json: {why}" in result.stderr
        assert f"It was moved to {outbox / 'damaged' / name}.json" in result.stderr
    assert (outbox / "damaged" / "cut-short.json").read_bytes() == good[: len(good) // 2]
    assert files_in(outbox / "damaged") == ["cut-short.json", "garbage.json", "not-a-bundle.json"]
    assert sorted(posted) == sorted(json.loads(p.read_bytes())["identifier"]["value"] for p in bundles)
    assert files_in(outbox / "pending") == []


class DiskFull:
    """os.write as seen by fhir_adapter.writer: accepts `room` bytes in all, then fails with ENOSPC."""

    def __init__(self, room: int):
        self.room = room
        self.real = os.write
        self.failures = 0

    def __call__(self, fd: int, data) -> int:
        if len(data) > self.room:
            self.failures += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real(fd, data)


def test_full_disk_while_spooling_the_outbox_sends_nothing_and_leaves_no_half_file(
    fresh_server, tmp_path, monkeypatch
):
    bundles = make_bundles(tmp_path, 5, seed=11)
    outbox = tmp_path / "outbox"
    full = DiskFull(room=sum(len(p.read_bytes()) for p in bundles[:2]) + 10)
    monkeypatch.setattr(writer.os, "write", full)
    with FaultProxy(fresh_server.base_url) as proxy:
        result = CliRunner().invoke(
            main, ["push", *map(str, bundles), "--server", proxy.base_url, "--outbox", str(outbox)]
        )
        posts = [r for r in proxy.requests if r.method == "POST"]
    assert full.failures == 1
    assert result.exit_code == EXIT_OUTPUT
    assert (
        f"Error: {outbox / 'pending' / bundles[2].name}: cannot write the file: No space left on device;"
        " nothing was left there half-written"
    ) in result.stderr
    assert posts == []
    # the two that fitted are whole; no temporary file is left behind
    assert files_in(outbox / "pending") == sorted(p.name for p in bundles[:2])
    for path in bundles[:2]:
        assert (outbox / "pending" / path.name).read_bytes() == path.read_bytes()


def test_full_disk_while_writing_bundles_keeps_the_good_files_whole(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "yu-2024-1.json").write_bytes(b"an earlier good run\n")
    monkeypatch.setattr(writer.os, "write", DiskFull(room=0))
    result = CliRunner().invoke(main, ["convert", "-q", *map(str, EXAMPLES), "-o", str(out)])
    assert result.exit_code == EXIT_OUTPUT
    assert (
        "cannot write the file: No space left on device; nothing was left there half-written" in result.stderr
    )
    assert files_in(out) == ["yu-2024-1.json"]
    assert (out / "yu-2024-1.json").read_bytes() == b"an earlier good run\n"


def test_full_disk_while_writing_one_output_file(tmp_path, monkeypatch):
    target = tmp_path / "case.json"
    target.write_bytes(b"previous\n")
    monkeypatch.setattr(writer.os, "write", DiskFull(room=100))
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLES[0]), "-o", str(target)])
    assert result.exit_code == EXIT_OUTPUT
    assert f"Error: {target}: cannot write the file: No space left on device" in result.stderr
    assert target.read_bytes() == b"previous\n"
    assert files_in(tmp_path) == ["case.json"]


def test_full_disk_while_writing_ndjson_leaves_no_file(tmp_path, monkeypatch):
    import builtins

    from fhir_adapter import sinks

    real_open = builtins.open

    class FullFile:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            self.fh.close()

    monkeypatch.setattr(sinks, "open", lambda *a, **k: FullFile(real_open(*a, **k)), raising=False)
    out = tmp_path / "bulk"
    result = CliRunner().invoke(
        main, ["convert", "-q", *map(str, EXAMPLES), "--format", "ndjson", "-o", str(out)]
    )
    assert result.exit_code == EXIT_OUTPUT
    assert "cannot write the file: No space left on device" in result.stderr
    assert files_in(out) == []


def test_prune_deletes_only_old_sent_copies(fresh_server, tmp_path):
    bundles = make_bundles(tmp_path, 3, seed=12)
    outbox = tmp_path / "outbox"
    args = ["--server", fresh_server.base_url, "--outbox", str(outbox)]
    assert CliRunner().invoke(main, ["push", *map(str, bundles), *args]).exit_code == 0
    old = time.time() - 40 * 86400
    os.utime(outbox / "sent" / bundles[0].name, (old, old))
    result = CliRunner().invoke(main, ["push", "--prune", "30", *args])
    assert result.exit_code == 0, result.stderr
    assert f"1 sent bundle(s) older than 30 day(s) deleted from {outbox / 'sent'}." in result.stderr
    assert files_in(outbox / "sent") == sorted(p.name for p in bundles[1:])
    result = CliRunner().invoke(main, ["push", "--prune", "0", *args])
    assert files_in(outbox / "sent") == []


def test_every_file_written_has_the_same_mode(fresh_server, tmp_path):
    previous = os.umask(0o027)
    try:
        bad = tmp_path / "bad.yaml"
        bad.write_text("case: {id: b}\n")
        runner = CliRunner()
        runner.invoke(main, ["convert", "-q", *map(str, EXAMPLES), str(bad), "-o", str(tmp_path / "out"),
                             "--errors-to", str(tmp_path / "errors")])  # fmt: skip
        runner.invoke(main, ["convert", "-q", str(EXAMPLES[0]), "-o", str(tmp_path / "one.json")])
        runner.invoke(
            main, ["convert", "-q", *map(str, EXAMPLES), "--format", "ndjson", "-o", str(tmp_path / "nd")]
        )
        outbox = tmp_path / "outbox"
        bundles = sorted((tmp_path / "out").glob("*.json"))
        runner.invoke(main, ["push", str(bundles[0]), "--server", fresh_server.base_url,
                             "--outbox", str(outbox), "--report", str(tmp_path / "report.json")])  # fmt: skip
        dead = "http://127.0.0.1:9/fhir"
        runner.invoke(
            main, ["push", str(bundles[1]), "--server", dead, "--outbox", str(outbox), "--max-time", "0.2"]
        )
    finally:
        os.umask(previous)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ".lock" and p != bad]
    kinds = {p.parent.name for p in written}
    assert {"out", "errors", "nd", "sent", "pending"} <= kinds
    assert (tmp_path / "one.json") in written and (tmp_path / "report.json") in written
    modes = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777) for p in written}
    assert set(modes.values()) == {"0o640"}, modes
