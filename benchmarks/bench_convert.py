"""Convert throughput, CPU time per case and peak memory: N synthetic cases through the run engine.

    python benchmarks/bench_convert.py --sizes 10000,100000 --format ndjson
    python benchmarks/bench_convert.py --sizes 10000 --format bundle --out /dev/shm
    python benchmarks/bench_convert.py --sizes 10000 --format ndjson --full-validation
    python benchmarks/bench_convert.py --sizes 1000,10000,100000 --input ndjson

Each N runs in a fresh process through fhir_adapter.engine.run, the code `fhir-adapter convert`
runs (sources, conversion, the check for case ids used twice, the sink, the closing summary),
with RunSettings as the command builds them; generating the cases is not timed. The script prints,
per N: wall seconds and cases/s, the CPU seconds the converting process used (user and system,
from getrusage) and cases per CPU second, peak RSS, and the load average over the run, because
on a shared machine wall time measures the neighbours as much as the code. CPU time per case is
the figure to compare between runs; system time is mostly the kernel creating and writing files.

--out DIR puts the output (and the generated cases) under DIR: /dev/shm is memory (tmpfs), the
default is the system's temporary directory (a disk). With --jobs > 1 the workers run in their
own processes: the CPU figures then cover the parent only, so read the wall figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def run_child(inputs: list[str], out: str, out_format: str, jobs: int, full: bool) -> dict:
    """Convert the inputs into `out` with the run engine; return counts, timings and peak RSS."""
    from fhir_adapter.convert import ConvertOptions
    from fhir_adapter.engine import Failed, Finished, RunSettings, run
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    settings = RunSettings(
        inputs=tuple(inputs),
        output=out,
        out_format=out_format,  # type: ignore[arg-type]
        convert=ConvertOptions(full_validation=full),
        jobs=jobs,
    )
    before = resource.getrusage(resource.RUSAGE_SELF)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    summary = None
    first_failure = None
    for event in run(settings, terminology):
        if isinstance(event, Finished):
            summary = event.summary
        elif isinstance(event, Failed) and first_failure is None:
            first_failure = event.message
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    assert summary is not None
    resources = _count_resources(Path(out), out_format)
    return {
        "cases": summary.cases,
        "failed": summary.failed,
        "first_failure": first_failure,
        "resources": resources,
        "seconds": seconds,
        "user": after.ru_utime - before.ru_utime,
        "system": after.ru_stime - before.ru_stime,
        "peak_rss_mb": after.ru_maxrss / 1024,
        "load": (load_before + os.getloadavg()[0]) / 2,
    }


def _count_resources(out: Path, out_format: str) -> int:
    """Resources written: the manifest's counts, or the entries of the bundle files."""
    if out_format == "ndjson":
        manifest = json.loads((out / "manifest.json").read_text())
        return sum(item["count"] for item in manifest["output"])
    total = 0
    for path in out.rglob("*.json"):
        total += path.read_bytes().count(b'"fullUrl"')
    return total


def case_inputs(root: Path, count: int, fmt: str = "json") -> list[str]:
    """The case files of the first `count` cases: whole chunk directories, then single files.

    With fmt "ndjson" the input is one file holding the first `count` cases, one per line.
    """
    from synthetic import CHUNK

    if fmt == "ndjson":
        # The first `count` lines of the NDJSON file write_ndjson made (cases.ndjson beside root).
        everything = root.parent / "cases.ndjson"
        lines = root.parent / f"cases-{count}.ndjson"
        with everything.open("rb") as source, lines.open("wb") as out:
            out.writelines(islice(source, count))
        return [str(lines)]

    full, rest = divmod(count, CHUNK)
    inputs = [str(root / f"c{i:05d}") for i in range(full)]
    if rest:
        inputs += [str(root / f"c{full:05d}" / f"case-{full * CHUNK + i:06d}.json") for i in range(rest)]
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated case counts")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--format", choices=("bundle", "ndjson"), default="ndjson")
    parser.add_argument(
        "--input",
        choices=("json", "yaml", "ndjson"),
        default="json",
        help="case files (json, yaml) or one NDJSON file of cases, one per line",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="where cases and outputs go (default: the temp dir)")
    parser.add_argument(
        "--full-validation", action="store_true", help="fhir.resources model_validate on every resource"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated cases and outputs")
    parser.add_argument("--child", nargs=2, metavar=("INPUTS_JSON", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        inputs_file, out = args.child
        inputs = json.loads(Path(inputs_file).read_text())
        print(json.dumps(run_child(inputs, out, args.format, args.jobs, args.full_validation)))
        return

    from synthetic import write_cases, write_ndjson

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-bench-", dir=args.out))
    try:
        started = time.perf_counter()
        if args.input == "ndjson":
            write_ndjson(work / "cases.ndjson", max(sizes), seed=args.seed)
        else:
            write_cases(
                work / "cases", max(sizes), seed=args.seed, fmt="yaml" if args.input == "yaml" else "json"
            )
        print(
            f"generated {max(sizes)} {args.input} cases in {time.perf_counter() - started:.1f}s (not timed)"
            f" under {work}",
            file=sys.stderr,
        )
        mode = "model_validate on each resource" if args.full_validation else "compiled check"
        print(
            f"fhir_adapter.engine.run: jobs={args.jobs} format={args.format} input={args.input}"
            f" validation={mode} output under {work} ({os.cpu_count()} CPUs)"
        )
        print(
            f"{'N':>8} {'wall s':>7} {'cases/s':>8} {'CPU s':>7} {'(sys)':>6} {'cases/CPU-s':>11}"
            f" {'us/case':>8} {'res/case':>8} {'peak MB':>8} {'load':>5}"
        )
        for n in sizes:
            out = work / f"out-{n}"
            inputs_file = work / f"inputs-{n}.json"
            inputs_file.write_text(json.dumps(case_inputs(work / "cases", n, args.input)))
            cmd = [sys.executable, __file__, "--format", args.format, "--jobs", str(args.jobs)]
            cmd += ["--full-validation"] if args.full_validation else []
            cmd += ["--child", str(inputs_file), str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"run for N={n} failed:\n{proc.stderr}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if r["failed"] or r["cases"] != n:
                sys.exit(f"N={n}: {r['cases']} cases, {r['failed']} failed: {r['first_failure']}")
            cpu = r["user"] + r["system"]
            print(
                f"{n:>8} {r['seconds']:>7.1f} {n / r['seconds']:>8.0f} {cpu:>7.1f} {r['system']:>6.1f}"
                f" {n / cpu:>11.0f} {1e6 * cpu / n:>8.0f} {r['resources'] / n:>8.2f}"
                f" {r['peak_rss_mb']:>8.1f} {r['load']:>5.1f}",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
