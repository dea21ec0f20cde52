"""An independent reader of the NDJSON output: the README's DuckDB queries answer what the case files say."""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.terminology import load_terminology

duckdb = pytest.importorskip("duckdb", reason="duckdb is a test dependency: pip install -e '.[test]'")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from synthetic import write_cases  # noqa: E402

SCALP_CODES = {"41695006", "43067004"}  # SNOMED CT: scalp structure; skin structure of scalp
MARKER_TEXT = {"er": "estrogen receptor", "pr": "progesterone receptor", "her2": "her2"}


def readme_queries() -> dict[str, str]:
    """The SQL blocks of the README, by the name in the comment above each."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = dict(re.findall(r"<!-- duckdb-query: (\w+) -->\n```sql\n(.*?)```", text, flags=re.S))
    assert set(found) == {"scalp", "markers", "dangling"}, sorted(found)
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The examples and 150 synthetic cases, converted to bulk/ in a fresh directory."""
    root = tmp_path_factory.mktemp("duckdb")
    cases = root / "cases"
    cases.mkdir()
    for example in (REPO / "examples").glob("*.yaml"):
        shutil.copy(example, cases / example.name)
    write_cases(cases / "synthetic", 150, seed=11)
    result = CliRunner().invoke(
        main, ["convert", "-q", str(cases), "--format", "ndjson", "-o", str(root / "bulk")]
    )
    assert result.exit_code == 0, result.output
    return root


def case_files(root: Path) -> list[dict]:
    """The case files as plain data, read without fhir-adapter (YAML is a superset of JSON)."""
    files = sorted(p for p in (root / "cases").rglob("*") if p.suffix in (".yaml", ".json"))
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in files]


def run(workdir: Path, sql: str, monkeypatch) -> list[tuple]:
    monkeypatch.chdir(workdir)
    return duckdb.connect().sql(sql).fetchall()


def test_scalp_metastases(workdir, monkeypatch):
    terminology = load_terminology()
    scalp_terms = {
        term
        for term, concept in terminology.domains["body_sites"].items()
        if any(c.code in SCALP_CODES for c in concept.codings)
    }
    assert {"scalp", "skin of scalp"} <= scalp_terms
    expected = sorted(
        c["case"]["id"]
        for c in case_files(workdir)
        if any(str(m.get("site", "")).strip().lower() in scalp_terms for m in c.get("metastases") or [])
    )
    assert "scalp-nodule-56f" in expected and len(expected) > 3
    rows = run(workdir, readme_queries()["scalp"], monkeypatch)
    assert [r[0] for r in rows] == expected


def test_markers_per_result(workdir, monkeypatch):
    expected = Counter()
    for case in case_files(workdir):
        for primary in case.get("primary_cancers") or []:
            for field, result in (primary.get("receptors") or {}).items():
                if result is not None:
                    expected[(MARKER_TEXT[field], str(result))] += 1
        # Markers given one by one, on a primary or a metastasis; one with only a number has no
        # coded result (its value is a quantity).
        for item in [*(case.get("primary_cancers") or []), *(case.get("metastases") or [])]:
            for marker in item.get("markers") or []:
                result = marker.get("result")
                expected[(marker["name"], None if result is None else str(result))] += 1
    assert sum(expected.values()) > 100
    rows = run(workdir, readme_queries()["markers"], monkeypatch)
    assert {(marker, result): n for marker, result, n in rows} == dict(expected)


def test_no_subject_reference_dangles(workdir, monkeypatch):
    query = readme_queries()["dangling"]
    assert run(workdir, query, monkeypatch) == []
    subjects = run(
        workdir,
        "SELECT count(*) FROM read_ndjson_objects('bulk/*.ndjson') r WHERE r.json->>'$.subject.reference' IS NOT NULL",
        monkeypatch,
    )[0][0]
    assert subjects > 1000
    # The check can fail: a line whose subject is no Patient of the output is found.
    broken = workdir / "broken"
    shutil.copytree(workdir / "bulk", broken / "bulk")
    with open(broken / "bulk" / "Procedure.ndjson", "a", encoding="utf-8") as fh:
        fh.write(
            '{"resourceType":"Procedure","id":"x1","status":"completed","subject":{"reference":"Patient/nobody"}}\n'
        )
    assert [row[1:] for row in run(broken, query, monkeypatch)] == [("x1", "Patient/nobody")]
