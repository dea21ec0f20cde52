"""A case corrected again and again, pushed after each correction to the real servers the suite
starts (sekmet-fhir and HAPI FHIR): after each push the server holds exactly the current case,
counted per type by the case's tag and per identifier, and ids stay where the fact did not change."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml"
CASE = EXAMPLE.read_text()
BONE = "  - id: bone\n    site: bone\n    age: 45\n    primary: breast\n"
SCALP = "  - id: scalp\n    site: scalp\n    age: 45\n    primary: breast\n"
LIVER = "  - site: liver\n    primary: breast\n"


def versions() -> list[tuple[str, str]]:
    """(what changed, the case file) for each correction, in the order they are pushed."""
    no_bone = CASE.replace(BONE, "").replace("treats: [breast, scalp, bone]", "treats: [breast, scalp]")
    left = CASE.replace(
        "    histology: invasive ductal carcinoma\n",
        "    laterality: left\n    histology: invasive ductal carcinoma\n",
    )
    two_primaries = left.replace(
        "metastases:\n",
        "  - id: lung\n    site: lung\n    histology: adenocarcinoma\n\nmetastases:\n",
    )
    reordered = two_primaries.replace(SCALP + BONE, BONE + SCALP)
    liver_twice = reordered.replace(BONE + SCALP, BONE + SCALP + LIVER + LIVER)
    assert len({no_bone, left, two_primaries, reordered, liver_twice, CASE}) == 6
    return [
        ("first push", CASE),
        ("a metastasis struck out", no_bone),
        ("the metastasis back (a PUT to an id deleted before)", CASE),
        ("a side given to the primary", left),
        ("a second primary", two_primaries),
        ("the metastases reordered", reordered),
        ("two metastases at one site, without ids", liver_twice),
        ("back to the first version", CASE),
    ]


def convert(tmp_path: Path, name: str, text: str, system: str) -> Path:
    case = tmp_path / f"{name}.yaml"
    case.write_text(text)
    out = tmp_path / f"{name}.json"
    result = CliRunner().invoke(main, ["convert", "-q", str(case), "-o", str(out), "--id-system", system])
    assert result.exit_code == 0, result.output
    return out


def searched(base_url: str, rtype: str, params: dict[str, str]) -> list[dict]:
    """Every resource a search finds, page by page, past any cache."""
    found = []
    url: str | None = f"{base_url}/{rtype}?{urllib.parse.urlencode({**params, '_count': '500'})}"
    while url:
        request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            page = json.loads(answer.read())
        found += [e["resource"] for e in page.get("entry") or []]
        url = next((ln["url"] for ln in page.get("link") or [] if ln["relation"] == "next"), None)
    return found


TYPES = ("Patient", "Condition", "Observation", "MedicationStatement", "DocumentReference", "Provenance",
         "BodyStructure", "Procedure", "Specimen", "ClinicalImpression")  # fmt: skip


@pytest.mark.integration
def test_a_case_corrected_again_and_again_lands_exactly_each_time(server, tmp_path):
    system = f"https://corrections.example/{uuid.uuid4().hex}"  # this run's own case
    outbox = tmp_path / "outbox"
    ids_of: dict[str, set[str]] = {}
    for n, (what, text) in enumerate(versions()):
        bundle = json.loads(convert(tmp_path, f"v{n}", text, system).read_text())
        sent = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
        assert len(sent) == len(bundle["entry"]), f"{what}: one id given twice in the bundle"
        result = CliRunner().invoke(
            main, ["push", str(tmp_path / f"v{n}.json"), "--server", server.base_url, "--outbox", str(outbox)]
        )
        assert result.exit_code == 0, f"{what}: {result.output}"
        held = {
            f"{rtype}/{r['id']}"
            for rtype in TYPES
            for r in searched(server.base_url, rtype, {"_tag": f"{system}|yu-2024-case-1"})
        }
        assert held == sent, f"{what}: the server holds {sorted(held ^ sent)} apart from the case"
        patients = searched(server.base_url, "Patient", {"identifier": f"{system}|yu-2024-case-1"})
        assert len(patients) == 1, f"{what}: {len(patients)} patients with the case's identifier"
        ids_of[what] = sent
    # A reorder moves no fact to another id: the same ids as before it.
    assert ids_of["the metastases reordered"] == ids_of["a second primary"]
    assert ids_of["back to the first version"] == ids_of["first push"]


@pytest.mark.integration
def test_push_and_push_bulk_take_turns_and_the_server_holds_the_last_on_hapi(hapi_server, tmp_path):
    # A case pushed, corrected and imported in bulk, then pushed as first written, then imported
    # again: each time the server holds exactly what was sent last, never the two versions mixed.
    system = f"https://push-and-bulk.example/{uuid.uuid4().hex}"
    no_bone = versions()[1][1]
    outbox = str(tmp_path / "outbox")
    steps = [("push", CASE), ("bulk", no_bone), ("push", CASE), ("bulk", no_bone), ("bulk", no_bone)]
    for n, (how, text) in enumerate(steps):
        bundle = json.loads(convert(tmp_path, f"v{n}", text, system).read_text())
        sent = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
        if how == "push":
            args = ["push", str(tmp_path / f"v{n}.json")]
        else:
            case = tmp_path / f"v{n}.yaml"
            out = tmp_path / f"v{n}-ndjson"
            made = CliRunner().invoke(
                main,
                ["convert", "-q", str(case), "--format", "ndjson", "-o", str(out), "--id-system", system],
            )
            assert made.exit_code == 0, made.output
            args = ["push", "--bulk", str(out), "--poll-max-wait", "1", "--bulk-timeout", "600"]
        result = CliRunner().invoke(main, [*args, "--server", hapi_server.base_url, "--outbox", outbox])
        assert result.exit_code == 0, f"step {n} ({how}): {result.output}"
        held = {
            f"{rtype}/{r['id']}"
            for rtype in TYPES
            for r in searched(hapi_server.base_url, rtype, {"_tag": f"{system}|yu-2024-case-1"})
        }
        assert held == sent, f"step {n} ({how}): the server holds {sorted(held ^ sent)} apart from the case"
        if n == 4:
            assert "deleted" not in result.output  # the same import again removes nothing


@pytest.mark.integration
def test_a_correction_deleting_what_is_already_gone_lands(server, tmp_path):
    # A correction deletes what the last push of the case sent and the correction no longer has
    # (from the outbox's sent/ copy, besides the search). When the server no longer holds it (it
    # was deleted there meanwhile), the DELETE of the transaction finds nothing: the correction
    # must still land, and the server hold exactly the corrected case.
    system = f"https://already-gone.example/{uuid.uuid4().hex}"
    outbox = str(tmp_path / "outbox")
    first = json.loads(convert(tmp_path, "first", CASE, system).read_text())
    corrected = json.loads(convert(tmp_path, "corrected", versions()[1][1], system).read_text())
    args = ["--server", server.base_url, "--outbox", outbox]
    assert CliRunner().invoke(main, ["push", str(tmp_path / "first.json"), *args]).exit_code == 0
    ids = [
        {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in b["entry"]}
        for b in (first, corrected)
    ]
    gone = sorted(ids[0] - ids[1])
    assert gone
    deleted = 0
    for ref in gone:  # deleted on the server by someone else, where nothing refers to it
        request = urllib.request.Request(f"{server.base_url}/{ref}", method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=60):
                deleted += 1
        except urllib.error.HTTPError as exc:
            assert exc.code == 409, exc  # HAPI FHIR: still referred to by a resource the case keeps
    assert deleted
    result = CliRunner().invoke(main, ["push", str(tmp_path / "corrected.json"), *args])
    assert result.exit_code == 0, result.output
    held = {
        f"{rtype}/{r['id']}"
        for rtype in TYPES
        for r in searched(server.base_url, rtype, {"_tag": f"{system}|yu-2024-case-1"})
    }
    assert held == ids[1]
