"""push --bulk of a corrected case on the real HAPI FHIR the suite starts: the server ends with
exactly the corrected case (what the correction dropped deleted), and a second import changes nothing."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml"


def converted(tmp_path: Path, name: str, text: str, system: str) -> Path:
    case = tmp_path / f"{name}.yaml"
    case.write_text(text)
    out = tmp_path / name
    result = CliRunner().invoke(
        main, ["convert", "-q", str(case), "--format", "ndjson", "-o", str(out), "--id-system", system]
    )
    assert result.exit_code == 0, result.output
    return out


def held(directory: Path) -> set[str]:
    return {
        f"{r['resourceType']}/{r['id']}"
        for f in directory.glob("*.ndjson")
        for r in map(json.loads, f.read_text().splitlines())
    }


def on_server(base_url: str, system: str, types: set[str]) -> set[str]:
    """Type/id of every resource of these types carrying the case's tag, read page by page."""
    found = set()
    for rtype in types:
        query = urllib.parse.urlencode({"_tag": f"{system}|yu-2024-case-1", "_count": "500"})
        url: str | None = f"{base_url}/{rtype}?{query}"
        while url:
            request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
            with urllib.request.urlopen(request, timeout=60) as answer:
                page = json.loads(answer.read())
            found |= {f"{rtype}/{e['resource']['id']}" for e in page.get("entry") or []}
            url = next((ln["url"] for ln in page.get("link") or [] if ln["relation"] == "next"), None)
    return found


@pytest.mark.integration
def test_a_corrected_case_imported_in_bulk_replaces_the_old_one_on_hapi(hapi_server, tmp_path):
    system = f"https://bulk-correction.example/{uuid.uuid4().hex}"  # this run's own cases
    text = EXAMPLE.read_text()
    corrected = text.replace("  - id: bone\n    site: bone\n    age: 45\n    primary: breast\n", "")
    corrected = corrected.replace("treats: [breast, scalp, bone]", "treats: [breast, scalp]")
    first = converted(tmp_path, "first", text, system)
    fixed = converted(tmp_path, "corrected", corrected, system)
    types = {ref.split("/")[0] for ref in held(first)}
    push = [
        "push",
        "--bulk",
        "--server",
        hapi_server.base_url,
        "--poll-max-wait",
        "1",
        "--bulk-timeout",
        "600",
    ]
    result = CliRunner().invoke(main, [*push, str(first)])
    assert result.exit_code == 0, result.output
    assert on_server(hapi_server.base_url, system, types) == held(first)
    result = CliRunner().invoke(main, [*push, str(fixed)])
    assert result.exit_code == 0, result.output
    dropped = held(first) - held(fixed)
    assert dropped and f"deleted {len(dropped)} resource(s)" in result.output
    assert on_server(hapi_server.base_url, system, types) == held(fixed)
    again = CliRunner().invoke(main, [*push, str(fixed)])
    assert again.exit_code == 0 and "deleted" not in again.output
    assert on_server(hapi_server.base_url, system, types) == held(fixed)
