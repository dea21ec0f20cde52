"""Spreadsheet input: throughput and peak memory for N patients per layout, one fresh process per N.

    python benchmarks/bench_tables.py --layout flat --sizes 1000,10000,100000,1000000 --stage read
    python benchmarks/bench_tables.py --layout linked --sizes 1000,10000,100000,1000000
    python benchmarks/bench_tables.py --layout mef --sizes 1000,10000,100000,1000000
    python benchmarks/bench_tables.py --layout flat --format xlsx --sizes 1000,10000,100000

Layouts (each generated once per N, not timed, seeded terms and codes from mappings/):

- flat: one row per case with the common columns (case_id, sex, age, primary_site, laterality,
  histology, er, pr, her2, metastasis_sites, medications).
- linked: cases.csv plus primaries.csv, metastases.csv, medications.csv and procedures.csv
  joined by case_id: 8 resources per patient (Patient, two Conditions, three receptor
  Observations, a MedicationStatement, a Procedure). The child tables are written in a shuffled
  order (seeded), as a registry export sorted by something else gives them.
- mef: the mCODE Extraction Framework's CSV templates (patient, condition, observation,
  cancer-related-medication-administration, procedure), the same 8 resources per patient and the
  same shuffled child tables.

Each N has its own files and runs in its own subprocess, so peak RSS (VmHWM on Linux) is that
run's alone. --stage read: rows -> case data -> case.Case validation (what every row costs before
mapping; flat only). --stage join (linked and mef): the tables read and joined into case data,
one source per case, nothing validated or converted (the memory of the join alone). --stage convert (the default): the whole pipeline (iter_sources ->
convert_stream), each bundle serialised and counted, not written. --reader calamine reads a flat
xlsx with python-calamine instead of openpyxl (read stage only; needs python-calamine).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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
# Blocks of this many patients are shuffled together in the child tables: a realistic spread
# (rows of one patient far apart) without holding a million rows in the generator.
SHUFFLE_BLOCK = 50_000


class Terms:
    """Seeded choices of terms and codes from the shipped maps."""

    def __init__(self):
        from fhir_adapter.terminology import load_terminology

        t = load_terminology()
        self.terminology = t

        def firsts(domain: str) -> list:
            seen: dict[int, object] = {}
            for c in t.domains[domain].values():
                seen.setdefault(id(c), c)
            return list(seen.values())

        self.histology = [c.terms[0] for c in firsts("histology")]
        self.secondary = [c.terms[0] for c in firsts("secondary_cancers")]
        self.medications = [c.terms[0] for c in firsts("medications")]

        def coded(domain: str, system: str) -> list[tuple[str, str]]:
            out = []
            for c in firsts(domain):
                for coding in c.codings:
                    if coding.system == system:
                        out.append((coding.code, c.terms[0]))
                        break
            return out

        self.secondary_icd = coded("secondary_cancers", "http://hl7.org/fhir/sid/icd-10-cm")
        self.medication_rx = coded("medications", "http://www.nlm.nih.gov/research/umls/rxnorm")
        self.procedure_sct = coded("procedures", "http://snomed.info/sct")
        self.procedures = [term for _, term in self.procedure_sct]


def flat_rows(count: int, seed: int, terms: Terms):
    """Seeded flat rows with terms from the shipped maps."""
    results = ["positive", "negative"]
    rng = random.Random(seed)
    for i in range(count):
        yield [
            f"row-{i:07d}",
            "female" if rng.random() < 0.97 else "male",
            str(rng.randint(28, 85)),
            "breast",
            rng.choice(["left", "right", ""]),
            rng.choice(terms.histology),
            rng.choice(results),
            rng.choice(results),
            rng.choice(results),
            ";".join(rng.sample(terms.secondary, rng.randint(0, 3))),
            ";".join(rng.sample(terms.medications, rng.randint(0, 3))),
        ]


def _write(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _shuffled(rows, rng: random.Random):
    """Rows in a seeded order, shuffled within blocks of SHUFFLE_BLOCK patients."""
    block: list = []
    for patient_rows in rows:
        block.extend(patient_rows)
        if len(block) >= SHUFFLE_BLOCK:
            rng.shuffle(block)
            yield from block
            block = []
    rng.shuffle(block)
    yield from block


def write_flat(path: Path, count: int, seed: int, terms: Terms) -> list[Path]:
    if path.suffix == ".csv":
        _write(path, HEADER, flat_rows(count, seed, terms))
        return [path]
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("cases")
    ws.append(HEADER)
    for row in flat_rows(count, seed, terms):
        ws.append([int(v) if v.isdigit() else (v or None) for v in row])
    wb.save(path)
    return [path]


def write_linked(directory: Path, count: int, seed: int, terms: Terms) -> list[Path]:
    """cases.csv and four linked tables: 8 resources per patient."""
    rng = random.Random(seed)
    results = ["positive", "negative"]
    ids = [f"row-{i:07d}" for i in range(count)]
    _write(
        directory / "cases.csv",
        ["case_id", "sex", "age"],
        ([i, "female" if rng.random() < 0.97 else "male", rng.randint(28, 85)] for i in ids),
    )
    _write(
        directory / "primaries.csv",
        [
            "case_id",
            "id",
            "site",
            "laterality",
            "histology",
            "receptors.er",
            "receptors.pr",
            "receptors.her2",
        ],
        _shuffled(
            (
                [
                    [
                        i,
                        "breast",
                        "breast",
                        rng.choice(["left", "right"]),
                        rng.choice(terms.histology),
                        rng.choice(results),
                        rng.choice(results),
                        rng.choice(results),
                    ]
                ]
                for i in ids
            ),
            rng,
        ),
    )
    _write(
        directory / "metastases.csv",
        ["case_id", "site", "primary"],
        _shuffled(([[i, rng.choice(terms.secondary), "breast"]] for i in ids), rng),
    )
    _write(
        directory / "medications.csv",
        ["case_id", "name", "treats"],
        _shuffled(([[i, rng.choice(terms.medications), "breast"]] for i in ids), rng),
    )
    _write(
        directory / "procedures.csv",
        ["case_id", "name", "treats"],
        _shuffled(([[i, rng.choice(terms.procedures), "breast"]] for i in ids), rng),
    )
    return sorted(directory.glob("*.csv"))


MEF_SNOMED = "http://snomed.info/sct"
MEF_ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
MEF_RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# LOINC codes of ER, PR and HER2 and SNOMED CT positive / negative, as mappings/observations.yaml has them.
MEF_RECEPTORS = ("85337-4", "85339-0", "48676-1")
MEF_RESULTS = ("10828004", "260385009")


def write_mef(directory: Path, count: int, seed: int, terms: Terms) -> list[Path]:
    """The framework's CSV templates for `count` patients: 8 resources per patient."""
    rng = random.Random(seed)
    ids = [f"mrn-{i:07d}" for i in range(count)]
    _write(
        directory / "patient.csv",
        ["mrn", "familyName", "givenName", "gender"],
        ([i, "", "", "female" if rng.random() < 0.97 else "male"] for i in ids),
    )
    condition_header = [
        "mrn", "conditionId", "codeSystem", "code", "displayName", "category", "dateOfDiagnosis",
        "clinicalStatus", "verificationStatus",
    ]  # fmt: skip

    def conditions(i: str) -> list[list[str]]:
        code, term = rng.choice(terms.secondary_icd)
        return [
            [
                i,
                f"{i}-breast",
                MEF_ICD10,
                "C50.912",
                "",
                "problem-list-item",
                "2019-03-14",
                "active",
                "confirmed",
            ],
            [i, f"{i}-met", MEF_ICD10, code, term, "problem-list-item", "2021-05-02", "active", "confirmed"],
        ]

    _write(directory / "condition.csv", condition_header, _shuffled((conditions(i) for i in ids), rng))
    _write(
        directory / "observation.csv",
        ["mrn", "observationId", "status", "code", "codeSystem", "value", "valueCodeSystem", "effectiveDate"],
        _shuffled(
            (
                [
                    [
                        i,
                        f"{i}-{code}",
                        "final",
                        code,
                        "http://loinc.org",
                        rng.choice(MEF_RESULTS),
                        MEF_SNOMED,
                        "",
                    ]
                    for code in MEF_RECEPTORS
                ]
                for i in ids
            ),
            rng,
        ),
    )

    def medication(i: str) -> list[list[str]]:
        code, term = rng.choice(terms.medication_rx)
        return [[i, f"{i}-med", code, MEF_RXNORM, term, "2019-05-01", "", "C50.912", MEF_ICD10, "completed"]]

    _write(
        directory / "cancer-related-medication-administration.csv",
        [
            "mrn",
            "medicationId",
            "code",
            "codeSystem",
            "displayText",
            "startDate",
            "endDate",
            "treatmentReasonCode",
            "treatmentReasonCodeSystem",
            "status",
        ],  # fmt: skip
        _shuffled((medication(i) for i in ids), rng),
    )

    def procedure(i: str) -> list[list[str]]:
        code, term = rng.choice(terms.procedure_sct)
        return [[i, f"{i}-proc", f"{i}-breast", "completed", code, MEF_SNOMED, term, "2019-04-02"]]

    _write(
        directory / "procedure.csv",
        ["mrn", "procedureId", "conditionId", "status", "code", "codeSystem", "displayName", "effectiveDate"],
        _shuffled((procedure(i) for i in ids), rng),
    )
    return sorted(directory.glob("*.csv"))


