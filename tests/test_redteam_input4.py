"""A fourth attack on the inputs: user maps (--mappings), the reports `draft` reads, stdin, and the
edges of the case model. Each test names what went wrong before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from support.convert_run import run, write

from fhir_adapter.cli import main
from fhir_adapter.errors import MappingError
from fhir_adapter.terminology import load_map_text, load_terminology

EXAMPLE = Path(__file__).parent.parent / "examples" / "yu-2024-case-1.yaml"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Messages name files as given; the tests give them relative to tmp_path."""
    monkeypatch.chdir(tmp_path)


def scalp_map(coding: str = "", extra: str = "") -> str:
    """A body_sites overlay with one entry for 'scalp', its coding and extra keys as given."""
    return f"domain: body_sites\nentries:\n  - terms: [scalp]\n    codings: [{coding}]\n{extra}"


SCALP = "{system: 'http://snomed.info/sct', code: '%s', display: Scalp structure, verified: x}"


# --- Codes in user maps ----------------------------------------------------------------------


def test_a_snomed_code_failing_its_check_digit_stops_the_map_at_start_up():
    """41695007 (the scalp's 41695006 with its last digit mistyped) was loaded and sent as a
    SNOMED CT code: SNOMED CT codes end in a Verhoeff check digit, so it can be no code at all.
    Tables from the mCODE framework were checked this way; the maps were not."""
    load_map_text("body_sites.yaml", scalp_map(SCALP % "41695006"))
    with pytest.raises(MappingError) as info:
        load_map_text("body_sites.yaml", scalp_map(SCALP % "41695007"))
    assert str(info.value) == (
        "body_sites.yaml: entry 1 ('scalp'): code '41695007' is no SNOMED CT code (SNOMED CT codes"
        " are 6 to 18 digits, the last a check digit); copy it again from where it was verified"
    )
    icd = "{system: 'http://hl7.org/fhir/sid/icd-10-cm', code: '41695006', display: x, verified: x}"
    with pytest.raises(MappingError, match="'41695006' is no ICD-10-CM code"):
        load_map_text("body_sites.yaml", scalp_map(icd))


def test_a_code_with_spaces_stops_the_map_at_start_up_not_each_case(tmp_path):
    """' 41695006 ' loaded, then failed every case that used the term with a FHIR validation
    message about a pattern; a map problem is the map's, said once, before any case."""
    write(tmp_path, "case.yaml", EXAMPLE.read_text())
    (tmp_path / "maps").mkdir()
    write(tmp_path, "maps/body_sites.yaml", scalp_map(SCALP % " 41695006 "))
    code, errors, _ = run("case.yaml", "-o", "out", "--mappings", "maps")
    assert code == 4
    assert errors == [
        "Error: maps/body_sites.yaml: entry 1 ('scalp'): code ' 41695006 ' has spaces at its ends or"
        " in a run; FHIR codes have none"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    variants: 5\n", "'variants' must be a list of mappings with 'when' and 'codings'"),
        (
            "    variants: [{when: {laterality: left}, codings: 5}]\n",
            "a variant's 'codings' must be a list",
        ),
        (
            "    variants: [{when: {lateralty: left}, codings: []}]\n",
            "a variant's 'when' tests 'lateralty'; it may test laterality, sex, histology",
        ),
        (
            "    variants: [{when: {laterality: lef}, codings: []}]\n",
            "a variant's 'laterality' must be one of: bilateral, left, right, unspecified",
        ),
        ("    variants: [{when: {}, codings: []}]\n", "a variant is a mapping with 'when' (a mapping)"),
        ("    text: 12\n", "'text' must be text (quote it if it reads as a number)"),
        ("    kind: [organ]\n", "'kind' must be text"),
        ("    note: {a: b}\n", "'note' must be text"),
    ],
)
def test_a_malformed_entry_stops_the_map_at_start_up(extra, message):
    """`variants: 5` (or a variant's `codings: 5`) crashed the run with a TypeError traceback; a
    `when` testing a key no mapper gives (`lateralty`) or a value none gives (`lef`) was loaded and
    never applied; `text: 12` was loaded and the term reported as having no code; a `note` that is
    no text was dropped. Each now stops the map with its file and entry."""
    with pytest.raises(MappingError) as info:
        load_map_text("body_sites.yaml", scalp_map(extra=extra))
    assert str(info.value).startswith(f"body_sites.yaml: entry 1 ('scalp'): {message}")


