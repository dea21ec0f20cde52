"""Spreadsheets as input: the examples as tables give the examples' bundles; every bad input is named."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from fhir_adapter.batch import convert_stream, iter_sources
from fhir_adapter.casefile import load_case
from fhir_adapter.cli import main
from fhir_adapter.convert import ConvertOptions
from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE, ConfigError
from fhir_adapter.tables import (
    TableOptions,
    flat_columns,
    item_columns,
    layout,
    load_column_map,
    write_template,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TABLES = EXAMPLES / "tables"
DATA = Path(__file__).parent / "data" / "tables"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def golden_by_id() -> dict[str, dict]:
    out = {}
    for case in sorted(EXAMPLES.glob("*.yaml")):
        case_id = load_case(case).case.id
        if case_id in TABLED:
            out[case_id] = json.loads(case.with_suffix(".bundle.json").read_text())
    assert set(out) == TABLED
    return out


# examples/tables/ holds the three cases the product started from, as tables.
TABLED = {"scalp-nodule-56f", "yu-2024-case-1", "yu-2024-case-2"}


def convert_all(path: Path | str, terminology, options: TableOptions | None = None):
    results = list(convert_stream(iter_sources([str(path)], tables=options), terminology, ConvertOptions()))
    return results


@pytest.mark.parametrize(
    "table",
    [TABLES / "examples.csv", TABLES / "linked" / "cases.csv", TABLES / "examples.xlsx"],
    ids=["flat-csv", "linked-csv", "linked-xlsx"],
)
def test_example_tables_give_the_examples_bundles(table, terminology):
    golden = golden_by_id()
    results = convert_all(table, terminology)
    assert [r.error for r in results] == [None] * len(golden)
    assert sorted(r.case_id for r in results) == sorted(golden)
    for result in results:
        assert json.loads(result.bundle_json) == golden[result.case_id], result.source
        assert result.warnings == []


def _rewrite(src: Path, dst: Path, delimiter: str) -> Path:
    with src.open(newline="") as fh:
        rows = list(csv.reader(fh))
    with dst.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return dst


@pytest.mark.parametrize("suffix,delimiter", [(".tsv", "\t"), (".csv", ";")], ids=["tsv", "semicolon-csv"])
def test_other_delimiters_give_the_same_bundles(tmp_path, terminology, suffix, delimiter):
    table = _rewrite(TABLES / "examples.csv", tmp_path / f"cases{suffix}", delimiter)
    golden = golden_by_id()
    results = convert_all(table, terminology)
    assert all(r.ok for r in results)
    assert {r.case_id: json.loads(r.bundle_json) for r in results} == golden


def test_flat_xlsx_with_typed_cells(tmp_path, terminology):
    """Excel gives numbers, booleans and dates as such; they read as the case format's text."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Registry"
    ws.append(["case_id", "sex", "age", "primary_site", "primary_date", "deceased", "metastasis_sites"])
    ws.append(["xl-1", "female", 52, "breast", dt.datetime(2019, 3, 14), False, "bone"])
    ws.append(["xl-2", "female", 47.5, "breast", 2020, None, None])
    wb.create_sheet("Sheet2")  # empty: nothing to read, nothing lost
    wb.save(tmp_path / "registry.xlsx")
    results = convert_all(tmp_path / "registry.xlsx", terminology)
    assert [r.error for r in results] == [None, None]
    first = json.loads(results[0].bundle_json)
    primary = next(
        e["resource"] for e in first["entry"] if "primary" in json.dumps(e["resource"].get("meta", {}))
    )
    assert primary["onsetDateTime"] == "2019-03-14"
    assert results[0].source == f"{tmp_path / 'registry.xlsx'}, sheet 'Registry', row 2"


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def errors_of(*args: str) -> tuple[int, list[str]]:
    result = run("convert", "-q", *args)
    return result.exit_code, [line for line in result.stderr.splitlines() if line.startswith("Error: ")]


def test_a_bad_row_fails_only_its_case_and_names_row_and_column(tmp_path):
    table = write_csv(
        tmp_path / "cases.csv",
        [
            ["case_id", "sex", "primary_site", "er", "metastasis_sites", "metastases.age", "primary_age"],
            ["c-1", "woman", "breast", "positive", "scalp;bone", "50;51", "49"],
            ["c-2", "female", "breast", "", "scalp", "", ""],
            ["c-3", "female", "breast", "", "bone", "40", "45"],
        ],
    )
    errors = tmp_path / "errors"
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"), "--errors-to", str(errors))
    assert code == EXIT_INVALID_CASE
    assert lines == [
        f"Error: {table}, row 2, column 'sex' (B): patient.sex: 'woman' is not allowed;"
        " expected 'female', 'male', 'other' or 'unknown'",
        f"Error: {table}, row 4, column 'metastases.age' (F): metastases[0].age: 40 is younger than the age"
        " at diagnosis of its primary (45); check both ages",
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c-2.json"]
    assert len(list(errors.iterdir())) == 2


def test_missing_values_name_the_column_to_fill(tmp_path):
    table = write_csv(tmp_path / "t.csv", [["case_id", "primary_site"], ["c-1", ""]])
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert code == EXIT_INVALID_CASE
    assert lines == [
        f"Error: {table}, row 2, column 'sex': patient: required field is missing",
        f"Error: {table}, row 2, column 'primary_site': primary_cancers: required field is missing",
    ]


@pytest.mark.parametrize(
    "rows,expected",
    [
        (
            [["case_id", "sexx", "primary_site"], ["c-1", "female", "breast"]],
            "column 'sexx' (B) is not a field of the case format (did you mean 'sex'?); rename it,"
            " map it with --columns, or see fhir-adapter template",
        ),
        (
            [["sex", "primary_site"], ["female", "breast"]],
            "no case_id column; every row needs the id of its case",
        ),
        (
            [["case_id", "er", "primary_receptors_er"], ["c-1", "positive", "positive"]],
            "columns 'er' (B) and 'primary_receptors_er' (C) both give primary_cancers[0].receptors.er",
        ),
        ([], "the table is empty; its first row names the columns (see fhir-adapter template)"),
    ],
    ids=["unknown-column", "no-case-id", "two-columns-one-field", "empty"],
)
def test_a_bad_header_fails_the_table_once(tmp_path, rows, expected):
    table = write_csv(tmp_path / "t.csv", rows)
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert code == EXIT_INVALID_CASE
    assert lines == [f"Error: {table}: {expected}"]


def test_cells_without_a_header_are_not_dropped(tmp_path):
    table = write_csv(
        tmp_path / "t.csv", [["case_id", "sex", "primary_site"], ["c-1", "female", "breast", "left"]]
    )
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {table}, row 2: cells in column(s) D have no header; name the column or clear them"
    ]


