"""Convert throughput and peak memory: N synthetic cases through the real streaming pipeline, one fresh process per N.

    python benchmarks/bench_convert.py --sizes 1000,10000,100000 --jobs 1 --format bundle

Case generation is not timed. Each N runs in its own subprocess (iter_sources -> convert_stream ->
the Bundle-directory or NDJSON sink), so peak RSS (ru_maxrss) is that run's alone. With --jobs > 1
it is the parent's: the workers are forkserver children, outside RUSAGE_CHILDREN. As in the CLI,
a case id used twice is refused (fhir_adapter.batch.SeenIds, about 10 bytes per case); --no-dedup
leaves that out. Every output resource is validated, as in a real run; add
--full-validation to validate each one with fhir.resources model_validate instead of the
signature cache (FHIR_ADAPTER_FULL_VALIDATION=1 in the child).
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def run_child(cases: str, count: int, out_format: str, out_dir: str, jobs: int, dedup: bool) -> dict:
    """Convert the first `count` cases under `cases` into `out_dir`; return timings and peak RSS."""
    from itertools import islice

    from fhir_adapter.batch import SeenIds, convert_stream, duplicate_error, iter_sources
    from fhir_adapter.convert import ConvertOptions
    from fhir_adapter.sinks import make_sink
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    options = ConvertOptions()
    ndjson = out_format == "ndjson"
    sink = make_sink(out_dir, out_format, single=False)
    seen = SeenIds()
    cases_ok = failed = resources = 0
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for result in convert_stream(
        islice(iter_sources([cases]), count), terminology, options, ndjson=ndjson, jobs=jobs
    ):
        # As the CLI does: a case id used twice in one run is an error.
        if result.ok and dedup and seen.add(result.case_id, cases_ok + failed) is not None:
            result = duplicate_error(result, "an earlier case")
        if not result.ok:
            failed += 1
            if failed <= 3:
                print(result.error, file=sys.stderr)
            continue
        cases_ok += 1
        resources += len(result.resources) if ndjson else result.bundle_json.count(b'"fullUrl"')
        sink.write(result)
    sink.close()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "n": count,
        "ok": cases_ok,
        "failed": failed,
        "resources": resources,
        "seconds": seconds,
        "rss_start_mb": rss_start / 1024,
        "peak_rss_mb": usage / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated case counts")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--format", choices=("bundle", "ndjson"), default="bundle")
    parser.add_argument("--input", choices=("json", "yaml"), default="json", help="case file format")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--full-validation", action="store_true", help="model_validate every resource")
    parser.add_argument("--keep", action="store_true", help="keep the generated cases and outputs")
    parser.add_argument(
        "--no-dedup",
        dest="dedup",
        action="store_false",
        help="leave out the CLI's check for case ids used twice",
    )
    parser.add_argument("--child", nargs=3, metavar=("CASES", "N", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        cases, count, out = args.child
        print(json.dumps(run_child(cases, int(count), args.format, out, args.jobs, args.dedup)))
        return

    from synthetic import write_cases

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-bench-"))
    try:
        started = time.perf_counter()
        write_cases(work / "cases", max(sizes), seed=args.seed, fmt=args.input)
        print(
            f"generated {max(sizes)} {args.input} cases in {time.perf_counter() - started:.1f}s (not timed)"
            f" under {work}",
            file=sys.stderr,
        )
        env = dict(os.environ)
        if args.full_validation:
            env["FHIR_ADAPTER_FULL_VALIDATION"] = "1"
        else:
            env.pop("FHIR_ADAPTER_FULL_VALIDATION", None)
        mode = "full (model_validate each)" if args.full_validation else "fast (signature cache)"
        dedup = "" if args.dedup else " dedup=off"
        print(f"jobs={args.jobs} format={args.format} input={args.input} validation={mode}{dedup}")
        header = f"{'N':>8} {'seconds':>8} {'cases/s':>8} {'res/s':>9} {'peak MB':>8} {'vs first':>8}"
        print(header)
        first_peak = None
        for n in sizes:
            out = work / f"out-{n}"
            cmd = [sys.executable, __file__, "--format", args.format, "--jobs", str(args.jobs)]
            cmd += [] if args.dedup else ["--no-dedup"]
            cmd += ["--child", str(work / "cases"), str(n), str(out)]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"run for N={n} failed:\n{proc.stderr}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if r["failed"]:
                sys.exit(f"N={n}: {r['failed']} case(s) failed:\n{proc.stderr}")
            first_peak = first_peak or r["peak_rss_mb"]
            line = (
                f"{n:>8} {r['seconds']:>8.2f} {n / r['seconds']:>8.0f} {r['resources'] / r['seconds']:>9.0f}"
                f" {r['peak_rss_mb']:>8.1f} {r['peak_rss_mb'] / first_peak:>8.3f}"
            )
            print(line, flush=True)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