def _calamine_sources(path: str, count: int):
    """The read stage over python-calamine's rows, for comparison with openpyxl's read-only mode."""
    from python_calamine import CalamineWorkbook

    from fhir_adapter.sheets import Table, cell_text, row_name
    from fhir_adapter.tables import FormatCase, resolve_columns

    sheet = CalamineWorkbook.from_path(path).get_sheet_by_name("cases")
    it = iter(sheet.iter_rows())
    header = [cell_text(c) for c in next(it)]
    table = Table(path, "cases")
    columns, _ = resolve_columns(table, header, None, None)
    for number, cells in enumerate(it, start=2):
        if number - 1 > count:
            break
        doc = FormatCase(row_name(table, number))
        doc.add_row((), doc.name, columns, [cell_text(c) for c in cells])
        yield doc


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    On Linux, VmHWM of /proc/self/status: ru_maxrss also counts the memory of the parent at the
    moment it started this process (the kernel carries the old high-water mark across exec), and
    the parent grows with the tables it generates.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    rss_start = peak_rss_mb()
    started = time.perf_counter()
    cpu_started = time.process_time()
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
    elif stage == "join":
        from fhir_adapter.sheets import ErrorDoc

        for source in iter_sources([path]):
            if isinstance(source.doc, ErrorDoc):
                failed += 1
                if failed <= 3:
                    print(source.doc, file=sys.stderr)
            else:
                ok += 1
    else:
        for result in convert_stream(iter_sources([path]), terminology, ConvertOptions()):
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
        "cpu_seconds": time.process_time() - cpu_started,
        "out_mb": out_bytes / 1e6,
        "rss_start_mb": rss_start,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--layout", choices=("flat", "linked", "mef"), default="flat")
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="flat layout only")
    parser.add_argument("--stage", choices=("read", "join", "convert"), default="convert")
    parser.add_argument("--reader", choices=("openpyxl", "calamine"), default="openpyxl")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="where the generated tables go (default: a temp dir)")
    parser.add_argument("--child", nargs=2, metavar=("TABLE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], int(args.child[1]), args.stage, args.reader)))
        return
    if args.layout != "flat" and (args.format != "csv" or args.stage == "read"):
        parser.error("--layout linked and mef are CSV files and run the join or convert stage")
    if args.layout == "flat" and args.stage == "join":
        parser.error("--stage join is for the linked and mef layouts")

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-bench-tables-", dir=args.workdir))
    terms = Terms()
    try:
        print(f"layout={args.layout} format={args.format} stage={args.stage} reader={args.reader}")
        print(
            f"{'N':>8} {'seconds':>8} {'cpu s':>8} {'cases/s':>8} {'peak MB':>8} {'vs first':>8} {'input MB':>8}"
        )
        first = None
        for n in sizes:
            directory = work / str(n)
            directory.mkdir()
            started = time.perf_counter()
            if args.layout == "flat":
                files = write_flat(directory / f"cases.{args.format}", n, args.seed, terms)
                target = files[0]
            elif args.layout == "linked":
                files = write_linked(directory, n, args.seed, terms)
                target = directory / "cases.csv"
            else:
                files = write_mef(directory, n, args.seed, terms)
                target = directory / "patient.csv"
            size = sum(f.stat().st_size for f in files)
            print(
                f"generated {n} patients in {time.perf_counter() - started:.1f}s (not timed)", file=sys.stderr
            )
            cmd = [sys.executable, __file__, "--stage", args.stage, "--reader", args.reader]
            cmd += ["--child", str(target), str(n)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=os.environ)
            if proc.returncode != 0:
                sys.exit(f"run for N={n} failed:\n{proc.stderr}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if r["failed"] or r["ok"] != n:
                sys.exit(f"N={n}: {r['failed']} case(s) failed, {r['ok']} converted:\n{proc.stderr[-3000:]}")
            first = first or r["peak_rss_mb"]
            print(
                f"{n:>8} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.2f} {n / r['seconds']:>8.0f}"
                f" {r['peak_rss_mb']:>8.1f} {r['peak_rss_mb'] / first:>8.3f} {size / 1e6:>8.1f}",
                flush=True,
            )
            shutil.rmtree(directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
