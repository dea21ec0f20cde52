"""The most that making one mapper cheaper could save, in CPU microseconds per case.

    python benchmarks/bench_mapper_bound.py --cases 3000 --repeat 3

A design that makes part of a mapper's work once per term (a shared resource template, a memo)
can at best make that mapper free. This script costs that bound before anything is built: it
maps N synthetic cases once and keeps what each mapper returned, call by call; then it times the
mapping of every case (bundle.case_resources, as bench_stages.py's "mapping alone") with the real
mappers, and with one mapper at a time replaced by a function that hands back its kept answer
for that call and does nothing else. The difference is what that mapper costs inside a real
mapping pass: no template of it can save more. Each line alternates the two, best of --repeat,
so a loaded machine slows both alike; report the load (`uptime`) with the figures.

A skipped mapper does not fill the case's memos (ids, times, sides) for the mappers after it,
which then fill them themselves: the bound is of the mapper with what it shares with others, so
the bounds of several mappers do not simply add up. Another checkout's code runs through this
script with PYTHONPATH pointing at it.
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

# The mappers bundle.case_resources calls, by the names it imports them under.
MAPPERS = (
    "to_cancer_patient",
    "primary_code",
    "to_stage_observations",
    "to_primary_cancer_condition",
    "markers_of",
    "to_histologic_grade",
    "to_tumor_size",
    "to_secondary_cancer_condition",
    "to_refuted_condition",
    "to_procedure",
    "to_medication_statements",
    "to_tumor_marker_test",
    "to_cancer_disease_status",
    "patient_findings",
    "to_case_summary",
    "to_source_document",
    "to_provenance",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated mapper names (default: all)")
    args = parser.parse_args()

    from synthetic import CaseGenerator

    import fhir_adapter.bundle as bundle
    from fhir_adapter.casefile import parse_case, read_case_text
    from fhir_adapter.mapping.common import MappingContext
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    gen = CaseGenerator(args.seed, terminology)
    n = args.cases
    cases = [
        parse_case(read_case_text(f"case-{i:06d}.json", json.dumps(gen.case(i)).encode())) for i in range(n)
    ]
    names = [m for m in MAPPERS if not args.only or m in args.only.split(",")]
    real = {name: getattr(bundle, name) for name in names}

    # What each mapper returned, call by call, case by case.
    kept: dict[str, list[list]] = {name: [[] for _ in range(n)] for name in names}
    current = [0, 0]  # the case being mapped, and a number no other case of any pass has

    def recording(name: str):
        mapper = real[name]

        def record(*a, **k):
            answer = mapper(*a, **k)
            kept[name][current[0]].append(answer)
            return answer

        return record

    for name in names:
        setattr(bundle, name, recording(name))
    for i, case in enumerate(cases):
        current[0] = i
        bundle.case_resources(MappingContext(case=case, terminology=terminology))
    for name in names:
        setattr(bundle, name, real[name])
    # The kept answers are no part of a run: keep the collector from walking them again and again.
    gc.collect()
    gc.freeze()

    def mapping_pass() -> float:
        started = time.process_time()
        for i, case in enumerate(cases):
            current[0] = i
            current[1] += 1
            bundle.case_resources(MappingContext(case=case, terminology=terminology))
        return time.process_time() - started

    def replaying(name: str):
        answers = kept[name]
        position = [0, -1]  # the next call's index within the case, and that case's number

        def replay(*a, **k):
            if position[1] != current[1]:
                position[0], position[1] = 0, current[1]
            answer = answers[current[0]][position[0]]
            position[0] += 1
            return answer

        return replay

    mapping_pass()  # fills the process's caches (shared concepts, lookups)
    print(f"{n} synthetic cases, best of {args.repeat} (CPU us per case of the whole mapping pass)")
    print(f"{'mapper':>30} {'calls a case':>12} {'real':>8} {'skipped':>8} {'bound':>8}")
    load = os.getloadavg()[0]
    for name in names:
        calls = sum(len(c) for c in kept[name]) / n
        fake = replaying(name)
        with_real, without = [], []
        for _ in range(args.repeat):
            with_real.append(mapping_pass())
            setattr(bundle, name, fake)
            try:
                without.append(mapping_pass())
            finally:
                setattr(bundle, name, real[name])
        a, b = 1e6 * min(with_real) / n, 1e6 * min(without) / n
        print(f"{name:>30} {calls:12.2f} {a:8.1f} {b:8.1f} {a - b:8.1f}", flush=True)
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
