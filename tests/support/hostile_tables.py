"""Table inputs for fuzzing, drawn from a random.Random: the example tables mutated as rows, cells,
headers and bytes, in every layout (flat, linked, mCODE Extraction Framework) and format (CSV,
TSV, .xlsx).

Shared by the bounded fuzz test (tests/test_hostile_fuzz.py, driven by hypothesis) and the long
run (benchmarks/fuzz.py --inputs tables). An input is the name of the file to convert and the
files of its directory ({name: bytes}): a linked or framework layout is several files.
"""

from __future__ import annotations

import csv
import functools
import io
import random
import re
import zipfile
from collections import Counter
from pathlib import Path

import orjson
from fhir.resources.R4B.bundle import Bundle

from fhir_adapter.batch import convert_source, iter_sources
from fhir_adapter.casefile import Limits
from fhir_adapter.convert import ConvertOptions
from fhir_adapter.terminology import Terminology
from support.hostile_inputs import mutate_bytes

REPO = Path(__file__).resolve().parents[2]
FLAT = REPO / "examples" / "tables" / "examples.csv"
LINKED = REPO / "examples" / "tables" / "linked"
MEF = REPO / "tests" / "data" / "tables" / "mef"

# Small bounds, so the limit paths are reached by inputs of a few kilobytes.
LIMITS = Limits(file_size=16_384, string=2_000, items=200, nodes=5_000)

# Cell texts that have broken table readers: quotes, separators, line breaks, NUL, long text.
CELLS = [
    '"', '"abc', 'a"b', '"a"b', 'a""b', '""', "\x00", "a\x00b", "\n", "a\nb", "\r", "a\r\nb", ";", "a;;b",
    ";b", "a;", " ; ", ",", "\t", "x" * 2_001, "é" * 300, "=1+1", "-1", "1e999", "NaN", "0123", "12:30",
    "true", "TRUE", "2019-02-30", "2019", "female", "woman", "left", "breast", "bone", "tamoxifen", "",
    " ", "\ufeff", "\u2028", "\x1e", "\U0001f600", "mef-1", "k-1", "C50.912", "http://snomed.info/sct",
]  # fmt: skip
HEADERS = [
    "case_id", "sex", "age", "primary_site", "metastasis_sites", "medications", "medications.dose",
    "metastases[0].site", "metastases[199].site", "metastases[200].site", "metastases[99999999].site",
    "primary_cancers[1].site", "metastases.age", "procedures.treats", "patient.vital_status.deceased",
    "unknown", "Sex", "", "case_id", "mrn", "conditionId", "code", "codeSystem", "x" * 300,
]  # fmt: skip


@functools.cache
def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _mutate_rows(rng: random.Random, rows: list[list[str]]) -> list[list[str]]:
    rows = [list(r) for r in rows]
    for _ in range(rng.randint(0, 6)):
        kind = rng.random()
        if not rows:
            rows.append([rng.choice(HEADERS)])
        elif kind < 0.45:  # a cell
            row = rng.choice(rows[1:] or rows)
            if row:
                row[rng.randrange(len(row))] = rng.choice(CELLS) * rng.choice([1, 1, 1, 2, 40])
        elif kind < 0.6:  # a header
            head = rows[0]
            choice = rng.choice(HEADERS)
            if head and rng.random() < 0.5:
                head[rng.randrange(len(head))] = choice
            else:
                head.append(choice)
        elif kind < 0.7:  # cells past the header, or a short row
            row = rng.choice(rows)
            if rng.random() < 0.5:
                row.extend(rng.choice(CELLS) for _ in range(rng.choice([1, 3, 250])))
            else:
                del row[rng.randrange(len(row) + 1) :]
        elif kind < 0.8:  # rows repeated, dropped or blank
            i = rng.randrange(len(rows))
            what = rng.random()
            if what < 0.4:
                rows.insert(i, list(rows[i]))
            elif what < 0.7 and len(rows) > 1:
                del rows[max(i, 1)]
            else:
                rows.insert(i, [])
        elif kind < 0.9:  # many columns
            rows[0] = rows[0] + [f"x{i}" for i in range(rng.choice([5, 150, 300]))]
        else:  # many rows
            rows.extend(list(rng.choice(rows[1:] or rows)) for _ in range(rng.choice([5, 50])))
    return rows


