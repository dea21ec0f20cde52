"""Warnings about a case read from tables name the file, row and column a registrar can find."""

from __future__ import annotations

from pathlib import Path

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
