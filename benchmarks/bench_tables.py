"""Spreadsheet input: throughput and peak memory for N rows of a flat table, one fresh process per N.

    python benchmarks/bench_tables.py --sizes 1000,10000,100000,1000000 --format csv --stage read
    python benchmarks/bench_tables.py --sizes 1000,10000,100000 --format xlsx --stage convert

The table (generated once, not timed) has the flat layout's common columns (case_id, sex, age,
primary_site, laterality, histology, er, pr, her2, metastasis_sites, medications) filled with
seeded terms from mappings/. Each N has its own file of N rows (an .xlsx is read whole by some
readers, and its shared-strings table grows with the file) and runs in its own subprocess, so
peak RSS (ru_maxrss) is that run's alone.

--stage read: rows -> case data -> case.Case validation (what every row costs before mapping).
--stage convert: the whole pipeline (iter_sources -> convert_stream), each bundle serialised and
counted, not written. --reader calamine reads the xlsx with python-calamine instead of openpyxl
(read stage only; needs `pip install python-calamine`), to compare the two.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = [
    "case_id", "sex", "age", "primary_site", "laterality", "histology", "er", "pr", "her2",
    "metastasis_sites", "medications",
]  # fmt: skip


def rows(count: int, seed: int):
    """Seeded flat rows with terms from the shipped maps."""
    from fhir_adapter.terminology import load_terminology

    t = load_terminology()

    def firsts(domain: str, kind: str | None = None) -> list[str]:
        seen: dict[int, str] = {}
        for c in t.domains[domain].values():
            if kind is None or c.kind == kind:
                seen.setdefault(id(c), c.terms[0])
        return list(seen.values())

    histology = firsts("histology")
    secondary = firsts("secondary_cancers")
    medications = firsts("medications")
    results = ["positive", "negative"]
    rng = random.Random(seed)
    for i in range(count):
        yield [
            f"row-{i:07d}",
            "female" if rng.random() < 0.97 else "male",
            str(rng.randint(28, 85)),
            "breast",
            rng.choice(["left", "right", ""]),
            rng.choice(histology),
            rng.choice(results),
            rng.choice(results),
            rng.choice(results),
            ";".join(rng.sample(secondary, rng.randint(0, 3))),
            ";".join(rng.sample(medications, rng.randint(0, 3))),
        ]


def write_table(path: Path, count: int, seed: int) -> None:
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(HEADER)
            writer.writerows(rows(count, seed))
        return
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("cases")
    ws.append(HEADER)
    for row in rows(count, seed):
        ws.append([int(v) if v.isdigit() else (v or None) for v in row])
    wb.save(path)


def _calamine_sources(path: str, count: int):
    """The read stage over python-calamine's rows, for comparison with openpyxl's read-only mode."""
    from python_calamine import CalamineWorkbook

    from fhir_adapter.tables import Table, TableCase, _row_name, cell_text, resolve_columns

    sheet = CalamineWorkbook.from_path(path).get_sheet_by_name("cases")
    it = iter(sheet.iter_rows())
    header = [cell_text(c) for c in next(it)]
    table = Table(path, "cases")
    columns, _ = resolve_columns(table, header, None, None)
    for number, cells in enumerate(it, start=2):
        if number - 1 > count:
            break
        doc = TableCase(_row_name(table, number))
        doc.add_row((), doc.name, columns, [cell_text(c) for c in cells])
        yield doc


def run_child(path: str, count: int, stage: str, reader: str) -> dict:
    from itertools import islice

    from fhir_adapter.batch import convert_stream, iter_sources
    from fhir_adapter.casefile import parse_case
    from fhir_adapter.convert import ConvertOptions
    from fhir_adapter.errors import InvalidCaseError
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    ok = failed = 0
    out_bytes = 0
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if stage == "read":
        docs = (
            _calamine_sources(path, count)
            if reader == "calamine"
            else (s.doc for s in islice(iter_sources([path]), count))
        )
        for doc in docs:
            try:
                if doc.problems:
                    raise InvalidCaseError("\n".join(doc.problems))
                parse_case(doc)
                ok += 1
            except InvalidCaseError as exc:
                failed += 1
                if failed <= 3:
                    print(exc, file=sys.stderr)
    else:
        for result in convert_stream(islice(iter_sources([path]), count), terminology, ConvertOptions()):
            if result.ok:
                ok += 1
                out_bytes += len(result.bundle_json)
            else:
                failed += 1
                if failed <= 3:
                    print(result.error, file=sys.stderr)
    seconds = time.perf_counter() - started
    return {
        "n": count,
        "ok": ok,
        "failed": failed,
        "seconds": seconds,
        "out_mb": out_bytes / 1e6,
        "rss_start_mb": rss_start / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    parser.add_argument("--stage", choices=("read", "convert"), default="read")
    parser.add_argument("--reader", choices=("openpyxl", "calamine"), default="openpyxl")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("TABLE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], int(args.child[1]), args.stage, args.reader)))
        return

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-bench-tables-"))
    try:
        print(f"format={args.format} stage={args.stage} reader={args.reader}")
        print(f"{'N':>8} {'seconds':>8} {'rows/s':>8} {'peak MB':>8} {'vs first':>8} {'file MB':>8}")
        first = None
        for n in sizes:
            table = work / f"cases-{n}.{args.format}"
            started = time.perf_counter()
            write_table(table, n, args.seed)
            print(f"generated {n} rows in {time.perf_counter() - started:.1f}s (not timed)", file=sys.stderr)
            cmd = [sys.executable, __file__, "--stage", args.stage, "--reader", args.reader]
            cmd += ["--child", str(table), str(n)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"run for N={n} failed:\n{proc.stderr}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if r["failed"] or r["ok"] != n:
                sys.exit(f"N={n}: {r['failed']} row(s) failed, {r['ok']} converted:\n{proc.stderr}")
            first = first or r["peak_rss_mb"]
            print(
                f"{n:>8} {r['seconds']:>8.2f} {n / r['seconds']:>8.0f} {r['peak_rss_mb']:>8.1f}"
                f" {r['peak_rss_mb'] / first:>8.3f} {table.stat().st_size / 1e6:>8.1f}",
                flush=True,
            )
            table.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
