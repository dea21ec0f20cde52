"""A fifth attack on the inputs: bytes, look-alike letters and workbook and table shapes a registrar
or a hostile user would hand us. Each test names what went wrong before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.convert_run import cli, run

EXAMPLES = Path(__file__).parent.parent / "examples"
CASE = (EXAMPLES / "yu-2024-case-1.yaml").read_text()
TABLE = (EXAMPLES / "tables" / "examples.csv").read_text()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Messages name files as given; the tests give them relative to tmp_path."""
    monkeypatch.chdir(tmp_path)


# --- Encodings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize(
    ("name", "text", "fix"),
    [
        ("case.yaml", CASE, "save it as UTF-8 (a UTF-8 byte order mark is fine)"),
        ("case.json", '{"case": {"id": "c1"}}\n', "save it as UTF-8 (a UTF-8 byte order mark is fine)"),
        ("cases.csv", TABLE, "save it as CSV UTF-8"),
        ("cases.ndjson", '{"case": {"id": "c1"}}\n', "save it as UTF-8 (one case per line)"),
    ],
)
def test_utf16_and_utf32_without_a_byte_order_mark_are_named(tmp_path, encoding, name, text, fix):
    """Saved without a byte order mark (a 'Unicode text' export, a shell's redirection), UTF-16 or
    UTF-32 was 'a binary file' as a case file and, as a CSV, one error per cell of every row ('a NUL
    byte (0x00) in the cell'), neither saying what the file is nor how to fix it."""
    (tmp_path / name).write_bytes(text.encode(encoding))
    code, errors, _ = run(name, "-o", "out")
    assert code == 3
    width = encoding[:6].upper()
    if name.endswith(".ndjson"):
        assert errors == [f"Error: {name}: the file is UTF-16 or UTF-32 text; {fix}"]
    else:
        assert errors == [f"Error: {name}: the file is {width} text; {fix}"]


def test_a_lone_nul_and_binary_bytes_are_still_named_as_before(tmp_path):
    """The new check for unmarked UTF-16 judges the pattern of the NULs: one NUL in UTF-8 text is
    still named with its line, and random bytes are still a binary file."""
    (tmp_path / "one.yaml").write_bytes(CASE.replace("sex: female", "sex: fem\x00ale").encode())
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)) * 8)
    # A zip's first bytes have NULs in every other place, but they read as no UTF-16 text.
    (tmp_path / "zip.yaml").write_bytes(b"PK\x03\x04\x14\x00\x06\x00")
    code, errors, _ = run("one.yaml", "bin.yaml", "zip.yaml", "-o", "out")
    assert code == 3
    assert sorted(errors) == [
        "Error: bin.yaml: this is a binary file, not a YAML or JSON case file",
        "Error: one.yaml:19: a NUL byte (0x00) in the text; a case file is plain UTF-8 text",
        "Error: zip.yaml: this is a zip archive (a spreadsheet such as .ods or .xlsx, or another office"
        " file), not a YAML or JSON case file; tables are read from .csv, .tsv and .xlsx files: save a"
        " spreadsheet as one of those",
    ]


# --- Characters that look like others --------------------------------------------------------------


def test_a_space_that_is_no_space_is_shown_as_its_escape_in_a_message(tmp_path):
    """A no-break space pasted into an id was shown as a space ('yu-2024 case-1' has the wrong
    form), so the message blamed what looked like a plain space; it is shown as \\u00a0, as a
    zero-width space already was."""
    (tmp_path / "case.yaml").write_text(CASE.replace("id: yu-2024-case-1", "id: yu-2024\u00a0case-1"))
    code, errors, _ = run("case.yaml", "-o", "out")
    assert code == 3
    assert errors == [
        "Error: case.yaml:5: case.id: 'yu-2024\\u00a0case-1' has the wrong form"
        " (expected to match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$)"
    ]


def test_a_term_with_look_alike_letters_of_another_script_names_them(tmp_path):
    """'invasive dуctаl carcinoma' with a Cyrillic у and а reads exactly as the histology the maps
    code; it was kept as text with a warning that showed the term as it looks, so nobody could see
    why it was not found. The warning now names each such letter."""
    text = CASE.replace(
        "histology: invasive ductal carcinoma", "histology: invasive d\u0443ct\u0430l carcinoma"
    )
    (tmp_path / "case.yaml").write_text(text)
    result = cli("convert", "case.yaml", "-o", "out.json")
    assert result.exit_code == 0
    line = next(line for line in result.stderr.splitlines() if "carcinoma" in line)
    assert line.endswith(
        "1 time(s), in yu-2024-case-1; it holds letters of another script that look like Latin ones:"
        " \u0443 (U+0443 CYRILLIC SMALL LETTER U), \u0430 (U+0430 CYRILLIC SMALL LETTER A); retype them"
    )
    # Words wholly of one script and accented Latin letters are no look-alikes.
    from fhir_adapter.casefile import look_alikes

    assert look_alikes("carcinome canalaire infiltrant (sein gauche, 45 ans, métastase)") == []
    assert look_alikes("рак молочной железы") == []
    assert look_alikes("ｄuctal") == ["ｄ (U+FF44 FULLWIDTH LATIN SMALL LETTER D)"]


