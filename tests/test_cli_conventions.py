"""Command-line conventions: - for stdin and stdout, file or directory, skipped inputs, exit codes, flags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fhir_server import free_port

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE, EXIT_SERVER_UNAVAILABLE, EXIT_USAGE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASE = EXAMPLES / "yu-2024-case-1.yaml"
OTHER = EXAMPLES / "yu-2024-case-2.yaml"
SCHEMA = Path(__file__).resolve().parents[1] / "fhir_adapter" / "case.schema.json"


def run(*args: str, **kw):
    return CliRunner().invoke(main, list(args), **kw)


def test_dash_output_means_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("convert", "-q", str(CASE), "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["identifier"]["value"] == "yu-2024-case-1"
    assert list(tmp_path.iterdir()) == []  # no file named '-'


def test_dash_input_reads_one_case_from_stdin():
    result = run("convert", "-q", "-", input=CASE.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(run("convert", "-q", str(CASE)).stdout)


def test_a_file_name_for_several_cases_is_refused_before_anything_is_written(tmp_path):
    target = tmp_path / "y.json"
    result = run("convert", "-q", str(CASE), str(OTHER), "-o", str(target))
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr == (
        f"Error: -o {target}: several cases need a directory, but this names a file;"
        f" give a directory (e.g. -o {tmp_path / 'y'}/), or - for stdout\n"
    )
    assert not target.exists()


def test_a_failed_run_leaves_no_output_directory(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("case: {id: b}\npatient: {sex: f}\nprimary_cancers: [{site: breast}]\n")
    out = tmp_path / "out"
    result = run("convert", "-q", str(bad), str(bad), "-o", str(out))
    assert result.exit_code == EXIT_INVALID_CASE
    assert not out.exists()


def test_a_directory_skips_json_schemas_and_fhir_resources_with_a_note(tmp_path):
    root = tmp_path / "cases"
    root.mkdir()
    shutil.copy(CASE, root / "case.yaml")
    shutil.copy(SCHEMA, root / "case.schema.json")
    first = run("convert", str(root), "-o", str(root / "out"))
    assert first.exit_code == 0, first.stderr
    assert first.stderr.splitlines()[0] == (
        f"note: {root / 'case.schema.json'}: skipped, a JSON Schema, not a case file"
    )
    assert "1 of 1 case(s) converted" in first.stderr and "1 file(s) skipped" in first.stderr
    assert "note:" not in run("convert", "-q", str(root), "-o", str(tmp_path / "q")).stderr
    # Run again over the same tree: the earlier output is a FHIR Bundle, not a case.
    again = run("convert", str(root), "-o", str(tmp_path / "out2"))
    assert again.exit_code == 0, again.stderr
    notes = [line for line in again.stderr.splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: {root / 'case.schema.json'}: skipped, a JSON Schema, not a case file",
        f"note: {root / 'out' / 'yu-2024-case-1.json'}: skipped, a FHIR Bundle resource, not a case file",
    ]
    assert [p.name for p in (tmp_path / "out2").iterdir()] == ["yu-2024-case-1.json"]


def test_a_directory_of_nothing_but_outputs_has_no_case_file(tmp_path):
    out = tmp_path / "out"
    assert run("convert", "-q", str(CASE), str(OTHER), "-o", str(out)).exit_code == 0
    result = run("convert", str(out))
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr.splitlines()[-1] == (
        f"Error: no case files found in {out}; skipped 2 file(s) that are not case files"
    )


def test_a_bundle_named_on_the_command_line_is_an_error_not_a_skip(tmp_path):
    bundle = tmp_path / "b.json"
    bundle.write_text(run("convert", "-q", str(CASE)).stdout)
    result = run("convert", str(bundle))
    assert result.exit_code == EXIT_INVALID_CASE
    assert result.stderr.splitlines()[0] == (
        f"Error: {bundle}: this is a FHIR Bundle resource, not a case file;"
        " give fhir-adapter convert case files (fhir-adapter push sends bundles)"
    )


def test_a_glob_matching_nothing_and_an_empty_directory_give_the_same_code(tmp_path):
    (tmp_path / "empty").mkdir()
    pattern = str(tmp_path / "*.nomatch.yaml")
    by_glob = run("convert", pattern)
    by_dir = run("convert", str(tmp_path / "empty"))
    assert by_glob.exit_code == by_dir.exit_code == EXIT_CONFIG
    assert by_glob.stderr == f"Error: {pattern}: no file matches (looked for .yaml, .yml, .json, .ndjson)\n"
    assert by_dir.stderr == (
        f"Error: {tmp_path / 'empty'}: no case file in it (looked for .yaml, .yml, .json, .ndjson;"
        f" spreadsheets (.csv, .tsv, .xlsx) are read when named, e.g. {tmp_path / 'empty'}/*.csv)\n"
    )
    # Beside a good case, the empty input is still reported, and still decides the exit code.
    mixed = run("convert", "-q", str(CASE), str(tmp_path / "empty"), "-o", str(tmp_path / "out"))
    assert mixed.exit_code == EXIT_CONFIG
    assert (tmp_path / "out" / "yu-2024-case-1.json").exists()


def test_push_resume_with_nothing_waiting_is_not_an_error(tmp_path):
    result = run("push", "--resume", "--outbox", str(tmp_path / "ob"), "--server", "http://127.0.0.1:9/fhir")
    assert result.exit_code == 0
    assert result.stderr == f"nothing to send: no bundle waits in {tmp_path / 'ob' / 'pending'}\n"


def test_push_and_verify_without_arguments_agree():
    push, verify = run("push"), run("verify")
    assert push.exit_code == verify.exit_code == EXIT_USAGE
    assert push.stderr.splitlines()[-1] == (
        "Error: nothing to send: name bundle files or directories, or use --resume"
    )
    assert verify.stderr.splitlines()[-1] == (
        "Error: nothing to verify: name the bundle files or directories that were sent"
    )


def test_verify_offers_only_options_it_uses():
    options = {opt for p in main.commands["verify"].params for opt in p.opts}
    assert not options & {"--verify", "--outbox", "--allow-public-server", "--workers", "--report"}
    assert {"--server", "--token-file", "--timeout", "-v", "-q"} <= options
    assert {"--outbox", "--allow-public-server", "--verify"} <= {
        opt for p in main.commands["push"].params for opt in p.opts
    }


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_has_verbose_and_quiet():
    for path, command in _commands(main):
        options = {opt for p in command.params for opt in p.opts}
        assert {"-v", "--verbose", "-q", "--quiet"} <= options, path
    result = run("convert", "-v", "-q", str(CASE))
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.splitlines()[-1] == "Error: -v/--verbose and -q/--quiet exclude each other"


def test_verbose_and_quiet_convert(tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text(
        "case: {id: c1}\npatient: {sex: male}\nprimary_cancers:\n  - {site: breast, histology: odd-oma}\n"
    )
    loud = run("convert", "-v", str(case))
    assert f"converted: {case} -> case c1" in loud.stderr.splitlines()
    assert loud.stderr.splitlines()[0] == "terminology: the maps shipped with fhir-adapter"
    assert run("convert", "-q", str(case)).stderr == ""
    assert "warning:" in run("convert", str(case)).stderr


def test_post_without_output_prints_no_bundles(tmp_path):
    server = f"http://127.0.0.1:{free_port()}/fhir"  # nothing listens: the send fails quickly
    args = ["--server", server, "--max-time", "0.3", "--timeout", "0.3", "--outbox", str(tmp_path / "ob")]
    quiet = run("convert", "-q", str(CASE), "--post", *args)
    assert quiet.exit_code == EXIT_SERVER_UNAVAILABLE
    assert quiet.stdout == ""
    asked = run("convert", "-q", str(CASE), "--post", "-o", "-", *args)
    assert json.loads(asked.stdout)["identifier"]["value"] == "yu-2024-case-1"


def test_mappings_search_prints_terms_and_codes(terminology):
    result = run("mappings", "search", "Scalp", "--domain", "body_sites")
    assert result.exit_code == 0, result.stderr
    scalp = terminology.lookup("body_sites", "scalp")
    coding = scalp.codings[0]
    assert f"  {coding.system} {coding.code} {coding.display}" in result.stdout.splitlines()
    assert result.stdout.startswith("body_sites: ")
    verbose = run("mappings", "search", "scalp", "--domain", "body_sites", "-v")
    assert f"    verified: {coding.verified}" in verbose.stdout.splitlines()
    none = run("mappings", "search", "zzzz-nothing")
    assert (none.exit_code, none.stdout, none.stderr) == (
        0,
        "",
        "no entry of any map matches 'zzzz-nothing'\n",
    )
    bad = run("mappings", "search", "x", "--domain", "nope")
    assert bad.exit_code == EXIT_CONFIG
    assert bad.stderr.startswith("Error: --domain nope: no such map; maps: body_sites, ")


def test_unmapped_term_warning_names_the_overlay_file_to_edit(tmp_path):
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "procedures.yaml").write_text("domain: procedures\ndescription: local\nentries: []\n")
    case = tmp_path / "c.yaml"
    case.write_text(
        "case: {id: c1}\npatient: {sex: male}\nprimary_cancers:\n  - {site: breast, histology: odd-oma}\n"
    )
    result = run("convert", str(case), "--mappings", str(maps))
    assert result.exit_code == 0, result.stderr
    assert f"  'odd-oma' (not in {maps / 'histology.yaml'}): 1 time(s), in c1" in result.stderr.splitlines()


@pytest.mark.parametrize("shell", ["bash_source", "zsh_source"])
def test_shell_completion_script(shell):
    result = CliRunner().invoke(main, [], env={"_FHIR_ADAPTER_COMPLETE": shell}, prog_name="fhir-adapter")
    assert result.exit_code == 0
    assert "_FHIR_ADAPTER_COMPLETE" in result.stdout


def test_push_an_empty_directory_or_a_glob_matching_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    args = ["--server", "http://127.0.0.1:9/fhir", "--outbox", str(tmp_path / "ob")]
    by_dir = run("push", str(tmp_path / "empty"), *args)
    by_glob = run("push", str(tmp_path / "*.nomatch.json"), *args)
    assert by_dir.exit_code == by_glob.exit_code == EXIT_CONFIG
    assert by_dir.stderr == f"Error: {tmp_path / 'empty'}: no *.json bundle in it\n"
    assert by_glob.stderr == f"Error: {tmp_path / '*.nomatch.json'}: no file matches\n"


@pytest.mark.integration
def test_verbose_and_quiet_push_and_verify(fhir_server, tmp_path):
    out = tmp_path / "out"
    assert run("convert", "-q", str(CASE), "-o", str(out) + "/").exit_code == 0
    bundle = out / "yu-2024-case-1.json"
    patient = json.loads(bundle.read_text())["entry"][0]["resource"]
    args = ["--server", fhir_server.base_url, "--outbox", str(tmp_path / "ob")]
    quiet = run("push", "-q", str(bundle), *args)
    assert quiet.exit_code == 0, quiet.stderr
    assert quiet.stderr == f"1 of 1 bundle(s) sent to {fhir_server.base_url}.\n"
    loud = run("push", "-v", str(bundle), *args)
    assert loud.exit_code == 0, loud.stderr
    lines = [line for line in loud.stderr.splitlines() if not line.startswith("warning:")]
    assert lines[0].startswith("yu-2024-case-1: sent (")
    assert any(line.startswith(f"  Patient/{patient['id']}: 200") for line in loud.stderr.splitlines())
    assert run("verify", "-q", str(bundle), "--server", fhir_server.base_url).stderr == ""
    verbose = run("verify", "-v", str(bundle), "--server", fhir_server.base_url)
    entries = len(json.loads(bundle.read_text())["entry"])
    assert verbose.stderr == f"yu-2024-case-1: matches ({entries} resource(s) read back)\n"
