"""Hostile case files: each is refused quickly with file:line and the limit, nothing is written for it,
and the rest of the batch is converted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_bad_input import GOOD  # the same small valid case file

from fhir_adapter import casefile
from fhir_adapter.batch import iter_sources
from fhir_adapter.casefile import DEFAULT_LIMITS, Limits, load_case, read_case_text
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE, ConfigError, InvalidCaseError

GOOD_JSON = {
    "case": {"id": "good-2"},
    "patient": {"sex": "female"},
    "primary_cancers": [{"id": "breast", "site": "breast"}],
}


def alias_bomb() -> str:
    """Nine anchors, each a list of nine aliases to the one before: 9**9 values once expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def error_of(text: str | bytes, name: str = "case.yaml", limits: Limits = DEFAULT_LIMITS) -> str:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(InvalidCaseError) as info:
        casefile.parse_case(read_case_text(name, raw, limits))
    return str(info.value)


def convert(*args: str):
    return CliRunner().invoke(main, ["convert", "-q", *args])


def test_alias_bomb_is_refused_in_a_fraction_of_a_second_and_the_batch_goes_on(tmp_path):
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    (tmp_path / "good.yaml").write_text(GOOD)
    out = tmp_path / "out"
    # CPU seconds of this process (the run is in-process with --jobs 1): a wall-clock bound failed
    # on a machine shared with other work, though the run itself was as quick as ever.
    started = time.process_time()
    result = convert(str(tmp_path / "bomb.yaml"), str(tmp_path / "good.yaml"), "-o", str(out))
    elapsed = time.process_time() - started
    assert result.exit_code == EXIT_INVALID_CASE
    assert elapsed < 3.0  # the unbounded expansion ran for over a minute
    assert f"Error: {tmp_path / 'bomb.yaml'}:10: a9: the file holds" in result.stderr
    assert "more than 100,000 values (YAML aliases count as copies of their anchor)" in result.stderr
    assert "--limit nodes=N" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["good-1.json"]


def test_alias_bomb_error_lines_cost_no_expansion():
    started = time.monotonic()
    message = error_of(alias_bomb())
    assert time.monotonic() - started < 1.0
    assert message.startswith("case.yaml:10: a9: the file holds more than 100,000 values")


def test_small_aliases_still_work():
    text = GOOD.replace("  - id: breast\n", "  - &p\n    id: breast\n") + "notes: *p\n"
    # the alias itself is fine; the unknown field is what the model refuses
    assert "notes: unknown field" in error_of(text)


def test_yaml_duplicate_key_names_both_lines():
    text = GOOD.replace("primary_cancers:", "patient:\n  sex: male\nprimary_cancers:")
    assert error_of(text) == (
        "case.yaml:5: the key 'patient' appears twice in one mapping (lines 3 and 5);"
        " the second would silently replace the first: keep one"
    )


def test_yaml_duplicate_key_in_a_flow_mapping():
    message = error_of("case: {id: a, id: b}\n")
    assert message.startswith("case.yaml:1: the key 'id' appears twice in one mapping (line 1, twice)")


def test_yaml_merge_key_override_is_not_a_duplicate():
    text = (
        "defaults: &d {site: breast}\n"
        "case:\n  id: m-1\npatient:\n  sex: female\n"
        "primary_cancers:\n  - <<: *d\n    id: breast\n    site: breast\n"
    )
    assert "appears twice" not in error_of(text)  # fails on the unknown top-level field only


def test_json_duplicate_key_names_both_lines():
    text = (
        '{"case": {"id": "j-1"},\n "patient": {"sex": "female"},\n "case": {"id": "j-2"},\n'
        ' "primary_cancers": [{"site": "breast"}]}\n'
    )
    assert error_of(text, "case.json") == (
        "case.json:3: the key 'case' appears twice in one mapping (lines 1 and 3);"
        " the second would silently replace the first: keep one"
    )


def test_json_duplicate_key_found_without_yaml():
    # Tabs inside flow mappings are not YAML, so the lines come from nowhere; the key is still named.
    text = '{"case": {"id": "j-1"},\t"case": {"id": "j-2"}}'
    message = error_of(text, "case.json")
    assert "the key 'case' appears twice in one" in message


