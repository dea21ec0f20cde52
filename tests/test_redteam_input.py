"""Hostile inputs a registrar's tools really make: each fact of the input is found in the output,
as precise as it was given, or the run says why it is not."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from fhir_adapter.batch import convert_stream, iter_sources
from fhir_adapter.cli import main
from fhir_adapter.convert import ConvertOptions


def convert_all(path: Path | str, terminology) -> dict[str, object]:
    """Each result of converting a path, by its source name."""
    return {r.source: r for r in convert_stream(iter_sources([str(path)]), terminology, ConvertOptions())}


def resources(result, kind: str) -> list[dict]:
    bundle = json.loads(result.bundle_json)
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def primary_condition(result) -> dict:
    return next(r for r in resources(result, "Condition") if "primary" in json.dumps(r.get("identifier", [])))


def errors_of(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["convert", "-q", *args])
    return result.exit_code, [line for line in result.stderr.splitlines() if line.startswith("Error: ")]


# --- Workbooks: what a cell shows is what the case says ----------------------------------------


def _book(tmp_path: Path, header: list[str], rows: list[tuple[list, dict[int, str]]]) -> Path:
    """A workbook of one sheet; each row with the number formats of some of its cells (by index)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "cases"
    ws.append(header)
    for number, (values, formats) in enumerate(rows, start=2):
        ws.append(values)
        for index, fmt in formats.items():
            ws.cell(number, index + 1).number_format = fmt
    path = tmp_path / "registry.xlsx"
    wb.save(path)
    return path


def test_a_date_cell_gives_only_the_parts_its_format_shows(tmp_path, terminology):
    """Typing 'Mar 2019' or '2019' into a date cell stores a whole day (2019-03-01, 2019-01-01);
    the day was the spreadsheet's, so the onset is as precise as the cell shows."""
    header = ["case_id", "sex", "primary_site", "primary_date"]
    shown = {
        "month-name": ("mmm-yy", "2019-03"),
        "year-month": ("yyyy-mm", "2019-03"),
        "locale-month": ('[$-409]mmmm" "yyyy;@', "2019-03"),
        "year": ("yyyy", "2019"),
        "day": ("dd/mm/yyyy", "2019-03-01"),
        "day-time": ("yyyy-mm-dd h:mm", "2019-03-01"),
    }
    rows = [
        ([name, "female", "breast", dt.datetime(2019, 3, 1)], {3: fmt}) for name, (fmt, _) in shown.items()
    ]
    path = _book(tmp_path, header, rows)
    results = convert_all(path, terminology)
    onsets = {}
    for result in results.values():
        assert result.error is None, result.error
        onsets[result.case_id] = primary_condition(result)["onsetDateTime"]
    assert onsets == {name: want for name, (_, want) in shown.items()}


def test_a_date_shown_as_a_day_number_is_refused_with_a_hint(tmp_path):
    """A date cell reformatted as General shows, and holds, the spreadsheet's day number."""
    path = _book(
        tmp_path,
        ["case_id", "sex", "primary_site", "primary_date"],
        [(["c1", "female", "breast", dt.datetime(2019, 3, 1)], {3: "General"})],
    )
    code, errors = errors_of(str(path), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {path}, sheet 'cases', row 2, column 'primary_date' (D): primary_cancers[0].date:"
        " '43525' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2019, 2019-03, 2019-03-14);"
        " a number like this is a spreadsheet's day number: format the cell as a date"
    ]


def test_a_date_cell_that_shows_no_year_is_refused_whatever_its_column(tmp_path):
    """'1-Mar' typed into a cell is stored with a year the spreadsheet chose, and a grade typed as
    1-2 becomes 2 January: neither is a fact of the report, in a date column or a text one."""
    path = _book(
        tmp_path,
        [
            "case_id",
            "sex",
            "primary_site",
            "primary_date",
            "grade",
        ],
        [
            (["c1", "female", "breast", dt.datetime(2026, 3, 1), None], {3: "d-mmm"}),
            (["c2", "female", "breast", None, dt.datetime(2026, 1, 2)], {4: "d-mmm"}),
        ],
    )
    code, errors = errors_of(str(path), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {path}, sheet 'cases', row {row}, column '{column}' ({letter}): a day and month with no year"
        f" ({day}); a spreadsheet makes a date of what is typed like one ('1-Mar', 'SEPT2', '1/2') and adds a"
        " year of its own: format the column as text and type it again"
        for row, column, letter, day in [
            (2, "primary_date", "D", "03-01"),
            (3, "grade", "E", "01-02"),
        ]
    ]


