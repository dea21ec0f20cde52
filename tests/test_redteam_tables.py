"""Attacks on the joins of table inputs: linked CSV tables, the framework's CSV templates, workbooks.

Each test names what a registrar's export did and what the product did before the fix, or what it
must keep doing: every row of a linked table lands on its own case or is named with its file and
row, and one bad case never harms the others.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.convert_run import resources, run, write

REPO = Path(__file__).resolve().parents[1]
LINKED = REPO / "examples" / "tables" / "linked"
MEF = Path(__file__).parent / "data" / "tables" / "mef"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Messages name files as given; the tests give them relative to tmp_path."""
    monkeypatch.chdir(tmp_path)


def linked(tmp_path: Path, **extra: str) -> None:
    """The example linked tables in tmp_path, with `extra` lines appended to the named tables."""
    for source in LINKED.glob("*.csv"):
        text = source.read_text(encoding="utf-8")
        write(tmp_path, source.name, text + extra.get(source.stem, ""))


# --- A case listed twice in the cases table ---------------------------------------------------


def test_a_case_listed_twice_in_the_cases_table_is_named_as_listed_twice(tmp_path):
    """A case given twice in cases.csv (an export that joined one row per diagnosis) failed its
    second row for 'primary_cancers: required field is missing', as its linked rows had gone to the
    first: the message sent the registrar looking for a missing primary."""
    lines = (LINKED / "cases.csv").read_text(encoding="utf-8").splitlines()
    linked(tmp_path, cases=lines[-1] + "\n")
    code, errors, _ = run("cases.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: cases.csv, row 5, column 'case_id' (A): case_id 'yu-2024-case-2' is given twice in"
        " cases.csv, first in cases.csv, row 4; the rows of the linked tables went with the first:"
        " give each case one row"
    ]
    # The first row keeps every linked row of its case: the example's conditions, all of them.
    got = resources(tmp_path / "out" / "yu-2024-case-2.json", "Condition")
    assert got == resources(REPO / "examples" / "yu-2024-case-2.bundle.json", "Condition")


# --- A child row whose key differs from its case's as a spreadsheet rewrites numbers ---------


def test_a_linked_row_whose_case_id_lost_a_zero_or_gained_a_point_names_the_case_it_may_be(tmp_path):
    """A spreadsheet reads `0456` as 456 and writes `123` back as `123.0`: the rows of the linked
    table were named as orphans with no word of the case they were meant for, as they are when
    only the case of the letters differs."""
    linked(
        tmp_path,
        cases="123,,A case.,female,,,,,50\n0456,,A case.,female,,,,,50\n",
        primaries="123.0,breast,breast,,invasive ductal carcinoma,,,\n456,breast,breast,,invasive ductal carcinoma,,,\n",
    )
    code, errors, _ = run("cases.csv", "-o", "out/")
    assert code == 3
    assert [e for e in errors if "primaries.csv" in e] == [
        "Error: primaries.csv, row 5: case_id '123.0' is not in cases.csv; add the case there or fix the id"
        " (it has '123')",
        "Error: primaries.csv, row 6: case_id '456' is not in cases.csv; add the case there or fix the id"
        " (it has '0456')",
    ]
    # Joined as written all the same: 0456 and 456 may be two patients.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{c}.json" for c in ("scalp-nodule-56f", "yu-2024-case-1", "yu-2024-case-2")
    )


