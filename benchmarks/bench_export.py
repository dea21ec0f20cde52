"""Export throughput: case files read back per second from Bulk NDJSON and from a FHIR server on 127.0.0.1.

    python benchmarks/bench_export.py --cases 400 --server-cases 100
    python benchmarks/bench_export.py --cases 0 --server-cases 0 --wide 100000

The cases are the examples under ids of their own (<id>-<n>), converted to NDJSON (not timed).
Timed: `ExportRun` over the NDJSON directory (sorted by patient in SQLite, read back, written as
YAML), and over a sekmet-fhir server started on 127.0.0.1 with the cases pushed to it (not
timed): every patient of the identifier system, 50 a page, each by Patient/ID/$everything.
With --wide N, one collection Bundle file of N entries is read too: one patient with N-1
Observations of no kind the case holds, then 1,000 patients of N/1,000 resources each (a
reader whose time grows with the square of a Bundle's size shows here).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

SYSTEM = "https://bench-export.example/cases"


def write_cases(directory: Path, count: int) -> list[Path]:
    """`count` case files: the examples in turn, each under an id of its own."""
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    paths = []
    for n in range(count):
        data = yaml.safe_load(examples[n % len(examples)].read_text(encoding="utf-8"))
        data["case"]["id"] = f"{data['case']['id']}-{n}"
        data["case"]["id_system"] = SYSTEM
        path = directory / f"case-{n}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def cli(*args: str) -> None:
    from click.testing import CliRunner

    from fhir_adapter.cli import main

    result = CliRunner().invoke(main, list(args))
    if result.exit_code != 0:
        raise SystemExit(f"fhir-adapter {args[0]} failed: {result.stderr}")


def timed_export(request, terminology) -> tuple[int, float]:
    from fhir_adapter.export.run import ExportRun

    started = time.perf_counter()
    run = ExportRun(request, terminology)
    for _ in run:
        pass
    elapsed = time.perf_counter() - started
    if run.failures:
        raise SystemExit(f"export failed: {run.failures[0]}")
    return run.written, elapsed


def wide_bundle(path: Path, patients: int, entries: int) -> None:
    """A collection Bundle of `entries` entries over `patients` patients, each resource naming its patient."""
    import orjson

    per = max(entries // patients - 1, 0)
    out = []
    for p in range(patients):
        patient = {"resourceType": "Patient", "id": f"p{p}", "gender": "female"}
        patient["identifier"] = [{"system": SYSTEM, "value": f"wide-{p}"}]
        out.append({"fullUrl": f"urn:uuid:p{p}", "resource": patient})
        for k in range(per):
            obs = {"resourceType": "Observation", "id": f"o{p}-{k}", "status": "final", "code": {"text": "x"}}
            obs["subject"] = {"reference": f"urn:uuid:p{p}"}
            out.append({"fullUrl": f"urn:uuid:o{p}-{k}", "resource": obs})
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": out}))


def timed_read(path: Path, terminology) -> float:
    """Seconds to read every patient of a Bundle file (each fails: no cancer; the reading is what is timed)."""
    from fhir_adapter.errors import AdapterError
    from fhir_adapter.export.read import read_case
    from fhir_adapter.export.sources import PatientFhir, read_file

    started = time.perf_counter()
    for found in read_file(str(path)):
        if isinstance(found, PatientFhir):
            with contextlib.suppress(AdapterError):
                read_case(found.resources, terminology, source=found.source, full_urls=found.full_urls)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=400, help="cases exported from NDJSON")
    parser.add_argument(
        "--server-cases", type=int, default=100, help="cases exported from the server (0: none)"
    )
    parser.add_argument("--wide", type=int, default=0, help="entries of one Bundle file read (0: none)")
    args = parser.parse_args()

    from fhir_adapter.client import ClientSettings
    from fhir_adapter.export.run import ExportOptions, ExportRequest
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        (root / "cases").mkdir()
        paths = write_cases(root / "cases", max(args.cases, args.server_cases))
        if args.cases:
            cli(
                "convert",
                "-q",
                *map(str, paths[: args.cases]),
                "--format",
                "ndjson",
                "-o",
                str(root / "bulk"),
            )
            request = ExportRequest(inputs=(str(root / "bulk"),), output=str(root / "out-ndjson"))
            written, elapsed = timed_export(request, terminology)
            print(f"NDJSON: {written} cases in {elapsed:.2f}s: {written / elapsed:.0f} cases/s")

        if args.wide:
            for patients in (1, 1000):
                wide_bundle(root / "wide.json", patients, args.wide)
                elapsed = timed_read(root / "wide.json", terminology)
                print(f"one Bundle of {args.wide} entries, {patients} patient(s): read in {elapsed:.2f}s")

        if args.server_cases:
            from support.fhir_server import start_server

            cli("convert", "-q", *map(str, paths[: args.server_cases]), "-o", str(root / "bundles"))
            with start_server(root / "server") as server:
                bundles = sorted(str(p) for p in (root / "bundles").glob("*.json"))
                cli("push", "-q", *bundles, "--server", server.base_url, "--outbox", str(root / "outbox"))
                request = ExportRequest(
                    all_patients=True,
                    server=ClientSettings(base_url=server.base_url),
                    output=str(root / "out-server"),
                    options=ExportOptions(id_system=SYSTEM),
                )
                written, elapsed = timed_export(request, terminology)
                print(
                    f"server (sekmet-fhir on 127.0.0.1): {written} cases in {elapsed:.2f}s:"
                    f" {written / elapsed:.0f} cases/s"
                )


if __name__ == "__main__":
    main()
