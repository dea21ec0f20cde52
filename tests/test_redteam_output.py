"""Attacks on what the output pages show and where they are written: odd case ids, odd characters in text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from fhir_adapter.export.pages import write_server_summaries
from fhir_adapter.export.sources import PatientFhir
from fhir_adapter.summary import write_summaries

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def patient_bundle(case_id: str) -> dict:
    """A collection Bundle of one Patient, named by `case_id` as a bundle from elsewhere may be."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"value": case_id},
        "entry": [{"resource": {"resourceType": "Patient", "id": "p1", "gender": "female"}}],
    }


def test_case_ids_that_become_one_file_name_get_a_page_each_and_never_replace_the_index(
    terminology, tmp_path
):
    # 'a/b', 'a b' and 'a_b' are one name once a file name's characters are replaced, and a case
    # file may call its case 'index'; each case must keep its own page and the index its file.
    inputs = tmp_path / "in"
    inputs.mkdir()
    ids = ["a/b", "a b", "a_b", "A_B"]
    for n, case_id in enumerate(ids):
        (inputs / f"b{n}.json").write_text(json.dumps(patient_bundle(case_id)))
    case = yaml.safe_load((EXAMPLES / "yu-2024-case-1.yaml").read_text())
    case["case"]["id"] = "index"
    (inputs / "index-case.yaml").write_text(yaml.safe_dump(case))
    out = tmp_path / "out"
    run = write_summaries([str(inputs)], out, terminology)
    assert not run.errors and not run.skipped
    names = [p.name for p in run.pages]
    assert len(names) == 5 and len({n.lower() for n in names}) == 5, names
    assert "index.html" not in names and run.index == out / "index.html"
    index = run.index.read_text()
    assert "<h1>Case summaries</h1>" in index
    links = dict(re.findall(r'data-case="([^"]*)"><td><a href="([^"]*)"', index))
    assert sorted(links) == sorted([*ids, "index"]) and len(set(links.values())) == 5
    for case_id, href in links.items():
        page = (out / href).read_text()
        assert f"<h1>Case {case_id}</h1>" in page
    # An id that needs no change keeps its plain name.
    assert links["a_b"] == "a_b.html"


def test_two_patients_of_a_server_with_one_identifier_get_a_page_each(terminology, tmp_path):
    # A server may hold two patients with one identifier value (or one that names no file): the
    # second page must not be written over the first while the index lists both.
    patients = [
        PatientFhir(
            f"server Patient/{n}",
            [
                {
                    "resourceType": "Patient",
                    "id": str(n),
                    "identifier": [{"system": "urn:example", "value": "../case 7"}],
                }
            ],
        )
        for n in (1, 2)
    ]
    run = write_server_summaries(patients, tmp_path, terminology)
    assert len({p.name for p in run.pages}) == 2
    hrefs = re.findall(r'<td><a href="([^"]*)"', run.index.read_text())
    assert sorted(hrefs) == sorted(p.name for p in run.pages)
    assert all(p.parent == tmp_path for p in run.pages)