def test_a_framework_row_whose_mrn_lost_a_zero_or_is_decomposed_names_the_patient_it_may_be(tmp_path):
    """The same in the framework's tables, and for an mrn whose accent one export wrote as one
    character (NFC) and another as a letter and a combining mark (NFD): they look the same."""
    patient = "mrn,gender\n0123,female\nJos\u00e9-7,female\n"
    condition = (
        "mrn,conditionId,codeSystem,code,category\n"
        "123.0,c1,http://snomed.info/sct,254837009,problem-list-item\n"
        "Jose\u0301-7,c2,http://snomed.info/sct,254837009,problem-list-item\n"
    )
    write(tmp_path, "patient.csv", patient)
    write(tmp_path, "condition.csv", condition)
    code, errors, _ = run("*.csv", "-o", "out/")
    assert code == 3
    orphans = [e for e in errors if e.startswith("Error: condition.csv")]
    assert orphans == [
        "Error: condition.csv, row 2, column 'mrn' (A): mrn '123.0' is not in the patient table; it has"
        " '0123': write the mrn as the patient table does",
        "Error: condition.csv, row 3, column 'mrn' (A): mrn 'Jose\u0301-7' is not in the patient table; it has"
        " 'Jos\u00e9-7': write the mrn as the patient table does",
    ]


def test_joining_linked_tables_holds_nothing_per_case_in_memory(tmp_path):
    """The join kept every case id it met in a dict, to name the case an orphan row may be meant
    for: memory grew with the cases (about 150 MB a million), where the on-disk index is meant to
    keep it flat. The ids are looked up on disk now. (Peak RSS in figures: bench_tables.py --stage join.)"""
    import tracemalloc

    from fhir_adapter.inputs import iter_sources

    def join(n: int) -> float:
        directory = tmp_path / str(n)
        directory.mkdir()
        ids = [f"case-{i:06d}" for i in range(n)]
        write(directory, "cases.csv", "case_id,sex\n" + "".join(f"{i},female\n" for i in ids))
        write(directory, "primaries.csv", "case_id,site\n" + "".join(f"{i},breast\n" for i in ids))
        tracemalloc.start()
        try:
            assert sum(1 for _ in iter_sources([str(directory / "cases.csv")])) == n
            return tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()

    join(100)  # caches filled once (the schema's columns, the layouts)
    # 8,000 ids held in a dict took about 1.1 MB; the rows of one case, a few kilobytes.
    assert join(8_000) < 0.4


# --- Naming the tables a run reads -------------------------------------------------------------


def test_naming_every_linked_table_converts_each_case_once_and_says_nothing_false(tmp_path):
    """`convert cases.csv primaries.csv ...`, each table named: every case converted, and then
    'primaries.csv: no case in it: a table with a header and no rows' and exit 7 for a run that
    lost nothing (a glob of the same files was quiet). Named alone, a linked table gave the same
    false sentence, while none of its rows was read: now it names the table that reads it."""
    linked(tmp_path)
    names = sorted(p.name for p in LINKED.glob("*.csv"))
    code, errors, _ = run(*names, "-o", "out/")
    assert (code, errors) == (0, [])
    assert len(list((tmp_path / "out").iterdir())) == 3

    code, errors, _ = run("primaries.csv", "-o", "out2/")
    assert code == 3
    assert errors == [
        "Error: primaries.csv: its rows are read with cases.csv, which is not among the inputs; name"
        " cases.csv (it reads the tables beside it)"
    ]


def test_naming_every_framework_table_converts_each_patient_once_and_says_nothing_false(tmp_path):
    for source in MEF.glob("*.csv"):
        write(tmp_path, source.name, source.read_text(encoding="utf-8"))
    code, errors, _ = run("patient.csv", "condition.csv", str(tmp_path / "procedure.csv"), "-o", "out/")
    assert (code, errors) == (0, [])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mef-1.json", "mef-2.json"]

    code, errors, _ = run("condition.csv", "-o", "out2/")
    assert code == 3
    assert errors == [
        "Error: condition.csv: its rows are read with patient.csv, which is not among the inputs; name"
        " patient.csv (it reads the tables beside it)"
    ]


# --- Framework tables that fit none of the framework's -----------------------------------------


def mef_copy(tmp_path: Path) -> None:
    for source in MEF.glob("*.csv"):
        write(tmp_path, source.name, source.read_text(encoding="utf-8"))