# --- Files that are not what their name says ------------------------------------------------------


def _workbook(path: Path, padding: int = 0) -> Path:
    """The flat example table as an .xlsx workbook; `padding` bytes of spaces in an XML comment of
    its sheet, which pack to almost nothing."""
    import csv
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "cases"
    for row in csv.reader(TABLE.splitlines()):
        sheet.append([cell or None for cell in row])
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for part in source.infolist():
            data = source.read(part.filename)
            if part.filename != "xl/worksheets/sheet1.xml" or not padding:
                out.writestr(part, data)
                continue
            head, tail = data.split(b"</sheetData>")
            with out.open(part.filename, "w", force_zip64=True) as fh:
                fh.write(head + b"</sheetData><!--")
                chunk = b" " * (1 << 20)
                for _ in range(padding >> 20):
                    fh.write(chunk)
                fh.write(b"-->" + tail)
    plain.unlink()
    return path


def test_a_zip_bomb_workbook_is_refused_at_once(tmp_path):
    """A 100 KB .xlsx whose sheet unpacks to 100 MB of one XML comment was streamed through
    openpyxl: at 800 MB it ran for over ten minutes with no word. A workbook packed far tighter
    than any spreadsheet program packs one is refused before it is opened; the same workbook
    without the padding converts."""
    import time

    _workbook(tmp_path / "plain.xlsx")
    bomb = _workbook(tmp_path / "bomb.xlsx", padding=101 << 20)
    assert bomb.stat().st_size < 1 << 20
    started = time.monotonic()
    code, errors, _ = run("bomb.xlsx", "plain.xlsx", "-o", "out")
    assert time.monotonic() - started < 30
    assert code == 3
    assert len(errors) == 1
    assert errors[0].startswith("Error: bomb.xlsx: the workbook unpacks to 105,9")
    assert errors[0].endswith(
        "more than 100 to 1, which no spreadsheet program writes (a zip bomb); save the workbook again"
        " from a spreadsheet program"
    )
    assert len(list((tmp_path / "out").glob("*.json"))) == 3


def test_a_file_named_xlsx_that_is_no_xlsx_workbook_says_what_it_is(tmp_path):
    """openpyxl's errors were passed on: 'not an Excel .xlsx workbook (BadZipFile: File is not a zip
    file)' for a CSV renamed .xlsx and for a password-protected workbook (Excel stores those as an
    OLE file, as it does .xls), and '(KeyError: "There is no item named '[Content_Types].xml' in the
    archive")' for an .ods renamed; none said what the file was or what to do."""
    import zipfile

    (tmp_path / "text.xlsx").write_text(TABLE)
    (tmp_path / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088))
    with zipfile.ZipFile(tmp_path / "calc.xlsx", "w") as ods:
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        ods.writestr("content.xml", "<office:document-content/>")
    code, errors, _ = run("text.xlsx", "locked.xlsx", "calc.xlsx", "-o", "out")
    assert code == 3
    assert sorted(errors) == [
        "Error: calc.xlsx: this is an OpenDocument file (application/vnd.oasis.opendocument.spreadsheet),"
        " not an .xlsx workbook; save it from the spreadsheet program as .xlsx or as CSV UTF-8",
        "Error: locked.xlsx: this is an old Office file (.xls) or a password-protected workbook (Excel"
        " keeps an encrypted .xlsx in that format), not an .xlsx workbook; save it from a spreadsheet"
        " program as .xlsx without a password, or as CSV UTF-8",
        "Error: text.xlsx: this is a CSV or other text, not an .xlsx workbook (an .xlsx file is a zip"
        " archive); if it is a CSV, name it .csv, or save the table from a spreadsheet program as .xlsx",
    ]