def test_a_percent_cell_gives_the_percentage_it_shows(tmp_path, terminology):
    """A cell formatted as a percentage shows 90% and stores 0.9; the receptor result is 90%."""
    path = _book(
        tmp_path,
        ["case_id", "sex", "primary_site", "er", "pr"],
        [(["c1", "female", "breast", 0.9, 0.655], {3: "0%", 4: "0.0%"})],
    )
    (result,) = convert_all(path, terminology).values()
    assert result.error is None, result.error
    texts = [json.dumps(o) for o in resources(result, "Observation")]
    assert any("estrogen" in t.lower() and '"90%"' in t for t in texts), texts
    assert any("progesterone" in t.lower() and '"65.5%"' in t for t in texts), texts


def test_an_age_in_a_percent_cell_is_refused_not_shrunk(tmp_path):
    path = _book(
        tmp_path, ["case_id", "sex", "age", "primary_site"], [(["c1", "female", 0.45, "breast"], {2: "0%"})]
    )
    code, errors = errors_of(str(path), "-o", str(tmp_path / "out"))
    assert code == 3
    assert len(errors) == 1 and "column 'age' (C)" in errors[0] and '"45%"' in errors[0]


def test_a_number_shown_with_leading_zeros_keeps_them(tmp_path, terminology):
    """An id typed as a number in a column formatted 000000 shows 000123 and holds 123; the case id
    is what the registry sees, or it would not match the same case from any other export."""
    path = _book(
        tmp_path,
        ["case_id", "sex", "primary_site"],
        [([123, "female", "breast"], {0: "000000"}), ([124, "female", "breast"], {})],
    )
    assert sorted(r.case_id for r in convert_all(path, terminology).values()) == ["000123", "124"]


def test_a_number_past_fifteen_digits_is_refused(tmp_path):
    """A spreadsheet keeps 15 digits: an MRN of 17 typed as a number has lost its last ones, and
    read as a whole number it became another, valid-looking id."""
    path = _book(
        tmp_path, ["case_id", "sex", "primary_site"], [([12345678901234567.0, "female", "breast"], {})]
    )
    code, errors = errors_of(str(path), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {path}, sheet 'cases', row 2, column 'case_id' (A): the number 1.23456789012346e+16 has"
        " more digits than a spreadsheet keeps (15), so its last ones were lost when it was typed; format"
        " the column as text and type it again"
    ]


def test_a_formula_never_computed_and_an_error_cell_are_named_not_read_as_empty(tmp_path, terminology):
    """A workbook written by a program holds formulas without their values; read as data they are
    empty cells, and the age or the site would be lost without a word. #N/A is no histology."""
    path = _book(
        tmp_path,
        ["case_id", "sex", "age", "primary_site", "histology"],
        [
            (["c1", "female", "=40+5", "breast", "invasive ductal carcinoma"], {}),
            (["c2", "female", 45, "breast", "=NA()"], {}),
            (["c3", "female", 45, "breast", "invasive ductal carcinoma"], {}),
        ],
    )
    # =NA() evaluated: a spreadsheet program saves the error as the cell's value.
    _set_cached_error(path, "E3", "#N/A")
    code, errors = errors_of(str(path), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {path}, sheet 'cases', row 2, column 'age' (C): the formula =40+5 has no computed value"
        " saved in the workbook (a program wrote it without calculating it); open the workbook in a"
        " spreadsheet program and save it again, or type the value",
        f"Error: {path}, sheet 'cases', row 3, column 'histology' (E): the cell holds the spreadsheet"
        " error #N/A, not a value; correct the formula or type the value",
    ]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["c3.json"]


def _set_cached_error(path: Path, ref: str, error: str) -> None:
    """Give a formula cell the error value a spreadsheet program would have saved with it."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        items = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in items:
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                start = text.index(f'<c r="{ref}"')
                end = text.index("</c>", start) + len("</c>")
                text = text[:start] + f'<c r="{ref}" t="e"><f>NA()</f><v>{error}</v></c>' + text[end:]
                data = text.encode()
            dst.writestr(info, data)


def test_a_sheet_whose_header_cannot_be_read_fails_the_workbook_not_dropped(tmp_path):
    """Only a blank sheet is passed over; a metastases sheet with a bad header used to be left out
    of the join without a word, and its cases converted without their metastases."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "cases"
    ws.append(["case_id", "sex", "age"])
    ws.append(["k1", "female", 45])
    primaries = wb.create_sheet("primaries")
    primaries.append(["case_id", "site"])
    primaries.append(["k1", "breast"])
    metastases = wb.create_sheet("metastases")
    metastases.append(["case_id", "site", "x" * 50])
    metastases.append(["k1", "bone"])
    wb.create_sheet("notes")  # blank: nothing to read, nothing lost
    path = tmp_path / "linked.xlsx"
    wb.save(path)
    code, errors = errors_of(str(path), "-o", str(tmp_path / "out"), "--limit", "string=40")
    assert code == 3
    assert errors == [
        f"Error: {path}, sheet 'metastases', row 1, column C: a cell of 50 characters, longer than"
        " the limit of 40; if it is right, raise the limit with --limit string=N"
    ]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# --- Line ends: LF, CRLF and a CR alone each end a line ----------------------------------------


