"""fhir-adapter export: case files read back from Bundles, NDJSON (a file or a Bulk directory) and a server.

Each export is compared with the case's normal form (normal.py), the same test the round trip
makes: what comes back from any source is the case that went in.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import yaml
from click.testing import CliRunner

from fhir_adapter.casefile import parse_case, read_case_text
from fhir_adapter.cli import main
from fhir_adapter.export import normal_form

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def normal(path: Path, terminology, id_system: str | None = None) -> dict:
    """The example's normal form; with `id_system`, as converted with --id-system."""
    case = parse_case(read_case_text(str(path), path.read_bytes()))
    if id_system is not None:
        case = case.model_copy(update={"case": case.case.model_copy(update={"id_system": id_system})})
    return normal_form(case, terminology)


def case_id(path: Path) -> str:
    return parse_case(read_case_text(str(path), path.read_bytes())).case.id


def loaded(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundles")
    result = run("convert", "-q", *EXAMPLES, "-o", out)
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def bulk(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bulk")
    result = run("convert", "-q", *EXAMPLES, "--format", "ndjson", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert list(out.glob("*.ndjson"))
    return out


def by_id(directory: Path) -> dict[str, dict]:
    cases = {}
    for path in sorted(directory.glob("*.yaml")):
        data = loaded(path)
        cases[data["case"]["id"]] = data
    return cases


def test_a_bundle_comes_back_on_stdout_as_its_case(bundles, terminology):
    source = ROOT / "examples" / "yu-2024-case-1.yaml"
    result = run("export", bundles / "yu-2024-case-1.json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# Case file read back by `fhir-adapter export` from ")
    assert yaml.safe_load(result.stdout) == normal(source, terminology)


def test_every_example_comes_back_from_a_directory_of_bundles(bundles, tmp_path, terminology):
    out = tmp_path / "cases"
    result = run("export", bundles, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert f"{len(EXAMPLES)} case file(s) written to {out}." in result.stderr
    cases = by_id(out)
    assert sorted(cases) == sorted(case_id(p) for p in EXAMPLES)
    for path in EXAMPLES:
        assert cases[case_id(path)] == normal(path, terminology), path.name


def test_every_example_comes_back_from_bulk_ndjson_with_its_evidence(bulk, tmp_path, terminology):
    out = tmp_path / "cases"
    result = run("export", bulk, "-o", out, "--evidence")
    assert result.exit_code == 0, result.stderr
    cases = by_id(out)
    for path in EXAMPLES:
        assert cases[case_id(path)] == normal(path, terminology), path.name
    evidence = json.loads((out / "yu-2024-case-1.evidence.json").read_text())
    site = evidence["primary_cancers[0].site"]
    assert site["sentence"][site["start"] : site["end"]] == "breast"
    assert site["resource"].startswith("Condition/")


def test_one_ndjson_file_of_resources_and_json_output(bulk, tmp_path, terminology):
    lines = b"".join(p.read_bytes() for p in sorted(bulk.glob("*.ndjson")))
    one = tmp_path / "all.ndjson"
    one.write_bytes(lines)
    result = run("export", one, "--format", "json", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    for path in EXAMPLES:
        got = json.loads((tmp_path / "out" / f"{case_id(path)}.json").read_text())
        assert got == normal(path, terminology)


def test_a_bad_line_is_reported_and_the_other_patients_still_come_back(bulk, tmp_path):
    copy = tmp_path / "bulk"
    copy.mkdir()
    for path in bulk.glob("*.ndjson"):
        (copy / path.name).write_bytes(path.read_bytes())
    with (copy / "Observation.ndjson").open("ab") as handle:
        handle.write(b"{not json\n")
    result = run("export", copy, "-o", tmp_path / "out")
    assert result.exit_code != 0
    assert "Observation.ndjson:" in result.stderr and "not JSON" in result.stderr
    assert len(list((tmp_path / "out").glob("*.yaml"))) == len(EXAMPLES)


def test_what_has_no_place_in_the_case_is_listed_not_dropped(bundles, tmp_path):
    bundle = json.loads((bundles / "yu-2024-case-1.json").read_text())
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    foreign = {
        "resourceType": "Observation",
        "id": "weight-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}], "text": "Body weight"},
        "subject": {"reference": f"Patient/{patient['id']}"},
        "valueQuantity": {"value": 61, "unit": "kg"},
    }
    bundle["entry"].append({"fullUrl": "Observation/weight-1", "resource": foreign})
    path = tmp_path / "other-tool.json"
    path.write_text(json.dumps(bundle))
    result = run("export", path)
    assert result.exit_code == 0, result.stderr
    assert "note: yu-2024-case-1: not read into the case: Observation/weight-1" in result.stderr
    assert "# Not read into the case (the case format has no place for it):" in result.stdout
    assert "Observation/weight-1" in result.stdout.split("# Not read into the case", 1)[1]


def test_one_file_takes_one_case(bundles, tmp_path, terminology):
    out = tmp_path / "one.yaml"
    result = run("export", bundles / "yu-2024-case-2.json", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert loaded(out) == normal(ROOT / "examples" / "yu-2024-case-2.yaml", terminology)
    two = run("export", bundles, "-o", tmp_path / "two.yaml")
    assert two.exit_code != 0
    assert "more than one case does not fit one file; give -o DIR" in two.stderr
    assert not (tmp_path / "two.yaml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name Bundle or NDJSON files, or --patient ID / --all-patients with --server"),
        (("x.json", "--patient", "1"), "name Bundle or NDJSON files, or --patient ID"),
        (("x.json", "--evidence"), "--evidence writes a file beside each case file: give -o DIR"),
        (
            ("x.json", "--public-source"),
            "--key-file, --public-source, --free-text and --dates go with --deidentify",
        ),
        (("missing.json",), "missing.json: no such file or directory"),
    ],
)
def test_requests_that_cannot_be_carried_out(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("export", *args)
    assert result.exit_code != 0
    assert f"Error: {message}" in result.stderr


# A server: sekmet-fhir on 127.0.0.1, the session's own (tests/conftest.py).


@pytest.fixture(scope="module")
def on_server(fhir_server, tmp_path_factory):
    """The examples, under an identifier system of this module's own, on the session's server."""
    system = "https://export-test.example/cases"
    out = tmp_path_factory.mktemp("server-bundles")
    result = run("convert", "-q", *EXAMPLES, "--id-system", system, "-o", out)
    assert result.exit_code == 0, result.stderr
    outbox = tmp_path_factory.mktemp("outbox")
    result = run("push", *sorted(out.glob("*.json")), "--server", fhir_server.base_url, "--outbox", outbox)
    assert result.exit_code == 0, result.stderr
    ids = {}
    for path in sorted(out.glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        ids[bundle["identifier"]["value"]] = patient["id"]
    return fhir_server.base_url, system, ids


@pytest.mark.integration
def test_every_patient_of_the_system_comes_back_from_a_server_page_by_page(on_server, tmp_path, terminology):
    base, system, ids = on_server
    out = tmp_path / "cases"
    args = ("--server", base, "--all-patients", "--id-system", system, "--page-size", "2")
    result = run("export", *args, "-o", out)
    assert result.exit_code == 0, result.stderr
    cases = by_id(out)
    assert sorted(cases) == sorted(ids)  # more than one page of 2
    for path in EXAMPLES:
        assert cases[case_id(path)] == normal(path, terminology, id_system=system), path.name


@pytest.mark.integration
def test_one_patient_from_a_server_and_verify_against_its_case_file(on_server, tmp_path, terminology):
    base, system, ids = on_server
    source = ROOT / "examples" / "yu-2024-case-2.yaml"
    result = run("export", "--server", base, "--patient", ids["yu-2024-case-2"])
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout) == normal(source, terminology, id_system=system)

    # verify reads both through the same mapping; a changed case file differs field by field.
    exported = tmp_path / "yu-2.yaml"
    exported.write_text(result.stdout)
    same = run("verify", exported, "--patient", ids["yu-2024-case-2"], "--server", base)
    assert same.exit_code == 0, same.stderr
    assert f"matches Patient/{ids['yu-2024-case-2']}" in same.stderr
    changed = tmp_path / "changed.yaml"
    data = yaml.safe_load(result.stdout)
    data["patient"]["ethnicity"] = "Korean"
    changed.write_text(yaml.safe_dump(data))
    differs = run("verify", changed, "--patient", ids["yu-2024-case-2"], "--server", base)
    assert differs.exit_code != 0
    assert "patient.ethnicity: the case file has 'Korean', the server 'Chinese'" in differs.stderr

    missing = run("export", "--server", base, "--patient", "no-such-patient")
    assert missing.exit_code != 0
    assert "no-such-patient" in missing.stderr


@pytest.mark.integration
def test_summary_of_what_a_server_holds(on_server, tmp_path):
    base, _, ids = on_server
    out = tmp_path / "pages"
    result = run("summary", "--server", base, "--patient", ids["yu-2024-case-1"], "-o", out)
    assert result.exit_code == 0, result.stderr
    page = (out / "yu-2024-case-1.html").read_text()
    assert "scalp" in page
    assert (out / "index.html").exists()


# Paging a server (client.FhirClient.pages), against a scripted peer on 127.0.0.1.


def _searchset(entries: int, next_url: str | None = None) -> bytes:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Patient", "id": f"p{n}"}} for n in range(entries)],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return json.dumps(bundle).encode()


def _client(base_url: str):
    from fhir_adapter.client import ClientSettings, FhirClient, RetryPolicy

    return FhirClient(ClientSettings(base_url=base_url, retry=RetryPolicy(max_attempts=1)))


def test_pages_follows_next_links_on_its_own_origin_only():
    from support.hostile_peer import HostilePeer, Reply

    from fhir_adapter.errors import ServerRejectedError, ServerResponseError

    with HostilePeer(Reply()) as peer, HostilePeer(Reply(body=_searchset(1))) as elsewhere:

        def answer(request):
            if "page=2" in request.path:
                return Reply(body=_searchset(1, f"{peer.base_url}/Patient?page=1"))  # back to a page read
            if "page=1" in request.path:
                return Reply(body=_searchset(2, f"{peer.base_url}/Patient?page=2"))
            return Reply(body=_searchset(2, f"{peer.base_url}/Patient?page=1"))

        peer.answer = answer
        pages = list(_client(peer.base_url).pages("Patient", {"_count": "2"}))
        assert [len(p["entry"]) for p in pages] == [2, 2, 1]  # and no loop

        peer.answer = Reply(body=_searchset(2, f"{elsewhere.base_url}/Patient?page=2"))
        with pytest.raises(ServerResponseError, match="the next page is on another server"):
            list(_client(peer.base_url).pages("Patient"))
        assert elsewhere.requests == []

        peer.answer = Reply(status=404, body=b"{}")
        with pytest.raises(ServerRejectedError, match="HTTP 404"):
            list(_client(peer.base_url).pages("Patient/1/$everything"))
        peer.answer = Reply(body=b'{"resourceType": "Patient"}')
        with pytest.raises(ServerResponseError, match="no Bundle"):
            list(_client(peer.base_url).pages("Patient"))