def test_a_workbook_named_csv_says_what_it_is(tmp_path):
    """An .xlsx renamed .csv was 'line 1: the file is not UTF-8 text (byte 0x85)', and an .xls
    renamed .csv the same with another byte: true, but no help."""
    _workbook(tmp_path / "book.xlsx").rename(tmp_path / "book.csv")
    (tmp_path / "old.csv").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088))
    code, errors, _ = run("book.csv", "old.csv", "-o", "out")
    assert code == 3
    assert sorted(errors) == [
        "Error: book.csv: this is a zip archive (an .xlsx or .ods workbook), not CSV text; name an .xlsx"
        " workbook .xlsx, or save the table from a spreadsheet program as CSV UTF-8",
        "Error: old.csv: this is an old Office file (.xls), not CSV text; name an .xlsx workbook .xlsx,"
        " or save the table from a spreadsheet program as CSV UTF-8",
    ]


# --- Linked tables --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "shown"),
    [("yu-2024\u200b-case-1", "yu-2024\\u200b-case-1"), ("yu\u20132024-case-1", "yu\u20132024-case-1")],
)
def test_an_orphan_row_whose_id_holds_an_invisible_character_or_a_dash_names_the_case(
    tmp_path, written, shown
):
    """A linked row whose case_id held a zero-width space or an en dash (what a word processor
    makes of '-') was named as an orphan with no hint, though the id reads as a case of the table;
    ids differing in case, spaces, zeros or composition already named the case they may be."""
    linked = EXAMPLES / "tables" / "linked"
    for table in linked.glob("*.csv"):
        text = table.read_text()
        if table.name == "metastases.csv":
            text = text.replace("yu-2024-case-1,bone", f"{written},bone")
        (tmp_path / table.name).write_text(text)
    code, errors, _ = run("cases.csv", "-o", "out")
    assert code == 3
    assert (
        f"Error: metastases.csv, row 4: case_id '{shown}' is not in cases.csv; add the case there or fix"
        " the id (it has 'yu-2024-case-1')"
    ) in errors


# --- Shapes of tables --------------------------------------------------------------------------------


def test_a_title_above_the_header_is_named_as_such(tmp_path):
    """An export with a title line and a blank line above its header read the title as the header:
    the errors named 'Registry extract June 2024' as an unknown column and said there was no
    case_id column, though row 3 held it. The first line now says where the header seems to be and
    what to delete."""
    (tmp_path / "export.csv").write_text("Registry extract June 2024\n\n" + TABLE)
    code, errors, _ = run("export.csv", "-o", "out")
    assert code == 3
    assert errors[0] == (
        "Error: export.csv: the header is read from row 1, but row 3, column A reads case_id: if the"
        " header is there, delete the rows above it (a title or a note) and convert again"
    )
    assert errors[-1] == "Error: export.csv: no case_id column; every row needs the id of its case"
    # A table that lacks case_id altogether is told only that.
    (tmp_path / "plain.csv").write_text("sex,age\nfemale,45\n")
    code, errors, _ = run("plain.csv", "-o", "out")
    assert errors == ["Error: plain.csv: no case_id column; every row needs the id of its case"]


# --- Values written as a person would, not as the format wants --------------------------------------

AGE = "    age: 45\n    primary: breast\n  - id: bone"


@pytest.mark.parametrize(
    ("written", "error"),
    [
        (
            "    age: '\uff14\uff15'",
            "metastases[0].age: Input should be a valid number, unable to parse string as a number (got"
            ' "\\uff14\\uff15"); it is written in full-width digits: write 45',
        ),
        (
            "    age: 45 years",
            "metastases[0].age: Input should be a valid number, unable to parse string as a number (got"
            ' "45 years"); write the number alone in years: 45',
        ),
        (
            "    date: \uff12\uff10\uff11\uff19-03-01",
            "metastases[0].date: '\uff12\uff10\uff11\uff19-03-01' is not a date; write YYYY, YYYY-MM or"
            " YYYY-MM-DD (e.g. 2019, 2019-03, 2019-03-14); it is written in full-width characters: write"
            " 2019-03-01",
        ),
    ],
)
def test_full_width_digits_and_a_unit_after_a_number_are_named_with_the_fix(tmp_path, written, error):
    """An age typed with an East Asian input method (４５) or with its unit ('45 years') was 'unable to
    parse string as a number (got "\\uff14\\uff15")', a message with no way out; a date in full-width
    digits was 'not a date' though it reads as one. The number is not guessed; the fix is said."""
    (tmp_path / "case.yaml").write_text(CASE.replace(AGE, f"{written}\n    primary: breast\n  - id: bone"))
    code, errors, _ = run("case.yaml", "-o", "out")
    assert code == 3
    assert errors == [f"Error: case.yaml:34: {error}"]


