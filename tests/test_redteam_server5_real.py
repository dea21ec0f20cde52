"""Sequences against the real HAPI FHIR server the suite starts: another client changes the
server between our pushes, and what lands is still exactly the case, or an error says why not
and what to do."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_SERVER_REJECTED

CASE = (Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml").read_text()
BONE = "  - id: bone\n    site: bone\n    age: 45\n    primary: breast\n"
NO_BONE = CASE.replace(BONE, "").replace("treats: [breast, scalp, bone]", "treats: [breast, scalp]")
TYPES = ("Patient", "Condition", "Observation", "MedicationStatement", "DocumentReference", "Provenance",
         "BodyStructure", "Procedure", "Specimen", "ClinicalImpression")  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def convert(tmp_path: Path, name: str, text: str, system: str) -> dict:
    case = tmp_path / f"{name}.yaml"
    case.write_text(text)
    result = run("convert", "-q", str(case), "-o", str(tmp_path / f"{name}.json"), "--id-system", system)
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / f"{name}.json").read_text())


def call(method: str, url: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/fhir+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.status


def held(base_url: str, system: str) -> set[str]:
    """`Type/id` of every resource the server holds with the case's tag, past any cache."""
    out = set()
    for rtype in TYPES:
        query = urllib.parse.urlencode(
            {"_tag": f"{system}|yu-2024-case-1", "_count": "500", "_elements": "meta"}
        )
        url = f"{base_url}/{rtype}?{query}"
        request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            page = json.loads(answer.read())
        assert not any(ln["relation"] == "next" for ln in page.get("link") or [])
        out |= {f"{rtype}/{e['resource']['id']}" for e in page.get("entry") or []}
    return out


def ids(bundle: dict) -> set[str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}


@pytest.mark.integration
def test_a_correction_refused_because_another_resource_refers_to_what_it_deletes_says_so(
    hapi_server, tmp_path
):
    # Another client writes a note (an Observation, not of our case) about the bone metastasis.
    # The correction strikes the metastasis out; HAPI FHIR keeps referential integrity and refuses
    # the whole transaction with 409. The message said only the server's words, and the closing
    # line told to fix the case; the case is right. It now names what the transaction deletes,
    # that nothing of the correction was stored, and the fix, which lands with push --resume.
    system = f"https://referred.example/{uuid.uuid4().hex}"
    base = hapi_server.base_url
    outbox = str(tmp_path / "outbox")
    first = convert(tmp_path, "v0", CASE, system)
    assert run("push", str(tmp_path / "v0.json"), "--server", base, "--outbox", outbox).exit_code == 0
    corrected = convert(tmp_path, "v1", NO_BONE, system)
    (struck,) = ids(first) - ids(corrected)
    note = f"note-{uuid.uuid4().hex[:12]}"
    call("PUT", f"{base}/Observation/{note}", {
        "resourceType": "Observation", "id": note, "status": "final", "code": {"text": "tumour board note"},
        "focus": [{"reference": struck}],
    })  # fmt: skip
    result = run("push", str(tmp_path / "v1.json"), "--server", base, "--outbox", outbox)
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert f"The transaction also deletes 1 resource(s) the case no longer has ({struck})" in result.output
    assert "The case file is not at fault" in result.output and "push --resume" in result.output
    assert held(base, system) == ids(first)  # nothing of the correction was stored
    call("DELETE", f"{base}/Observation/{note}")
    resumed = run("push", "--resume", "--server", base, "--outbox", outbox)
    assert resumed.exit_code == 0, resumed.output
    assert held(base, system) == ids(corrected)


@pytest.mark.integration
def test_resources_another_client_edits_or_deletes_are_put_back_by_the_next_push(hapi_server, tmp_path):
    # Between two pushes of the same case, another client changes the Patient's birth date,
    # deletes a metastasis, and adds a resource with the case's tag. The next push holds the
    # server to the case again: the edit overwritten, the deleted resource back (a PUT to an id
    # deleted on the server), the stray one deleted; --verify finds no difference.
    system = f"https://edited.example/{uuid.uuid4().hex}"
    base = hapi_server.base_url
    outbox = str(tmp_path / "outbox")
    bundle = convert(tmp_path, "v0", CASE, system)
    assert run("push", str(tmp_path / "v0.json"), "--server", base, "--outbox", outbox).exit_code == 0
    conditions = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    edited = {**patient, "gender": "unknown" if patient.get("gender") != "unknown" else "other"}
    edited["identifier"] = [{**edited["identifier"][0]}]
    call("PUT", f"{base}/Patient/{patient['id']}", edited)
    call("DELETE", f"{base}/Condition/{conditions[-1]['id']}")
    stray = f"stray-{uuid.uuid4().hex[:12]}"
    call("PUT", f"{base}/Observation/{stray}", {
        "resourceType": "Observation", "id": stray, "status": "final", "code": {"text": "a note"},
        "meta": {"tag": [{"system": system, "code": "yu-2024-case-1"}]},
    })  # fmt: skip
    result = run("push", str(tmp_path / "v0.json"), "--server", base, "--outbox", outbox, "--verify")
    assert result.exit_code == 0, result.output
    assert f"Observation/{stray}" in result.output  # said as deleted
    assert held(base, system) == ids(bundle)
