"""Export never counts a partly-fetched file or page as read.

A Bulk Data directory whose file holds fewer lines than its manifest counts, or ends in the middle
of a line (a download cut off), gives no case at all: any patient's resources may be in the part
missing, and a case read from the rest would come back without them. A server page cut off
mid-answer (a fake server on 127.0.0.1 that closes the connection mid-body, which no real server
here does on demand) is an error naming the URL; that one held before the file checks were
added, and stays as a guard.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE, EXIT_SERVER_UNAVAILABLE

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))[:3]


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def bulk(tmp_path) -> Path:
    out = tmp_path / "bulk"
    result = run("convert", "-q", *EXAMPLES, "--format", "ndjson", "-o", out)
    assert result.exit_code == 0, result.stderr
    return out


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_an_intact_bulk_directory_with_its_manifest_exports_whole(bulk, tmp_path):
    result = run("export", bulk, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "out").glob("*.yaml"))) == len(EXAMPLES)


def test_a_file_shorter_than_its_manifest_count_gives_no_case(bulk, tmp_path):
    conditions = bulk / "Condition.ndjson"
    lines = lines_of(conditions)
    assert len(lines) > 1
    conditions.write_bytes(b"".join(lines[:-1]))  # cut at a line's end: every line left is whole JSON
    result = run("export", bulk, "-o", tmp_path / "out")
    assert result.exit_code == EXIT_INVALID_CASE, result.stderr
    assert (
        f"{conditions}: the manifest says it holds {len(lines)} resource(s), but it has {len(lines) - 1}"
        f" line(s) ({len(lines) - 1} resource(s) read)"
    ) in result.stderr
    assert f"{bulk}: no case read from it, since 1 file(s) of it are not whole" in result.stderr
    assert not list((tmp_path / "out").glob("*.yaml")) if (tmp_path / "out").exists() else True


def test_a_file_cut_mid_line_gives_no_case_even_without_a_manifest(bulk, tmp_path):
    (bulk / "manifest.json").unlink()
    procedures = bulk / "Procedure.ndjson"
    lines = lines_of(procedures)
    cut = b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2]
    procedures.write_bytes(cut)
    result = run("export", bulk, "-o", tmp_path / "out")
    assert result.exit_code == EXIT_INVALID_CASE, result.stderr
    assert (
        f"{procedures}: ends in the middle of line {len(lines)} (not JSON, and no end of line): the file"
        f" was cut off after {len(lines) - 1} whole line(s) ({len(lines) - 1} resource(s) read)"
    ) in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.yaml"))


def test_a_file_the_manifest_lists_that_is_missing_gives_no_case(bulk, tmp_path):
    (bulk / "Observation.ndjson").unlink()
    result = run("export", bulk, "-o", tmp_path / "out")
    assert result.exit_code == EXIT_INVALID_CASE, result.stderr
    assert f"{bulk / 'Observation.ndjson'}: the manifest lists it" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.yaml"))


def test_one_ndjson_file_cut_mid_line_gives_no_case(bulk, tmp_path):
    one = tmp_path / "all.ndjson"
    whole = b"".join(p.read_bytes() for p in sorted(bulk.glob("*.ndjson")))
    one.write_bytes(whole[: len(whole) - 40])
    result = run("export", one, "-o", tmp_path / "out")
    assert result.exit_code == EXIT_INVALID_CASE, result.stderr
    assert f"{one}: ends in the middle of line" in result.stderr
    assert "the file was cut off after" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.yaml"))


class CutPageServer:
    """A FHIR server stand-in on 127.0.0.1: Patient/$everything answers a page whose body breaks off
    half-way (Content-Length says more than is sent, then the connection closes)."""

    def __init__(self) -> None:
        page = json.dumps(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}] * 20,
            }
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page[: len(page) // 2])
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}/fhir"

    def __enter__(self) -> CutPageServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_server_page_cut_off_mid_answer_is_an_error_naming_it(tmp_path):
    with CutPageServer() as fake:
        result = run(
            "export", "--server", fake.base_url, "--patient", "p1", "-o", tmp_path / "out", "--max-time", "5"
        )
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.stderr
    assert "Patient/p1/$everything" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.yaml"))