# --- Framework tables ---------------------------------------------------------------------------------

MEF = Path(__file__).parent / "data" / "tables" / "mef"


def _framework(tmp_path: Path, table: str, old: str, new: str) -> None:
    for source in MEF.glob("*.csv"):
        text = source.read_text()
        if source.name == table:
            assert old in text
            text = text.replace(old, new, 1)
        (tmp_path / source.name).write_text(text)


def test_an_observation_code_with_a_look_alike_dash_is_an_error_not_left_out(tmp_path):
    """An observation row whose LOINC code held an en dash (85337–4, what a word processor makes of
    '-') was 'not carried' as an observation of another kind: the patient's estrogen receptor was
    dropped with a warning about something else. A code that cannot be of its system is an error
    naming the cell, as it already was for conditions, with the code to write."""
    _framework(tmp_path, "observation.csv", "85337-4", "85337\u20134")
    code, errors, _ = run("patient.csv", "-o", "out")
    assert code == 3
    assert errors == [
        "Error: observation.csv, row 2, column 'code' (D): '85337\u20134' is no LOINC code: it holds"
        " characters that only look like its own (U+2013); write 85337-4"
    ]


def test_a_condition_code_with_a_full_width_digit_names_the_character(tmp_path):
    """'C50.９12' was 'no ICD-10-CM code (ICD-10-CM codes are ...)', though it reads as the code."""
    _framework(tmp_path, "condition.csv", "C50.912", "C50.\uff1912")
    code, errors, _ = run("patient.csv", "-o", "out")
    assert code == 3
    assert errors == [
        "Error: condition.csv, row 2, column 'code' (D): 'C50.\uff1912' is no ICD-10-CM code: it holds"
        " characters that only look like its own (U+FF19); write C50.912"
    ]


def test_an_escape_of_half_a_character_names_its_line(tmp_path):
    """ "Chin\\ud800ese" (half of a UTF-16 pair, as a program that cuts strings by code units leaves
    one) failed as 'patient.ethnicity: Input should be a valid string, unable to parse raw data as a
    unicode string', with no line and no fix. A whole pair (an emoji) and a single-quoted YAML
    string, where the escape is plain text, are read as before."""
    import json

    import yaml

    data = yaml.safe_load(CASE)
    text = json.dumps(data, indent=1)
    (tmp_path / "half.json").write_text(text.replace('"Chinese"', '"Chin\\ud800ese"'))
    (tmp_path / "pair.json").write_text(text.replace('"Chinese"', '"Chinese \\ud83d\\ude00"'))
    (tmp_path / "half.yaml").write_text(CASE.replace("ethnicity: Chinese", 'ethnicity: "Chin\\ud800ese"'))
    plain = CASE.replace("ethnicity: Chinese", "ethnicity: 'Chin\\ud800ese'")
    (tmp_path / "plain.yaml").write_text(plain.replace("id: yu-2024-case-1", "id: plain"))
    code, errors, _ = run("half.json", "pair.json", "half.yaml", "plain.yaml", "-o", "out")
    assert code == 3
    fix = (
        " the escape \\ud800 is half of a character (a lone UTF-16 surrogate), which no text can hold;"
        " write the character itself, or both halves of its escape"
    )
    assert sorted(errors) == [f"Error: half.json:13:{fix}", f"Error: half.yaml:20:{fix}"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plain.json", "yu-2024-case-1.json"]


def test_a_tab_in_the_indentation_and_typographic_quotes_are_named_with_the_fix(tmp_path):
    """A tab an editor put for indentation was 'found character '\\t' that cannot start any token
    ...; check indentation and quoting', and a value a word processor quoted (“female”) was 'not
    allowed' with no word of its quotes, which read exactly as the straight ones a user typed."""
    (tmp_path / "tab.yaml").write_text(CASE.replace("  sex: female", "\tsex: female"))
    (tmp_path / "curly.yaml").write_text(CASE.replace("  sex: female", "  sex: \u201cfemale\u201d"))
    code, errors, _ = run("tab.yaml", "curly.yaml", "-o", "out")
    assert code == 3
    assert sorted(errors) == [
        "Error: curly.yaml:19: patient.sex: '\u201cfemale\u201d' is not allowed; expected 'female', 'male',"
        " 'other' or 'unknown'; its quotes \u201c \u201d are typographic ones, part of the value: write"
        " 'female' with straight quotes or none",
        "Error: tab.yaml:19: invalid YAML: found character '\\t' that cannot start any token (while"
        " scanning for the next token); YAML indents with spaces, never tabs: replace the tab with spaces",
    ]
