"""A third attack on the inputs: what the parsers make of odd files, and whether any value is lost,
shifted or invented without a word."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from support.convert_run import resources, run, write

from fhir_adapter.bundlefiles import iter_bundles
from fhir_adapter.cli import main
from fhir_adapter.export.sources import SourceProblem, read_paths
from fhir_adapter.profiles import iter_units

MEF = Path(__file__).parent / "data" / "tables" / "mef"
PATIENT = {"resourceType": "Patient", "id": "p1"}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Messages name files as given; the tests give them relative to tmp_path."""
    monkeypatch.chdir(tmp_path)


# --- A value in a column with no header ------------------------------------------------------


def test_a_value_under_a_blank_header_fails_its_row_not_dropped(tmp_path):
    """A header cell left empty (`case_id,sex,,primary_site`, or the trailing comma many exports
    write) made its column unread: a value under it was dropped and the row converted without a
    word. Only a value past the header's last cell was an error."""
    write(
        tmp_path,
        "t.csv",
        "case_id,sex,,primary_site,\n"
        "c1,female,,breast,\n"  # blank cells under the blank headers: nothing to lose
        "c2,female,left,breast,\n"
        "c3,female,,breast,stage IIA\n",
    )
    out = tmp_path / "out"
    code, errors, _ = run("t.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: t.csv, row 3: cells in column(s) C have no header; name the column or clear them",
        "Error: t.csv, row 4: cells in column(s) E have no header; name the column or clear them",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["c1.json"]


def test_a_value_under_a_blank_header_of_a_workbook_fails_its_row(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["case_id", "sex", None, "primary_site"])
    sheet.append(["c1", "female", None, "breast"])
    sheet.append(["c2", "female", "right", "breast"])
    book.save(tmp_path / "t.xlsx")
    out = tmp_path / "out"
    code, errors, _ = run("t.xlsx", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: t.xlsx, sheet 'Sheet', row 3: cells in column(s) C have no header; name the column or clear"
        " them"
    ]
    assert sorted(p.name for p in out.iterdir()) == ["c1.json"]


def test_a_framework_cell_past_the_header_fails_its_patient_not_dropped(tmp_path):
    """A framework table read only its named columns, so a cell past the header (a row with one
    comma too many) or under a blank header was dropped without a word."""
    root = tmp_path / "mef"
    root.mkdir()
    for source in MEF.glob("*.csv"):
        text = source.read_text()
        if source.name == "condition.csv":
            lines = text.splitlines(keepends=True)
            lines[2] = lines[2].rstrip("\n") + ",C79.51\n"  # mef-1's second condition row
            text = "".join(lines)
        (root / source.name).write_text(text)
    out = tmp_path / "out"
    code, errors, _ = run("mef/patient.csv", "-o", "out/")
    assert code == 3
    assert [e for e in errors if "no header" in e] == [
        "Error: mef/condition.csv, row 3: cells in column(s) M have no header; name the column or clear them"
    ]
    assert sorted(p.name for p in out.iterdir()) == ["mef-2.json"]


# --- Excel's text escape in CSV --------------------------------------------------------------


def test_a_csv_cell_written_as_excels_text_formula_gives_the_text_it_shows(tmp_path):
    """Exports meant for Excel write `="0123"` so that a spreadsheet keeps the zeros; the cell shows
    0123. It was read as the five characters `="0123"`: an id refused for its form, a date refused,
    and a note carrying the formula into the bundle without a word."""
    write(
        tmp_path,
        "t.csv",
        'case_id,sex,primary_site,primary_date,primary_note\n="007",female,breast,="2019-03","=""0123"""\n',
    )
    code, errors, _ = run("t.csv", "-o", "out/")
    assert (code, errors) == (0, [])
    (condition,) = resources(tmp_path / "out" / "007.json", "Condition")
    assert condition["onsetDateTime"] == "2019-03"
    assert [n["text"] for n in condition["note"]] == ["0123"]
    (patient,) = resources(tmp_path / "out" / "007.json", "Patient")
    assert patient["identifier"][0]["value"] == "007"


# --- A header repeated among the rows --------------------------------------------------------


def test_a_header_repeated_among_the_rows_is_named_as_such(tmp_path):
    """Two exports joined end to end (`cat a.csv b.csv`) repeat the header among the rows. The row
    was read as a case or an item and failed for its cells (`patient.sex: 'sex' is not allowed`,
    `case_id 'case_id' is not in cases.csv`), as if a patient's data were wrong."""
    head = "case_id,sex,primary_site\n"
    write(tmp_path, "flat.csv", head + "c1,female,breast\n" + head + "c2,female,breast\n")
    code, errors, _ = run("flat.csv", "-o", "flat/")
    assert code == 3
    assert errors == [
        "Error: flat.csv, row 3: the row repeats the header (were two tables joined into one?); delete it"
    ]
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == ["c1.json", "c2.json"]

    linked = tmp_path / "linked"
    linked.mkdir()
    write(linked, "cases.csv", head + "c1,female,breast\n")
    write(linked, "metastases.csv", "case_id,site\nc1,bone\ncase_id,site\n")
    code, errors, _ = run("linked/cases.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: linked/metastases.csv, row 3: the row repeats the header (were two tables joined into"
        " one?); delete it"
    ]
    assert len(resources(tmp_path / "out" / "c1.json", "Condition")) == 2


def test_a_framework_header_repeated_among_the_rows_is_named_as_such(tmp_path):
    root = tmp_path / "mef"
    root.mkdir()
    for source in MEF.glob("*.csv"):
        text = source.read_text()
        if source.name == "condition.csv":
            text += text.splitlines(keepends=True)[0]
        (root / source.name).write_text(text)
    code, errors, _ = run("mef/patient.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: mef/condition.csv, row 5: the row repeats the header (were two tables joined into one?);"
        " delete it"
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mef-1.json", "mef-2.json"]


# --- Scalars YAML types where the case format wants text -------------------------------------


def test_a_number_or_boolean_where_text_goes_is_refused_with_the_fix(tmp_path):
    """`id: 1.10` reached the model as 1.1, and the message said only 'Input should be a valid
    string (got 1.1)': a value the user never wrote, and no way out. Nothing is read into text
    (1.10 cannot be told from 1.1 once parsed); the message says why and how to keep it."""
    write(
        tmp_path,
        "t.yaml",
        "case: {id: 1.10}\npatient: {sex: female}\nprimary_cancers: [{id: b, site: breast, grade: 2}]\n",
    )
    code, errors, _ = run("t.yaml")
    fix = (
        "; YAML and JSON read an unquoted number, true or false as that value, not as the text written:"
        " put the value in quotes"
    )
    assert code == 3
    assert errors == [
        f"Error: t.yaml:1: case.id: Input should be a valid string (got 1.1){fix}",
        f"Error: t.yaml:3: primary_cancers[0].grade: Input should be a valid string (got 2){fix}",
    ]
    write(
        tmp_path,
        "q.yaml",
        "case: {id: '1.10'}\npatient: {sex: female}\nprimary_cancers: [{id: b, site: breast}]\n",
    )
    code, errors, _ = run("q.yaml", "-o", "q.json")
    assert (code, errors) == (0, [])
    (patient,) = resources(tmp_path / "q.json", "Patient")
    assert patient["identifier"][0]["value"] == "1.10"


# --- Names made from sources -----------------------------------------------------------------


def test_error_files_of_sources_whose_names_meet_in_a_file_name_are_all_kept(tmp_path):
    """--errors-to names each file after its source with what a file name cannot hold made '_':
    `a/x.yaml` and `a_x.yaml`, or `café.yaml` and `cafê.yaml` (`caf_.yaml` both), wrote
    one file, and the second case's errors replaced the first's."""
    (tmp_path / "a").mkdir()
    sources = ["a/x.yaml", "a_x.yaml", "caf\u00e9.yaml", "caf\u00ea.yaml"]
    for i, name in enumerate(sources):
        write(tmp_path, name, f"case: {{id: c{i}}}\n")  # no patient: each fails
    code, errors, _ = run(*sources, "--errors-to", "errors")
    assert code == 3 and len(errors) == 2 * len(sources)
    written = sorted((tmp_path / "errors").iterdir())
    assert sorted(p.read_text().splitlines()[0] for p in written) == sorted(f"source: {s}" for s in sources)
    assert [p.name for p in written] == [
        "a_x.yaml-2.error.txt",
        "a_x.yaml.error.txt",
        "caf_.yaml-2.error.txt",
        "caf_.yaml.error.txt",
    ]


# --- Workbook numbers and times as shown ------------------------------------------------------


def test_a_workbook_number_with_fixed_decimals_gives_the_digits_it_shows(tmp_path):
    """A cell formatted '0.00' shows 1.10 but stores 1.1; read as stored it became case id 1.1
    (another case's id) and grade '2' for a cell showing 2.0. A format that rounds (45.5 shown as
    46) still gives the number typed: the digits it hides are the user's, not the format's."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["case_id", "sex", "primary_site", "primary_note", "age"])
    sheet.append([1.1, "female", "breast", 1234.5, 45.5])
    sheet["A2"].number_format = "0.00"
    sheet["D2"].number_format = "#,##0.00"
    sheet["E2"].number_format = "0"
    book.save(tmp_path / "t.xlsx")
    code, errors, _ = run("t.xlsx", "-o", "out/")
    assert (code, errors) == (0, [])
    (patient,) = resources(tmp_path / "out" / "1.10.json", "Patient")
    assert patient["identifier"][0]["value"] == "1.10"
    (condition,) = resources(tmp_path / "out" / "1.10.json", "Condition")
    assert [n["text"] for n in condition["note"]] == ["1234.50"]
    assert condition["onsetAge"]["value"] == 45.5


def test_a_workbook_time_cell_is_refused_not_read_as_a_clock_time(tmp_path):
    """A spreadsheet makes a time of text typed like one ('2:1' becomes 02:01); it was read as the
    text '02:01:00', which nobody typed."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["case_id", "sex", "primary_site", "primary_note"])
    sheet.append(["c1", "female", "breast", dt.time(2, 1)])
    sheet.append(["c2", "female", "breast", "ratio 2:1"])
    book.save(tmp_path / "t.xlsx")
    code, errors, _ = run("t.xlsx", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: t.xlsx, sheet 'Sheet', row 2, column 'primary_note' (D): a time (02:01:00), which a"
        " spreadsheet makes of what is typed like one ('2:1', '12:30'); the case format has no time of"
        " day: format the column as text and type it again"
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c2.json"]


# --- Text that is not UTF-8 ------------------------------------------------------------------


def test_a_csv_line_that_is_not_utf8_fails_its_row_and_the_rows_after_it_are_read(tmp_path):
    """A Latin-1 accent on one line ended the table there: the rows after it were neither
    converted nor counted ('1 of 2 case(s) converted' for a table of four), and the message named
    a line as if only it were lost."""
    (tmp_path / "t.csv").write_bytes(
        b"case_id,sex,primary_site,primary_note\n"
        b"c1,female,breast,ok\n"
        b"c2,female,breast,caf\xe9\n"
        b"c3,female,breast,ok\n"
        b"c4,female,breast,ok\n"
    )
    result = CliRunner().invoke(main, ["convert", "t.csv", "-o", "out/"])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        "Error: t.csv, row 3, column 'primary_note' (D): the text is not UTF-8 (byte 0xe9 on line 3), as"
        " a spreadsheet program writes plain CSV in a local encoding; save the table as CSV UTF-8"
    )
    assert "3 of 4 case(s) converted" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c1.json", "c3.json", "c4.json"]


def test_a_linked_row_that_is_not_utf8_fails_its_case(tmp_path):
    write(tmp_path, "cases.csv", "case_id,sex,primary_site\nc1,female,breast\nc2,female,breast\n")
    (tmp_path / "metastases.csv").write_bytes(b"case_id,site,note\nc1,bone,caf\xe9\nc2,bone,ok\n")
    code, errors, _ = run("cases.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: metastases.csv, row 2, column 'note' (C): the text is not UTF-8 (byte 0xe9 on line 2), as"
        " a spreadsheet program writes plain CSV in a local encoding; save the table as CSV UTF-8"
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c2.json"]


def test_a_table_of_no_rows_and_an_ndjson_file_of_blank_lines_are_named_for_what_they_are(tmp_path):
    """Both were told 'no case file in it (looked for .yaml, .yml, .json, .ndjson)', the message
    for a directory, about a file that is a table or an NDJSON file."""
    write(tmp_path, "t.csv", "case_id,sex,primary_site\n\n,,\n")
    write(tmp_path, "n.ndjson", "\n  \n")
    result = CliRunner().invoke(main, ["convert", "t.csv", "n.ndjson", "-o", "out/"])
    assert result.exit_code == 7
    assert [line for line in result.stderr.splitlines() if line.startswith("Error")] == [
        "Error: t.csv: no case in it: a table with a header and no rows",
        "Error: n.ndjson: no case in it: every line is blank",
    ]


# --- Column maps -----------------------------------------------------------------------------


def test_a_key_given_twice_in_a_column_map_is_refused_naming_both_lines(tmp_path):
    """`values: {F: female, F: male}` used the first translation, `{field: primary_site, field:
    histology}` the second field, and a second `columns:` replaced the whole first block: each lost
    what the other said, without a word."""
    write(tmp_path, "t.csv", "Patient,Gender,Site\np1,F,breast\n")
    maps = {
        "values.yaml": "columns:\n  Patient: case_id\n  Gender: {field: sex, values: {F: female,\n    F: male}}\n",
        "field.yaml": "columns:\n  Patient: case_id\n  Site: {field: primary_site, field: histology}\n",
        "columns.yaml": "columns:\n  Patient: case_id\ncolumns:\n  Gender: sex\n",
    }
    got = []
    for name, text in maps.items():
        write(tmp_path, name, text)
        code, errors, _ = run("t.csv", "--columns", name, "-o", "out/")
        got.append((code, errors))
    tail = "is given twice in one mapping"
    lost = "one of the two would be lost without a word: keep one"
    assert got == [
        (7, [f"Error: values.yaml:4: 'F' {tail} (lines 3 and 4); {lost}"]),
        (7, [f"Error: field.yaml:3: 'field' {tail} (line 3, twice); {lost}"]),
        (7, [f"Error: columns.yaml:3: 'columns' {tail} (lines 1 and 3); {lost}"]),
    ]
    assert not (tmp_path / "out").exists()


# --- Row numbers after a cell of several lines -----------------------------------------------


def test_rows_after_a_cell_of_several_lines_are_named_as_a_spreadsheet_numbers_them(tmp_path):
    """A quoted cell holding line breaks takes several lines of the file but is one row, as a
    spreadsheet program shows it: the row after it is row 3, on line 5 of the file."""
    write(
        tmp_path,
        "t.csv",
        'case_id,sex,primary_site,primary_note\nc1,female,breast,"one\ntwo\nthree"\nc2,woman,breast,x\n'
        "c3,female,breast,y\n",
    )
    code, errors, _ = run("t.csv", "-o", "out/")
    assert errors == [
        "Error: t.csv, row 3, column 'sex' (B): patient.sex: 'woman' is not allowed; expected 'female',"
        " 'male', 'other' or 'unknown'"
    ]
    (condition,) = resources(tmp_path / "out" / "c1.json", "Condition")
    assert [n["text"] for n in condition["note"]] == ["one\ntwo\nthree"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c1.json", "c3.json"]


# --- A CSV that is another kind of text ------------------------------------------------------


def test_a_csv_of_tabs_is_read_and_a_utf16_csv_is_named(tmp_path):
    """A table saved as tab-separated text and named .csv was one column whose header held the
    tabs, refused as 'not a field'; a UTF-16 CSV (a spreadsheet's 'Unicode text') was 'not UTF-8
    text (byte 0xff)', as if one character were wrong."""
    write(tmp_path, "tabs.csv", "case_id\tsex\tprimary_site\tprimary_note\nc1\tfemale\tbreast\ta, b; c\n")
    (tmp_path / "wide.csv").write_bytes("case_id,sex,primary_site\nc2,female,breast\n".encode("utf-16"))
    code, errors, _ = run("tabs.csv", "wide.csv", "-o", "out/")
    assert code == 3
    assert errors == ["Error: wide.csv: the file is UTF-16 text; save it as CSV UTF-8"]
    (condition,) = resources(tmp_path / "out" / "c1.json", "Condition")
    assert [n["text"] for n in condition["note"]] == ["a, b; c"]


def test_an_id_of_many_digits_written_as_a_number_is_told_to_be_quoted(tmp_path):
    """A 17-digit record number written without quotes was told only to raise the number limit,
    which is the fix for a measurement, not for an id."""
    write(
        tmp_path,
        "t.yaml",
        "case: {id: 12345678901234567}\npatient: {sex: female}\nprimary_cancers: [{id: b, site: breast}]\n",
    )
    code, errors, _ = run("t.yaml")
    assert code == 3
    assert errors == [
        "Error: t.yaml:1: case.id: a number of 17 digits is larger than the limit of 1e+15; if it is an id"
        " or a code, put it in quotes; if the file is right, raise the limit with --limit number=N"
    ]


def test_a_spreadsheet_in_a_format_tables_are_not_read_from_is_named_as_one(tmp_path):
    """An .xls or .ods workbook is read as a case file, and was refused as 'a binary file', which
    did not say that it is a spreadsheet nor which formats are read."""
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    (tmp_path / "calc.ods").write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + b"\x00" * 64)
    code, errors, _ = run("old.xls", "calc.ods")
    assert code == 3
    tail = "not a YAML or JSON case file; tables are read from .csv, .tsv and .xlsx files: save a spreadsheet as one of those"
    assert errors == [
        f"Error: old.xls: this is an old Office file (.xls, .doc), {tail}",
        f"Error: calc.ods: this is a zip archive (a spreadsheet such as .ods or .xlsx, or another office file), {tail}",
    ]


# --- Line numbers after the line breaks only YAML counts --------------------------------------


def test_lines_are_named_as_editors_count_them_after_a_unicode_line_separator(tmp_path):
    """YAML also ends a line at NEL and U+2028/U+2029, which text pasted from a PDF carries; every
    line after one was named one too far down (`age: forty` on line 6 was 'line 8')."""
    head = 'case: {id: a}\npatient: {sex: female, ethnicity: "one\u2028two\x85three"}\nprimary_cancers:\n'
    write(tmp_path, "age.yaml", head + "  - id: b\n    site: breast\n    age: forty\n")
    write(tmp_path, "twice.yaml", head + "  - id: b\n    site: breast\n    site: lung\n")
    write(
        tmp_path,
        "twice.json",
        '{"case": {"id": "a"},\n"patient": {"sex": "female", "ethnicity": "one\u2028two"},\n'
        '"primary_cancers": [{"id": "b",\n "site": "breast",\n "site": "lung"}]}',
    )
    code, errors, _ = run("age.yaml", "twice.yaml", "twice.json")
    assert code == 3
    again = (
        "appears twice in one mapping (lines 5 and 6); the second would silently replace the first: keep one"
    )
    assert errors == [
        "Error: age.yaml:6: primary_cancers[0].age: Input should be a valid number, unable to parse string"
        ' as a number (got "forty")',
        f"Error: twice.yaml:6: the key 'site' {again}",
        f"Error: twice.json:5: the key 'site' {again.replace('5 and 6', '4 and 5')}",
    ]


def test_a_framework_column_given_twice_is_refused_not_one_read_over_the_other(tmp_path):
    """The framework's tables are read by column name, so a second `code` column (`Code`, added
    for a corrected code) replaced the first in every row: mef-1's left breast cancer (C50.912)
    was sent as the right one's (C50.911) without a word."""
    root = tmp_path / "mef"
    root.mkdir()
    for source in MEF.glob("*.csv"):
        lines = source.read_text().splitlines()
        if source.name == "condition.csv":
            lines = [lines[0] + ",Code", lines[1] + ",C50.911", *(line + "," for line in lines[2:])]
        (root / source.name).write_text("\n".join(lines) + "\n")
    code, errors, _ = run("mef/patient.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: mef/condition.csv: column 'code' (D) and column 'Code' (M) are one column of the mCODE"
        " Extraction Framework's condition table; keep one"
    ]
    assert not (tmp_path / "out").exists()


def test_a_linked_table_with_two_case_id_columns_is_refused_not_joined_by_the_last(tmp_path):
    """A linked table joined its rows by its last case_id column and never read the first, so a
    metastasis of c1 (`case_id`) went to c2 (`Case ID`) without a word."""
    write(tmp_path, "cases.csv", "case_id,sex,primary_site\nc1,female,breast\nc2,female,breast\n")
    write(tmp_path, "metastases.csv", "case_id,site,Case ID\nc1,bone,c2\n")
    code, errors, _ = run("cases.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: metastases.csv: columns 'case_id' (A) and 'Case ID' (C) both give case_id; give it in one column"
    ]


# --- A byte order mark before NDJSON and JSON read line by line --------------------------------


def test_every_ndjson_reader_reads_past_a_byte_order_mark(tmp_path):
    """Case files and convert's NDJSON accept a UTF-8 byte order mark (Windows editors save one);
    the readers of bundles and resources (push, verify, validate, export) refused the first line
    for it: 'not JSON: UTF-8 byte order mark (BOM) is not supported'."""
    bom = b"\xef\xbb\xbf"
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": PATIENT}]}
    ndjson = tmp_path / "b.ndjson"
    ndjson.write_bytes(bom + (json.dumps(bundle) + "\n").encode() * 2)
    whole = tmp_path / "w.json"
    whole.write_bytes(bom + json.dumps(bundle, indent=2).encode())
    items = list(iter_bundles([str(ndjson), str(whole)]))
    assert [(i.source, i.bundle) for i in items] == [(str(ndjson), bundle)] * 2 + [(str(whole), bundle)]
    units = list(iter_units([str(ndjson)]))
    assert [(u.line, u.problem) for u in units] == [(1, None), (2, None)]
    (tmp_path / "bulk").mkdir()
    (tmp_path / "bulk" / "Patient.ndjson").write_bytes(bom + json.dumps(PATIENT).encode() + b"\n")
    assert not [p for p in read_paths([str(tmp_path / "bulk")]) if isinstance(p, SourceProblem)]


def test_a_csv_whose_first_line_names_its_delimiter_is_read_as_a_spreadsheet_reads_it(tmp_path):
    """`sep=;` on the first line tells a spreadsheet program the delimiter, and the program shows the
    next line as row 1. It was read as the header: one column 'sep=', and no case_id column."""
    write(
        tmp_path,
        "t.csv",
        "sep=;\r\ncase_id;sex;primary_site;primary_note\r\nc1;female;breast;a, b\r\nc2;woman;breast;x\r\n",
    )
    code, errors, _ = run("t.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: t.csv, row 3, column 'sex' (B): patient.sex: 'woman' is not allowed; expected 'female',"
        " 'male', 'other' or 'unknown'"
    ]
    (condition,) = resources(tmp_path / "out" / "c1.json", "Condition")
    assert [n["text"] for n in condition["note"]] == ["a, b"]


# --- A comment that cuts a value short -------------------------------------------------------


def test_a_value_a_comment_cut_short_is_said(tmp_path):
    """YAML starts a comment at ' #', so `name: FOLFOX #2` is the drug 'FOLFOX' and `note: Lesion #2
    grew` the note 'Lesion': the rest was dropped without a word. A comment written as comments
    are (`# like this`, with a space) and a quoted value are not named."""
    write(
        tmp_path,
        "t.yaml",
        "case: {id: a}\npatient: {sex: female}\nprimary_cancers:\n  - id: b  # the primary\n    site: breast\n"
        '    note: Lesion #2 grew\n    histology: "invasive ductal carcinoma #1"\n'
        "medications:\n  - name: FOLFOX #2\n    treats: [b]\n",
    )
    code, errors, warnings = run("t.yaml", "-o", "t.json")
    assert (code, errors) == (0, [])
    said = " YAML reads ' #' as the start of a comment, so '#2{}' is not part of it; if it is, put the whole value in quotes"
    assert [w for w in warnings if "comment" in w] == [
        "warning: t.yaml: primary_cancers[0].note (line 6): the value is 'Lesion':" + said.format(" grew"),
        "warning: t.yaml: medications[0].name (line 9): the value is 'FOLFOX':" + said.format(""),
    ]


def test_a_hidden_column_of_a_workbook_is_converted_and_said(tmp_path):
    """Hidden rows and sheets were said; a hidden column (a registrar hiding data not to be sent)
    was converted without a word. Hidden columns with no header, as templates hide the unused
    ones, are not named."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["case_id", "sex", "primary_site", "primary_note"])
    sheet.append(["c1", "female", "breast", "withdrawn consent"])
    sheet.append(["c2", "female", "breast", None])
    sheet.column_dimensions["D"].hidden = True
    sheet.column_dimensions.group("F", "Z", hidden=True)
    sheet.row_dimensions[3].hidden = True
    book.save(tmp_path / "t.xlsx")
    code, errors, warnings = run("t.xlsx", "-o", "out/")
    assert (code, errors) == (0, [])
    assert warnings == [
        "warning: t.xlsx, sheet 'Sheet', row 2: t.xlsx, sheet 'Sheet': column 'primary_note' (D) is hidden and"
        " row 3 is hidden; every row and column is converted all the same: delete what is not to be converted"
    ]
    (condition,) = resources(tmp_path / "out" / "c1.json", "Condition")
    assert [n["text"] for n in condition["note"]] == ["withdrawn consent"]
