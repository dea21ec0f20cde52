"""The run's accounting (engine.Ledger): parts of a run merged in any order give the ledger of the
whole run, as Spark's partitions need; and a case id used twice is written as the failure it is
counted as."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fhir_adapter import engine
from fhir_adapter.batch import Result
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE
from fhir_adapter.tally import CASES_KEPT

TEA = ("mappings/medications.yaml", "herbal tea", "not in the map")


def results() -> list[Result]:
    """A run of 60 results: every case keeps 'herbal tea' as text in one of three fields (the
    spelling changes after the first case); every seventh case fails, with its own exit code."""
    out = []
    for n in range(60):
        if n % 7 == 3:
            out.append(Result(f"case-{n}.json", error=f"case-{n}.json: bad", exit_code=3 + n % 2))
            continue
        spelling = "Herbal Tea" if n == 0 else "herbal tea"
        fields = [f"medications[{n % 3}].name"] + (["medications[9].name"] if n % 10 == 5 else [])
        uncoded = [(TEA[0], spelling, f, TEA[2]) for f in fields]
        out.append(Result(f"case-{n}.json", case_id=f"case-{n}", uncoded=uncoded, warnings=["w"]))
    return out


def test_parts_merged_out_of_order_give_the_whole_run():
    whole = engine.Ledger()
    for ordinal, result in enumerate(results()):
        whole.add(result, ordinal)
    # Three interleaved parts (as Spark's partitions over files of different sizes), carried as
    # JSON and merged last part first.
    parts = [engine.Ledger() for _ in range(3)]
    for ordinal, result in enumerate(results()):
        parts[ordinal % 3].add(result, ordinal)
    merged = engine.Ledger()
    for part in reversed(parts):
        merged.merge(engine.Ledger.from_json(part.to_json()))
    a, b = whole.close(1.0), merged.close(1.0)
    assert (b.cases, b.failed, b.warnings) == (a.cases, a.failed, a.warnings) == (60, 9, 51 + 51 + 5)
    assert [f.source for f in b.failures] == [f.source for f in a.failures]
    assert b.first_failure == a.first_failure == 4  # case-3, not case-10 (merged before it, exit 3)
    (entry,) = b.text_only_report
    assert entry["term"] == "Herbal Tea"  # as the run's first case wrote it
    assert entry["cases"] == [f"case-{n}" for n in range(60) if n % 7 != 3][:CASES_KEPT]
    assert entry["fields"] == [f"medications[{i}].name" for i in (0, 1, 2, 9)]
    assert b.text_only_report == a.text_only_report and b.text_only == a.text_only


def test_parts_without_positions_merge_as_later_parts():
    """Without positions (all 0) a merged part counts as coming after what is already there."""
    whole, merged = engine.Ledger(), engine.Ledger()
    for result in results():
        whole.add(result)
    for part in (results()[:25], results()[25:]):
        ledger = engine.Ledger()
        for result in part:
            ledger.add(result)
        merged.merge(engine.Ledger.from_json(ledger.to_json()))
    a, b = whole.close(1.0), merged.close(1.0)
    assert [f.source for f in b.failures] == [f.source for f in a.failures]
    assert b.text_only_report == a.text_only_report and b.first_failure == a.first_failure


def test_a_case_id_used_twice_is_written_as_the_failure_it_is_counted_as(tmp_path):
    (tmp_path / "in").mkdir()
    case = {"case": {"id": "d1"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}
    for name in ("a.json", "b.json"):
        (tmp_path / "in" / name).write_text(json.dumps(case))
    out, errors = tmp_path / "out", tmp_path / "errors"
    result = CliRunner().invoke(
        main,
        [
            "convert",
            "-q",
            str(tmp_path / "in"),
            "--format",
            "ndjson",
            "-o",
            str(out),
            "--errors-to",
            str(errors),
        ],
    )
    assert result.exit_code == EXIT_INVALID_CASE
    message = f"{tmp_path}/in/b.json: case id 'd1' is already used by {tmp_path}/in/a.json in this run; give each case its own case.id"
    (outcome,) = [
        json.loads(line) for line in (out / "errors" / "OperationOutcome.ndjson").read_text().splitlines()
    ]
    assert outcome["issue"] == [{"severity": "error", "code": "invalid", "diagnostics": message}]
    (error_file,) = Path(errors).iterdir()
    assert f"errors:\n  {message}\n" in error_file.read_text()