def test_an_alias_bomb_in_a_variant_is_refused_at_once():
    """Nine anchors of nine aliases under `description`, then used as a variant's laterality: the
    loader turned the value into a string, all 387 million items of it (minutes and gigabytes;
    eight levels took 4.7 s and 310 MB). The value of a `when` must be text, so it is refused
    before it is ever walked."""
    levels = ["  - &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    text = (
        "domain: body_sites\ndescription:\n"
        + "\n".join(levels)
        + "\nentries:\n  - terms: [scalp]\n    codings: []\n"
        + "    variants: [{when: {laterality: *a8}, codings: []}]\n"
    )
    with pytest.raises(MappingError, match="a variant's 'laterality' must be one of"):
        load_map_text("body_sites.yaml", text)


# --- User map files ----------------------------------------------------------------------------


def convert_with_maps(tmp_path: Path, files: dict[str, str | bytes]) -> tuple[int, list[str], list[str]]:
    """Convert the example case with a --mappings directory holding `files`."""
    write(tmp_path, "case.yaml", EXAMPLE.read_text())
    maps = tmp_path / "maps"
    maps.mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (maps / name).write_bytes(content)
        else:
            write(maps, name, content)
    return run("case.yaml", "-o", "out", "--mappings", "maps")


def test_a_key_given_twice_in_a_map_entry_is_an_error_naming_both_lines(tmp_path):
    """`terms: [scalp]` then `terms: [galea]` in one entry: YAML kept the second, so the user's
    'scalp' entry vanished, the shipped code was used for scalp, and nothing was said."""
    text = scalp_map(extra="    terms: [galea]\n")
    code, errors, _ = convert_with_maps(tmp_path, {"body_sites.yaml": text})
    assert code == 4
    assert errors == [
        "Error: maps/body_sites.yaml:5: the key 'terms' appears twice in one mapping (lines 3 and 5);"
        " the second would replace the first: keep one"
    ]
    assert not (tmp_path / "out").exists()


def test_a_misspelt_map_file_name_is_an_error_naming_the_domain_meant(tmp_path):
    """histolgy.yaml was loaded as a domain of its own that no mapper reads: the user's histology
    terms stayed text and the run said nothing of the file."""
    text = "domain: histolgy\nentries:\n  - terms: [odd-oma]\n    codings: []\n"
    code, errors, _ = convert_with_maps(tmp_path, {"histolgy.yaml": text})
    assert code == 4
    assert errors[0].startswith(
        "Error: maps/histolgy.yaml: there is no map domain 'histolgy'; did you mean histology.yaml?"
    )


def test_a_new_domain_is_loaded_and_said(tmp_path, caplog):
    """A domain unlike any shipped one stays loadable (for `mappings search` and the library), and
    the run says that no mapper reads it."""
    text = "domain: my_terms\nentries:\n  - terms: [odd-oma]\n    codings: []\n"
    (tmp_path / "maps").mkdir()
    write(tmp_path, "maps/my_terms.yaml", text)
    terminology = load_terminology("maps")
    assert terminology.lookup("my_terms", "odd-oma") is not None
    assert "maps/my_terms.yaml: 'my_terms' is no domain fhir-adapter maps from" in caplog.text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "body_sites.yml",
            scalp_map(),
            "maps/body_sites.yml: map files are read only when named <domain>.yaml; rename it"
            " body_sites.yaml",
        ),
        (
            "body_sites.YAML",
            scalp_map(),
            "maps/body_sites.YAML: map files are read only when named <domain>.yaml; rename it"
            " body_sites.yaml",
        ),
        (
            "body_sites.yaml",
            b"domain: body_sites\nentries:\n  - terms: [scalp\xff]\n",
            "maps/body_sites.yaml:3: byte 0xff is not UTF-8; save the file as UTF-8",
        ),
        (
            "body_sites.yaml",
            scalp_map().encode("utf-16"),
            "maps/body_sites.yaml: is UTF-16 or binary, not UTF-8 text; save it as UTF-8",
        ),
    ],
)
def test_a_map_file_the_overlay_cannot_read_is_named(tmp_path, name, content, message):
    """A .yml map beside a .yaml one was passed over without a word; a map that is not UTF-8 was a
    UnicodeDecodeError traceback (exit 1)."""
    files = {name: content}
    if name != "medications.yaml":
        files["medications.yaml"] = "domain: medications\nentries: []\n"
    code, errors, _ = convert_with_maps(tmp_path, files)
    assert (code, errors) == (4, [f"Error: {message}"])


def test_a_directory_named_like_a_map_is_named(tmp_path):
    (tmp_path / "maps" / "x.yaml").mkdir(parents=True)
    with pytest.raises(MappingError, match=r"^maps/x.yaml: is a directory; a map is a file named"):
        load_terminology("maps")


# --- What draft reads from standard input ------------------------------------------------------


