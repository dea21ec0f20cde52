"""Integration: what push leaves on a real server, against HAPI FHIR and sekmet-fhir on 127.0.0.1.

- outbox names are unique per case (two identifier systems, bundles with neither id nor
  identifier, a case id that ends like an error file), and nothing waiting is overwritten;
- a corrected case leaves the server holding exactly its current resources, and verify reports
  resources the bundle lacks;
- a server that stores the resources under ids of its own is not counted as having them;
- HAPI FHIR refuses a resource that breaks its declared mCODE profile.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from support.fhir_server import free_port

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_SERVER_UNAVAILABLE, EXIT_VERIFY
from fhir_adapter.push import CASE_RESOURCE_TYPES

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SYSTEM = "urn:fhir-adapter:case-id"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def convert(case: Path, out: Path, *extra: str) -> dict:
    result = run("convert", "-q", str(case), "-o", str(out), *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(out.read_text())


def tagged(base_url: str, resource_type: str, system: str, case_id: str) -> list[str]:
    response = requests.get(
        f"{base_url}/{resource_type}",
        params={"_tag": f"{system}|{case_id}", "_count": "500"},
        headers={"Cache-Control": "no-cache"},
        timeout=30,
    )
    response.raise_for_status()
    return sorted(e["resource"]["id"] for e in response.json().get("entry") or [])


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


CASE = """\
case: {{id: {case_id}}}
patient: {{sex: female}}
primary_cancers:
  - {{id: breast, site: breast, histology: invasive ductal carcinoma, date: 2015}}
procedures:
  - {{id: mastectomy, name: mastectomy, date: 2015}}
  - {{id: biopsy, name: biopsy, date: 2015}}