def _csv(rng: random.Random, rows: list[list[str]], delimiter: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=rng.choice(["\n", "\r\n"])).writerows(rows)
    raw = buf.getvalue().encode("utf-8")
    if rng.random() < 0.3:
        raw = mutate_bytes(rng, raw)  # stray quotes, NULs, cut and repeated spans
    if rng.random() < 0.05:
        raw = rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b""]) + raw
    return raw


_ILLEGAL_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx(rng: random.Random, sheets: dict[str, list[list[str]]]) -> bytes:
    import openpyxl

    # Every draw from here comes from a generator seeded once: hypothesis may stop an example at any
    # draw from its own, which would leave a workbook half-written (and openpyxl complaining when it
    # is collected).
    rng = random.Random(rng.getrandbits(64))
    wb = openpyxl.Workbook(write_only=True)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            cells: list[object] = []
            for cell in row:
                text = _ILLEGAL_IN_XML.sub("", cell)
                if text.isdigit() and len(text) < 10 and rng.random() < 0.5:
                    cells.append(int(text))  # Excel keeps numbers as numbers
                else:
                    cells.append(text or None)
            ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    raw = buf.getvalue()
    what = rng.random()
    if what < 0.1:  # a stale stored dimension
        raw = _rewrite_sheets(
            raw, lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', xml)
        )
    elif what < 0.15:
        raw = _rewrite_sheets(raw, lambda xml: xml.replace(b'r="2"', b'r="2000000"', 1))
    elif what < 0.2:
        raw = mutate_bytes(rng, raw)  # a broken zip
    return raw


def _rewrite_sheets(raw: bytes, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = change(data)
            dst.writestr(item, data)
    return out.getvalue()


def hostile_table(rng: random.Random) -> tuple[str, dict[str, bytes]]:
    """A table input: (the file to convert, the files of its directory)."""
    layout = rng.choice(["flat", "flat", "linked", "mef"])
    fmt = rng.choice(["csv", "csv", "tsv", "xlsx"])
    if layout == "flat":
        tables = {"cases": _mutate_rows(rng, _read(FLAT))}
    elif layout == "linked":
        tables = {p.stem: _read(p) for p in sorted(LINKED.glob("*.csv"))}
        for name in rng.sample(sorted(tables), rng.randint(1, 3)):
            tables[name] = _mutate_rows(rng, tables[name])
    else:
        tables = {p.stem: _read(p) for p in sorted(MEF.glob("*.csv"))}
        for name in rng.sample(sorted(tables), rng.randint(1, 3)):
            tables[name] = _mutate_rows(rng, tables[name])
    first = "cases" if layout != "mef" else "patient"
    if fmt == "xlsx":
        sheets = {name[:31]: rows for name, rows in tables.items()}
        if rng.random() < 0.1:
            sheets[rng.choice(["Sheet2", "_notes", "scratch"])] = [["x"]]
        return "book.xlsx", {"book.xlsx": _xlsx(rng, sheets)}
    delimiter = "\t" if fmt == "tsv" else rng.choice([",", ",", ";"])
    files = {f"{name}.{fmt}": _csv(rng, rows, delimiter) for name, rows in tables.items()}
    return f"{first}.{fmt}", files


def check_table(
    directory: Path, name: str, terminology: Terminology, options: ConvertOptions
) -> Counter[str]:
    """Convert every case of a table; counts of 'converted' and 'refused'.

    The property, for each case a table gives: its bundle passes fhir.resources' full R4
    validation, or its error is a message whose every line names the table's file (and so its
    directory). Anything else (an exception, a bad bundle, an unplaced message) raises.
    """
    counts: Counter[str] = Counter()
    where = str(directory)
    for source in iter_sources([str(directory / name)], options.limits):
        result = convert_source(source, terminology, options, ndjson=False)
        if result.ok:
            Bundle.model_validate(orjson.loads(result.bundle_json))
            counts["converted"] += 1
            continue
        assert result.error and result.error.strip(), "an empty error message"
        for line in result.error.splitlines():
            assert line.startswith(where), f"a message line that does not say where: {line!r}"
        counts["refused"] += 1
    return counts


def write_input(directory: Path, files: dict[str, bytes]) -> None:
    for file, raw in files.items():
        (directory / file).write_bytes(raw)


FUZZ_OPTIONS = ConvertOptions(limits=LIMITS)