def procedures_of(tmp_path: Path, case: str) -> list[str]:
    return [p["id"] for p in resources(tmp_path / "out" / f"{case}.json", "Procedure")]


def test_framework_columns_written_with_underscores_or_spaces_are_read(tmp_path):
    """`condition_id` and `Date of Diagnosis` for conditionId and dateOfDiagnosis: the condition
    table fitted none of the framework's, was read as a flat table (a pile of 'not a field of the
    case format' errors), and every patient failed for want of a primary cancer."""
    mef_copy(tmp_path)
    condition = tmp_path / "condition.csv"
    lines = condition.read_text(encoding="utf-8").splitlines(keepends=True)
    condition.write_text(
        lines[0].replace("conditionId", "condition_id").replace("dateOfDiagnosis", "Date of Diagnosis")
        + "".join(lines[1:]),
        encoding="utf-8",
    )
    code, errors, _ = run("*.csv", "-o", "out/")
    assert (code, errors) == (0, [])
    conditions = resources(tmp_path / "out" / "mef-1.json", "Condition")
    assert {c["onsetDateTime"] for c in conditions if "onsetDateTime" in c} == {"2019-03-14", "2021-05-02"}


@pytest.mark.parametrize("named", [["patient.csv"], ["*.csv"]])
def test_a_framework_table_with_a_misspelt_required_column_fails_it_is_not_dropped(tmp_path, named):
    """procedure.csv with `procId` for procedureId, beside patient.csv: naming patient.csv (which
    reads the tables beside it) converted both patients without their procedures, exit 0, not a
    word. A glob read it as a flat table and named every column but the one at fault."""
    mef_copy(tmp_path)
    procedure = tmp_path / "procedure.csv"
    procedure.write_text(procedure.read_text(encoding="utf-8").replace("procedureId", "procId", 1))
    code, errors, _ = run(*named, "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: procedure.csv: a table keyed by mrn, but none of the mCODE Extraction Framework's tables:"
        " the procedure table needs 'procedureid' (is 'procId' it?); none of its rows was read: name its"
        " columns as the framework does, or move it out of this folder if it holds no rows of these patients"
    ]
    assert procedures_of(tmp_path, "mef-1") == []  # the other tables' facts are still converted


def test_a_framework_workbook_sheet_that_fits_no_table_is_said_not_dropped(tmp_path):
    """In a workbook of the framework's tables, a sheet keyed by mrn that fits none of them, and a
    sheet with no mrn, were left out without a word (a linked-table workbook refuses such sheets)."""
    import csv

    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for source in sorted(MEF.glob("*.csv")):
        sheet = wb.create_sheet(source.stem[:31])
        for row in csv.reader(source.read_text(encoding="utf-8").splitlines()):
            sheet.append(row)
    wb["procedure"]["B1"] = "procId"
    wb.create_sheet("notes").append(["checked by", "on"])
    wb.create_sheet("_mine").append(["mrn", "anything"])  # left out by its name, as the README says
    wb.save(tmp_path / "mef.xlsx")
    code, errors, warnings = run("mef.xlsx", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: mef.xlsx, sheet 'procedure': a table keyed by mrn, but none of the mCODE Extraction"
        " Framework's tables: the procedure table needs 'procedureid' (is 'procId' it?); none of its rows was"
        " read: name its columns as the framework does, or start its name with _ if it holds no rows of these"
        " patients"
    ]
    assert [w for w in warnings if "'notes'" in w] == [
        "warning: mef.xlsx, sheet 'patient', row 2: mef.xlsx, sheet 'notes': no mrn column, so none of the"
        " mCODE Extraction Framework's tables; it was not read: start its name with _ to leave it out without"
        " a word"
    ]