def test_json_string_values_that_look_like_keys_are_not_duplicates(tmp_path):
    data = dict(GOOD_JSON, case={"id": "k-1", "summary": 'a "quoted": word, "quoted": again'})
    path = tmp_path / "k.json"
    path.write_text(json.dumps(data))
    assert load_case(path).case.id == "k-1"


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (
            GOOD + "notes: " + "[" * 40 + "]" * 40 + "\n",
            "case.yaml",
            "case.yaml:9: notes" + "[0]" * 31 + ": nested more than 32 levels deep",
        ),
        ('{"a": ' + "[" * 3000 + "]" * 3000 + "}", "case.json", "case.json:1: nested more than 1,024 levels deep"),
        (GOOD + "notes: [" + ", ".join(["x"] * 10_001) + "]\n", "case.yaml", "case.yaml:9: notes: 10,001 entries in one list"),
        (GOOD + "notes: " + "y" * 100_001 + "\n", "case.yaml", "case.yaml:9: notes: a string of 100,001 characters"),
        (GOOD.replace("  sex: female\n", "  sex: female\n  age_at_diagnosis: .inf\n"), "case.yaml",
         "case.yaml:5: patient.age_at_diagnosis: inf is not a number a case file can hold"),
        (GOOD.replace("  sex: female\n", "  sex: female\n  age_at_diagnosis: .nan\n"), "case.yaml",
         "case.yaml:5: patient.age_at_diagnosis: nan is not a number a case file can hold"),
        ('{"case": {"id": "n"},\n "patient": {"age_at_diagnosis": 1e999}}', "case.json",
         "case.json:2: patient.age_at_diagnosis: inf is not a number a case file can hold"),
        ('{"case": {"id": "n"},\n "patient": {"age_at_diagnosis": NaN}}', "case.json",
         "case.json:2: patient.age_at_diagnosis: nan is not a number a case file can hold"),
        ('{"case": {"id": "n"},\n "patient": {"age_at_diagnosis": -Infinity}}', "case.json",
         "case.json:2: patient.age_at_diagnosis: -inf is not a number a case file can hold"),
        ('{"case": {"id": "n"},\n "patient": {"age_at_diagnosis": 123456789012345678901234567890}}', "case.json",
         "case.json:2: patient.age_at_diagnosis: 1.23e+29 is larger than the limit of 1e+15"),
        (GOOD.replace("  sex: female\n", "  sex: female\n  age_at_diagnosis: 123456789012345678901234567890\n"),
         "case.yaml", "case.yaml:5: patient.age_at_diagnosis: a number of 30 digits is larger than the limit"),
        ('{"case": {"id": "n"},\n "patient": {"age_at_diagnosis": ' + "9" * 5000 + "}}", "case.json",
         "case.json:2: a number of 5,000 digits"),
        (GOOD.replace("  sex: female\n", "  sex: female\n  age_at_diagnosis: " + "9" * 5000 + "\n"),
         "case.yaml", "case.yaml:5: a number of 5,000 digits"),
        (GOOD + "notes: !!binary aGVsbG8=\n", "case.yaml", "case.yaml:9: notes: a value of type bytes"),
        (GOOD + "notes: !!set {a, b}\n", "case.yaml", "case.yaml:9: notes: a value of type set"),
        (GOOD + "? [a, b]\n: c\n", "case.yaml", "case.yaml:9: invalid YAML: found unhashable key"),
        # found by benchmarks/fuzz.py: PyYAML raised AttributeError for a tag its value does not fit
        (GOOD + "notes: !!timestamp 2001-12-14summary\n", "case.yaml",
         "case.yaml: invalid YAML: a value does not match its explicit tag (such as !!timestamp)"),
    ],
    ids=[
        "yaml-depth", "json-depth", "list-items", "string-length", "yaml-inf", "yaml-nan", "json-1e999",
        "json-nan", "json-infinity", "json-huge-int", "yaml-huge-int", "json-5000-digits",
        "yaml-5000-digits", "yaml-binary-tag", "yaml-set-tag", "yaml-unhashable-key", "yaml-bad-timestamp-tag",
    ],
)  # fmt: skip
def test_bounds(text, name, expected):
    assert error_of(text, name).startswith(expected)


