"""Conformance sweep: every kind of case the product writes, through HAPI's validator, findings counted by kind.

    python benchmarks/sweep_conformance.py                       # gold cases, examples, 300 synthetic
    python benchmarks/sweep_conformance.py --synthetic 50 --show 3

Sources: the registrars' gold case files (tests/draft_gold/*.yaml), the examples (examples/*.yaml)
and --synthetic cases from benchmarks/synthetic.py (every branch of its generator, seeded). Each
case is converted to a transaction Bundle, and every fourth one to a collection Bundle as well;
one JVM running `fhir-adapter validate`'s HAPI engine checks them all. Printed: the cases per
source, the cases that did not convert, and the errors and warnings grouped by kind (HAPI's message
id, the FHIRPath with indexes dropped, the message with its codes and numbers blanked), with the
count of findings and of cases showing each kind and a few examples. Exit status 1 when any error
is found, so the script can gate a run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

GOLD = REPO / "tests" / "draft_gold"
EXAMPLES = REPO / "examples"

_INDEX = re.compile(r"\[\d+\]")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_VALUE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b|\b\d[\w.-]*\b|(?<=#)[\w.-]+|urn:[\w:.-]+")


def _blank(text: str) -> str:
    return _VALUE.sub("#", _QUOTED.sub("'…'", text.replace("can't", "cannot")))


def kind_of(finding) -> tuple[str, str, str, str, str]:
    """A finding's kind: severity, message id, FHIRPath without indexes, message with values
    blanked, and what an error turned warning could not check offline ("" for the validator's own
    warnings, which no offline gap explains)."""
    path = _INDEX.sub("", finding.path or "")
    gap = _blank(finding.not_checked) if finding.not_checked else ""
    return (finding.severity, finding.message_id or "", path, _blank(finding.message)[:160], gap)


@dataclass
class Sweep:
    """Every finding of a sweep, by kind, with the cases each kind was seen in."""

    cases: Counter = field(default_factory=Counter)  # source -> cases converted
    failed: list[tuple[str, str]] = field(default_factory=list)  # (case file, why)
    resources: int = 0
    findings: Counter = field(default_factory=Counter)  # kind -> findings
    seen_in: dict = field(default_factory=lambda: defaultdict(set))  # kind -> case names
    examples: dict = field(default_factory=lambda: defaultdict(list))  # kind -> finding lines

    def add(self, name: str, finding, keep: int) -> None:
        kind = kind_of(finding)
        self.findings[kind] += 1
        self.seen_in[kind].add(name)
        if len(self.examples[kind]) < keep:
            details = f" [{'; '.join(finding.details)}]" if finding.details else ""
            self.examples[kind].append(
                f"{name} {finding.resource}: {finding.path}: {finding.message}{details}"
            )

    def count(self, severity: str) -> int:
        return sum(n for kind, n in self.findings.items() if kind[0] == severity)


def case_sources(synthetic: int, seed: int, every: int = 1) -> Iterable[tuple[str, str, Any]]:
    """(source, name, case data or path) for every case the sweep converts (every n-th file of
    the gold cases and examples, for a sample)."""
    gold = [p for p in sorted(GOLD.glob("*.yaml")) if p.name != "manifest.yaml"]
    for path in gold[::every]:
        yield "gold", path.stem, path
    for path in sorted(EXAMPLES.glob("*.yaml"))[::every]:
        yield "examples", path.stem, path
    if synthetic:
        from synthetic import CaseGenerator

        gen = CaseGenerator(seed)
        for index in range(synthetic):
            yield "synthetic", f"synth-{index:06d}", gen.case(index)


def convert_all(work: Path, sources: Iterable[tuple[str, str, Any]], sweep: Sweep) -> list[tuple[str, Path]]:
    """Write each case's Bundles under work/; return (case name, bundle file) pairs."""
    from fhir_adapter.bundle import build_bundle
    from fhir_adapter.casefile import CaseFile, load_case, parse_case
    from fhir_adapter.errors import AdapterError
    from fhir_adapter.terminology import load_terminology
    from fhir_adapter.writer import dumps

    terminology = load_terminology()
    out: list[tuple[str, Path]] = []
    for n, (source, name, data) in enumerate(sources):
        try:
            case = load_case(data) if isinstance(data, Path) else parse_case(CaseFile(name, data, lines={}))
            types = ["transaction"] + (["collection"] if n % 4 == 0 else [])
            for bundle_type in types:
                bundle = build_bundle(case, terminology, bundle_type=bundle_type).bundle
                path = work / source / f"{name}.{bundle_type}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(dumps(bundle))
                out.append((f"{source}/{name}", path))
        except AdapterError as exc:
            sweep.failed.append((f"{source}/{name}", str(exc).splitlines()[0]))
            continue
        sweep.cases[source] += 1
    return out


