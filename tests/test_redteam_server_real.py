"""Attacks on what lands on a real server (sekmet-fhir and HAPI FHIR on 127.0.0.1, behind the fault
proxy where a fault is needed): the server's own state is counted by search after each attack.
"""

from __future__ import annotations

from pathlib import Path

import requests
from click.testing import CliRunner
from support.fault_proxy import FaultProxy

from fhir_adapter.cli import main

NO_CACHE = {"Cache-Control": "no-cache"}
SYSTEM = "urn:fhir-adapter:case-id"
CASE = (
    "case: {{id: {case_id}}}\n"
    "patient: {{sex: female}}\n"
    "primary_cancers:\n  - {{id: breast, site: breast, histology: invasive ductal carcinoma, date: 2015}}\n"
    "{metastases}"
)
METASTASES = "metastases:\n  - {id: met, site: bone, date: 2017}\n  - {id: met2, site: liver, date: 2018}\n"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def tagged(base_url: str, resource_type: str, case_id: str) -> list[str]:
    bundle = requests.get(
        f"{base_url}/{resource_type}",
        params={"_tag": f"{SYSTEM}|{case_id}", "_count": "500"},
        headers=NO_CACHE,
        timeout=10,
    ).json()
    return sorted(e["resource"]["id"] for e in bundle.get("entry") or [])


def test_a_correction_whose_answer_is_lost_after_commit_ends_sent_and_exact(server, tmp_path: Path):
    # The corrected case drops both metastases. The server commits the transaction (the two
    # deletes with it), the answer is lost, and the client sends the same transaction again: the
    # deletes now find nothing to delete, which both servers answer as done.
    case_id = f"lost-correction-{server.kind}"
    case = tmp_path / "c.yaml"
    case.write_text(CASE.format(case_id=case_id, metastases=METASTASES))
    outbox = tmp_path / "ob"
    result = run("convert", "-q", str(case), "--post", "--server", server.base_url, "--outbox", str(outbox))
    assert result.exit_code == 0, result.stderr
    assert len(tagged(server.base_url, "Condition", case_id)) == 3

    case.write_text(CASE.format(case_id=case_id, metastases=""))
    with FaultProxy(server.base_url) as proxy:
        proxy.lose_response_next(method="POST")
        result = run("convert", str(case), "--post", "--server", proxy.base_url, "--outbox", str(outbox))
        actions = [r.action for r in proxy.requests if r.method == "POST"]
    assert actions[:2] == ["lose_response", "forward"], actions
    assert result.exit_code == 0, result.stderr
    assert "2 deleted, no longer in the case" in result.stderr
    assert len(tagged(server.base_url, "Condition", case_id)) == 1
    assert list((outbox / "pending").glob("*.json")) == []