def test_file_size_limit_and_raising_it(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(GOOD + "# " + "padding " * 100 + "\n")
    small = DEFAULT_LIMITS.with_overrides(["file-size=300"])
    with pytest.raises(InvalidCaseError) as info:
        load_case(path, display_name="case.yaml", limits=small)
    assert str(info.value) == (
        f"case.yaml: the file is {path.stat().st_size:,} bytes, more than the limit of 300 for one case;"
        " if the file is right, raise the limit with --limit file-size=N"
    )
    assert load_case(path, limits=DEFAULT_LIMITS.with_overrides(["file-size=1MB"])).case.id == "good-1"


def test_limits_are_raised_by_the_flag(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(GOOD + "notes: [" + ", ".join(["x"] * 20) + "]\n")
    result = convert(str(path), "--limit", "items=10")
    assert result.exit_code == EXIT_INVALID_CASE
    assert "notes: 20 entries in one list, more than the limit of 10; if the file is right" in result.stderr
    result = convert(str(path), "--limit", "items=100")
    assert "notes: unknown field" in result.stderr  # past the limit, to the model's own check


def test_a_bad_limit_flag_is_a_usage_error():
    with pytest.raises(ConfigError, match="NAME one of depth, file-size, items, nodes, number, string"):
        DEFAULT_LIMITS.with_overrides(["size=3"])
    with pytest.raises(ConfigError, match="positive finite"):
        DEFAULT_LIMITS.with_overrides(["depth=0"])
    assert DEFAULT_LIMITS.with_overrides(["file-size=2k", "number=1e20"]) == Limits(
        file_size=2048, number=1e20
    )


def test_utf8_bom_is_read(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_case(path).case.id == "good-1"
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD_JSON).encode())
    assert load_case(tmp_path / "bom.json").case.id == "good-2"


def test_utf16_is_named():
    assert error_of(GOOD.encode("utf-16")) == (
        "case.yaml: the file is UTF-16 text; save it as UTF-8 (a UTF-8 byte order mark is fine)"
    )


def test_nul_byte_names_its_line():
    assert error_of(GOOD.replace("site: breast", "site: bre\x00ast")) == (
        "case.yaml:7: a NUL byte (0x00) in the text; a case file is plain UTF-8 text"
    )


def test_non_utf8_names_its_line():
    assert error_of(GOOD.replace("breast\n", "br\xe9ast\n").encode("latin-1")) == (
        "case.yaml:6: the file is not UTF-8 text (byte 0xe9); save it as UTF-8"
    )


def test_symlink_loops_in_an_input_directory_are_reported_not_followed(tmp_path):
    cases = tmp_path / "cases"
    (cases / "sub").mkdir(parents=True)
    (cases / "sub" / "good.yaml").write_text(GOOD)
    os.symlink("..", cases / "sub" / "up")  # sub/up -> cases, which holds sub
    os.symlink("self.yaml", cases / "self.yaml")  # a link to itself
    out = tmp_path / "out"
    result = convert(str(cases), "-o", str(out))
    assert result.exit_code == EXIT_INVALID_CASE
    assert f"Error: {cases / 'self.yaml'}: cannot read the file: a symlink loop" in result.stderr
    assert f"Error: {cases / 'sub' / 'up'}: a symlink loop (it leads back to" in result.stderr
    assert [p.name for p in out.iterdir()] == ["good-1.json"]


def test_a_symlinked_directory_is_followed(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "good.yaml").write_text(GOOD)
    (tmp_path / "cases").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "cases" / "linked")
    assert [s.name for s in iter_sources([str(tmp_path / "cases")])] == [
        str(tmp_path / "cases" / "linked" / "good.yaml")
    ]


