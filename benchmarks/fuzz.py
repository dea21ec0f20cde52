"""The long fuzz run: hostile case files through parse -> validate -> map -> bundle for a set time.

    python benchmarks/fuzz.py --seconds 600 --seed 1 --findings fuzz-findings/

Inputs come from tests/support/hostile_inputs.py (mutated example cases, hostile bytes and YAML,
alias bombs, duplicate keys, odd trees), the same generator the bounded test in
tests/test_hostile_fuzz.py drives. The property: each input gives a bundle that passes
fhir.resources' full validation, or an AdapterError whose every line names the file; never
another exception, and no input takes longer than --timeout seconds (a hang). Prints how many
inputs were tried, how many converted and were refused, and each distinct finding; with
--findings, writes each finding's input there to replay.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support.hostile_inputs import check, hostile_input  # noqa: E402

from fhir_adapter.convert import ConvertOptions  # noqa: E402
from fhir_adapter.terminology import load_terminology  # noqa: E402


class Hang(Exception):
    """An input that ran past the per-input timeout."""


def _alarm(signum, frame):
    raise Hang()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take")
    parser.add_argument("--findings", type=Path, help="write each finding's input into this directory")
    args = parser.parse_args()

    terminology = load_terminology()
    options = ConvertOptions()
    rng = random.Random(args.seed)
    signal.signal(signal.SIGALRM, _alarm)
    counts = {"converted": 0, "refused": 0}
    findings: dict[tuple[str, str], tuple[str, bytes]] = {}
    slowest = 0.0
    tried = 0
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        name, raw = hostile_input(rng)
        tried += 1
        began = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        try:
            counts[check(name, raw, terminology, options)] += 1
        except Hang:
            findings.setdefault(("hang", f"over {args.timeout:g}s"), (name, raw))
        except Exception as exc:  # every other exception is a finding
            findings.setdefault(
                (type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else ""), (name, raw)
            )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        slowest = max(slowest, time.monotonic() - began)
        if tried % 5000 == 0:
            print(f"  {tried} inputs, {len(findings)} finding(s) so far", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    print(
        f"seed {args.seed}: {tried} inputs in {elapsed:.0f}s ({tried / elapsed:.0f}/s):"
        f" {counts['converted']} converted to valid bundles, {counts['refused']} refused with a message;"
        f" slowest input {slowest:.2f}s; {len(findings)} finding(s)"
    )
    for i, ((kind, text), (name, raw)) in enumerate(sorted(findings.items()), start=1):
        print(f"finding {i}: {kind}: {text} (input {name}, {len(raw)} bytes)")
        if args.findings:
            args.findings.mkdir(parents=True, exist_ok=True)
            (args.findings / f"finding-{i}{Path(name).suffix}").write_bytes(raw)
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