def validate_all(bundles: list[tuple[str, Path]], sweep: Sweep, validator, keep: int = 2) -> None:
    """Check every Bundle with one validator (HapiValidator) and add its errors and warnings to the sweep."""
    names = {str(path): name for name, path in bundles}
    for checked in validator.check([str(path) for _, path in bundles]):
        sweep.resources += checked.resources
        for finding in checked.findings:
            sweep.add(names.get(checked.file, checked.file), finding, keep)


def report(sweep: Sweep, show: int) -> None:
    print(f"cases converted: {dict(sweep.cases)}; did not convert: {len(sweep.failed)}")
    for name, why in sweep.failed:
        print(f"  not converted: {name}: {why}")
    print(f"resources checked: {sweep.resources}")
    gaps = sum(n for kind, n in sweep.findings.items() if kind[0] == "warning" and kind[4])
    print(
        f"errors: {sweep.count('error') + sweep.count('fatal')}, warnings: {sweep.count('warning')}"
        f" ({gaps} errors turned warnings by an offline gap, {sweep.count('warning') - gaps} the validator's own)"
    )
    for severity in ("fatal", "error", "warning"):
        kinds = sorted((k for k in sweep.findings if k[0] == severity), key=lambda k: (-sweep.findings[k], k))
        if not kinds:
            continue
        print(f"\n{severity}s by kind ({len(kinds)} kinds):")
        for kind in kinds:
            _, message_id, path, message, gap = kind
            print(
                f"{sweep.findings[kind]:>7} findings in {len(sweep.seen_in[kind]):>4} cases  [{message_id}] {path}"
            )
            print(f"          {message}")
            if severity == "warning":
                print(f"          {'offline gap: ' + gap if gap else 'own warning (no offline gap)'}")
            for line in sweep.examples[kind][:show]:
                print(f"          e.g. {line[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=300, help="synthetic cases to add (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=2, help="example findings printed per kind")
    parser.add_argument(
        "--home", help="where the HAPI validator is installed (default: tools/hapi-validator)"
    )
    args = parser.parse_args()

    from fhir_adapter.profiles import HapiValidator, find_hapi

    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores")
    sweep = Sweep()
    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-sweep-"))
    try:
        t0 = time.perf_counter()
        bundles = convert_all(work, case_sources(args.synthetic, args.seed), sweep)
        t1 = time.perf_counter()
        with HapiValidator(find_hapi(Path(args.home) if args.home else None)) as validator:
            t2 = time.perf_counter()
            validate_all(bundles, sweep, validator, args.show)
        t3 = time.perf_counter()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{len(bundles)} Bundles: converted in {t1 - t0:.1f}s; JVM start {t2 - t1:.1f}s, validated in {t3 - t2:.1f}s"
    )
    report(sweep, args.show)
    one, five, _ = os.getloadavg()
    print(f"\nload average {one:.2f} (1 min), {five:.2f} (5 min)")
    return 1 if sweep.count("error") + sweep.count("fatal") else 0


if __name__ == "__main__":
    sys.exit(main())
