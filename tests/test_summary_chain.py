"""The front doors fit together: draft -> convert -> summary -> push, with the draft's evidence shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter.cli import main

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

GOLD = Path(__file__).resolve().parent / "draft_gold"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_draft_convert_summary_push(tmp_path, fhir_server):
    report = tmp_path / "r.txt"
    report.write_text((GOLD / "scalp-nodule-56f.txt").read_text())
    (tmp_path / "d").mkdir()
    case = tmp_path / "d" / "case.yaml"
    result = run("draft", str(report), "-o", str(case))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "case.evidence.json").is_file()  # the draft's own sidecar

    # The summary reads the draft's sidecar: each fact's sentence, its words marked.
    result = run("summary", str(case), "-o", str(tmp_path / "s"))
    assert result.exit_code == 0, result.output
    (page,) = [p for p in (tmp_path / "s").glob("*.html") if p.name != "index.html"]
    html = page.read_text()
    assert '<q class="evidence" title="patient.sex">A <mark>woman</mark> aged 56' in html
    assert re.search(r'title="metastases\[0\]\.site">[^<]*<mark>scalp</mark>', html)

    result = run("convert", "-q", str(case), "-o", f"{tmp_path / 'out'}/")
    assert result.exit_code == 0, result.output
    (bundle,) = (tmp_path / "out").glob("*.json")
    # A bundle made from the draft gives the same page, without the evidence.
    result = run("summary", str(bundle), "-o", str(tmp_path / "s2"))
    assert result.exit_code == 0, result.output

    push_report = tmp_path / "push.json"
    result = run(
        "push", str(bundle), "--server", fhir_server.base_url, "--outbox", str(tmp_path / "outbox"),
        "--report", str(push_report), "--verify",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sent = json.loads(push_report.read_text())
    assert sent["summary"]["sent"] == 1
    assert len(sent["cases"][0]["resources"]) == len(json.loads(bundle.read_text())["entry"])


def test_a_draft_sidecar_for_another_case_is_an_error_naming_it(terminology, tmp_path):
    from fhir_adapter.summary import evidence_path, summaries_from

    case = tmp_path / "case.yaml"
    case.write_text("case: {id: mine}\npatient: {sex: female}\nprimary_cancers: [{site: breast}]\n")
    evidence_path(str(case)).write_text(
        json.dumps({"format": "fhir-adapter draft evidence 1", "cases": [{"case_id": "a"}, {"case_id": "b"}]})
    )
    (loaded,) = summaries_from([str(case)], terminology)
    assert "no case 'mine' in this draft evidence file (it has a, b)" in str(loaded.error)