def _ndjson_case(case_id: str) -> str:
    return json.dumps(
        {"case": {"id": case_id}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}
    )


def test_ndjson_with_every_kind_of_line_end_gives_each_case(tmp_path, terminology):
    """A CR alone ended no line: the cases after it were 'extra data' of the line before, one
    error for several cases, and the run counted one case where there were two."""
    path = tmp_path / "cases.ndjson"
    lines = [_ndjson_case(f"n{i}") for i in range(1, 5)]
    path.write_bytes(
        b"\xef\xbb\xbf" + f"{lines[0]}\r\n{lines[1]}\r{lines[2]}\n{lines[3]}".encode()  # no last line end
    )
    results = convert_all(path, terminology)
    assert {name: r.error for name, r in results.items()} == {f"{path}:{i}": None for i in range(1, 5)}
    assert sorted(r.case_id for r in results.values()) == ["n1", "n2", "n3", "n4"]


def test_a_csv_with_cr_line_ends_reads_as_rows(tmp_path, terminology):
    """CSV saved with CR line ends (older Mac programs) was refused whole as one row."""
    path = tmp_path / "cases.csv"
    path.write_bytes(
        b"case_id,sex,age,primary_site,summary\r"
        b'c1,female,45,breast,"two lines\rin one cell"\r'
        b"c2,female,46,breast,\r"
    )
    results = convert_all(path, terminology)
    assert [(r.case_id, r.error) for r in results.values()] == [("c1", None), ("c2", None)]
    assert [name.rsplit(", ", 1)[1] for name in results] == ["row 2", "row 3"]
    patient = resources(results[f"{path}, row 2"], "Patient")[0]
    assert patient["gender"] == "female"
    summary = json.dumps(json.loads(results[f"{path}, row 2"].bundle_json))
    assert "two lines\\rin one cell" in summary


def test_a_stray_cr_in_a_csv_of_lf_lines_is_still_an_error(tmp_path):
    """Where the header ends in LF, a CR alone is a stray inside a cell: ending the row there would
    convert the case without the cells after it."""
    table = tmp_path / "cases.csv"
    table.write_bytes(
        b"case_id,sex,primary_site,laterality\nc1,female,breast\r,left\nc2,female,breast,right\n"
    )
    code, errors = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {table}, row 2: a carriage return (CR) inside a cell that is not quoted; save the table"
        " again as CSV (a line break in a cell must be inside quotes)"
    ]


def test_utf16_ndjson_is_one_error_for_the_file(tmp_path):
    """Read line by line, UTF-16 was split inside its characters: an error per line, each saying
    something different (UTF-16, binary, a NUL), and a count of cases that was no count of anything."""
    path = tmp_path / "cases.ndjson"
    path.write_bytes(f"{_ndjson_case('n1')}\n{_ndjson_case('n2')}\n".encode("utf-16"))
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 3
    assert [line for line in result.stderr.splitlines() if line.startswith("Error: ")] == [
        f"Error: {path}: the file is UTF-16 or UTF-32 text; save it as UTF-8 (one case per line)"
    ]


# --- Case ids ------------------------------------------------------------------------------------


def test_case_ids_differing_only_in_case_are_refused_not_one_file(tmp_path):
    """c1 and C1 are two bundles, c1.json and C1.json; on macOS or Windows the second replaced the
    first (in -o and in the outbox) and the run counted both as converted."""
    table = tmp_path / "cases.csv"
    table.write_text("case_id,sex,age,primary_site\nAb-1,female,45,breast\naB-1,female,46,breast\n")
    code, errors = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {table}, row 3: case id 'aB-1' differs only in the case of its letters from 'Ab-1' of"
        f" {table}, row 2 in this run; on a file system that ignores case (macOS, Windows) their bundle"
        " files are one file; give each case an id of its own"
    ]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["Ab-1.json"]


