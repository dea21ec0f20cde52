"""CPU microseconds per case for each stage of `convert --format ndjson`, in one process.

    python benchmarks/bench_stages.py --cases 3000 --repeat 3

Generates N synthetic cases as JSON bytes (not timed), then runs each stage over all of them
--repeat times and prints the best per-case CPU time (time.process_time) of each: reading the
bytes into a CaseFile, the case model, mapping and bundling with validation (and the mapping and
the validation alone), writing NDJSON lines, and the whole of batch.convert_source. The first
pass over the cases also fills the process's caches (compiled checks, shared concepts); best-of
keeps the steady state. A stage run alone over the same objects again and again finds them in
the processor's caches, so the stages add up to less than convert_source, which meets each case
fresh: compare a stage with itself before and after a change, and the whole with
bench_convert.py. Report the load (`uptime`) beside the figures: on a shared machine CPU time
drifts with the neighbours. Another checkout's code runs through the same script with
PYTHONPATH pointing at it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def best(repeat: int, count: int, step) -> float:
    """The fastest of `repeat` runs of step(), in CPU microseconds per case."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        step()
        times.append(time.process_time() - started)
    return 1e6 * min(times) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated stage names to run (default: all)")
    args = parser.parse_args()

    from synthetic import CaseGenerator

    from fhir_adapter.batch import convert_source
    from fhir_adapter.bundle import build_bundle, case_resources
    from fhir_adapter.casefile import parse_case, read_case_text
    from fhir_adapter.convert import ConvertOptions
    from fhir_adapter.inputs import Source
    from fhir_adapter.mapping.common import MappingContext
    from fhir_adapter.sinks import ndjson_lines
    from fhir_adapter.terminology import load_terminology
    from fhir_adapter.validate import validate_resources

    terminology = load_terminology()
    gen = CaseGenerator(args.seed, terminology)
    raws = [json.dumps(gen.case(i), indent=2).encode() for i in range(args.cases)]
    names = [f"case-{i:06d}.json" for i in range(args.cases)]
    options = ConvertOptions()
    n = args.cases

    files = [read_case_text(name, raw) for name, raw in zip(names, raws, strict=True)]
    cases = [parse_case(f) for f in files]
    bundles = [build_bundle(c, terminology).bundle for c in cases]
    every = [[entry["resource"] for entry in b["entry"]] for b in bundles]
    sources = [Source(name=name, path=name, raw=raw) for name, raw in zip(names, raws, strict=True)]
    # The inputs held here are no part of a run: keep the collector from walking them again and
    # again, as it would not in `convert`, where a case is dropped once written.
    gc.collect()
    gc.freeze()

    def read() -> None:
        for name, raw in zip(names, raws, strict=True):
            read_case_text(name, raw)

    def model() -> None:
        for f in files:
            parse_case(f)

    def mapped() -> None:
        for c in cases:
            build_bundle(c, terminology)

    def mapping() -> None:
        for c in cases:
            case_resources(MappingContext(case=c, terminology=terminology))

    def validation() -> None:
        for resources in every:
            validate_resources(resources, "case")

    def lines() -> None:
        for b in bundles:
            ndjson_lines(b)

    def whole() -> None:
        for s in sources:
            convert_source(s, terminology, options, True)

    resources = sum(len(b["entry"]) for b in bundles) / n
    print(f"{n} synthetic cases, {resources:.2f} resources a case, best of {args.repeat} (CPU us per case)")
    load = os.getloadavg()[0]
    for label, step in [
        ("read", read),
        ("case model", model),
        ("map+bundle+validate", mapped),
        ("  mapping alone", mapping),
        ("  validation alone", validation),
        ("ndjson lines", lines),
        ("convert_source (all)", whole),
    ]:
        if args.only and label.strip() not in args.only.split(","):
            continue
        print(f"{label:>22} {best(args.repeat, n, step):8.1f}", flush=True)
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
