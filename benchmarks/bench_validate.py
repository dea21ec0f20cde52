"""Profile validation throughput: HAPI's validator over N synthetic cases, JVM start-up apart.

    python benchmarks/bench_validate.py --cases 300 --passes 3

The cases are generated and converted (as Bundles and as Bulk NDJSON) before anything is timed.
One JVM is started (timed on its own: process start, package loading, up to its first answer
line) and then checks the same inputs --passes times; the first pass carries the JIT warm-up and
the validator's lazy loading of the R4 core, the later ones show the steady state. Printed per
pass: seconds, resources/s, and the errors found (0 is expected). The machine's load average is
printed before and after, since the JVM competes for the same cores as everything else.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="synthetic cases to check")
    parser.add_argument("--passes", type=int, default=3, help="passes over the same inputs in one JVM")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--home", help="where the HAPI validator is installed (default: tools/hapi-validator)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated cases and outputs")
    args = parser.parse_args()

    from synthetic import write_cases

    from fhir_adapter.profiles import HapiValidator, find_hapi

    install = find_hapi(Path(args.home) if args.home else None)
    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-bench-validate-"))
    try:
        write_cases(work / "cases", args.cases, seed=args.seed)
        for fmt in ("bundle", "ndjson"):
            subprocess.run(
                [sys.executable, "-m", "fhir_adapter.cli", "convert", "-q", str(work / "cases")]
                + ["--format", fmt, "-o", str(work / fmt)],
                check=True,
                capture_output=True,
            )
        inputs = {
            "bundle": sorted(str(p) for p in (work / "bundle").glob("*.json")),
            "ndjson": sorted(str(p) for p in (work / "ndjson").glob("*.ndjson")),
        }
        print(f"{args.cases} synthetic cases (seed {args.seed}), converted before timing; {load()}")

        started = time.perf_counter()
        with HapiValidator(install) as validator:
            print(
                f"JVM start-up: {time.perf_counter() - started:.2f}s to the first answer line"
                f" ({validator.load_seconds:.2f}s of it loading {', '.join(validator.packages)})"
            )
            print(
                f"{'pass':>4} {'input':>6} {'units':>6} {'resources':>9} {'seconds':>8} {'res/s':>7} {'errors':>6}"
            )
            for n in range(1, args.passes + 1):
                for fmt, paths in inputs.items():
                    t0 = time.perf_counter()
                    units = resources = errors = 0
                    for checked in validator.check(paths):
                        units += 1
                        resources += checked.resources
                        errors += sum(f.is_error for f in checked.findings)
                    seconds = time.perf_counter() - t0
                    print(
                        f"{n:>4} {fmt:>6} {units:>6} {resources:>9} {seconds:>8.2f} {resources / seconds:>7.1f}"
                        f" {errors:>6}",
                        flush=True,
                    )
        print(load())
    finally:
        if args.keep:
            print(f"inputs kept under {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
