"""Export throughput: case files read back per second from Bulk NDJSON and from a FHIR server on 127.0.0.1.

    python benchmarks/bench_export.py --cases 400 --server-cases 100

The cases are the examples under ids of their own (<id>-<n>), converted to NDJSON (not timed).
Timed: `ExportRun` over the NDJSON directory (sorted by patient in SQLite, read back, written as
YAML), and over a sekmet-fhir server started on 127.0.0.1 with the cases pushed to it (not
timed): every patient of the identifier system, 50 a page, each by Patient/ID/$everything.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=400, help="cases exported from NDJSON")
    parser.add_argument(
        "--server-cases", type=int, default=100, help="cases exported from the server (0: none)"
    )
    args = parser.parse_args()

    from fhir_adapter.client import ClientSettings
    from fhir_adapter.export.run import ExportOptions, ExportRequest
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        (root / "cases").mkdir()
        paths = write_cases(root / "cases", args.cases)
        cli("convert", "-q", *map(str, paths), "--format", "ndjson", "-o", str(root / "bulk"))
        request = ExportRequest(inputs=(str(root / "bulk"),), output=str(root / "out-ndjson"))
        written, elapsed = timed_export(request, terminology)
        print(f"NDJSON: {written} cases in {elapsed:.2f}s: {written / elapsed:.0f} cases/s")

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
