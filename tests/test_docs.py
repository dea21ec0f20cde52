"""The documentation stays honest: the field reference is current and complete, the README and --help agree."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from fhir_adapter import errors
from fhir_adapter.cli import main
from fhir_adapter.fieldref import field_reference, undescribed_fields
from fhir_adapter.schema import case_json_schema

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "case-format.md"


def test_field_reference_is_current():
    assert REFERENCE.read_text(encoding="utf-8") == field_reference(), (
        "docs/case-format.md is stale: run `fhir-adapter schema --format markdown > docs/case-format.md`"
    )


def test_every_field_of_the_schema_has_a_description():
    assert undescribed_fields() == [], "add description= to these fields in fhir_adapter/case.py"


def test_undescribed_fields_finds_a_field_without_description():
    schema = case_json_schema()
    schema["$defs"]["Receptors"]["properties"]["er"].pop("description")
    assert undescribed_fields(schema) == ["Receptors.er"]


def test_field_reference_lists_every_field_of_every_object():
    schema = case_json_schema()
    text = field_reference(schema)
    for model in [schema, *schema["$defs"].values()]:
        for field in model["properties"]:
            assert f"| `{field}` |" in text, field
    # Generic: a field added to the schema appears without touching the generator.
    schema["$defs"]["Receptors"]["properties"]["ki67"] = {"type": "string", "description": "Ki-67 index."}
    assert "| `ki67` | text |  |  | Ki-67 index. |" in field_reference(schema)


def _documented_codes(text: str) -> set[int]:
    return {int(code) for code in re.findall(r"^\|\s*(\d)\s*\|", text, re.M)}


def test_readme_and_help_list_every_exit_code():
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert _documented_codes((ROOT / "README.md").read_text(encoding="utf-8")) == codes
    help_text = CliRunner().invoke(main, ["--help"]).output
    listed = {int(code) for code in re.findall(r"^\s{2,}(\d)\s{2}", help_text, re.M)}
    assert listed == codes
    for command in ("convert", "push", "verify", "schema"):
        assert "Exit codes:" in CliRunner().invoke(main, [command, "--help"]).output, command


def test_top_level_help_shows_whole_command_summaries():
    output = CliRunner().invoke(main, ["--help"]).output
    for name, command in main.commands.items():
        assert command.short_help and command.short_help in output, name
    assert "..." not in output.split("Commands:")[1].split("Exit codes:")[0]


def test_readme_case_examples_convert(tmp_path):
    """Every YAML case shown in the README's case-file sections is a valid case that converts."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A case file", 1)[1].split("## What comes out", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) >= 2
    for n, block in enumerate(blocks):
        path = tmp_path / f"readme-{n}.yaml"
        path.write_text(block)
        result = CliRunner().invoke(main, ["convert", "-q", str(path), "-o", str(tmp_path / f"out-{n}.json")])
        assert result.exit_code == 0, (n, result.output)
