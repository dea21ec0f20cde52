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
