"""Helpers the attack tests share: run the command line in-process, convert a case, read what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fhir_adapter.cli import main


def run(*args: str) -> tuple[int, list[str], list[str]]:
    """Exit code, error lines and warning lines of `convert`."""
    result = CliRunner().invoke(main, ["convert", *args])
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    warnings = [line for line in lines if line.startswith("warning: ")]
    return result.exit_code, errors, warnings


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def resources(bundle_path: Path, kind: str) -> list[dict]:
    bundle = json.loads(bundle_path.read_text())
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def cli(*args: str):
    """The command line run in-process with `args`; click's result (exit code, output, stderr)."""
    return CliRunner().invoke(main, list(args))


def convert_case(tmp_path: Path, name: str, text: str, *extra: str) -> Path:
    """The case `text` converted: a transaction bundle `name.json`, or with --format ndjson a directory."""
    case = tmp_path / f"{name}.yaml"
    case.write_text(text)
    out = tmp_path / (name if "ndjson" in extra else f"{name}.json")
    result = cli("convert", "-q", str(case), "-o", str(out), *extra)
    assert result.exit_code == 0, result.output
    return out
