"""Outputs attacked a second time: what other tools' FHIR gives back, de-identified case files, pages.

Each test compares the output fact by fact with its input, for an input shape the first tests
did not try.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from fhir_adapter.cli import main

PRIMARY_PROFILE = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"


def run(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def patient(**extra: object) -> dict:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:other-tool:mrn", "value": "A-1"}],
        "gender": "female",
        **extra,
    }


def primary(**extra: object) -> dict:
    """A breast primary as another tool writes it (its mCODE profile, no role identifier of ours)."""
    return {
        "resourceType": "Condition",
        "id": "c1",
        "meta": {"profile": [PRIMARY_PROFILE]},
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "254837009"}],
            "text": "breast cancer",
        },
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2018-03-16",
        **extra,
    }


def export(tmp_path: Path, resources: list[dict]) -> tuple[dict, list[str], str]:
    """The case read from resources as NDJSON, the lines listing what it left out, and the file's text."""
    source = tmp_path / "in.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    out = tmp_path / "cases"
    result = run("export", source, "-o", out)
    assert result.exit_code == 0, result.stderr
    (path,) = sorted(out.glob("*.yaml"))
    unplaced = [
        line.split("not read into the case: ", 1)[1]
        for line in result.stderr.splitlines()
        if "not read into the case: " in line
    ]
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text), unplaced, text


def test_a_death_with_a_time_and_zone_keeps_its_date_as_written(tmp_path):
    # FHIR dateTime with a time must have a zone; the day is the one written where it happened,
    # never moved to UTC (23:30 at -05:00 is 04:30 the next day in UTC).
    case, unplaced, _ = export(tmp_path, [patient(deceasedDateTime="2019-03-04T23:30:00-05:00"), primary()])
    assert case["patient"]["vital_status"] == {"deceased": True, "date": "2019-03-04"}
    assert not [line for line in unplaced if "deceasedDateTime" in line]