# --- Linked tables -------------------------------------------------------------------------------


def test_a_csv_beside_cases_csv_named_like_no_linked_table_is_said_not_dropped(tmp_path, terminology):
    """metastasis.csv (not metastases.csv) beside cases.csv was passed over without a word, and the
    case converted without its metastasis; a workbook's sheet of that name is an error."""
    (tmp_path / "cases.csv").write_text("case_id,sex,age\nk1,female,45\nk2,female,50\n")
    (tmp_path / "primaries.csv").write_text("case_id,site\nk1,breast\nk2,breast\n")
    (tmp_path / "metastasis.csv").write_text("case_id,site\nk1,bone\n")
    # Tables of another set in the same folder are that set's, not strays of this one.
    (tmp_path / "old.cases.csv").write_text("case_id,sex\n")
    (tmp_path / "old.metastases.csv").write_text("case_id,site\n")
    results = list(convert_all(tmp_path / "cases.csv", terminology).values())
    assert [(r.case_id, r.error) for r in results] == [("k1", None), ("k2", None)]
    assert results[0].warnings == [
        f"{tmp_path / 'metastasis.csv'}: beside {tmp_path / 'cases.csv'}, but"
        " its name is none of the linked tables (cases, primaries, primary_cancer, primary_cancers, metastases,"
        " procedures, medications, disease_status); it was not read: rename it if it holds rows of these cases"
    ]
    assert results[1].warnings == []


# --- Messages that say how to fix --------------------------------------------------------------


def test_a_decimal_comma_is_named_and_a_percent_is_not_called_an_age(tmp_path):
    """A semicolon CSV from a locale that writes 45,5 is refused with the fix, and the number is
    not guessed; a percentage out of range was told that 'ages are in years'."""
    table = tmp_path / "cases.csv"
    table.write_text("case_id;sex;age;primary_site\nc1;female;45,5;breast\n")
    case = tmp_path / "case.yaml"
    case.write_text(
        "case: {id: c2}\npatient: {sex: female}\nprimary_cancers:\n"
        "  - {site: breast, markers: [{name: Ki-67, percent: 150}]}\n"
    )
    code, errors = errors_of(str(table), str(case), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {table}, row 2, column 'age' (C): patient.age_at_diagnosis: Input should be a valid number,"
        ' unable to parse string as a number (got "45,5"); write the decimal point as a point: 45.5',
        f"Error: {case}:4: primary_cancers[0].markers[0].percent: 150 is out of range: input should be"
        " less than or equal to 100",
    ]


# --- Text pasted from PDFs and web pages ------------------------------------------------------


def test_invisible_and_look_alike_characters_do_not_keep_a_known_term_as_text(tmp_path):
    """'liver' with a zero-width space after it, a soft hyphen inside 'lung', a non-breaking
    hyphen in a histology: each was kept as text with a warning naming a term that reads exactly
    like one the map has. A decomposed ö and a composed one are one term in the count."""
    case = tmp_path / "case.yaml"
    case.write_bytes(
        "case: {id: u1}\npatient: {sex: female}\nprimary_cancers:\n"
        "  - {id: b, site: breast, histology: 'invasive ductal\u2011carcinoma'}\n"
        "metastases:\n"
        "  - {site: 'liver\u200b'}\n  - {site: 'lu\u00adng'}\n"
        "  - {site: 'bo\u0308ne-x'}\n  - {site: 'b\u00f6ne-x'}\n".encode()
    )
    result = CliRunner().invoke(main, ["convert", str(case), "-o", f"{tmp_path / 'out'}/"])
    assert result.exit_code == 0, result.stderr
    kept = [line.strip() for line in result.stderr.splitlines() if line.startswith("  '")]
    assert len(kept) == 2, kept  # 'böne-x' as a body site and as a secondary cancer, nothing else
    assert all(k.startswith("'bo\u0308ne-x' (") and "2 time(s)" in k for k in kept), kept
    bundle = json.loads((tmp_path / "out" / "u1.json").read_text())
    conditions = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    assert [bool(c["code"].get("coding")) for c in conditions] == [True, True, True, False, False]
    histology = json.dumps(conditions[0]["extension"])
    assert "invasive ductal\\u2011carcinoma" in histology and '"code": "8500/3"' in histology