"""


def test_every_resource_type_a_case_gives_is_searched_for_its_tag():
    types = {
        e["resource"]["resourceType"]
        for path in EXAMPLES.glob("*.bundle.json")
        for e in json.loads(path.read_text())["entry"]
    }
    assert types <= set(CASE_RESOURCE_TYPES), types - set(CASE_RESOURCE_TYPES)
    for path in EXAMPLES.glob("*.bundle.json"):
        bundle = json.loads(path.read_text())
        tag = {"system": bundle["identifier"]["system"], "code": bundle["identifier"]["value"]}
        assert all(tag in e["resource"]["meta"]["tag"] for e in bundle["entry"])


def test_one_case_id_under_two_systems_waits_and_is_sent_as_two_bundles(server, tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text(CASE.format(case_id=f"two-systems-{server.kind}"))
    a = convert(case, tmp_path / "a.json", "--id-system", "https://registry-a.example/cases")
    b = convert(case, tmp_path / "b.json", "--id-system", "https://registry-b.example/cases")
    outbox = tmp_path / "outbox"
    dead = f"http://127.0.0.1:{free_port()}/fhir"
    for name in ("a.json", "b.json"):  # two runs: the second must not replace the first's bundle
        result = run(
            "push", str(tmp_path / name), "--server", dead, "--outbox", str(outbox), "--max-time", "0.5"
        )
        assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    waiting = [n for n in files(outbox / "pending") if not n.endswith(".error.json")]
    assert len(waiting) == 2, waiting
    result = run("push", "--resume", "--server", server.base_url, "--outbox", str(outbox))
    assert result.exit_code == 0, result.stderr
    assert "2 of 2 bundle(s) sent" in result.stderr
    for bundle in (a, b):
        ident = bundle["identifier"]
        patients = requests.get(
            f"{server.base_url}/Patient",
            params={"identifier": f"{ident['system']}|{ident['value']}"},
            headers={"Cache-Control": "no-cache"},
            timeout=30,
        ).json()
        assert patients["total"] == 1


def test_ndjson_bundles_without_id_or_identifier_are_each_sent(server, tmp_path):
    lines = []
    for n in range(2):
        case = tmp_path / f"c{n}.yaml"
        case.write_text(CASE.format(case_id=f"anonymous-{n}-{server.kind}"))
        bundle = convert(case, tmp_path / f"c{n}.json")
        del bundle["id"], bundle["identifier"]
        lines.append(json.dumps(bundle))
    source = tmp_path / "bundles.ndjson"
    source.write_text("\n".join(lines) + "\n")
    result = run("push", str(source), "--server", server.base_url, "--outbox", str(tmp_path / "outbox"))
    assert result.exit_code == 0, result.stderr
    assert "2 of 2 bundle(s) sent" in result.stderr
    assert len(files(tmp_path / "outbox" / "sent")) == 2


def test_a_case_id_that_looks_like_an_error_file_is_resumed(server, tmp_path):
    case = tmp_path / "c.yaml"
    case_id = f"biopsy-{server.kind}.error"
    case.write_text(CASE.format(case_id=case_id))
    convert(case, tmp_path / "b.json")
    outbox = tmp_path / "outbox"
    dead = f"http://127.0.0.1:{free_port()}/fhir"
    result = run(
        "push", str(tmp_path / "b.json"), "--server", dead, "--outbox", str(outbox), "--max-time", "0.5"
    )
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE
    result = run("push", "--resume", "--server", server.base_url, "--outbox", str(outbox))
    assert result.exit_code == 0, result.stderr
    assert "1 of 1 bundle(s) sent" in result.stderr
    assert files(outbox / "pending") == []
    assert len(tagged(server.base_url, "Patient", SYSTEM, case_id)) == 1


def test_the_same_case_twice_in_one_run_is_reported_not_skipped(fhir_server, tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text(CASE.format(case_id="twice-in-a-run"))
    convert(case, tmp_path / "first.json")
    case.write_text(case.read_text().replace("date: 2015}", "date: 2016}", 1))
    convert(case, tmp_path / "second.json")
    result = run(
        "push", str(tmp_path / "first.json"), str(tmp_path / "second.json"),
        "--server", fhir_server.base_url, "--outbox", str(tmp_path / "outbox"),
    )  # fmt: skip
    assert result.exit_code != 0
    # The two differ, so which is current cannot be told: neither is sent (the first used to be).
    assert "0 of 2 bundle(s) sent" in result.stderr
    assert f"{tmp_path / 'second.json'}: the same case as {tmp_path / 'first.json'}" in result.stderr


def test_a_corrected_case_leaves_exactly_its_current_resources(server, tmp_path):
    case_id = f"dropped-procedure-{server.kind}"
    case = tmp_path / "c.yaml"
    case.write_text(CASE.format(case_id=case_id))
    first = convert(case, tmp_path / "v1.json")
    args = ["--server", server.base_url, "--outbox", str(tmp_path / "outbox")]
    assert run("push", str(tmp_path / "v1.json"), *args).exit_code == 0
    procedures = tagged(server.base_url, "Procedure", SYSTEM, case_id)
    assert len(procedures) == 2

    # The biopsy was a mistake of the abstraction: the corrected case no longer has it.
    case.write_text(case.read_text().replace("  - {id: biopsy, name: biopsy, date: 2015}\n", ""))
    second = convert(case, tmp_path / "v2.json")
    (kept,) = [e["resource"]["id"] for e in second["entry"] if e["resource"]["resourceType"] == "Procedure"]
    (dropped,) = set(procedures) - {kept}
    verify = run("verify", str(tmp_path / "v2.json"), "--server", server.base_url)
    assert verify.exit_code == EXIT_VERIFY
    assert f"Procedure/{dropped}: on the server with this case's tag, but not in the bundle" in verify.stderr

    result = run("push", str(tmp_path / "v2.json"), *args)
    assert result.exit_code == 0, result.stderr
    assert f"1 deleted, no longer in the case: Procedure/{dropped}" in result.stderr
    assert tagged(server.base_url, "Procedure", SYSTEM, case_id) == [kept]
    assert requests.get(f"{server.base_url}/Procedure/{dropped}", timeout=30).status_code in (404, 410)
    for resource_type in CASE_RESOURCE_TYPES:
        expected = sorted(
            e["resource"]["id"] for e in second["entry"] if e["resource"]["resourceType"] == resource_type
        )
        assert tagged(server.base_url, resource_type, SYSTEM, case_id) == expected, resource_type
    assert run("verify", str(tmp_path / "v2.json"), "--server", server.base_url).exit_code == 0
    assert len(first["entry"]) == len(second["entry"]) + 1


class IdIgnoringProxy:
    """A server that assigns ids of its own: a proxy on 127.0.0.1 that turns every PUT entry of a
    transaction into a POST before a real server sees it, so the server really stores the
    resources under new ids and says so in its transaction-response."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                self._forward(None)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                bundle = json.loads(body)
                if bundle.get("type") == "transaction":
                    for entry in bundle["entry"]:
                        if entry.get("request", {}).get("method") == "PUT":
                            del entry["resource"]["id"]
                            entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
                self._forward(json.dumps(bundle).encode())

            def _forward(self, data):
                url = proxy.upstream + self.path[len("/fhir") :]
                request = urllib.request.Request(
                    url, data=data, method=self.command, headers={"Content-Type": "application/fhir+json"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.http.server_address[1]}/fhir"

    def __enter__(self):
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.http.shutdown()
        self.http.server_close()


def test_a_server_that_stores_other_ids_is_not_counted_as_sent(server, tmp_path):
    case_id = f"other-ids-{server.kind}"
    case = tmp_path / "c.yaml"
    case.write_text(CASE.format(case_id=case_id))
    bundle = convert(case, tmp_path / "b.json")
    outbox = tmp_path / "outbox"
    with IdIgnoringProxy(server.base_url) as proxy:
        result = run("push", str(tmp_path / "b.json"), "--server", proxy.base_url, "--outbox", str(outbox))
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.stderr
    patient_id = bundle["entry"][0]["resource"]["id"]
    assert f"{case_id}: misplaced: " in result.stderr
    assert f"the server stored Patient/{patient_id} as Patient/" in result.stderr
    assert "0 of 1 bundle(s) sent" in result.stderr
    assert [n for n in files(outbox / "pending") if not n.endswith(".error.json")] == [f"{case_id}.json"]
    strays = tagged(server.base_url, "Patient", SYSTEM, case_id)
    assert len(strays) == 1 and strays != [patient_id]

    # Sent again to the server itself: stored under the ids sent, and the stray copies deleted.
    result = run("push", "--resume", "--server", server.base_url, "--outbox", str(outbox))
    assert result.exit_code == 0, result.stderr
    assert f"{len(bundle['entry'])} deleted, no longer in the case" in result.stderr
    for resource_type in ("Patient", "Condition", "Procedure"):
        expected = sorted(
            e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
        )
        assert tagged(server.base_url, resource_type, SYSTEM, case_id) == expected


def test_hapi_refuses_a_resource_that_breaks_its_declared_profile(hapi_server, fhir_server, tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text(
        "case: {id: tumour-size-without-focus}\npatient: {sex: female}\n"
        "primary_cancers:\n  - {id: breast, site: breast, date: 2015, size_mm: [21]}\n"
    )
    bundle = convert(case, tmp_path / "b.json")
    (size,) = [
        e["resource"] for e in bundle["entry"] if "mcode-tumor-size" in str(e["resource"].get("meta", {}))
    ]
    del size["focus"]  # mCODE TumorSize: must-have-focus-or-specimen-invariant
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    args = ["push", str(tmp_path / "b.json"), "--outbox", str(tmp_path / "outbox")]
    refused = run(*args, "--server", hapi_server.base_url)
    assert refused.exit_code == 5, refused.stderr
    assert "HTTP 422" in refused.stderr
    assert "must-have-focus-or-specimen-invariant" in refused.stderr
    # Structure alone allows it: sekmet-fhir stores it; so does HAPI once no profile is claimed.
    assert run(*args, "--server", fhir_server.base_url).exit_code == 0
    del size["meta"]["profile"]
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    accepted = run(*args, "--server", hapi_server.base_url)
    assert accepted.exit_code == 0, accepted.stderr