def test_linked_tables_without_the_cases_tables_prefix_are_said_not_read(tmp_path):
    """registry.cases.csv and registry.primaries.csv, with medications.csv, metastases.csv, ...
    beside them as another export named them: the tables without the prefix were read by no cases
    table, and every case converted without its metastases, procedures and medications: exit 0,
    not a word. The other way round (cases.csv beside registry.medications.csv) was the same."""
    linked(tmp_path)
    (tmp_path / "cases.csv").rename(tmp_path / "registry.cases.csv")
    (tmp_path / "primaries.csv").rename(tmp_path / "registry.primaries.csv")
    code, errors, warnings = run("registry.cases.csv", "-o", "out/")
    assert (code, errors) == (0, [])
    said = [w.split(": ", 2)[2] for w in warnings if "named as a linked table" in w]
    assert said == [
        f"{name}.csv: beside registry.cases.csv, named as a linked table but with no cases.csv to read it;"
        f" it was not read: rename it registry.{name}.csv if it holds rows of these cases"
        for name in ("disease_status", "medications", "metastases", "procedures")
    ]

    (tmp_path / "registry.cases.csv").rename(tmp_path / "cases.csv")
    (tmp_path / "registry.primaries.csv").rename(tmp_path / "primaries.csv")
    (tmp_path / "medications.csv").rename(tmp_path / "registry.medications.csv")
    code, errors, warnings = run("cases.csv", "-o", "out2/")
    assert (code, errors) == (0, [])
    assert [w.split(": ", 2)[2] for w in warnings if "named as a linked table" in w] == [
        "registry.medications.csv: beside cases.csv, named as a linked table but with no registry.cases.csv"
        " to read it; it was not read: rename it medications.csv if it holds rows of these cases"
    ]


def test_a_framework_table_whose_suffix_is_in_capitals_is_read_with_the_patient_table(tmp_path):
    """procedure.CSV beside patient.csv (as some exports name files): the framework's tables beside
    the patient table were looked for as *.csv only, so the procedures were left out without a word.
    Linked tables already matched the suffix in any case."""
    mef_copy(tmp_path)
    (tmp_path / "procedure.csv").rename(tmp_path / "procedure.CSV")
    code, errors, _ = run("patient.csv", "-o", "out/")
    assert (code, errors) == (0, [])
    assert procedures_of(tmp_path, "mef-1") and procedures_of(tmp_path, "mef-2")
    # Named beside the patient table, it is read once, with it.
    code, errors, _ = run("patient.csv", "procedure.CSV", "-o", "out2/")
    assert (code, errors) == (0, [])
    assert len(list((tmp_path / "out2").iterdir())) == 2


def test_two_files_or_sheets_that_are_one_linked_table_are_refused(tmp_path):
    """disease-status.csv beside disease_status.csv (a copy under the other spelling), or sheets
    'primaries' and 'primary_cancers': both were read, so every case got each disease status twice,
    without a word (rows with ids failed as an id used twice, far from the cause)."""
    import openpyxl

    linked(tmp_path)
    write(tmp_path, "disease-status.csv", (LINKED / "disease_status.csv").read_text(encoding="utf-8"))
    code, errors, _ = run("cases.csv", "-o", "out/")
    assert code == 3
    assert errors == [
        "Error: disease-status.csv and disease_status.csv are both the disease_status table; keep one (a"
        " copy's rows would be read twice)"
    ]

    wb = openpyxl.Workbook()
    wb.active.title = "cases"
    wb.active.append(["case_id", "sex"])
    wb.active.append(["c1", "female"])
    for sheet in ("primaries", "primary_cancers"):
        wb.create_sheet(sheet).append(["case_id", "site"])
        wb[sheet].append(["c1", "breast"])
    wb.save(tmp_path / "book.xlsx")
    code, errors, _ = run("book.xlsx", "-o", "out2/")
    assert code == 3
    assert errors == [
        "Error: book.xlsx, sheet 'primaries' and book.xlsx, sheet 'primary_cancers' are both the"
        " primary_cancers table; keep one (a copy's rows would be read twice)"
    ]