def test_duplicate_case_ids_name_the_first_row(tmp_path):
    table = write_csv(
        tmp_path / "t.csv",
        [["case_id", "sex", "primary_site"], ["c-1", "female", "breast"], ["c-1", "male", "breast"]],
    )
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {table}, row 3: case id 'c-1' is already used by {table}, row 2 in this run;"
        " give each case its own case.id"
    ]


def test_not_utf8_names_the_row(tmp_path):
    table = tmp_path / "t.csv"
    table.write_bytes(b"case_id,sex,primary_site\nc-1,female,breast\nc-2,female,sein \xe9\n")
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert code == EXIT_INVALID_CASE
    assert lines == [
        f"Error: {table}, row 3, column 'primary_site' (C): the text is not UTF-8 (byte 0xe9 on line 3), as a"
        " spreadsheet program writes plain CSV in a local encoding; save the table as CSV UTF-8"
    ]


def test_not_a_workbook(tmp_path):
    book = tmp_path / "t.xlsx"
    book.write_bytes(b"case_id,sex\n")
    code, lines = errors_of(str(book), "-o", str(tmp_path / "out"))
    assert code == EXIT_INVALID_CASE
    assert len(lines) == 1 and lines[0].startswith(
        f"Error: {book}: this is a CSV or other text, not an .xlsx workbook"
    )


