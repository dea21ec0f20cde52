"""Review of the red-team fixes: the same defect one step away from the one each fix handled."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from support.hostile_peer import HostilePeer, Reply

from fhir_adapter.cli import main
from fhir_adapter.terminology import code_shape, load_map_text

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "examples" / "yu-2024-case-1.bundle.json"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def _resources() -> list[dict]:
    return [e["resource"] for e in orjson.loads(BUNDLE.read_bytes())["entry"]]


def _searchset(resources: list[dict], outcome: dict | None = None) -> bytes:
    entries = [{"resource": r, "search": {"mode": "match"}} for r in resources]
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    return json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries}).encode()


# The map loader's code-shape check refused valid LOINC codes: LOINC Groups are LG codes
# (LG7967-5, Glucose|MCnc|Pt|ANYBldSerPlas, loinc.org/groups) in the system http://loinc.org.


@pytest.mark.parametrize("code", ["LG7967-5", "LP6960-1", "LA6576-8", "LL4049-4", "85337-4"])
def test_every_kind_of_loinc_code_passes_the_shape_check(code):
    assert code_shape("http://loinc.org", code) is None
    text = (
        "domain: tests\nentries:\n  - terms: [a term]\n    codings:\n      - system: http://loinc.org\n"
        f"        code: {code}\n        display: a display\n        verified: loinc.org\n"
    )
    _, index = load_map_text("tests.yaml", text)
    assert index["a term"].codings[0].code == code


def test_a_loinc_shaped_typo_is_still_refused():
    assert code_shape("http://loinc.org", "LX7967-5") is not None
    assert code_shape("http://loinc.org", "7967") is not None


# Export: a search's OperationOutcome is read the way every other answer's is (parse_issues).


def _peer(resources: list[dict], outcome: dict):
    def answer(request):
        if "$everything" in request.path:
            return Reply(body=_searchset(resources, outcome))
        return Reply(body=_searchset([]))

    return HostilePeer(answer)


@pytest.mark.parametrize(
    "issue",
    [
        # details given as text, not a CodeableConcept: was an AttributeError, a traceback (exit 1)
        [{"severity": "error", "code": "too-costly", "details": "results cut at 3 of 9"}],
        # one issue not in a list: its keys were iterated, and the error passed unseen (exit 0)
        {"severity": "error", "code": "too-costly", "diagnostics": "results cut at 3 of 9"},
        # severity in capitals: passed as a warning
        [{"severity": "ERROR", "code": "too-costly", "diagnostics": "results cut at 3 of 9"}],
    ],
)
def test_an_error_outcome_in_any_shape_stops_the_patient_named(issue):
    resources = _resources()
    patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    with _peer(resources, {"resourceType": "OperationOutcome", "issue": issue}) as peer:
        result = run("export", "--server", peer.base_url, "--patient", patient_id)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 6, result.stderr
    assert "holds an OperationOutcome error (too-costly" in result.stderr
    assert result.stdout == ""


def test_an_error_outcome_in_the_patients_search_of_all_patients_is_not_passed_over():
    # export --all-patients lists the patients with one search: an error there (a search cut
    # short) left the patients it did not list out of the export, and the run said it was whole.
    resources = _resources()
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    system = next(i["system"] for i in patient["identifier"])
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "too-costly", "diagnostics": "listed 1 of 40"}],
    }

    def answer(request):
        if request.path.split("?")[0].endswith("/Patient"):
            return Reply(body=_searchset([patient], outcome))
        if "$everything" in request.path:
            return Reply(body=_searchset(resources))
        return Reply(body=_searchset([]))

    with HostilePeer(answer) as peer:
        result = run("export", "--server", peer.base_url, "--all-patients", "--id-system", system)
    assert result.exit_code == 6, result.stderr
    assert "holds an OperationOutcome error (too-costly listed 1 of 40)" in result.stderr


# Inputs: a linked table looks for the table that reads it among the inputs, once a run.


def test_the_inputs_are_expanded_once_however_many_linked_tables_look_for_their_cases_table(
    tmp_path, monkeypatch
):
    # Each linked table expanded every input again (every glob, a stat of every file it matched):
    # `data/*.csv` over n sets made n globs of the whole directory, time growing with its square.
    from fhir_adapter import inputs

    sets = 30
    for k in range(sets):
        (tmp_path / f"s{k}.cases.csv").write_text(f"case_id,sex\nc{k},female\n", encoding="utf-8")
        (tmp_path / f"s{k}.primaries.csv").write_text(f"case_id,site\nc{k},breast\n", encoding="utf-8")
    calls = []
    expand = inputs._matches
    monkeypatch.setattr(inputs, "_matches", lambda item: calls.append(item) or expand(item))

    sources = list(inputs.iter_sources([str(tmp_path / "*.csv")]))
    assert sorted(s.doc.data["case"]["id"] for s in sources) == sorted(f"c{k}" for k in range(sets))
    assert len(calls) <= 2, len(calls)

    # A linked table whose cases table is not given is still named.
    calls.clear()
    (alone,) = inputs.iter_sources([str(tmp_path / "s0.primaries.csv")])
    assert "its rows are read with" in alone.error and "s0.cases.csv" in alone.error


def test_patients_search_pages_that_list_fewer_than_their_total_are_not_taken_as_all():
    # As push's tag search already does: pages that end before the total they give left patients
    # out of `export --all-patients` without a word.
    resources = _resources()
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    system = next(i["system"] for i in patient["identifier"])

    def answer(request):
        if request.path.split("?")[0].endswith("/Patient"):
            page = json.loads(_searchset([patient]))
            page["total"] = 3
            return Reply(body=json.dumps(page).encode())
        if "$everything" in request.path:
            return Reply(body=_searchset(resources))
        return Reply(body=_searchset([]))

    with HostilePeer(answer) as peer:
        result = run("export", "--server", peer.base_url, "--all-patients", "--id-system", system)
    assert result.exit_code == 6, result.stderr
    assert "the server says 3 Patient(s) match, but its pages list 1" in result.stderr


def test_a_server_answering_for_one_patient_with_another_s_patient_is_a_server_fault_exit_6():
    # The answer held Patient/someone-else only: it was read as a case with no Patient and exit 3,
    # which README "Exit codes" keeps for invalid case files, while the case file was fine.
    resources = _resources()
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    other = {**patient, "id": "someone-else"}
    rest = [r for r in resources if r is not patient]
    with _peer([other, *rest], {"resourceType": "OperationOutcome", "issue": []}) as peer:
        exported = run("export", "--server", peer.base_url, "--patient", patient["id"])
        checked = run("verify", BUNDLE, "--patient", patient["id"], "--server", peer.base_url)
    for result in (exported, checked):
        assert result.exit_code == 6, result.stderr
        assert f"holds no Patient/{patient['id']} but Patient/someone-else" in result.stderr


def test_a_patient_s_pages_that_list_fewer_resources_than_their_total_fail_the_patient():
    # The same shortfall in $everything: the resources not listed were missing from the case.
    resources = _resources()
    patient = next(r for r in resources if r["resourceType"] == "Patient")

    def answer(request):
        if "$everything" in request.path:
            page = json.loads(_searchset(resources))
            page["total"] = len(resources) + 4
            return Reply(body=json.dumps(page).encode())
        return Reply(body=_searchset([]))

    with HostilePeer(answer) as peer:
        result = run("export", "--server", peer.base_url, "--patient", patient["id"])
    assert result.exit_code == 6, result.stderr
    assert f"the server says {len(resources) + 4} resource(s) match, but its pages list {len(resources)}" in (
        result.stderr
    )
    assert result.stdout == ""


def test_a_401_when_reading_back_names_the_fix_without_telling_to_send():
    # The credentials hint said 'then send again' to export and verify, which send nothing.
    def answer(request):
        return Reply(status=401, headers={"WWW-Authenticate": 'Bearer realm="fhir"'}, body=b"")

    with HostilePeer(answer) as peer:
        result = run("export", "--server", peer.base_url, "--patient", "p1")
    assert result.exit_code == 5, result.stderr
    assert 'WWW-Authenticate: Bearer realm="fhir"' in result.stderr
    assert "FHIR_ADAPTER_TOKEN" in result.stderr
    assert "send again" not in result.stderr
    assert "then run again" in result.stderr


# User maps: a hidden file beside the maps (a linter's or an editor's) is no map.


@pytest.mark.parametrize("hidden", [".yamllint.yml", ".yamllint.yaml", ".pre-commit-config.YAML"])
def test_a_hidden_yaml_file_in_the_mappings_directory_is_not_read_as_a_map(tmp_path, hidden):
    from fhir_adapter.terminology import load_terminology

    shipped = ROOT / "mappings" / "laterality.yaml"
    (tmp_path / "laterality.yaml").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / hidden).write_text("extends: default\n", encoding="utf-8")
    terminology = load_terminology(tmp_path)  # stopped the run: 'rename it', or 'unknown top-level key'
    assert terminology.files["laterality"] == str(tmp_path / "laterality.yaml")
