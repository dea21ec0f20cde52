"""The command line: outputs, exit codes and the exact error lines."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_CONFIG, EXIT_MAPPING

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASE = str(EXAMPLES / "yu-2024-case-1.yaml")


def run(*args: str, **kw):
    return CliRunner().invoke(main, list(args), **kw)


def test_convert_one_case_to_stdout():
    result = run("convert", CASE)
    assert result.exit_code == 0, result.stderr
    bundle = json.loads(result.stdout)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    assert all(e["request"]["method"] == "PUT" for e in bundle["entry"])


def test_convert_several_cases_to_stdout_is_ndjson():
    cases = sorted(str(p) for p in EXAMPLES.glob("*.yaml"))
    result = run("convert", "-q", *cases)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(cases)
    ids = {yaml.safe_load(Path(c).read_text())["case"]["id"] for c in cases}
    assert {json.loads(line)["identifier"]["value"] for line in lines} == ids


def test_convert_to_a_directory_and_a_file(tmp_path):
    result = run("convert", "-q", CASE, "-o", str(tmp_path / "out") + "/")
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["yu-2024-case-1.json"]
    target = tmp_path / "one.json"
    assert run("convert", "-q", CASE, "-o", str(target)).exit_code == 0
    assert json.loads(target.read_text()) == json.loads(
        (tmp_path / "out" / "yu-2024-case-1.json").read_text()
    )


def test_collection_bundles_have_no_requests():
    result = run("convert", "-q", CASE, "--type", "collection")
    bundle = json.loads(result.stdout)
    assert bundle["type"] == "collection"
    assert all("request" not in e for e in bundle["entry"])


def test_warning_for_unmapped_term_and_strict(tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text(
        "case: {id: c1}\npatient: {sex: male}\nprimary_cancers:\n  - {site: breast, histology: odd-oma}\n"
    )
    result = run("convert", str(case))
    assert result.exit_code == 0
    # Terms kept as text are told once per distinct term, with the cases they came from.
    assert "warning: 1 term(s) kept as text only" in result.stderr
    assert "  'odd-oma' (not in mappings/histology.yaml): 1 time(s), in c1" in result.stderr
    result = run("convert", "--strict", str(case))
    assert result.exit_code == EXIT_MAPPING
    assert result.stdout == ""
    assert (
        "Error: case 'c1': primary_cancers[0].histology: 'odd-oma' is not in mappings/histology.yaml"
        in result.stderr
    )


def test_broken_mappings_directory_stops_before_converting(tmp_path):
    (tmp_path / "fhir.yaml").write_text("domain: fhir\nentries: [{terms: [a, a]}]\n")
    result = run("convert", CASE, "--mappings", str(tmp_path))
    assert result.exit_code == EXIT_MAPPING
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"Error: {tmp_path / 'fhir.yaml'}: entry 1 ('a'): term 'a' is already used"
    )


def test_public_server_needs_explicit_consent(tmp_path):
    result = run("convert", CASE, "--post", "--outbox", str(tmp_path / "ob"))
    assert result.exit_code == EXIT_CONFIG
    assert (
        "Error: https://hapi.fhir.org/baseR4 is a public test server: anything posted there can be read by anyone."
        in result.stderr
    )
    assert not (tmp_path / "ob").exists()


def test_token_comes_from_a_file_not_the_command_line(tmp_path):
    result = run(
        "push", "--token-file", str(tmp_path / "missing"), "--server", "http://127.0.0.1:9/fhir", CASE
    )
    assert result.exit_code == EXIT_CONFIG
    assert "--token" not in [p.opts[0] for p in main.commands["push"].params if p.opts]


def test_help_texts_have_examples():
    for name in ("convert", "push", "verify", "schema"):
        result = run(name, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, name