def test_workbook_sheets_must_be_known(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "cases"
    wb.active.append(["case_id", "sex", "primary_site"])
    wb.create_sheet("scratch").append(["x"])
    wb.create_sheet("_notes").append(["ignored: starts with _"])
    wb.save(tmp_path / "b.xlsx")
    code, lines = errors_of(str(tmp_path / "b.xlsx"), "-o", str(tmp_path / "out"))
    assert len(lines) == 1
    assert "sheet(s) 'scratch' are not tables fhir-adapter reads" in lines[0]


def _linked(tmp_path: Path, **tables: list[list[str]]) -> Path:
    for name, rows in tables.items():
        write_csv(tmp_path / f"{name}.csv", rows)
    return tmp_path / "cases.csv"


def test_linked_rows_with_errors_name_their_own_table(tmp_path):
    cases = _linked(
        tmp_path,
        cases=[["case_id", "sex"], ["k-1", "female"], ["k-2", "female"]],
        primaries=[
            ["case_id", "id", "site", "receptors.er"],
            ["k-1", "breast", "breast", "positive"],
            ["k-2", "breast", "", ""],
            ["k-9", "breast", "breast", ""],
        ],
        metastases=[["case_id", "site", "primary"], ["k-1", "bone", "lung"]],
    )
    code, lines = errors_of(str(cases), "-o", str(tmp_path / "out"))
    assert code == EXIT_INVALID_CASE
    primaries, metastases = tmp_path / "primaries.csv", tmp_path / "metastases.csv"
    assert lines == [
        f"Error: {metastases}, row 2, column 'primary' (C): metastases[0].primary: no primary cancer has id"
        " 'lung' (ids: breast)",
        f"Error: {primaries}, row 3, column 'site': primary_cancers[0].site: required field is missing",
        f"Error: {primaries}, row 4: case_id 'k-9' is not in {cases}; add the case there or fix the id",
    ]


def test_linked_table_needs_case_id(tmp_path):
    cases = _linked(
        tmp_path,
        cases=[["case_id", "sex", "primary_site"], ["k-1", "female", "breast"]],
        medications=[["name"], ["tamoxifen"]],
    )
    code, lines = errors_of(str(cases), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {tmp_path / 'medications.csv'}: no case_id column; each row of a linked table names its"
        " case in case_id"
    ]


def test_a_list_in_both_the_case_row_and_a_linked_table_is_refused(tmp_path):
    cases = _linked(
        tmp_path,
        cases=[["case_id", "sex", "primary_site"], ["k-1", "female", "breast"]],
        primaries=[["case_id", "site"], ["k-1", "breast"]],
    )
    code, lines = errors_of(str(cases), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {cases}, row 2, column 'primary_site' (C): primary_cancers is given both in this row and"
        f" in {tmp_path / 'primaries.csv'}; use one or the other"
    ]


def test_linked_tables_are_not_read_twice_by_a_glob(tmp_path, terminology):
    for src in (TABLES / "linked").iterdir():
        (tmp_path / src.name).write_bytes(src.read_bytes())
    results = list(convert_stream(iter_sources([str(tmp_path / "*.csv")]), terminology, ConvertOptions()))
    assert sorted(r.case_id for r in results) == sorted(golden_by_id())


# --- Column maps ---------------------------------------------------------------------------


def test_column_map_translates_a_registry_export(tmp_path, terminology):
    options = TableOptions(columns=load_column_map(DATA / "registry-columns.yaml"))
    results = convert_all(DATA / "registry-export.csv", terminology, options)
    assert [r.case_id for r in results if r.ok] == ["reg-0001", "reg-0002"]
    bad = [r for r in results if not r.ok]
    assert [r.error for r in bad] == [
        f"{DATA / 'registry-export.csv'}, row 4, column 'Diagnosed' (J): '31.02.2021' does not match the"
        f" date format '%d.%m.%Y' given in {DATA / 'registry-columns.yaml'}:22"
    ]
    bundle = json.loads(results[0].bundle_json)
    resources = [e["resource"] for e in bundle["entry"]]
    primary = next(r for r in resources if "primary-cancer" in json.dumps(r.get("meta", {})))
    assert primary["onsetDateTime"] == "2019-03-14"
    laterality = primary["bodySite"][0]["extension"][0]["valueCodeableConcept"]
    assert laterality["text"] == "left"
    er = next(r for r in resources if r["resourceType"] == "Observation" and "85337-4" in json.dumps(r))
    assert er["valueCodeableConcept"]["text"] == "positive"
    assert json.dumps(bundle).count("checked twice") == 0  # the ignored column stays out
    secondaries = [r for r in resources if "secondary-cancer" in json.dumps(r.get("meta", {}))]
    assert [r["bodySite"][0]["text"] for r in secondaries] == ["bone", "liver"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("columns:\n  ID: case_id\n  Sex: sexx\n", "{f}:3: 'sexx' is not a column fhir-adapter knows"),
        (
            "columns:\n  ID: case_id\n  Dx:\n    field: primary_date\n    date_format: dd/mm/yyyy\n",
            "{f}:5: date_format 'dd/mm/yyyy' is not a strptime format",
        ),
        (
            "columns:\n  ID: case_id\n  Sex:\n    field: sex\n    value: {F: female}\n",
            "{f}:5: unknown key 'value'",
        ),
        ("colums:\n  ID: case_id\n", "{f}:1: unknown key 'colums'; a column map has only 'columns'"),
        ("columns:\n  ID: case_id\n  id: sex\n", "{f}:3: header 'id' is already mapped on line 2"),
        ("columns: [a, b\n", "{f}:2: invalid YAML"),
        ("columns:\n  Sex:\n    values: {F: female}\n", "{f}:3: header 'Sex' names no 'field'"),
    ],
    ids=[
        "unknown-field",
        "bad-date-format",
        "unknown-key",
        "no-columns",
        "duplicate-header",
        "yaml",
        "no-field",
    ],
)
def test_column_map_errors_name_the_line(tmp_path, text, expected):
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_column_map(path)
    assert str(info.value).startswith(expected.format(f=path))


