"""A real consumer of our Bulk NDJSON: Pathling encodes `convert --format ndjson` output and answers the
README's questions with FHIRPath, and the answers are what the case files say.

Marked `spark` (Pathling starts a Spark JVM), so it runs with `pytest -m spark`, as .ci/run does.
Pathling runs in its own virtualenv (tests/support/pathling_questions.py says why); without it the
tests skip, unless FHIR_ADAPTER_REQUIRE_PATHLING=1 (CI).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support.pathling_questions import expected_answers, pathling_python, run_questions

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE
from fhir_adapter.terminology import load_terminology

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from synthetic import write_cases  # noqa: E402

SYNTHETIC = 120
# Cases whose resources (all but the Patient) are taken out of a copy of the output: the answers
# read from that copy must lose them, so the checks below can fail.
DROPPED = ("framarino-2019-orbit", "yu-2024-case-1")


def case_files(cases: Path) -> list[dict]:
    """The case files as plain data, read without fhir-adapter (YAML is a superset of JSON)."""
    files = sorted(p for p in cases.rglob("*") if p.suffix in (".yaml", ".json"))
    data = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in files]
    return [case for case in data if case["case"]["id"] != "broken"]


def drop_cases(bulk: Path, target: Path, case_ids: tuple[str, ...]) -> None:
    """Copy bulk/ to target/, leaving out every resource whose subject is one of the cases' patients."""
    shutil.copytree(bulk, target)
    patients = {
        json.loads(line)["id"]
        for line in (bulk / "Patient.ndjson").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["identifier"][0]["value"] in case_ids
    }
    assert len(patients) == len(case_ids)
    references = {f"Patient/{p}" for p in patients}
    for path in target.glob("*.ndjson"):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [
            line for line in lines if json.loads(line).get("subject", {}).get("reference") not in references
        ]
        path.write_text("".join(kept), encoding="utf-8")


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> dict:
    """The examples, SYNTHETIC synthetic cases and a broken case, as NDJSON; Pathling's answers."""
    python = pathling_python()  # skip (or fail in CI) before any work when Pathling is not there
    assert python
    root = tmp_path_factory.mktemp("pathling")
    cases = root / "cases"
    cases.mkdir()
    for example in (REPO / "examples").glob("*.yaml"):
        shutil.copy(example, cases / example.name)
    write_cases(cases / "synthetic", SYNTHETIC, seed=16)
    (cases / "broken.json").write_text(
        json.dumps(
            {"case": {"id": "broken"}, "patient": {"sex": "f"}, "primary_cancers": [{"site": "breast"}]}
        )
    )
    bulk = root / "bulk"
    result = CliRunner().invoke(main, ["convert", "-q", str(cases), "--format", "ndjson", "-o", str(bulk)])
    assert result.exit_code == EXIT_INVALID_CASE, result.output  # the broken case, in bulk/errors/
    assert (bulk / "manifest.json").exists() and (bulk / "errors" / "OperationOutcome.ndjson").exists()
    drop_cases(bulk, root / "dropped", DROPPED)
    found = run_questions([bulk, root / "dropped"], root)
    everything = case_files(cases)
    return {
        "got": found[str(bulk)],
        "expected": expected_answers(everything, load_terminology()),
        "got_dropped": found[str(root / "dropped")],
        "expected_dropped": expected_answers(
            [c for c in everything if c["case"]["id"] not in DROPPED], load_terminology()
        ),
    }


def test_patients_with_a_scalp_metastasis(answers):
    expected = answers["expected"]["scalp"]
    assert "scalp-nodule-56f" in expected and len(expected) > 5
    assert answers["got"]["scalp"] == expected


def test_er_positive_primaries(answers):
    expected = answers["expected"]["er_positive_primaries"]
    # framarino-2019-orbit states ER on its primary; abdulraheem-2023-scalp on the scalp metastasis only.
    assert ["framarino-2019-orbit", 1] in expected
    assert all(case_id != "abdulraheem-2023-scalp" for case_id, _ in expected)
    assert sum(n for _, n in expected) > 5
    assert answers["got"]["er_positive_primaries"] == expected


def test_drugs_per_patient(answers):
    expected = answers["expected"]["drugs"]
    assert [
        "framarino-2019-orbit",
        "epirubicin",
        "3995",
    ] in expected  # RxNorm, from mappings/medications.yaml
    assert ["yu-2024-case-1", "hormonal therapy", None] in expected  # text only: no verified code
    assert len(expected) > 300
    assert sorted(answers["got"]["drugs"], key=str) == expected


def test_the_answers_follow_the_data(answers):
    """Taking two cases' resources out of the files takes them out of every answer, and only them."""
    got, dropped = answers["got"], answers["got_dropped"]
    assert dropped == answers["expected_dropped"]
    for key in ("scalp", "er_positive_primaries", "drugs"):
        assert dropped[key] != got[key]
    assert {row[0] for row in got["drugs"]} - {row[0] for row in dropped["drugs"]} == set(DROPPED)