@pytest.mark.parametrize(
    ("piped", "message"),
    [
        (
            b"A 50-year-old woman had breast cancer \xff with liver metastasis.",
            "stdin:1: not UTF-8 text (byte 0xff); copy the report into a plain-text file saved as UTF-8"
            " (.txt)",
        ),
        (
            b"%PDF-1.4\n1 0 obj",
            "stdin: this is a PDF, not plain text; copy the report into a plain-text file saved as"
            " UTF-8 (.txt)",
        ),
        (
            "A woman had breast cancer.".encode("utf-16"),
            "stdin: this is UTF-16 text, not plain text; copy the report into a plain-text file saved"
            " as UTF-8 (.txt)",
        ),
        (b"", "stdin: the report is empty; give the text of a case report"),
        (b"  \n\n\t", "stdin: the report is empty; give the text of a case report"),
    ],
)
def test_stdin_is_judged_as_a_file_is(piped, message):
    """Standard input was read as text in the locale's encoding and drafted as it came: a byte that
    is not UTF-8 crashed the drafting rules with a traceback (a surrogate they could not encode), a
    PDF or UTF-16 text was drafted as words ('no primary cancer is named'), as was an empty input."""
    result = CliRunner().invoke(main, ["draft", "-"], input=piped)
    assert (result.exit_code, result.stderr) == (3, f"Error: {message}\n")


def test_an_empty_report_file_is_named_empty(tmp_path):
    write(tmp_path, "empty.txt", "\n")
    result = CliRunner().invoke(main, ["draft", "empty.txt"])
    assert (result.exit_code, result.stderr) == (
        3,
        "Error: empty.txt: the report is empty; give the text of a case report\n",
    )


def test_a_utf8_report_on_stdin_with_its_byte_order_mark_is_drafted():
    text = "\ufeffA 50-year-old woman had breast cancer with liver metastasis."
    result = CliRunner().invoke(main, ["draft", "-"], input=text.encode("utf-8"))
    assert result.exit_code == 0, result.stderr
    assert "site: liver" in result.stdout


# --- The case model's edges ------------------------------------------------------------------

CASE = "case: {id: c1}\npatient: {sex: female}\nprimary_cancers:\n  - id: b\n    site: breast\n"


@pytest.mark.parametrize(
    ("fields", "path", "value"),
    [
        (
            "    markers: [{name: ER, result: positive, percent: true}]\n",
            "primary_cancers[0].markers[0].percent",
            "true",
        ),
        ("    age: true\n", "primary_cancers[0].age", "true"),
        ("    size_mm: [false]\n", "primary_cancers[0].size_mm[0]", "false"),
        (
            "procedures: [{name: radiotherapy, fractions: true, treats: [b]}]\n",
            "procedures[0].fractions",
            "true",
        ),
    ],
)
def test_true_or_false_where_a_number_goes_is_refused(tmp_path, fields, path, value):
    """`percent: true` was sent as an ER result of 1 % of cells, `age: true` as a diagnosis at one
    year old: pydantic reads true as 1 and false as 0. No source writes a count as true."""
    write(tmp_path, "c.yaml", CASE + fields)
    code, errors, _ = run("c.yaml", "-o", "out/")
    assert (code, errors) == (
        3,
        [f"Error: c.yaml:6: {path}: {value} is not a number; write the number the source gives"],
    )
    assert not list(tmp_path.glob("out/*.json"))


def test_a_huge_map_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    """A 50 MB body_sites.yaml (420,000 entries) took 200 s and 2.2 GB before the first case (on the
    shared 2-core machine). Maps over the limit are refused unread; the limit is lowered here so
    the test writes little."""
    monkeypatch.setattr("fhir_adapter.terminology.MAP_SIZE_LIMIT", 2**20)
    entries = "".join(f"  - terms: [term {i}]\n    codings: []\n" for i in range(40_000))
    (tmp_path / "maps").mkdir()
    write(tmp_path, "maps/body_sites.yaml", "domain: body_sites\nentries:\n" + entries)
    assert (tmp_path / "maps/body_sites.yaml").stat().st_size > 2**20
    with pytest.raises(MappingError, match=r"^maps/body_sites.yaml: the map is over 1 MB"):
        load_terminology("maps")


# --- Several cases, or no case file at all, where one case is read ------------------------------

ONE = "case: {id: a}\npatient: {sex: female}\nprimary_cancers: [{id: b, site: breast}]\n"
ONE_JSON = '{"case": {"id": "a"}, "patient": {"sex": "female"}, "primary_cancers": [{"id": "b", "site": "breast"}]}\n'