def test_column_map_is_checked_before_converting(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("columns:\n  Sex: sexx\n")
    result = run("convert", str(TABLES / "examples.csv"), "--columns", str(path), "-o", str(tmp_path / "o"))
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr.startswith(f"Error: {path}:2: 'sexx' is not a column fhir-adapter knows")
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


# --- Templates -----------------------------------------------------------------------------


def test_every_schema_field_has_a_template_column():
    lay = layout()
    flat = {f.path for _, f in flat_columns()}
    assert {f.path for f in lay.root} <= flat
    assert {f.path for f in lay.tables["primary_cancers"]} <= flat
    for table, fields in lay.tables.items():
        assert [n for n, _ in item_columns(table)][1:] == [".".join(f.path) for f in fields]


def test_a_list_inside_list_items_is_named_not_lost(tmp_path, monkeypatch):
    """Lists of objects inside a list item have no columns yet; a column for one says so."""
    from fhir_adapter import tables

    real = tables.layout()
    fake = tables.Layout(real.root, real.tables, ("primary_cancers.markers",))
    monkeypatch.setattr(tables, "layout", lambda: fake)
    cases = _linked(
        tmp_path,
        cases=[["case_id", "sex"], ["k-1", "female"]],
        primaries=[["case_id", "site", "markers.name"], ["k-1", "breast", "Ki-67"]],
    )
    code, lines = errors_of(str(cases), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {tmp_path / 'primaries.csv'}: column 'markers.name' (C): primary_cancers.markers is a list of"
        " items inside a list item, which tables cannot give yet; give those cases as case files"
    ]


@pytest.mark.parametrize(
    "fmt,layout_", [("csv", "flat"), ("csv", "linked"), ("xlsx", "flat"), ("xlsx", "linked")]
)
def test_template_example_rows_convert(tmp_path, fmt, layout_):
    out = tmp_path / ("t.xlsx" if fmt == "xlsx" else ("t" if layout_ == "linked" else "t.csv"))
    result = run("template", "--format", fmt, "--layout", layout_, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    target = out / "cases.csv" if out.is_dir() else out
    converted = run("convert", str(target), "-o", str(tmp_path / "bundles"))
    assert converted.exit_code == 0, converted.stderr
    assert [p.name for p in (tmp_path / "bundles").iterdir()] == ["example-1.json"]


def test_template_to_stdout_is_the_flat_csv():
    result = run("template")
    assert result.exit_code == 0
    header = result.stdout.splitlines()[0].split(",")
    for name in (
        "case_id",
        "age",
        "sex",
        "primary_site",
        "laterality",
        "histology",
        "er",
        "pr",
        "her2",
        "metastasis_sites",
    ):
        assert name in header
    assert result.stdout.encode() == write_template("csv", False)["cases.csv"]


def test_xlsx_template_needs_an_output():
    result = run("template", "--format", "xlsx")
    assert result.exit_code == EXIT_CONFIG
    assert (
        result.stderr
        == "Error: this template is more than one CSV table or a workbook: give -o FILE or -o DIR\n"
    )


# --- mCODE Extraction Framework CSV layout -------------------------------------------------

MEF = DATA / "mef"


def _by_case(results) -> dict:
    return {r.case_id: r for r in results}


def test_mef_tables_become_cases_with_the_given_codes(terminology):
    results = list(convert_stream(iter_sources([str(MEF / "*.csv")]), terminology, ConvertOptions()))
    assert [r.error for r in results] == [None, None]
    cases = _by_case(results)
    bundle = json.loads(cases["mef-1"].bundle_json)
    resources = [e["resource"] for e in bundle["entry"]]
    codes = {(c["system"], c["code"]) for r in resources for c in r.get("code", {}).get("coding", [])}
    # The condition codes the tables give, used as given (not the SNOMED CT codes of our maps).
    assert ("http://hl7.org/fhir/sid/icd-10-cm", "C50.912") in codes
    assert ("http://hl7.org/fhir/sid/icd-10-cm", "C79.51") in codes
    primary = next(r for r in resources if "primary-cancer" in json.dumps(r.get("meta", {})))
    assert primary["onsetDateTime"] == "2019-03-14"
    (stage,) = primary["stage"]
    # The staging row, field by field: its type is the clinical stage group Observation's.
    assert stage["summary"] == {"text": "cT2 cN0 cM0 stage IIA"}
    assert len(stage["assessment"]) == 1  # the TNM stage group Observation
    assert primary["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "82711006"
    secondary = next(r for r in resources if "secondary-cancer" in json.dumps(r.get("meta", {})))
    assert secondary["extension"][0]["valueReference"] == {
        "reference": next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is primary)
    }
    medication = next(r for r in resources if r["resourceType"] == "MedicationStatement")
    assert medication["medicationCodeableConcept"]["coding"][0]["code"] == "10324"
    assert medication["effectivePeriod"] == {"start": "2019-05-01", "end": "2021-05-01"}
    er = next(r for r in resources if "tumor-marker" in json.dumps(r.get("meta", {})))
    assert er["valueCodeableConcept"]["coding"][0]["code"] == "10828004"
    second = cases["mef-2"]
    assert any(
        "procedure.csv, row 3, column 'code' (E): 69031006 (http://snomed.info/sct) is given for"
        " 'simple mastectomy'; mappings/procedures.yaml codes it 172043006" in w
        for w in second.warnings
    )
    assert any(
        "familyName, givenName, dateOfBirth, addressLine, city, state, zip left out" in w
        for w in second.warnings
    )
    assert "Jane" not in second.bundle_json.decode() and "Malden" not in second.bundle_json.decode()


def test_mef_read_from_the_patient_table_alone(terminology):
    by_glob = _by_case(convert_stream(iter_sources([str(MEF / "*.csv")]), terminology, ConvertOptions()))
    alone = _by_case(convert_all(MEF / "patient.csv", terminology))
    assert {k: v.bundle_json for k, v in alone.items()} == {k: v.bundle_json for k, v in by_glob.items()}
    # Read with the patient table: named alone, its rows are not read, and that is said.
    [alone_condition] = convert_all(MEF / "condition.csv", terminology)
    assert alone_condition.error.endswith(
        "its rows are read with " + str(MEF / "patient.csv") + ", which is not"
        " among the inputs; name " + str(MEF / "patient.csv") + " (it reads the tables beside it)"
    )


def test_mef_workbook_gives_the_same_bundles(tmp_path, terminology):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for path in sorted(MEF.glob("*.csv")):
        ws = wb.create_sheet(path.stem[:31])
        with path.open(newline="") as fh:
            for row in csv.reader(fh):
                ws.append(row)
    wb.save(tmp_path / "mef.xlsx")
    from_csv = _by_case(convert_all(MEF / "patient.csv", terminology))
    from_xlsx = _by_case(convert_all(tmp_path / "mef.xlsx", terminology))
    assert {k: v.bundle_json for k, v in from_xlsx.items()} == {k: v.bundle_json for k, v in from_csv.items()}


def _mef_copy(tmp_path: Path) -> Path:
    for path in MEF.glob("*.csv"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_mef_bad_rows_fail_only_their_patient(tmp_path):
    root = _mef_copy(tmp_path)
    condition = root / "condition.csv"
    condition.write_text(condition.read_text().replace("2020-01,active,,", "2020-01,active,provisional,"))
    with condition.open("a") as fh:
        fh.write("mef-9,x-1,http://snomed.info/sct,372137005,,problem-list-item,,,,,,\n")
    (root / "adverse-event.csv").write_text("mrn,adverseEventCode,effectiveDate\nmef-1,x,2020-01-01\n")
    code, lines = errors_of(str(root / "*.csv"), "-o", str(tmp_path / "out"))
    assert code == EXIT_INVALID_CASE
    assert lines == [
        f"Error: {root / 'adverse-event.csv'}: the mCODE Extraction Framework's adverse-event table is not"
        " converted: the case format has no place for it yet; leave it out of the input",
        f"Error: {condition}, row 4, column 'verificationStatus' (I): 'provisional' cannot be carried:"
        " fhir-adapter records confirmed cancers; leave it empty or write confirmed",
        f"Error: {condition}, row 5, column 'mrn' (A): mrn 'mef-9' is not in the patient table",
    ]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mef-1.json"]


def test_mef_values_the_model_refuses_name_the_column(tmp_path):
    root = _mef_copy(tmp_path)
    procedure = root / "procedure.csv"
    procedure.write_text(
        procedure.read_text().replace(
            "mef-1,mef-1-mastectomy,mef-1-breast,completed", "mef-1,mef-1-mastectomy,mef-1-breast,on-hold"
        )
    )
    code, lines = errors_of(str(root / "patient.csv"), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {procedure}, row 2, column 'status' (D): procedures[0].status: 'on-hold' is not allowed;"
        " expected 'completed', 'in-progress', 'not-done', 'stopped', 'unknown' or 'preparation'"
    ]


def test_mef_tables_without_a_patient_table(tmp_path):
    (tmp_path / "condition.csv").write_bytes((MEF / "condition.csv").read_bytes())
    code, lines = errors_of(str(tmp_path / "condition.csv"), "-o", str(tmp_path / "out"))
    assert code == EXIT_INVALID_CASE
    assert lines == [
        f"Error: {tmp_path / 'condition.csv'}: mCODE Extraction Framework tables keyed by mrn, but no patient"
        " table (mrn, gender, ...) or patient-mrns list beside them; add one to say which patients to convert"
    ]


def test_a_table_to_stdout_is_one_bundle_per_line_and_jobs_agree(tmp_path):
    one = run("convert", "-q", str(TABLES / "examples.csv"))
    assert one.exit_code == 0, one.stderr
    lines = one.stdout.splitlines()
    assert len(lines) == 3
    golden = golden_by_id()
    by_id = {}
    for line in lines:
        bundle = json.loads(line)
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        by_id[patient["identifier"][0]["value"]] = bundle
    assert by_id == golden
    two = run("convert", "-q", "-j", "2", str(TABLES / "examples.csv"), str(MEF / "patient.csv"))
    assert two.exit_code == 0, two.stderr
    assert len(two.stdout.splitlines()) == 5
    assert set(two.stdout.splitlines()[:3]) == set(lines)


def test_mef_patient_mrns_list_says_which_patients(tmp_path, terminology):
    root = _mef_copy(tmp_path)
    (root / "patient-mrns.csv").write_text("mrn\nmef-2\n")
    results = convert_all(root / "patient-mrns.csv", terminology)
    assert [r.case_id for r in results] == ["mef-2"] + [None] * (len(results) - 1)
    # Rows of patients the list leaves out are reported, not dropped.
    assert all("mrn 'mef-1' is not in the patient table" in r.error for r in results[1:])
    # The list drives: the patient table named alone is not read, and that is said.
    [alone] = convert_all(root / "patient.csv", terminology)
    assert f"its rows are read with {root / 'patient-mrns.csv'}, which is not among the inputs" in alone.error


def test_readme_column_names_are_real_columns():
    """The flat columns the README names all resolve to fields of the case format."""
    from fhir_adapter.tables import resolve_root

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Spreadsheets") : text.index("## Terminology")]
    flat = section[section.index("- **Flat layout**") : section.index("- **Linked layout**")]
    names = [n for n in re.findall(r"`([a-z_.\[\]0-9]+)`", flat) if n not in ("primary_<field>",)]
    assert len(names) > 15
    assert [n for n in names if resolve_root(n) is None] == []


def test_linked_csv_template_needs_a_directory(tmp_path):
    result = run("template", "--layout", "linked", "-o", str(tmp_path / "t.csv"))
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr == f"Error: {tmp_path / 't.csv'}: linked CSV tables are several files; give -o DIR\n"
    assert not (tmp_path / "t.csv").exists()


def test_mef_and_registry_bundles_conform_to_mcode(tmp_path):
    """Bundles from framework tables and a mapped registry export pass the offline mCODE check."""
    from test_mcode_profiles import validate

    first = run("convert", "-q", str(MEF / "patient.csv"), "-o", str(tmp_path / "mef"))
    assert first.exit_code == 0, first.stderr
    second = run(
        "convert",
        "-q",
        str(DATA / "registry-export.csv"),
        "--columns",
        str(DATA / "registry-columns.yaml"),
        "-o",
        str(tmp_path / "registry"),
    )
    assert second.exit_code == EXIT_INVALID_CASE  # row 4's date is wrong on purpose
    bundles = sorted(tmp_path.glob("*/*.json"))
    assert len(bundles) == 4
    result = validate(bundles)
    assert result["files"] == 4 and result["resources"] > 20
    assert result["errors"] == []


# --- Input integrity -----------------------------------------------------------------------


def _resources(result, kind: str) -> list[dict]:
    bundle = json.loads(result.bundle_json)
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_list_parts_keep_their_positions(tmp_path, terminology):
    """An empty part of a ;-list is an absent value: the dose stays with its drug."""
    table = write_csv(
        tmp_path / "t.csv",
        [
            [
                "case_id",
                "sex",
                "primary_site",
                "medications",
                "medications.dose",
                "metastasis_sites",
                "metastases.age",
            ],
            ["p-1", "female", "breast", "tamoxifen;capecitabine", ";1000 mg/m2", "bone;liver", " ; 51"],
        ],
    )
    (result,) = convert_all(table, terminology)
    assert result.ok, result.error
    doses = {
        r["medicationCodeableConcept"]["text"]: r.get("dosage", [{}])[0].get("text")
        for r in _resources(result, "MedicationStatement")
    }
    assert doses == {"tamoxifen": None, "capecitabine": "1000 mg/m2"}
    ages = {
        r["bodySite"][0]["text"]: r.get("onsetAge", {}).get("value")
        for r in _resources(result, "Condition")
        if "secondary" in json.dumps(r["meta"])
    }
    assert ages == {"bone": None, "liver": 51}


def test_an_empty_part_that_leaves_an_item_without_its_name_names_the_part(tmp_path):
    table = write_csv(
        tmp_path / "t.csv",
        [
            ["case_id", "sex", "primary_site", "medications", "medications.dose"],
            ["p-1", "female", "breast", "tamoxifen;;capecitabine", "20 mg;10 mg;1000 mg/m2"],
        ],
    )
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert code == EXIT_INVALID_CASE
    assert lines == [
        f"Error: {table}, row 2, column 'medications' (D), part 2 of 3 (empty): medications[1].name:"
        " required field is missing"
    ]


def test_mef_an_unknown_column_is_one_warning_not_an_error_per_row(tmp_path, terminology):
    """A column the framework's template lacks is named once, and the table is still its kind."""
    root = _mef_copy(tmp_path)
    condition = root / "condition.csv"
    lines = condition.read_text().splitlines()
    lines = [lines[0] + ",Internal remark"] + [line + ",checked" for line in lines[1:]]
    condition.write_text("\n".join(lines) + "\n")
    reference = _by_case(convert_all(MEF / "patient.csv", terminology))
    results = list(convert_stream(iter_sources([str(root / "*.csv")]), terminology, ConvertOptions()))
    assert [r.error for r in results] == [None, None]
    assert {r.case_id: r.bundle_json for r in results} == {k: v.bundle_json for k, v in reference.items()}
    unknown = [w for r in results for w in r.warnings if "Internal remark" in w]
    assert unknown == [
        f"{condition}: column 'Internal remark' (M) is not a column of the mCODE Extraction Framework's"
        " condition table; it is not read"
    ]


def _ten_rows() -> list[str]:
    """A flat table of ten cases as CSV lines, header first."""
    lines = ["case_id,sex,primary_site,summary,laterality"]
    lines += [f"t-{i},female,breast,Case {i} in a few words.,left" for i in range(1, 11)]
    return lines


def _convert_lines(tmp_path: Path, lines: list[str], *flags: str, raw: bytes | None = None):
    table = tmp_path / "t.csv"
    table.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode())
    result = run("convert", "-q", str(table), "-o", str(tmp_path / "out"), *flags)
    converted = sorted(p.stem for p in (tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    return table, result, converted, errors


def _summary_line(result) -> str:
    return next(line for line in result.stderr.splitlines() if " case(s) converted " in line)


ALL_BUT = lambda *gone: sorted(f"t-{i}" for i in range(1, 11) if i not in gone)  # noqa: E731


def test_an_unbalanced_quote_fails_its_row_and_the_rows_it_swallowed_are_converted(tmp_path):
    lines = _ten_rows()
    lines[3] = 't-3,female,breast,"Case 3 said: hard lump,left'  # the quote is never closed
    table, result, converted, errors = _convert_lines(tmp_path, lines)
    assert result.exit_code == EXIT_INVALID_CASE
    assert errors == [
        f"Error: {table}, row 4, column 'summary' (D): a quoted cell never closed; add the closing quote."
        " The rows after it are read on their own"
    ]
    assert converted == ALL_BUT(3)
    assert _summary_line(result).startswith("9 of 10 case(s) converted")


def test_a_quote_closed_rows_later_is_found_by_the_rows_it_took_in(tmp_path):
    lines = _ten_rows()
    lines[3] = 't-3,female,breast,"Case 3 said: hard lump,left'
    lines[8] = "t-8,female,breast,Case 8 was 5'2\",left"  # its quote closes the cell opened in row 4
    table, result, converted, errors = _convert_lines(tmp_path, lines)
    assert errors[0].startswith(
        f"Error: {table}, row 4, column 'summary' (D): a quoted cell runs over 6 lines and takes in 4 that"
        " are shaped like rows"
    )
    assert len(errors) == 1
    assert converted == ALL_BUT(3)  # t-8's quote, read on its own row again, is a plain character
    assert _summary_line(result).startswith("9 of 10 case(s) converted")


def test_a_multi_line_cell_is_still_read(tmp_path, terminology):
    lines = _ten_rows()
    lines[3] = 't-3,female,breast,"Case 3, first line.\nSecond line, with ""quotes"".",left'
    table, result, converted, errors = _convert_lines(tmp_path, lines)
    assert result.exit_code == 0, errors
    assert converted == ALL_BUT()


def test_text_after_a_closing_quote_fails_its_row_only(tmp_path):
    lines = _ten_rows()
    lines[5] = 't-5,female,breast,"Case 5" and more,left'
    table, result, converted, errors = _convert_lines(tmp_path, lines)
    assert errors == [
        f"Error: {table}, row 6, column 'summary' (D): a quoted cell followed by more text; quote the whole"
        ' cell, writing a quote inside it twice (""). The rows after it are read on their own'
    ]
    assert converted == ALL_BUT(5)


def test_a_cell_over_the_string_limit_fails_its_row_and_the_table_goes_on(tmp_path):
    lines = _ten_rows()
    lines[4] = "t-4,female,breast," + "x" * 200_000 + ",left"
    table, result, converted, errors = _convert_lines(tmp_path, lines)
    assert errors == [
        f"Error: {table}, row 5, column 'summary' (D): a cell of 200,000 characters, longer than the limit"
        " of 100,000; if it is right, raise the limit with --limit string=N"
    ]
    assert converted == ALL_BUT(4)
    assert _summary_line(result).startswith("9 of 10 case(s) converted")


def test_a_row_over_the_file_size_limit_is_not_read_and_the_table_goes_on(tmp_path):
    lines = _ten_rows()
    lines[4] = "t-4,female,breast," + "x" * 5000 + ",left"
    table, result, converted, errors = _convert_lines(tmp_path, lines, "--limit", "file-size=2k")
    assert errors == [
        f"Error: {table}, row 5: the row is 5,024 bytes or more, over the limit of 2,048 for one case"
        " (is a quote never closed?); if it is right, raise the limit with --limit file-size=N"
    ]
    assert converted == ALL_BUT(4)


def test_a_nul_byte_in_a_cell_names_row_and_column(tmp_path):
    lines = _ten_rows()
    lines[2] = "t-2,female,breast,Case\x00 2,left"
    table, result, converted, errors = _convert_lines(tmp_path, lines)
    assert errors == [
        f"Error: {table}, row 3, column 'summary' (D): a NUL byte (0x00) in the cell; a table is plain text:"
        " remove it"
    ]
    assert converted == ALL_BUT(2)


def test_a_bad_row_of_a_linked_table_fails_its_case_not_the_join(tmp_path):
    cases = _linked(
        tmp_path,
        cases=[["case_id", "sex", "primary_site"], ["k-1", "female", "breast"], ["k-2", "female", "breast"]],
        medications=[
            ["case_id", "name", "note"],
            ["k-1", "tamoxifen", "daily\x00"],
            ["k-2", "tamoxifen", ""],
        ],
    )
    code, lines = errors_of(str(cases), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {tmp_path / 'medications.csv'}, row 2, column 'note' (C): a NUL byte (0x00) in the cell;"
        " a table is plain text: remove it"
    ]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["k-2.json"]


def test_an_xlsx_with_a_stale_dimension_is_read_whole(tmp_path, terminology):
    """openpyxl's read-only mode trusts the stored used range; a stale one must not cut rows or columns."""
    import zipfile

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "cases"
    for line in _ten_rows():
        ws.append(line.split(","))
    wb.save(tmp_path / "full.xlsx")
    with zipfile.ZipFile(tmp_path / "full.xlsx") as src, zipfile.ZipFile(tmp_path / "stale.xlsx", "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b'<dimension ref="A1:E11" />' in data
                data = data.replace(b'<dimension ref="A1:E11" />', b'<dimension ref="A1:C2" />')
            dst.writestr(item, data)
    results = convert_all(tmp_path / "stale.xlsx", terminology)
    assert [r.error for r in results] == [None] * 10
    first = json.loads(results[0].bundle_json)
    condition = next(e["resource"] for e in first["entry"] if e["resource"]["resourceType"] == "Condition")
    assert "left" in json.dumps(condition)  # column E, past the stale range


def test_a_huge_list_index_in_a_header_is_refused_without_allocating(tmp_path):
    table = write_csv(
        tmp_path / "t.csv", [["case_id", "sex", "metastases[99999999].site"], ["c-1", "female", "bone"]]
    )
    started = time.monotonic()
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert time.monotonic() - started < 10
    assert lines == [
        f"Error: {table}: column 'metastases[99999999].site' (C): index 99,999,999 of metastases is past"
        " the limit of 10,000 items in one list; if it is right, raise the limit with --limit items=N"
    ]


def test_a_header_of_many_columns_is_one_error_within_the_limit(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("case_id," + ",".join(f"x{i}" for i in range(20_000)) + "\nc-1\n")
    started = time.monotonic()
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert time.monotonic() - started < 10
    assert lines == [
        f"Error: {table}, row 1: 20,001 cells in one row, more than the limit of 10,000; if it is right,"
        " raise the limit with --limit items=N"
    ]


def test_many_unknown_columns_are_aggregated(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("case_id,sex,primary_site," + ",".join(f"x{i}" for i in range(50)) + "\nc-1\n")
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert len(lines) == 11
    assert lines[-1] == f"Error: {table}: and 40 more like these"


def test_line_breaks_in_headers_and_keys_stay_inside_their_message(tmp_path):
    """Found by benchmarks/fuzz.py --inputs tables: a header or an mrn holding a line break split a
    message into lines that did not name the file."""
    table = write_csv(
        tmp_path / "t.csv",
        [["case_id", "sex", "primary_site", "odd\nname"], ["c-1", "female", "breast", "x"]],
    )
    code, lines = errors_of(str(table), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {table}: column 'odd\\nname' (D) is not a field of the case format; rename it, map it"
        " with --columns, or see fhir-adapter template"
    ]
    (tmp_path / "mef").mkdir()
    root = _mef_copy(tmp_path / "mef")
    with (root / "condition.csv").open("a") as fh:
        fh.write('"mef-7\nx",c-7,http://snomed.info/sct,372137005,,problem-list-item,,,,,,\n')
    code, lines = errors_of(str(root / "patient.csv"), "-o", str(tmp_path / "out2"))
    assert lines == [
        f"Error: {root / 'condition.csv'}, row 5, column 'mrn' (A): mrn 'mef-7\\nx' is not in the patient table"
    ]


def test_mef_sheets_without_a_patient_sheet_name_their_workbook(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "condition"
    for row in csv.reader((MEF / "condition.csv").open(newline="")):
        wb.active.append(row)
    wb.save(tmp_path / "mef.xlsx")
    code, lines = errors_of(str(tmp_path / "mef.xlsx"), "-o", str(tmp_path / "out"))
    assert lines == [
        f"Error: {tmp_path / 'mef.xlsx'}: sheet(s) condition: mCODE Extraction Framework tables keyed by mrn,"
        " but no patient table (mrn, gender, ...) or patient-mrns list beside them; add one to say which"
        " patients to convert"
    ]


def _imports(module: str) -> set[str]:
    """The fhir_adapter modules a module imports (relative imports, at any depth in the file)."""
    import ast

    tree = ast.parse((REPO / "fhir_adapter" / f"{module}.py").read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(alias.name for alias in node.names)
    return out


def test_one_registry_decides_the_reader_and_no_reader_imports_another():
    assert "mef" not in _imports("tables") and "tables" not in _imports("mef")
    assert not {"tables", "mef", "inputs"} & _imports("sheets")
    for reader in ("tables", "mef", "casefile", "sheets"):
        assert "inputs" not in _imports(reader), reader
    importers = {
        p.stem for p in (REPO / "fhir_adapter").glob("*.py") if "mef" in _imports(p.stem) and p.stem != "mef"
    }
    assert importers == {"inputs"}
    from fhir_adapter.inputs import TABLE_LAYOUTS

    assert [layout.name for layout in TABLE_LAYOUTS] == [
        "mCODE Extraction Framework tables",
        "linked tables",
        "flat table",
    ]


def test_rows_a_sheet_skips_are_not_walked_one_by_one(tmp_path):
    """A row numbered 1,048,576 (Excel's last) made read-only openpyxl yield every empty row before it."""
    import zipfile

    wb = openpyxl.Workbook()
    wb.active.title = "cases"
    wb.active.append(["case_id", "sex", "primary_site"])
    wb.active.append(["c-1", "female", "breast"])
    wb.save(tmp_path / "near.xlsx")
    with zipfile.ZipFile(tmp_path / "near.xlsx") as src, zipfile.ZipFile(tmp_path / "far.xlsx", "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'r="([A-C]?)2"', rb'r="\g<1>1048576"', data)
            dst.writestr(item, data)
    from fhir_adapter.sheets import Table, open_workbook

    book = open_workbook(str(tmp_path / "far.xlsx"))
    try:
        rows = list(Table(str(tmp_path / "far.xlsx"), "cases", book).rows())
    finally:
        book.close()
    assert rows == [(1, ["case_id", "sex", "primary_site"]), (1_048_576, ["c-1", "female", "breast"])]


def test_rows_of_one_case_in_a_linked_table_are_held_to_the_items_limit(tmp_path):
    cases = _linked(
        tmp_path,
        cases=[["case_id", "sex", "age"], ["k-1", "female", "50"], ["k-2", "female", "50"]],
        primaries=[["case_id", "id", "site"], ["k-1", "breast", "breast"], ["k-2", "breast", "breast"]],
        metastases=[["case_id", "site"], *[["k-1", "bone"]] * 5, ["k-2", "bone"]],
    )
    code, lines = errors_of(str(cases), "-o", str(tmp_path / "out"), "--limit", "items=4")
    assert lines == [
        f"Error: {tmp_path / 'metastases.csv'}, row 6: more than 4 rows of metastases for one case; if it is"
        " right, raise the limit with --limit items=N"
    ]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["k-2.json"]


def test_rows_of_one_patient_in_a_mef_table_are_held_to_the_items_limit(tmp_path):
    root = _mef_copy(tmp_path)
    with (root / "observation.csv").open("a") as fh:
        for i in range(25):
            fh.write(f"mef-1,mef-1-x{i},final,85337-4,http://loinc.org,,10828004,http://snomed.info/sct,,,\n")
    code, lines = errors_of(str(root / "patient.csv"), "-o", str(tmp_path / "out"), "--limit", "items=20")
    assert lines == [
        f"Error: {root / 'observation.csv'}, row 22: more than 20 rows of the observation table for mrn"
        " 'mef-1'; if it is right, raise the limit with --limit items=N"
    ]


def test_linked_rows_may_come_in_any_order_of_cases(tmp_path, terminology):
    """The join looks each case's rows up on disk: the linked tables need not follow the cases table."""
    for src in (TABLES / "linked").iterdir():
        rows = _read_rows(src)
        if src.name != "cases.csv":
            # Cases in reverse order, each case's own rows kept in their order (sorted is stable).
            rows = [rows[0], *sorted(rows[1:], key=lambda r: r[0], reverse=True)]
        write_csv(tmp_path / src.name, rows)
    results = convert_all(tmp_path / "cases.csv", terminology)
    golden = golden_by_id()
    assert {r.case_id: json.loads(r.bundle_json) for r in results} == golden


def _read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))
