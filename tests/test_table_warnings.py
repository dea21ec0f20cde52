"""Warnings about a case read from tables name the file, row and column a registrar can find."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import openpyxl

from fhir_adapter.batch import convert_stream, iter_sources
from fhir_adapter.convert import ConvertOptions

MEF = Path(__file__).parent / "data" / "tables" / "mef"


def _mef_copy(tmp_path: Path) -> Path:
    for path in MEF.glob("*.csv"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_a_contradiction_between_two_rows_names_both_rows(tmp_path, terminology):
    """Two estrogen receptor results on one cancer: the warning names both observation rows."""
    root = _mef_copy(tmp_path)
    observation = root / "observation.csv"
    with observation.open("a") as out:
        # The same receptor, test and day as row 2, but negative (SNOMED 260385009).
        out.write(
            "mef-1,mef-1-er2,final,85337-4,http://loinc.org,,260385009,http://snomed.info/sct,2019-03-14,,\n"
        )
    results = list(convert_stream(iter_sources([str(root / "*.csv")]), terminology, ConvertOptions()))
    assert [r.error for r in results] == [None, None]
    said = [w for r in results for w in r.warnings if "estrogen receptor" in w]
    assert len(said) == 1
    assert said[0].startswith(
        f"{observation}, row 2 and {observation}, row 3:"
        " primary_cancers[0].markers[0] and primary_cancers[0].markers[1]: estrogen receptor is"
    )


TABLES = Path(__file__).resolve().parents[1] / "examples" / "tables"


def _convert(path: Path, terminology) -> list:
    return list(convert_stream(iter_sources([str(path)]), terminology, ConvertOptions()))


def _said_hidden(results) -> list[str]:
    return [w for r in results for w in r.warnings if re.search(r"(is|are) hidden|hidden in the workbook", w)]


def test_hidden_rows_and_sheets_are_converted_and_said_once_per_sheet(tmp_path, terminology):
    """A registrar may hide withdrawn patients: their rows are converted as before, and it is said."""
    book = openpyxl.load_workbook(TABLES / "examples.xlsx")
    book["cases"].row_dimensions[3].hidden = True
    book["medications"].row_dimensions[2].hidden = True
    book["medications"].row_dimensions[3].hidden = True
    book["medications"].row_dimensions[5].hidden = True
    book["disease_status"].sheet_state = "hidden"
    path = tmp_path / "hidden.xlsx"
    book.save(path)
    before = {r.case_id: r.bundle_json for r in _convert(TABLES / "examples.xlsx", terminology)}
    results = _convert(path, terminology)
    assert [r.error for r in results] == [None] * 3
    assert {r.case_id: r.bundle_json for r in results} == before
    said = _said_hidden(results)
    tail = "; every row is converted all the same: delete the rows that are not to be converted"
    assert said == [
        f"{path}, sheet 'cases': row 3 is hidden{tail}",
        f"{path}, sheet 'medications': rows 2-3, 5 are hidden{tail}",
        f"{path}, sheet 'disease_status': the sheet is hidden in the workbook{tail}",
    ]


def test_many_hidden_rows_are_said_shortened(tmp_path, terminology):
    """Every other row hidden in a flat sheet of 40 cases: ten runs named, the rest counted."""
    source = (TABLES / "examples.csv").read_text().splitlines()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "cases"
    for cells in csv.reader(source[:2]):
        sheet.append(cells)
    first = next(csv.reader(source[1:2]))
    for n in range(1, 40):
        sheet.append([f"{first[0]}-{n}", *first[1:]])
    for row in range(3, 42, 2):
        sheet.row_dimensions[row].hidden = True
    path = tmp_path / "flat.xlsx"
    book.save(path)
    results = _convert(path, terminology)
    assert [r.error for r in results] == [None] * 40
    said = _said_hidden(results)
    assert said == [
        f"{path}, sheet 'cases': rows 3, 5, 7, 9, 11, 13, 15, 17, 19, 21 and 10 more are hidden;"
        " every row is converted all the same: delete the rows that are not to be converted"
    ]
    assert _said_hidden(_convert(TABLES / "examples.xlsx", terminology)) == []  # none hidden, none said


def test_hidden_rows_of_framework_sheets_are_said(tmp_path, terminology):
    """The mCODE Extraction Framework's tables as sheets of one workbook: a hidden row is said too."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for table in sorted(MEF.glob("*.csv")):
        sheet = book.create_sheet(table.stem[:31])  # a sheet's name holds 31 characters
        for cells in csv.reader(table.read_text().splitlines()):
            sheet.append(cells)
    book["procedure"].row_dimensions[3].hidden = True
    path = tmp_path / "mef.xlsx"
    book.save(path)
    results = _convert(path, terminology)
    assert [r.error for r in results] == [None, None]
    said = _said_hidden(results)
    assert said == [
        f"{path}, sheet 'procedure': row 3 is hidden; every row is converted all the same: delete the"
        " rows that are not to be converted"
    ]