@pytest.mark.parametrize(
    ("piped", "message"),
    [
        (
            ONE + "---\n" + ONE.replace("id: a", "id: c"),
            "<stdin>:4: a second YAML document starts here (after a '---' line); a case file holds one"
            " case: give each case a file of its own",
        ),
        (
            ONE_JSON + ONE_JSON.replace('"a"', '"c"'),
            "<stdin>:2: 2 lines of one JSON object each (NDJSON); a case file holds one case: give each"
            " case a file of its own, or save them as a .ndjson file",
        ),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "<stdin>: this is a PDF, not a YAML or JSON case file"),
    ],
)
def test_several_cases_or_a_pdf_on_stdin_are_named(piped, message):
    """Two YAML documents or two NDJSON lines piped to `convert -` were 'invalid YAML: but found
    another document ... check indentation and quoting around that line', which sent the user
    looking for a typo; a PDF was a YAML directive error."""
    result = CliRunner().invoke(main, ["convert", "-", "-o", "-"], input=piped)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"Error: {message}"


def test_two_reports_of_one_name_are_not_drafted_one_over_the_other(tmp_path):
    """d1/r.txt and d2/r.txt both drafted case 'r', and `-o dd/` wrote the second over the first:
    two lines said 'dd/r.yaml', and the first report's case was gone."""
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    write(tmp_path, "d1/r.txt", "A 50-year-old woman had breast cancer with liver metastasis.\n")
    write(tmp_path, "d2/r.txt", "A 60-year-old woman had breast cancer with bone metastasis.\n")
    result = CliRunner().invoke(main, ["draft", "d1/r.txt", "d2/r.txt", "-o", "dd/"])
    assert result.exit_code == 7, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Error: -o dd/: 2 drafts have the case id 'r' (reports of one file name, or one report given"
        " twice), and each would replace the other there; rename the reports so their names differ"
    )
    assert not list(tmp_path.glob("dd/*.yaml"))


def test_an_overlay_entry_that_splits_a_shipped_entry_is_said(tmp_path, caplog):
    """An overlay entry for 'liver' with a code of its own left the shipped 'hepatic' (a term of the
    same shipped entry) on the shipped code: one site, two codes, depending on the word a case used,
    and nothing said so."""
    coding = "{system: 'http://snomed.info/sct', code: '181268008', display: Entire liver, verified: x}"
    text = f"domain: body_sites\nentries:\n  - terms: [liver]\n    codings: [{coding}]\n"
    (tmp_path / "maps").mkdir()
    write(tmp_path, "maps/body_sites.yaml", text)
    terminology = load_terminology("maps")
    assert terminology.lookup("body_sites", "liver").codings[0].code == "181268008"
    assert terminology.lookup("body_sites", "hepatic").codings[0].code == "10200004"
    assert (
        "maps/body_sites.yaml: entry 'liver' replaces the shipped entry 'liver' for the terms it lists;"
        " 'hepatic' keep the shipped codes: list them in the entry too if they mean the same"
    ) in caplog.text
    caplog.clear()
    write(tmp_path, "maps/body_sites.yaml", text.replace("[liver]", "[liver, hepatic]"))
    load_terminology("maps")
    assert "replaces the shipped entry" not in caplog.text


@pytest.mark.parametrize(("term", "read"), [("no", "False"), ("on", "True"), ("0123", "83"), ("1.5", "1.5")])
def test_a_term_yaml_reads_as_a_value_is_named_with_the_fix(term, read):
    """`terms: [scalp, no]` was refused as "'terms' must be a non-empty list of strings", naming no
    term and no fix: the maps are read with YAML 1.1's rules, under which no is False and 0123 is 83."""
    with pytest.raises(MappingError) as info:
        load_map_text("body_sites.yaml", scalp_map().replace("[scalp]", f"[scalp, {term}]"))
    assert str(info.value) == (
        f"body_sites.yaml: entry 1 ('scalp'): the term {read} is not text: YAML reads an unquoted yes,"
        " no, on, off, true, false or number as a value; put the term in quotes"
    )


def test_the_count_of_drafts_of_one_case_id_is_of_that_id_alone(tmp_path):
    """With reports a, a, b, b (two file names, each in two folders) the message said '4 drafts have the case id
    a': it counted the drafts of every id given twice."""
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        write(tmp_path, f"{folder}/a.txt", "A 50-year-old woman had breast cancer with liver metastasis.\n")
        write(tmp_path, f"{folder}/b.txt", "A 60-year-old woman had breast cancer with bone metastasis.\n")
    args = ["draft", "d1/a.txt", "d2/a.txt", "d1/b.txt", "d2/b.txt", "-o", "dd/"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 7, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        "Error: -o dd/: 2 drafts have the case id 'a' (and 1 other case id(s) likewise) (reports of one file name"
    )