def test_messages_show_invisible_characters(tmp_path):
    """A header 'case_id' with a zero-width space after it was refused with a message that showed
    'case_id' and asked 'did you mean case_id?'."""
    table = tmp_path / "cases.csv"
    table.write_text("case_id\u200b,sex,primary_site\nz1,female,breast\n", encoding="utf-8")
    code, errors = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors[0] == (
        f"Error: {table}: column 'case_id\\u200b' (A) is not a field of the case format (did you mean"
        " 'case_id'?); rename it, map it with --columns, or see fhir-adapter template"
    )


def test_merged_cells_are_named_not_read_as_empty(tmp_path):
    """An ethnicity merged over two rows shows in both and is held in the first only: the second
    case converted without it, and the run said nothing."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "cases"
    ws.append(["case_id", "sex", "ethnicity", "primary_site"])
    ws.append(["m1", "female", "Chinese", "breast"])
    ws.append(["m2", "female", None, "breast"])
    ws.append(["m3", "female", "Malay", "breast"])
    ws.merge_cells("C2:C3")
    ws.merge_cells("E3:F4")  # merged cells with no value hide nothing
    path = tmp_path / "registry.xlsx"
    wb.save(path)
    code, errors = errors_of(str(path), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {path}, sheet 'cases', row 3, column 'ethnicity' (C): in the merged cells C2:C3, which show"
        " 'Chinese' but hold it in their first cell only; unmerge them and give the value in each row"
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m1.json", "m3.json"]


def test_a_list_column_and_an_item_column_giving_one_value_are_refused_not_one_lost(tmp_path):
    """metastasis_sites=bone beside metastases[0].site=liver: both give the first metastasis's
    site, and one replaced the other without a word (bone was lost and the run exited 0)."""
    table = tmp_path / "cases.csv"
    table.write_text(
        "case_id,sex,primary_site,metastasis_sites,metastases[0].site,metastases[1].age\n"
        "d1,female,breast,bone,liver,\n"
        "d2,female,breast,;lung,liver,50\n"  # an empty part leaves the first site to the item column
    )
    code, errors = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {table}, row 2, column 'metastases[0].site' (E): metastases[0].site is given here and in"
        f" {table}, row 2, column 'metastasis_sites' (D); give it in one column"
    ]
    bundle = json.loads((tmp_path / "out" / "d2.json").read_text())
    sites = [
        e["resource"]["code"]["text"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
    ]
    assert sites[1:] == ["liver", "lung"]


# --- Time ----------------------------------------------------------------------------------------


def test_a_metastasis_timed_before_its_primary_is_refused_as_a_date_or_age_before_it_is(tmp_path):
    """A metastasis dated or aged before its primary's diagnosis is refused; the same fact given as
    `before: 2 years` went through and became an onset age two years younger than the diagnosis."""
    case = tmp_path / "case.yaml"
    case.write_text(
        "case: {id: r1}\npatient: {sex: female}\n"
        "primary_cancers:\n  - {id: breast, site: breast, age: 45}\n"
        "metastases:\n"
        "  - {id: m1, site: bone, relative: {to: breast, after: 2 years}}\n"
        "  - {id: m2, site: brain, relative: {to: breast, before: 2 years}}\n"
        "  - {id: m3, site: liver, relative: {to: breast, before: 0 days}}\n"
    )
    code, errors = errors_of(str(case), "-o", str(tmp_path / "out"))
    assert code == 3
    assert errors == [
        f"Error: {case}:7: metastases[1].relative: found 2 years before the diagnosis of its primary 'breast';"
        " the diagnosis dates the cancer's first finding, so time the metastasis after it, or date the"
        " primary from the metastasis"
    ]


# --- Directories ---------------------------------------------------------------------------------


def test_a_directory_reads_case_files_whatever_the_case_of_their_suffix_and_json_lines(tmp_path, terminology):
    """CASE-2.YAML (as some systems name files) and cases.jsonl (JSON Lines is NDJSON) were passed
    over in a directory without a word; the run said '1 of 1 case(s) converted'."""
    case = "case: {{id: {}}}\npatient: {{sex: female}}\nprimary_cancers: [{{site: breast}}]\n"
    (tmp_path / "a.yaml").write_text(case.format("d1"))
    (tmp_path / "CASE-2.YAML").write_text(case.format("d2"))
    (tmp_path / "c.Json").write_text(_ndjson_case("d3"))
    (tmp_path / "cases.jsonl").write_text(_ndjson_case("d4") + "\n" + _ndjson_case("d5") + "\n")
    (tmp_path / "x.bundle.JSON").write_text("{}")  # an earlier bundle, not a case
    results = convert_all(tmp_path, terminology)
    assert sorted((r.case_id, r.error) for r in results.values()) == [(f"d{i}", None) for i in range(1, 6)]