def test_unreadable_file_and_directory(tmp_path, monkeypatch):
    # Tests may run as root, who reads any file, so the refusal is injected where the reader opens.
    cases = tmp_path / "cases"
    (cases / "locked").mkdir(parents=True)
    (cases / "secret.yaml").write_text(GOOD)
    real_open, real_scandir = open, os.scandir

    def deny_open(path, *args, **kwargs):
        if str(path).endswith("secret.yaml"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def deny_scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(casefile, "open", deny_open, raising=False)
    monkeypatch.setattr("fhir_adapter.batch.os.scandir", deny_scandir)
    result = convert(str(cases), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INVALID_CASE
    assert f"Error: {cases / 'locked'}: cannot read the directory: Permission denied" in result.stderr
    assert f"Error: {cases / 'secret.yaml'}: cannot read the file: Permission denied" in result.stderr


def test_directory_named_like_a_case_file(tmp_path):
    (tmp_path / "odd.yaml").mkdir()
    (tmp_path / "odd.yaml" / "good.yaml").write_text(GOOD)
    with pytest.raises(InvalidCaseError, match=r"odd.yaml: is a directory, not a case file"):
        load_case(tmp_path / "odd.yaml", display_name="odd.yaml")
    # given as an input, it is a directory like any other and its case files are converted
    result = convert(str(tmp_path / "odd.yaml"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good-1.json"]


def test_a_fifo_named_like_a_case_file_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "good.yaml").write_text(GOOD)
    result = convert(str(tmp_path), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INVALID_CASE
    assert f"Error: {tmp_path / 'pipe.yaml'}: not a regular file (a device, pipe or socket)" in result.stderr


def test_an_ndjson_line_over_the_limit_fails_alone(tmp_path):
    lines = [json.dumps(dict(GOOD_JSON, case={"id": f"n-{i}"})) for i in range(3)]
    lines[1] = json.dumps(dict(GOOD_JSON, case={"id": "n-1", "summary": "z" * 5000}))
    path = tmp_path / "cases.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = convert(str(path), "-o", str(tmp_path / "out"), "--limit", "file-size=2000")
    assert result.exit_code == EXIT_INVALID_CASE
    assert f"Error: {path}:2: the line is longer than the limit of 2,000 bytes for one case" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["n-0.json", "n-2.json"]


def _file_of(case: dict, tmp_path: Path) -> Path:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(case))
    return path


def test_json_duplicate_check_is_exact_for_a_real_case(tmp_path):
    # The fast path (no duplicates) and the slow one agree on a clean file with tricky strings.
    case = dict(GOOD_JSON, case={"id": "t-1", "summary": '":' * 50})
    assert load_case(_file_of(case, tmp_path)).case.summary == '":' * 50


# --- YAML 1.2: no octal, no sexagesimal, no yes/no booleans ---------------------------------


def _data(text: str) -> dict:
    return read_case_text("case.yaml", text.encode()).data


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        ("0123", "0123"),  # YAML 1.1: octal 83
        ("012345", "012345"),  # YAML 1.1: octal 5349
        ("0o17", "0o17"),  # YAML 1.2's octal form: text here too
        ("0x1F", "0x1F"),
        ("12:30", "12:30"),  # YAML 1.1: sexagesimal 750
        ("1:30", "1:30"),  # YAML 1.1: 90
        ("1_000", "1_000"),  # YAML 1.1: 1000
        ("no", "no"),  # YAML 1.1: False (Norway's country code, a 'no' answer kept as said)
        ("on", "on"),
        ("Yes", "Yes"),
        ("=", "="),  # YAML 1.1: a value-key tag no safe loader can construct
        ("0", 0),
        ("-12", -12),
        ("123", 123),
        ("1.5", 1.5),
        ("1.5e+3", 1500.0),
        ("1e3", "1e3"),  # a float in YAML 1.2, text in 1.1 (and so written unquoted by PyYAML)
        (".5", 0.5),
        ("true", True),
        ("FALSE", False),
        ("~", None),
        ("null", None),
    ],
)
def test_yaml_scalars_read_with_yaml_1_2_core_semantics(scalar, value):
    data = _data(f"case:\n  id: x\nnotes: {scalar}\n")
    assert data["notes"] == value and type(data["notes"]) is type(value)


def test_case_ids_with_leading_zeros_or_colons_do_not_collide(tmp_path):
    """Case ids derive every resource id: 0123 and 83 stay two cases; 12:30 is no id, not case 750."""
    for name, case_id in (("a", "0123"), ("b", "83"), ("c", "12:30"), ("d", "750")):
        (tmp_path / f"{name}.yaml").write_text(GOOD.replace("id: good-1", f"id: {case_id}"))
    result = convert(str(tmp_path), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INVALID_CASE
    assert result.stderr.splitlines()[0] == (
        f"Error: {tmp_path / 'c.yaml'}:2: case.id: '12:30' has the wrong form"
        " (expected to match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$)"
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0123.json", "750.json", "83.json"]


def test_a_sexagesimal_age_is_refused_not_read_as_minutes():
    message = error_of(GOOD.replace("  sex: female\n", "  sex: female\n  age_at_diagnosis: 1:30\n"))
    assert message.startswith("case.yaml:5: patient.age_at_diagnosis: ")
    assert "1:30" in message


def test_explicit_int_tags_are_decimal_too():
    assert _data("case:\n  id: x\nnotes: !!int 0123\n")["notes"] == 123
    with pytest.raises(InvalidCaseError):
        _data("case:\n  id: x\nnotes: !!float 1:30\n")  # YAML 1.1: 90.0


# --- An output never overwrites an input -------------------------------------------------------


def _case_dir(tmp_path: Path) -> Path:
    cases = tmp_path / "t"
    cases.mkdir()
    for case_id in ("good-1", "good-2"):
        (cases / f"{case_id}.json").write_text(json.dumps({**GOOD_JSON, "case": {"id": case_id}}))
    return cases


def _unchanged(cases: Path) -> bool:
    return sorted(p.name for p in cases.iterdir()) == ["good-1.json", "good-2.json"] and all(
        json.loads(p.read_text())["case"]["id"] == p.stem for p in cases.iterdir()
    )


@pytest.mark.parametrize(
    "args",
    [[], ["--format", "ndjson"], ["--type", "collection"]],
    ids=["bundle-dir", "ndjson", "collection"],
)
def test_an_output_directory_that_is_an_input_directory_is_refused(tmp_path, args):
    """convert t/ -o t/ used to write the bundles over the case files named like their ids."""
    cases = _case_dir(tmp_path)
    result = convert(str(cases), "-o", str(cases), *args)
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr == (
        f"Error: -o {cases}: this is the input directory {cases}; what convert writes there would overwrite"
        " case files named like it and be read as input by the next run; write the output outside the inputs\n"
    )
    assert _unchanged(cases)


def test_a_bundle_never_replaces_a_case_file_below_an_input_directory(tmp_path):
    """Below an input directory (t/out/), earlier bundles are replaced, a case file never is."""
    cases = tmp_path / "t"
    (cases / "out").mkdir(parents=True)
    (cases / "a.json").write_text(json.dumps(GOOD_JSON))  # case good-2
    case_file = cases / "out" / "good-2.json"  # a case file named like good-2's bundle
    case_file.write_text(json.dumps({**GOOD_JSON, "case": {"id": "other-1"}}))
    result = convert(str(cases), "-o", str(cases / "out"))
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr.splitlines()[-1] == (
        f"Error: -o {cases / 'out'}: the bundle of case 'good-2' would overwrite {case_file}, a file of the"
        f" input directory {cases} that is not an earlier bundle; nothing was written over it: write the"
        " output outside the inputs"
    )
    assert json.loads(case_file.read_text())["case"]["id"] == "other-1"
    # An earlier bundle there is replaced as any rerun replaces it.
    case_file.unlink()
    assert convert(str(cases), "-o", str(cases / "out")).exit_code == 0
    assert convert(str(cases), "-o", str(cases / "out")).exit_code == 0


def test_an_output_file_that_is_an_input_file_is_refused(tmp_path):
    cases = _case_dir(tmp_path)
    case = cases / "good-1.json"
    result = convert(str(case), "-o", str(case))
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr == (
        f"Error: -o {case}: it would overwrite the input {case}; write the output elsewhere\n"
    )
    assert _unchanged(cases)


def test_named_inputs_in_the_output_directory_are_refused_only_if_it_could_write_them(tmp_path):
    cases = _case_dir(tmp_path)
    result = convert(str(cases / "*.json"), "-o", str(cases))
    assert result.exit_code == EXIT_CONFIG
    assert f"it would overwrite the input {cases / 'good-1.json'}" in result.stderr
    assert _unchanged(cases)
    # YAML inputs beside the bundles: nothing convert writes is named like them.
    (cases / "good-3.yaml").write_text(GOOD.replace("good-1", "good-3"))
    ok = convert(str(cases / "good-3.yaml"), str(cases / "good-3.yaml"), "-o", str(cases))
    assert ok.exit_code == EXIT_INVALID_CASE  # the same case twice: the duplicate id is refused
    assert (cases / "good-3.json").exists()


def test_a_report_file_that_is_an_input_is_refused(tmp_path):
    cases = _case_dir(tmp_path)
    case = cases / "good-1.json"
    result = convert(str(case), "-o", str(tmp_path / "out"), "--report", str(case))
    assert result.exit_code == EXIT_CONFIG
    assert f"--report {case}: it would overwrite the input {case}" in result.stderr
    assert _unchanged(cases)


def test_the_library_run_refuses_an_output_over_its_inputs(tmp_path):
    """convert_many drives the same engine as the command line: the same refusal, nothing written."""
    from fhir_adapter.engine import convert_many

    cases = _case_dir(tmp_path)
    with pytest.raises(ConfigError, match="this is the input directory"):
        convert_many([str(cases)], output=str(cases))
    with pytest.raises(ConfigError, match="--report .*: it lies in the input directory"):
        convert_many([str(cases)], report=str(cases / "good-1.json"))
    assert _unchanged(cases)
